"""The rig evaluated only at embedded surface points: what fitting needs, hundreds of times faster.

Each point (a triangle and barycentric coordinates) becomes a virtual vertex: its template,
identity, expression and pose-corrective bases and its skinning weights are the barycentric
blends of its triangle's. Blendshapes are linear, so up to skinning this is exact; skinning the
blended point instead of blending the three skinned corners differs only where the weights
change across one small triangle (bounded in the tests). Joints are regressed from the full
mesh: the joint regressor is folded into the identity and expression bases once
(J = J0 + Js s + Je e).
"""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.rig import HeadRig, RigParams
from avatar.rig.lbs import axis_angle_to_matrix, rigid_transforms


class LandmarkRig:
    def __init__(self, rig: HeadRig, faces: Tensor, bary: Tensor, normals: Tensor | None = None):
        """faces [L], bary [L, 3]: the points; normals [L, 3]: their rest-pose surface normals,
        when `posed` should also turn them (for telling which way the surface faces)."""
        corners = rig.faces[faces]  # [L, 3]
        b = bary.to(rig.v_template.dtype)  # [L, 3]

        def blend(a: Tensor) -> Tensor:
            return torch.einsum("lc,lc...->l...", b, a[corners])

        self.v_template = blend(rig.v_template)  # [L, 3]
        self.shapedirs = blend(rig.shapedirs)  # [L, 3, S]
        self.exprdirs = blend(rig.exprdirs)  # [L, 3, E]
        posedirs = blend(rig.posedirs)  # [L, 3, 9 (J - 1)]
        self.posedirs = posedirs if bool(posedirs.any()) else None  # ICT and the builtin head have none
        self.lbs_weights = blend(rig.lbs_weights)  # [L, J]
        self.parents = rig.parents
        self.j_template = rig.j_regressor @ rig.v_template  # [J, 3]
        self.j_shapedirs = torch.einsum("jv,vks->jks", rig.j_regressor, rig.shapedirs)  # [J, 3, S]
        self.j_exprdirs = torch.einsum("jv,vke->jke", rig.j_regressor, rig.exprdirs)  # [J, 3, E]
        self.normals = None if normals is None else normals.to(rig.v_template.dtype)  # [L, 3]

    def subset(self, rows: Tensor) -> "LandmarkRig":
        """The same rig at the points `rows` [K] only (no normals)."""
        part = object.__new__(LandmarkRig)
        part.__dict__.update(self.__dict__)
        for name in ("v_template", "shapedirs", "exprdirs", "posedirs", "lbs_weights"):
            value = getattr(self, name)
            setattr(part, name, None if value is None else value[rows])
        part.normals = None
        return part

    def __call__(self, params: RigParams) -> Tensor:
        """Points [T, L, 3] in rig space."""
        return self.posed(params)[0]

    def posed(self, params: RigParams) -> tuple[Tensor, Tensor | None]:
        """Points [T, L, 3] in rig space, and their normals [T, L, 3] turned by the same blend of
        joint rotations (blendshapes ignored: a normal only says which way the surface faces)."""
        v = (self.v_template[None] + torch.einsum("lks,s->lk", self.shapedirs, params.shape)[None]
             + torch.einsum("lke,te->tlk", self.exprdirs, params.expr))  # [T, L, 3]
        joints = (self.j_template[None] + torch.einsum("jks,s->jk", self.j_shapedirs, params.shape)[None]
                  + torch.einsum("jke,te->tjk", self.j_exprdirs, params.expr))  # [T, J, 3]
        pose = HeadRig.joint_pose(params)  # [T, J, 3]
        rot = axis_angle_to_matrix(pose)  # [T, J, 3, 3]
        if self.posedirs is not None:
            eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
            feature = (rot[:, 1:] - eye).reshape(len(rot), -1)  # [T, 9 (J - 1)]
            v = v + torch.einsum("tp,lkp->tlk", feature, self.posedirs)
        _, skin = rigid_transforms(rot, joints, self.parents)  # [T, J, 4, 4]
        # Each point's blend of the joint transforms, then applied to it.
        blended = torch.einsum("lj,tjk->tlk", self.lbs_weights, skin[:, :, :3, :].reshape(*skin.shape[:2], 12))
        blended = blended.reshape(*blended.shape[:2], 3, 4)  # [T, L, 3, 4]
        points = _apply(blended, v) + blended[..., 3] + params.translation[:, None, :]
        if self.normals is None:
            return points, None
        return points, _apply(blended, self.normals[None])


def _apply(matrices: Tensor, vectors: Tensor) -> Tensor:
    """matrices[..., :3, :3] @ vectors [..., 3] as three column products: batched 3x3 matmuls
    (and sums over a dimension of 3) cost several times more on a CPU at these sizes."""
    return (matrices[..., 0] * vectors[..., 0:1] + matrices[..., 1] * vectors[..., 1:2]
            + matrices[..., 2] * vectors[..., 2:3])
