"""Real spherical harmonics, degrees 0-3, with the 3DGS sign convention and constants.

colour = clamp(sum_k basis_k(dir) * sh_k + 0.5, min=0), dir = normalise(mean - camera position).
"""

from __future__ import annotations

import torch
from torch import Tensor

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792,
         0.5462742152960396)
SH_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
         -0.4570457994644658, 1.445305721320277, -0.5900435899266435)
MAX_SH_DEGREE = 3


class ShapeError(ValueError):
    """A spherical-harmonics coefficient tensor has an unsupported shape."""


def sh_degree_of(num_coeffs: int) -> int:
    """K = (degree + 1)^2 -> degree; raises ShapeError for other K."""
    degree = round(num_coeffs ** 0.5) - 1
    if (degree + 1) ** 2 != num_coeffs or not 0 <= degree <= MAX_SH_DEGREE:
        raise ShapeError(f"sh has {num_coeffs} coefficients per channel; expected 1, 4, 9 or 16 (degree 0-3)")
    return degree


def sh_basis(degree: int, dirs: Tensor) -> Tensor:
    """[N, 3] unit directions -> [N, (degree + 1)^2] basis values in 3DGS coefficient order."""
    x, y, z = dirs.unbind(-1)
    basis = [torch.full_like(x, SH_C0)]
    if degree >= 1:
        basis += [-SH_C1 * y, SH_C1 * z, -SH_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        basis += [SH_C2[0] * x * y, SH_C2[1] * y * z, SH_C2[2] * (2 * zz - xx - yy),
                  SH_C2[3] * x * z, SH_C2[4] * (xx - yy)]
    if degree >= 3:
        basis += [SH_C3[0] * y * (3 * xx - yy), SH_C3[1] * x * y * z, SH_C3[2] * y * (4 * zz - xx - yy),
                  SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy), SH_C3[4] * x * (4 * zz - xx - yy),
                  SH_C3[5] * z * (xx - yy), SH_C3[6] * x * (xx - 3 * yy)]
    return torch.stack(basis, dim=-1)


def eval_sh(sh: Tensor, dirs: Tensor) -> Tensor:
    """sh [N, K, 3], dirs [N, 3] (any length, normalised here) -> [N, 3] raw SH value (no +0.5)."""
    degree = sh_degree_of(sh.shape[1])
    unit = dirs / dirs.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return (sh_basis(degree, unit)[:, :, None] * sh).sum(dim=1)


def sh_to_colour(sh: Tensor, dirs: Tensor) -> Tensor:
    """[N, K, 3], [N, 3] -> [N, 3] RGB as 3DGS: SH value + 0.5, clamped at 0 (no upper clamp)."""
    return (eval_sh(sh, dirs) + 0.5).clamp(min=0.0)
