"""`Gaussians`: world-space 3D Gaussians, the input of every splatting backend."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor


@dataclass
class Gaussians:
    means: Tensor  # [N, 3] world space, metres
    quats: Tensor  # [N, 4] (w, x, y, z), not necessarily normalised
    scales: Tensor  # [N, 3] standard deviations along the local axes (linear, > 0)
    opacities: Tensor  # [N] in [0, 1]
    sh: Tensor  # [N, K, 3] SH coefficients, K = (degree + 1)^2; colour = SH(dir) + 0.5

    @property
    def num(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        return int(round(self.sh.shape[1] ** 0.5)) - 1

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "Gaussians":
        return Gaussians(*(getattr(self, f.name).to(device=device, dtype=dtype) for f in fields(self)))

    def detach(self) -> "Gaussians":
        return Gaussians(*(getattr(self, f.name).detach() for f in fields(self)))

    def __getitem__(self, idx) -> "Gaussians":
        return Gaussians(*(getattr(self, f.name)[idx] for f in fields(self)))
