"""Real spherical harmonics of any degree at fixed directions: a smooth function over the head
(the hair's thickness in `head_outline`) as a linear combination of them.

The basis is evaluated once, on directions that do not change during a fit, so it comes from
scipy (no gradient through the directions is needed). The tracker's lighting, whose normals move
with the pose, uses the differentiable degree-2 basis of `avatar.splat.sh` instead.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import sph_harm_y
from torch import Tensor


def real_harmonics(degree: int, directions: Tensor) -> Tensor:
    """[N, (degree + 1)^2] orthonormal real spherical harmonics (ordered by degree l, then order
    m = -l..l) at unit directions [N, 3], float64."""
    d = directions.detach().double().cpu().numpy()
    polar = np.arccos(np.clip(d[:, 2], -1.0, 1.0))
    azimuth = np.arctan2(d[:, 1], d[:, 0])
    columns = []
    for ell in range(degree + 1):  # the degree l
        for m in range(-ell, ell + 1):
            y = sph_harm_y(ell, abs(m), polar, azimuth)
            if m == 0:
                columns.append(y.real)
            else:
                columns.append(np.sqrt(2.0) * (-1) ** m * (y.imag if m < 0 else y.real))
    return torch.as_tensor(np.stack(columns, -1))


def harmonic_degrees(degree: int) -> Tensor:
    """[(degree + 1)^2] the degree l of each coefficient of `real_harmonics`."""
    return torch.tensor([ell for ell in range(degree + 1) for _ in range(2 * ell + 1)], dtype=torch.float32)
