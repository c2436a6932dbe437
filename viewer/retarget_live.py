"""Tracked driver parameters -> avatar parameters, relative to the driver's neutral.

The live side of avatar.data.retarget (same transfer, `relative_to_neutral`): the neutral is
one tracked frame chosen at run time ("set neutral", or the calibration's median rotation)
instead of percentiles over a whole capture. The result is then kept inside the expressions the
avatar learned (`avatar.model.ExpressionRange`, when it has one), and how often that moved a
frame is counted for the stats. The driver's neutral maps to the avatar's resting expression.

An avatar with a `LiveMap` (fitted from its own video: the live fitter's parameters against the
offline tracker's) gets the live fit carried into its own parameterisation by the map instead of
the resting-face shift: the same person's live face is then the face the avatar was trained on
(measured: docs/results.md, "The live map: the live fitter's parameters carried into the avatar's
own"). A neutral set by hand puts the
driver's weights relative to it on the avatar's person's resting face as the live fitter sees it
(`LiveMap.input_rest`) before the map.
"""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.data.retarget import relative_to_neutral
from avatar.model import ClampTally, ExpressionRange, LiveMap
from avatar.rig import HeadRig, RigParams


class LiveRetarget:
    def __init__(self, rig: HeadRig, identity_shape: Tensor, learned: ExpressionRange | None = None,
                 live_map: LiveMap | None = None):
        self.identity_shape = identity_shape.float()  # [S] the avatar's own
        self.clip_expr = bool(rig.expr_names)
        self.neutral_expr = torch.zeros(rig.num_expr)  # [E]
        self.neutral_by_hand = False  # neutral_expr taken from a tracked frame (set_neutral), not zero
        self.neutral_rotation = torch.zeros(3, dtype=torch.float64)  # [3] axis-angle
        self.learned = learned
        self.live_map = live_map
        self.tally = ClampTally()  # what the training range did to the frames so far

    def set_neutral(self, driver: RigParams, expression: bool = True) -> None:
        """Take one tracked frame [1] as the driver's resting face (and head orientation)."""
        if expression:
            self.neutral_expr = driver.expr[0].float().clone()
            self.neutral_by_hand = True
        self.neutral_rotation = driver.rotation[0].double().clone()

    def __call__(self, driver: RigParams) -> RigParams:
        """Avatar params [1] for one tracked driver frame [1]."""
        params = relative_to_neutral(driver, self.neutral_expr, self.neutral_rotation, self.identity_shape,
                                     self.clip_expr)
        if self.live_map is not None:
            if self.neutral_by_hand:
                params.expr = params.expr + self.live_map.input_rest[:params.expr.shape[1]].to(params.expr)
            params = self.live_map.apply(params)
            if self.clip_expr:
                params.expr = params.expr.clamp_min(0.0)
        if self.learned is None:
            return params
        # Mapped, the parameters are the avatar's own: only the clamp; else the resting face first.
        params, report = self.learned.clamp(params) if self.live_map is not None else self.learned.onto(params)
        self.tally.add(report)
        return params

    def clamp_stats(self) -> dict | None:
        """How often the training range moved a frame so far (None: the avatar has no range)."""
        if self.learned is None:
            return None
        return self.tally.as_dict()
