"""Per-frame rig-parameter refinement: learned corrections to the tracked parameters of the
training time steps, optimised through the renderer (monocular trackers are never exact)."""

from __future__ import annotations

import torch
from torch import nn

from avatar.rig import RigParams
from avatar.rig.params import FRAME_KEYS as REFINED


# Scale of a deviation from the tracking that counts as 1 in `deviation` (translation in metres).
UNITS = {"translation": 0.01}


class ParamRefiner(nn.Module):
    def __init__(self, params: RigParams):
        super().__init__()
        self.base = params.detach()
        self.deltas = nn.ParameterDict({k: nn.Parameter(torch.zeros_like(getattr(params, k))) for k in REFINED})

    def frame(self, time: int) -> RigParams:
        """Refined parameters of one time step (a one-frame RigParams)."""
        base = self.base.frame(time)
        sl = slice(time, time + 1)
        return RigParams(base.shape, *(getattr(base, k) + self.deltas[k][sl] for k in REFINED))

    def deviation(self, time: int) -> torch.Tensor:
        """Squared size of one time step's corrections (translation in cm, angles in radians,
        expression weights as they are): the prior that keeps refinement near the tracking."""
        return sum((self.deltas[k][time] / UNITS.get(k, 1.0)).pow(2).sum() for k in REFINED)

    def refined(self) -> RigParams:
        return RigParams(self.base.shape, *(getattr(self.base, k) + self.deltas[k].detach() for k in REFINED))
