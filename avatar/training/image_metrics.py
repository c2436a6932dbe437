"""Image losses and metrics: L1, SSIM (Gaussian window, as in 3DGS), PSNR, optional LPIPS."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from avatar.training.lpips import load_lpips


@functools.lru_cache(maxsize=4)
def _gaussian_window(size: int, sigma: float, dtype: torch.dtype, device: str) -> Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x * x / (2 * sigma * sigma))
    g = (g / g.sum()).to(dtype=dtype, device=device)
    return g


def ssim(a: Tensor, b: Tensor, window: int = 11, sigma: float = 1.5) -> Tensor:
    """Mean SSIM of images [H, W, C] in [0, 1] (separable Gaussian window, zero padding as in 3DGS)."""
    x = torch.stack([a, b]).permute(0, 3, 1, 2)  # [2, C, H, W]
    c = x.shape[1]
    g = _gaussian_window(window, sigma, x.dtype, str(x.device))
    gx = g.view(1, 1, 1, -1).expand(c, 1, 1, window)
    gy = g.view(1, 1, -1, 1).expand(c, 1, window, 1)

    def blur(t: Tensor) -> Tensor:
        t = F.conv2d(t, gx, padding=(0, window // 2), groups=c)
        return F.conv2d(t, gy, padding=(window // 2, 0), groups=c)

    stats = blur(torch.cat([x, x * x, x[:1] * x[1:]], dim=0))  # [5, C, H, W]
    mu_a, mu_b, e_aa, e_bb, e_ab = stats
    var_a, var_b, cov = e_aa - mu_a ** 2, e_bb - mu_b ** 2, e_ab - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.mean()


def psnr(a: Tensor, b: Tensor) -> float:
    mse = torch.mean((a.detach().double() - b.detach().double()) ** 2).item()
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def photometric_loss(pred: Tensor, target: Tensor, ssim_weight: float = 0.2) -> Tensor:
    """(1 - λ) L1 + λ (1 - SSIM), the 3DGS image loss."""
    return (1 - ssim_weight) * (pred - target).abs().mean() + ssim_weight * (1 - ssim(pred, target))


class LpipsMetric:
    """LPIPS (AlexNet, v0.1; `avatar.training.lpips`) when its standard weights are on this machine.

    `reason` says why it is unavailable; callers report LPIPS as null with that reason.
    """

    def __init__(self) -> None:
        loaded = load_lpips()
        self.model, self.reason = (None, loaded) if isinstance(loaded, str) else (loaded, None)

    def __call__(self, a: Tensor, b: Tensor) -> float | None:
        """a, b [H, W, 3] in [0, 1]."""
        if self.model is None:
            return None
        with torch.no_grad():
            x = a.permute(2, 0, 1)[None].float().cpu() * 2 - 1
            y = b.permute(2, 0, 1)[None].float().cpu() * 2 - 1
            return float(self.model(x, y)[0])
