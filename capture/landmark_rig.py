"""The rig evaluated only at embedded landmark points: what fitting needs, hundreds of times faster.

LBS is linear per vertex, so posing just the vertices of the landmark triangles gives exactly the
landmarks of the full mesh, provided the joints are regressed from the full mesh: the joint
regressor is folded into the identity and expression bases once (J = J0 + Js s + Je e).
"""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.rig import HeadRig, RigParams
from avatar.rig.lbs import lbs


class LandmarkRig:
    def __init__(self, rig: HeadRig, faces: Tensor, bary: Tensor):
        corners = rig.faces[faces]  # [L, 3]
        vertices, local = torch.unique(corners, return_inverse=True)
        self.corners = local.reshape(-1, 3)  # [L, 3] into the vertex subset
        self.bary = bary.to(rig.v_template.dtype)  # [L, 3]
        self.v_template = rig.v_template[vertices]  # [U, 3]
        self.shapedirs = rig.shapedirs[vertices]  # [U, 3, S]
        self.exprdirs = rig.exprdirs[vertices]  # [U, 3, E]
        self.posedirs = rig.posedirs[vertices]  # [U, 3, 36]
        self.lbs_weights = rig.lbs_weights[vertices]  # [U, 5]
        self.parents = rig.parents
        self.j_template = rig.j_regressor @ rig.v_template  # [5, 3]
        self.j_shapedirs = torch.einsum("jv,vks->jks", rig.j_regressor, rig.shapedirs)  # [5, 3, S]
        self.j_exprdirs = torch.einsum("jv,vke->jke", rig.j_regressor, rig.exprdirs)  # [5, 3, E]

    def __call__(self, params: RigParams) -> Tensor:
        """Landmarks [T, L, 3] in rig space, equal to rig.forward then barycentric interpolation."""
        v = (self.v_template[None] + torch.einsum("uks,s->uk", self.shapedirs, params.shape)[None]
             + torch.einsum("uke,te->tuk", self.exprdirs, params.expr))  # [T, U, 3]
        joints = (self.j_template[None] + torch.einsum("jks,s->jk", self.j_shapedirs, params.shape)[None]
                  + torch.einsum("jke,te->tjk", self.j_exprdirs, params.expr))  # [T, 5, 3]
        pose = torch.stack([params.rotation, params.neck, params.jaw,
                            params.eyes[:, :3], params.eyes[:, 3:]], dim=1)  # [T, 5, 3]
        posed, _ = lbs(v, pose, self.posedirs, None, self.parents, self.lbs_weights, joints=joints)
        posed = posed + params.translation[:, None, :]
        return torch.einsum("tlkd,lk->tld", posed[:, self.corners], self.bary)
