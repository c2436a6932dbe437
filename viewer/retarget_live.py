"""Tracked driver parameters -> avatar parameters, relative to the driver's neutral.

The live equivalent of avatar.data.retarget.driving_params: expression minus the neutral's
(clipped at 0 for ARKit-style named rigs), head rotation relative to the neutral rotation
(R_t R_neutral^T), jaw and eyes as tracked; the driver's identity, neck and translation (its
place in its own camera) are not transferred: the avatar keeps its identity and is framed by
the viewer's camera.
"""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.rig.lbs import matrix_to_axis_angle
from avatar.rig import HeadRig, RigParams
from avatar.rig.lbs import axis_angle_to_matrix


class LiveRetarget:
    def __init__(self, rig: HeadRig, identity_shape: Tensor):
        self.identity_shape = identity_shape.float()  # [S] the avatar's own
        self.clip_expr = bool(rig.expr_names)
        self.neutral_expr = torch.zeros(rig.num_expr)  # [E]
        self.neutral_rotation = torch.eye(3, dtype=torch.float64)  # [3, 3]

    def set_neutral(self, driver: RigParams, expression: bool = True) -> None:
        """Take one tracked frame [1] as the driver's resting face (and head orientation)."""
        if expression:
            self.neutral_expr = driver.expr[0].float().clone()
        self.neutral_rotation = axis_angle_to_matrix(driver.rotation[0].double())

    def __call__(self, driver: RigParams) -> RigParams:
        """Avatar params [1] for one tracked driver frame [1]."""
        expr = driver.expr.float() - self.neutral_expr  # [1, E]
        if self.clip_expr:
            expr = expr.clamp_min(0.0)
        relative = axis_angle_to_matrix(driver.rotation.double()) @ self.neutral_rotation.T  # [1, 3, 3]
        zeros = torch.zeros(1, 3)
        return RigParams(self.identity_shape.clone(), expr, driver.jaw.float().clone(), zeros.clone(),
                         matrix_to_axis_angle(relative).float(), driver.eyes.float().clone(), zeros)
