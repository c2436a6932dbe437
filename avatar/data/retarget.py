"""Drive an avatar from another person's tracked capture (cross-identity).

Expression and head pose are transferred relative to the driver's own neutral: each expression
weight minus its 5th percentile over the capture (the driver's resting face, e.g. a mouth that
never fully closes; `avatar.model.ExpressionRange.onto` then puts the avatar's own resting face
under it), and the head rotation relative to the driver's median head rotation. Identity
(shape) and the head's place in the driver's camera (translation) are not transferred: the avatar
keeps its own identity and is framed by the render camera.
"""

from __future__ import annotations

import numpy as np
import torch

from avatar.data.capture import Capture
from avatar.rig import HeadRig, RigParams
from avatar.rig.lbs import axis_angle_to_matrix, matrix_to_axis_angle
from avatar.runtime.errors import InputError

NEUTRAL_PERCENTILE = 5.0


def resting_expression(expr: torch.Tensor) -> torch.Tensor:
    """[E] a person's resting expression weights from their tracked expr [T, E]."""
    return torch.as_tensor(np.percentile(expr.detach().cpu().numpy(), NEUTRAL_PERCENTILE, axis=0), dtype=torch.float32)


def driving_params(capture: Capture, rig: HeadRig) -> RigParams:
    """Per-time-step params [T] for `rig` (which must use the capture's expression basis)."""
    p = capture.params
    if p.expr.shape[1] != rig.num_expr:
        raise InputError(f"{capture.root}: the capture has {p.expr.shape[1]} expressions, rig '{rig.name}' "
                         f"has {rig.num_expr}; cross-identity driving needs the same rig")
    neutral_rotation = p.rotation.double().median(dim=0).values  # [3]
    return relative_to_neutral(p, resting_expression(p.expr), neutral_rotation, torch.zeros(rig.num_shape),
                               bool(rig.expr_names))


def relative_to_neutral(driver: RigParams, neutral_expr: torch.Tensor, neutral_rotation: torch.Tensor,
                        shape: torch.Tensor, clip_expr: bool) -> RigParams:
    """Avatar params [T] from a driver's tracked params [T]: expressions minus the driver's
    neutral [E] (clipped at 0 for ARKit-style weights), head rotation relative to its neutral
    rotation [3] (R_t R_neutral^T); jaw, neck and eyes as tracked; `shape` [S] the avatar's
    identity; no translation. Shared by cross-identity rendering and live driving."""
    expr = driver.expr.float() - neutral_expr
    if clip_expr:
        expr = expr.clamp_min(0.0)
    relative = axis_angle_to_matrix(driver.rotation.double()) @ axis_angle_to_matrix(neutral_rotation.double()).T
    return RigParams(shape.float().clone(), expr, driver.jaw.float().clone(), driver.neck.float().clone(),
                     matrix_to_axis_angle(relative).float(), driver.eyes.float().clone(),
                     torch.zeros(driver.num_frames, 3))
