"""Which frames ask an avatar for what its training frames never showed.

An avatar renders what its training video showed it. A frame whose expression weights, jaw or gaze
lie outside the avatar's learned range (`ExpressionRange`, widened by its margin), or whose head is
turned beyond its trained poses (`HeadPoseDrivers`), asks it to extrapolate: the inside of a mouth
opened wider than ever, hair that was never tucked behind the ear. Held-out frames are the last
part of a video, and how many of them lie beyond training says how far their score measures the
video's coverage rather than the avatar (docs/results.md, "The held-out frames trained on").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from avatar.model.avatar import Avatar
from avatar.rig import RigParams


@dataclass
class BeyondTraining:
    expression: Tensor | None  # [T] bool: an expression weight, the jaw or an eye outside the range; None: no range
    head_pose: Tensor | None  # [T] bool: the head turned beyond the trained poses; None: no pose drivers

    def any(self) -> Tensor | None:
        """[T] bool: beyond in either way that is known; None when neither is."""
        known = [flags for flags in (self.expression, self.head_pose) if flags is not None]
        return torch.stack(known).any(0) if known else None


def beyond_training(avatar: Avatar, params: RigParams) -> BeyondTraining:
    """Which frames of params [T] lie beyond what `avatar` was trained on (see the module)."""
    expression_range, pose = avatar.expression_range, avatar.model.pose_drivers
    return BeyondTraining(None if expression_range is None else expression_range.outside(params).cpu(),
                          None if pose is None else pose.outside(params).cpu())
