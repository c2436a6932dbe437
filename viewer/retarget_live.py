"""Tracked driver parameters -> avatar parameters, relative to the driver's neutral.

The live side of avatar.data.retarget (same transfer, `relative_to_neutral`): the neutral is
one tracked frame chosen at run time ("set neutral", or the calibration's median rotation)
instead of percentiles over a whole capture. The result is then kept inside the expressions the
avatar learned (`avatar.model.ExpressionRange`, when it has one), and how often that moved a
frame is counted for the stats. The driver's neutral maps to the avatar's resting expression.
"""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.data.retarget import relative_to_neutral
from avatar.model import ExpressionRange
from avatar.rig import HeadRig, RigParams


class LiveRetarget:
    def __init__(self, rig: HeadRig, identity_shape: Tensor, learned: ExpressionRange | None = None):
        self.identity_shape = identity_shape.float()  # [S] the avatar's own
        self.clip_expr = bool(rig.expr_names)
        self.neutral_expr = torch.zeros(rig.num_expr)  # [E]
        self.neutral_rotation = torch.zeros(3, dtype=torch.float64)  # [3] axis-angle
        self.learned = learned
        self.frames = self.frames_clamped = 0
        self.largest_excess = 0.0

    def set_neutral(self, driver: RigParams, expression: bool = True) -> None:
        """Take one tracked frame [1] as the driver's resting face (and head orientation)."""
        if expression:
            self.neutral_expr = driver.expr[0].float().clone()
        self.neutral_rotation = driver.rotation[0].double().clone()

    def __call__(self, driver: RigParams) -> RigParams:
        """Avatar params [1] for one tracked driver frame [1]."""
        params = relative_to_neutral(driver, self.neutral_expr, self.neutral_rotation, self.identity_shape,
                                     self.clip_expr)
        if self.learned is None:
            return params
        params, report = self.learned.onto(params)
        self.frames += 1
        self.frames_clamped += report.frames_clamped
        self.largest_excess = max(self.largest_excess, report.largest_excess)
        return params

    def clamp_stats(self) -> dict | None:
        """How often the training range moved a frame so far (None: the avatar has no range)."""
        if self.learned is None:
            return None
        return {"frames": self.frames, "frames_clamped": self.frames_clamped,
                "fraction": self.frames_clamped / self.frames if self.frames else 0.0,
                "largest_excess": self.largest_excess}
