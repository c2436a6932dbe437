"""`ViewerState`: what the panels edit and the render loop reads (one thread: the window's).

Slider values are offsets added on top of whatever drives the avatar (all zero by default), so
the same sliders pose a still avatar and adjust a live one."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from avatar.rig.lbs import matrix_to_axis_angle
from avatar.rig import HeadRig, RigParams
from avatar.rig.lbs import axis_angle_to_matrix


@dataclass
class ViewerState:
    num_expr: int
    backend: str
    size: int
    background: list[float]
    expr_offsets: np.ndarray = None  # [E]
    head_offset_deg: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # pitch, yaw, roll
    eye_offset_deg: list[float] = field(default_factory=lambda: [0.0, 0.0])  # pitch, yaw (both eyes)
    jaw_offset_deg: float = 0.0

    def __post_init__(self):
        if self.expr_offsets is None:
            self.expr_offsets = np.zeros(self.num_expr, dtype=np.float32)

    def compose(self, driven: RigParams | None, rig: HeadRig, identity_shape: torch.Tensor) -> RigParams:
        """The params [1] to render, on the CPU (the renderer moves them to its device): the driven
        ones (or the rest pose) plus the panels' offsets."""
        # A shallow copy: every field changed below gets a new tensor, the driven ones are not mutated.
        p = dataclasses.replace(driven) if driven is not None else RigParams.zeros(rig.num_shape, rig.num_expr, 1)
        p.shape = identity_shape.clone()
        p.expr = p.expr + torch.from_numpy(self.expr_offsets)[None]
        p.jaw = p.jaw + torch.tensor([[math.radians(self.jaw_offset_deg), 0.0, 0.0]])
        pitch, yaw = (math.radians(v) for v in self.eye_offset_deg)
        p.eyes = p.eyes + torch.tensor([[pitch, yaw, 0.0, pitch, yaw, 0.0]])
        if any(self.head_offset_deg):
            offset = _euler_matrix(*(math.radians(v) for v in self.head_offset_deg))  # [3, 3]
            rotation = offset @ axis_angle_to_matrix(p.rotation.double())  # [1, 3, 3]
            p.rotation = matrix_to_axis_angle(rotation).float()
        return p


def _euler_matrix(pitch: float, yaw: float, roll: float) -> torch.Tensor:
    """R = Rz(roll) Ry(yaw) Rx(pitch), float64 [3, 3]."""
    axes = torch.eye(3, dtype=torch.float64)
    r = [axis_angle_to_matrix(axes[i] * angle) for i, angle in enumerate((pitch, yaw, roll))]
    return r[2] @ r[1] @ r[0]
