"""`RenderOutput`: what every splat backend returns."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

# Below this coverage a pixel's colour cannot be recovered from 8-bit output: it is left black.
MIN_ALPHA = 1.0 / 255.0


@dataclass
class RenderOutput:
    rgb: Tensor  # [H, W, 3], background composited in
    alpha: Tensor  # [H, W, 1] accumulated opacity
    depth: Tensor  # [H, W, 1] accumulated sum_i w_i z_i (divide by alpha for expected depth)
    # [N, 2] ([1, N, 2] from gsplat) projected centres in pixels, in the graph: densification reads its grad
    means2d: Tensor
    radii: Tensor  # [N] int pixel radius, 0 where culled

    def rgba(self, background: tuple[float, float, float]) -> Tensor:
        """[H, W, 4] in [0, 1]: straight (not premultiplied) colour and the coverage, for formats
        with an alpha channel. rgb is C + (1 - alpha) background with C the splats' premultiplied
        colour, so the colour is C / alpha; compositing the result over `background` gives rgb back."""
        alpha = self.alpha.clamp(0, 1)  # [H, W, 1]
        bg = torch.tensor(background, dtype=self.rgb.dtype, device=self.rgb.device)  # [3]
        premultiplied = self.rgb - (1 - alpha) * bg  # [H, W, 3]
        colour = torch.where(alpha > MIN_ALPHA, premultiplied / alpha.clamp_min(MIN_ALPHA), torch.zeros_like(self.rgb))
        return torch.cat([colour.clamp(0, 1), alpha], -1)
