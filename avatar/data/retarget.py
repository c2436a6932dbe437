"""Drive an avatar from another person's tracked capture (cross-identity).

Expression and head pose are transferred relative to the driver's own neutral: each expression
weight minus its 5th percentile over the capture (the driver's resting face, e.g. a mouth that
never fully closes), and the head rotation relative to the driver's median head rotation. Identity
(shape) and the head's place in the driver's camera (translation) are not transferred: the avatar
keeps its own identity and is framed by the render camera.
"""

from __future__ import annotations

import numpy as np
import torch

from avatar.data.capture import Capture
from avatar.rig import HeadRig, RigParams
from avatar.rig.lbs import axis_angle_to_matrix, matrix_to_axis_angle

NEUTRAL_PERCENTILE = 5.0


def driving_params(capture: Capture, rig: HeadRig) -> RigParams:
    """Per-time-step params [T] for `rig` (which must use the capture's expression basis)."""
    p = capture.params
    if p.expr.shape[1] != rig.num_expr:
        raise ValueError(f"{capture.root}: the capture has {p.expr.shape[1]} expressions, rig '{rig.name}' "
                         f"has {rig.num_expr}; cross-identity driving needs the same rig")
    expr = p.expr.numpy()
    neutral = np.percentile(expr, NEUTRAL_PERCENTILE, axis=0)  # [E]
    expr = np.clip(expr - neutral, 0.0, None) if rig.expr_names else expr - neutral
    rotation = _relative_to_median(p.rotation)
    t = p.num_frames
    return RigParams(torch.zeros(rig.num_shape), torch.as_tensor(expr, dtype=torch.float32), p.jaw.clone(),
                     p.neck.clone(), rotation, p.eyes.clone(), torch.zeros(t, 3))


def _relative_to_median(rotation: torch.Tensor) -> torch.Tensor:
    """Axis-angle [T, 3] of R_t R_median^T, R_median the rotation of the median axis-angle."""
    mats = axis_angle_to_matrix(rotation.double())  # [T, 3, 3]
    median = axis_angle_to_matrix(rotation.double().median(dim=0).values)  # [3, 3]
    rel = mats @ median.T
    return matrix_to_axis_angle(rel).float()
