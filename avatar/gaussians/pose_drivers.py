"""`HeadPoseDrivers`: offsets driven by the head's rotation, as the expression basis drives others.

A Gaussian bound to the rig's triangles turns with the head rigidly. What a phone video shows does
not: hair that hangs from the head keeps hanging down when the head tilts, and the light of the
room falls on a turned face from another side. Three more drivers let every Gaussian's offsets
follow the head's rotation: the rotation vector that takes the mean training head orientation
(root then neck) to the frame's, clamped to what the training frames covered, so a pose the video
never showed gets the offsets of the nearest one it did instead of an extrapolation, in units of
1 / DRIVERS_PER_RADIAN rad. Zero at the mean pose: the base Gaussians show the head as it mostly was.
The clamp has no margin: widened by 10-50% of the range, held-out frames beyond it scored up to
0.22 dB worse on the clip that turns most (docs/results.md, "Offsets that follow the head's pose").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from avatar.rig import RigParams
from avatar.rig.lbs import axis_angle_to_matrix

NUM_POSE_DRIVERS = 3
# A driver of 1 is a third of a radian: a phone video turns the head by 0.03-0.17 rad (standard
# deviation per axis), and in radians the pose offsets, which Adam moves by about the learning
# rate a step whatever the driver, learnt too little of it; three a radian scored best on held-out
# frames (1 and 10 were tried: docs/results.md, "Offsets that follow the head's pose").
DRIVERS_PER_RADIAN = 3.0
# A head counts as beyond the trained poses past this (radians, 0.06 deg): the range's ends are
# float32, so the training frames themselves can lie 1e-8 rad outside.
POSE_OUTSIDE_RAD = 1e-3


@dataclass(frozen=True)
class HeadPoseDrivers:
    mean: Tensor  # [3, 3] mean training head orientation (rotation matrix, root then neck)
    low: Tensor  # [3] smallest relative rotation vector component over the training frames (radians)
    high: Tensor  # [3] largest (radians)

    @classmethod
    def checked(cls, mean: Tensor, low: Tensor, high: Tensor, names: tuple[str, str, str]) -> "HeadPoseDrivers":
        """The drivers of tensors read from a file (names: theirs there, for the message), or a
        ValueError naming what is wrong: shapes, finite values, a rotation, low <= high."""
        for name, t, shape in zip(names, (mean, low, high), ((3, 3), (3,), (3,))):
            if tuple(t.shape) != shape:
                raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {shape}")
            if not t.is_floating_point() or not bool(t.isfinite().all()):
                raise ValueError(f"{name} holds non-finite or non-float values")
        m = mean.double()
        if not torch.allclose(m.T @ m, torch.eye(3, dtype=torch.float64), atol=1e-4) or float(torch.det(m)) < 0:
            raise ValueError(f"{names[0]} is not a rotation matrix")
        if bool((low > high).any()):
            raise ValueError(f"{names[1]} is above {names[2]}")
        return cls(mean, low, high)

    @classmethod
    def from_training(cls, params: RigParams) -> "HeadPoseDrivers":
        """The mean orientation of params' frames [T] (the rotation nearest the average matrix)
        and the range of their rotation vectors from it."""
        orientation = head_orientation(params).detach().double().cpu()  # [T, 3, 3]
        u, _, vh = torch.linalg.svd(orientation.mean(0))
        mean = u @ torch.diag(torch.tensor([1.0, 1.0, float(torch.det(u @ vh))], dtype=u.dtype)) @ vh  # [3, 3]
        relative = rotation_vector(mean.T @ orientation)  # [T, 3]
        return cls(mean.float(), relative.min(0).values.float(), relative.max(0).values.float())

    def coefficients(self, params: RigParams) -> Tensor:
        """params [T] -> drivers [T, 3]: the rotation from the mean, clamped to the training range
        (radians), times DRIVERS_PER_RADIAN."""
        relative = self._relative(params)  # [T, 3]
        return self._clamped(relative) * DRIVERS_PER_RADIAN

    def excess(self, params: RigParams) -> Tensor:
        """params [T] -> [T] radians by which each frame's head rotation lies beyond the training
        range (the largest component; 0 inside it): what the clamp in `coefficients` took off."""
        relative = self._relative(params)  # [T, 3]
        return (relative - self._clamped(relative)).abs().amax(-1)

    def outside(self, params: RigParams) -> Tensor:
        """params [T] -> [T] bool: the frames whose head is turned beyond the trained poses."""
        return self.excess(params) > POSE_OUTSIDE_RAD

    def _relative(self, params: RigParams) -> Tensor:
        orientation = head_orientation(params)  # [T, 3, 3]
        return rotation_vector(self.mean.to(orientation).T @ orientation)  # [T, 3]

    def _clamped(self, relative: Tensor) -> Tensor:
        return torch.minimum(torch.maximum(relative, self.low.to(relative)), self.high.to(relative))


def head_orientation(params: RigParams) -> Tensor:
    """[T, 3, 3]: the head's rotation in the rig's space, the root's then the neck's."""
    return axis_angle_to_matrix(params.rotation) @ axis_angle_to_matrix(params.neck)


def rotation_vector(m: Tensor) -> Tensor:
    """[..., 3, 3] rotations (angle below pi) -> [..., 3] rotation vectors (radians), in torch on
    m's device: axis from the antisymmetric part, angle from atan2(sin, cos)."""
    v = torch.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                     m[..., 1, 0] - m[..., 0, 1]], -1) / 2  # [..., 3] sin(angle) axis
    sin = v.norm(dim=-1, keepdim=True)  # [..., 1]
    cos = ((m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2] - 1) / 2)[..., None]
    angle = torch.atan2(sin, cos)
    factor = torch.where(sin > 1e-7, angle / sin.clamp_min(1e-7), torch.ones_like(sin))  # a / sin(a) -> 1 at 0
    return v * factor


def turn_from_median(orientation: Tensor, candidates: int = 512) -> Tensor:
    """orientation [T, 3, 3] -> [T] radians: each frame's angle from the clip's median orientation
    (the frame's orientation whose angles to all others sum least: a medoid, which turns held
    briefly do not pull as they pull a mean; looked for among `candidates` frames spread over a
    longer clip)."""
    o = orientation.detach().double().cpu()
    picks = torch.linspace(0, len(o) - 1, min(candidates, len(o))).round().long().unique()  # [C]
    sums = torch.cat([_angles(o[chunk], o).sum(1) for chunk in picks.split(64)])  # [C]
    return _angles(o[picks[int(sums.argmin())]][None], o)[0]


def _angles(a: Tensor, b: Tensor) -> Tensor:
    """[A, 3, 3], [B, 3, 3] rotations -> [A, B] angles between them (radians)."""
    return rotation_vector(a.transpose(-1, -2)[:, None] @ b[None]).norm(dim=-1)
