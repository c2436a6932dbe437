"""Real spherical harmonics up to degree 2: the tracker's lighting, a smooth function of the
surface normal."""

from __future__ import annotations

import torch
from torch import Tensor

Y00 = 0.28209479177387814


def sh_basis(n: Tensor) -> Tensor:
    """The 9 real spherical harmonics of degree <= 2 at unit vectors [..., 3] -> [..., 9]."""
    x, y, z = n.unbind(-1)
    return torch.stack([
        torch.full_like(x, Y00), 0.4886025 * y, 0.4886025 * z, 0.4886025 * x,
        1.0925484 * x * y, 1.0925484 * y * z, 0.3153916 * (3 * z * z - 1), 1.0925484 * x * z,
        0.5462742 * (x * x - y * y)], -1)
