"""The directions an avatar's view-dependent colour was trained from, and renders kept inside them.

Degree 1-3 spherical harmonics fitted to a video see each Gaussian from a narrow cone of
directions: the one camera, a few degrees apart as the head moves across the frame. Inside it
they carry real effects (light that stays put in the room as the head turns); outside, their
polynomials extrapolate into bright speckles and ghost features that a turned camera shows.
`ViewCone` records the cone, in world space, of directions from the head's centre to the
training cameras; `ViewCone.origin` moves a render's SH viewpoint (`Camera.sh_origin`) onto the
cone's edge when the camera lies outside it, at the same distance, so every Gaussian's colour
is one its training saw from a nearby direction. Geometry and opacity are untouched. The web
player restates `origin` (web/src/view_cone.js).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from avatar.rig import HeadRig, RigParams
from avatar.rig.lbs import axis_angle_to_matrix


@dataclass(frozen=True)
class ViewCone:
    axis: tuple[float, float, float]  # unit vector, world space: the mean direction from the head to the cameras
    half_angle: float  # radians: the largest angle of a training direction from the axis
    centre: tuple[float, float, float]  # rig space, at rest: the point directions start from (posed by `head_centre`)

    @classmethod
    def of(cls, rig: HeadRig, params: RigParams, positions: Tensor) -> "ViewCone":
        """The cone of directions from the head (its rest bounding box's centre, posed at params
        [T]) to the camera positions [T, 3] that saw it."""
        rest = (rig.v_template.min(0).values + rig.v_template.max(0).values).double().cpu() / 2  # [3]
        centre = tuple(float(c) for c in rest)
        centres = head_centre(centre, params)  # [T, 3]
        directions = torch.nn.functional.normalize(positions.double().cpu() - centres, dim=-1)  # [T, 3]
        axis = torch.nn.functional.normalize(directions.mean(0), dim=0)
        angles = torch.arccos((directions @ axis).clamp(-1, 1))
        return cls(tuple(float(a) for a in axis), float(angles.max()), centre)

    def origin(self, params: RigParams, position: Tensor) -> Tensor:
        """[3] where a camera at `position` [3] sees the colours of the head posed at params (one
        frame) from: `position` inside the cone, else the point at the same distance from the head
        in the cone's direction nearest to it."""
        centre = head_centre(self.centre, params)[0].to(position)  # [3]
        return self.origins(centre, position[None])[0]

    def origins(self, centre: Tensor, positions: Tensor) -> Tensor:
        """[..., 3] `origin` of many camera positions [..., 3] around the posed head's centre
        [3] (`head_centre`), in the positions' dtype."""
        offset = (positions - centre).double()  # [..., 3]
        distance = offset.norm(dim=-1, keepdim=True)  # [..., 1]
        u = offset / distance.clamp_min(1e-12)
        a = torch.tensor(self.axis, dtype=torch.float64, device=offset.device)  # [3]
        cos = (u @ a)[..., None]  # [..., 1]
        side = u - cos * a  # the part of u away from the axis
        # Straight behind the axis any side will do: one across the axis.
        across = torch.linalg.cross(a, a.new_tensor([0.0, 1.0, 0.0]))
        if float(across.norm()) < 1e-9:
            across = torch.linalg.cross(a, a.new_tensor([1.0, 0.0, 0.0]))
        behind = side.norm(dim=-1, keepdim=True) < 1e-9
        side = torch.where(behind, across, side)
        side = side / side.norm(dim=-1, keepdim=True)
        edge = math.cos(self.half_angle) * a + math.sin(self.half_angle) * side  # [..., 3]
        clamped = centre.double() + distance * edge
        inside = cos >= math.cos(self.half_angle)
        return torch.where(inside, positions.double(), clamped).to(positions.dtype)

    def to_dict(self) -> dict:
        return {"axis": list(self.axis), "half_angle": self.half_angle, "centre": list(self.centre)}

    @classmethod
    def from_dict(cls, data: object) -> "ViewCone":
        """The cone a model file records; ValueError says what is wrong."""
        if not isinstance(data, dict) or set(data) != {"axis", "half_angle", "centre"}:
            raise ValueError("view_cone must be an object with axis, half_angle and centre")
        axis, angle, centre = data["axis"], data["half_angle"], data["centre"]
        if (
            not isinstance(centre, list)
            or len(centre) != 3
            or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in centre)
        ):
            raise ValueError(f"view_cone.centre must be 3 numbers, got {centre!r}")
        if (
            not isinstance(axis, list)
            or len(axis) != 3
            or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in axis)
            or abs(math.sqrt(sum(v * v for v in axis)) - 1) > 1e-4
        ):
            raise ValueError(f"view_cone.axis must be a unit vector of 3 numbers, got {axis!r}")
        if not isinstance(angle, (int, float)) or not 0 <= angle <= math.pi:
            raise ValueError(f"view_cone.half_angle must be an angle in [0, pi], got {angle!r}")
        return cls(tuple(float(v) for v in axis), float(angle), tuple(float(v) for v in centre))


def head_centre(rest: tuple[float, float, float], params: RigParams) -> Tensor:
    """[T, 3] float64, world space: the rest point `rest` turned by the root rotation and moved by
    the translation (the neck's turn and the expression do not move the head's centre enough to
    matter to a cone of directions)."""
    rotation = axis_angle_to_matrix(params.rotation.detach().double().cpu())  # [T, 3, 3]
    return (
        torch.einsum("tij,j->ti", rotation, torch.tensor(rest, dtype=torch.float64))
        + params.translation.detach().double().cpu()
    )
