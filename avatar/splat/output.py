"""`RenderOutput`: what every splat backend returns."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class RenderOutput:
    rgb: Tensor  # [H, W, 3], background composited in
    alpha: Tensor  # [H, W, 1] accumulated opacity
    depth: Tensor  # [H, W, 1] accumulated sum_i w_i z_i (divide by alpha for expected depth)
    means2d: Tensor  # [N, 2] ([1, N, 2] from gsplat) projected centres in pixels, in the graph: densification reads its grad
    radii: Tensor  # [N] int pixel radius, 0 where culled
