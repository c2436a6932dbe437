"""`RigPoser`: one frame of the rig posed for rendering, with the work that does not change from
frame to frame done once.

The person's identity is folded into the template once per identity (a frame then never reads
the identity blendshapes), expression blendshapes are applied only to the vertices they move (all
but about a fifth of ICT's and a tenth of the builtin head's), and pose correctives are left out
where the rig has none (the builtin head and ICT). Joints and skinning run in cuda_ext's rig
kernel. The vertices are HeadRig.forward's, to float32 rounding. Where a gradient must reach the
rig or its parameters, or off the CPU, the rig's own forward runs instead.
"""

from __future__ import annotations

from dataclasses import fields

import torch
from torch import Tensor

from avatar.rig.head_rig import HeadRig
from avatar.rig.params import RigParams


class RigPoser:
    def __init__(self, rig: HeadRig):
        self.rig = rig
        moving = rig.exprdirs.detach().abs().amax(dim=(1, 2)) > 0  # [V] vertices some expression moves
        self._moving = moving.nonzero()[:, 0]  # [M]
        self._exprdirs = rig.exprdirs.detach()[self._moving].reshape(-1, rig.num_expr).contiguous()  # [3 M, E]
        has_correctives = bool((rig.posedirs.detach() != 0).any())
        self._posedirs = rig.posedirs.detach() if has_correctives else rig.posedirs.new_zeros(rig.num_vertices, 3, 0)
        self._empty = rig.v_template.new_zeros(rig.num_vertices, 3, 0)  # [V, 3, 0] blendshapes already applied
        self._identity: tuple[bytes, Tensor] | None = None  # (identity's bytes, folded template [V, 3])

    def __call__(self, params: RigParams) -> Tensor:
        """Posed vertices [V, 3] of one frame of params."""
        if params.num_frames != 1:
            raise ValueError(f"the poser takes one frame of rig parameters, got {params.num_frames}")
        if not self._fast_path_applies(params):
            return self.rig.forward(params)[0]
        from cuda_ext.rig import pose_vertices

        shaped = self._template(params.shape).clone()  # [V, 3]
        shaped.index_add_(0, self._moving, (self._exprdirs @ params.expr[0]).view(-1, 3))
        return pose_vertices(shaped, self._empty, self._empty, self._posedirs, self.rig.j_regressor, self.rig.parents,
                             self.rig.lbs_weights, params.shape.new_zeros(0), params.expr.new_zeros(0),
                             self.rig.joint_pose(params)[0], params.translation[0])  # pose [5, 3]

    def _fast_path_applies(self, params: RigParams) -> bool:
        tensors = (*self.rig.arrays().values(), *(getattr(params, f.name) for f in fields(params)))
        if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
            return False
        return self.rig.v_template.is_cpu and params.expr.is_cpu and self.rig.v_template.dtype == params.expr.dtype

    def _template(self, shape: Tensor) -> Tensor:
        """v_template + shapedirs . shape [V, 3], computed once per identity."""
        key = shape.detach().cpu().numpy().tobytes()
        if self._identity is None or self._identity[0] != key:
            folded = self.rig.v_template + torch.einsum("vks,s->vk", self.rig.shapedirs, shape)
            self._identity = (key, folded.detach().contiguous())
        return self._identity[1]
