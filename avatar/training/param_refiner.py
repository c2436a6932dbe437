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
    """Each time step's corrections are parameters of their own ([K] per key), so that Adam moves
    only the time step a training step rendered. In one [T, K] tensor every row would keep moving
    on Adam's momentum for dozens of steps after its frame was rendered, with no gradient: each
    frame's parameters would drift away from those the avatar learned it with."""

    def __init__(self, params: RigParams):
        super().__init__()
        self.base = params.detach()
        self.deltas = nn.ModuleDict({k: nn.ParameterList([nn.Parameter(torch.zeros_like(row))
                                                          for row in getattr(params, k)])
                                     for k in REFINED})  # key -> T parameters [K]

    def delta(self, key: str, time: int) -> torch.Tensor:
        """[K] the correction to `key` at one time step."""
        return self.deltas[key][time]

    def frame(self, time: int) -> RigParams:
        """Refined parameters of one time step (a one-frame RigParams)."""
        base = self.base.frame(time)
        return RigParams(base.shape, *(getattr(base, k) + self.delta(k, time)[None] for k in REFINED))

    def deviation(self, time: int) -> torch.Tensor:
        """Squared size of one time step's corrections (translation in cm, angles in radians,
        expression weights as they are): the prior that keeps refinement near the tracking."""
        return sum((self.delta(k, time) / UNITS.get(k, 1.0)).pow(2).sum() for k in REFINED)

    def refined(self) -> RigParams:
        """[T] the tracked parameters with every time step's corrections."""
        return RigParams(self.base.shape, *(getattr(self.base, k) + torch.stack(list(self.deltas[k])).detach()
                                            for k in REFINED))
