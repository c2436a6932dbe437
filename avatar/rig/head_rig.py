"""`HeadRig`: one FLAME-structured container for every head model the engine drives."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from avatar.rig.lbs import lbs
from avatar.rig.params import RigParams

JOINT_NAMES = ("root", "neck", "jaw", "eye_l", "eye_r")
# The arrays that make a rig's geometry: what its identity hash and geometry signature cover.
GEOMETRY_ARRAYS = ("v_template", "faces", "shapedirs", "exprdirs", "posedirs", "j_regressor", "lbs_weights")
FLAME_PARENTS = (-1, 0, 1, 1, 1)


@dataclass
class HeadRig:
    """A blendshape + LBS head. Rig space: metres, y up, face looking +z.

    Joints are [root, neck, jaw, eye_l, eye_r] with FLAME's parents. Expression names follow
    ARKit where the rig has them (builtin, ICT); FLAME's PCA expressions have none.
    """

    name: str  # "builtin", "ict", "flame2020", "flame2023"
    v_template: Tensor  # [V, 3]
    faces: Tensor  # [F, 3] long
    shapedirs: Tensor  # [V, 3, S]
    exprdirs: Tensor  # [V, 3, E]
    posedirs: Tensor  # [V, 3, 36] pose correctives on (R - I) of the 4 non-root joints
    j_regressor: Tensor  # [5, V]
    lbs_weights: Tensor  # [V, 5]
    parents: Tensor = field(default_factory=lambda: torch.tensor(FLAME_PARENTS))  # [5] long
    expr_names: list[str] | None = None  # len E, or None for PCA expressions
    lmk_faces: Tensor | None = None  # [L] long, face index of each landmark
    lmk_bary: Tensor | None = None  # [L, 3] barycentric coordinates in that face
    landmark_scheme: str = "ibug68"
    vertex_colors: Tensor | None = None  # [V, 3] in [0, 1], a texture for synthetic captures
    embeddable: bool = True  # False when the licence forbids copying the arrays into .avatar files

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    @property
    def num_shape(self) -> int:
        return int(self.shapedirs.shape[-1])

    @property
    def num_expr(self) -> int:
        return int(self.exprdirs.shape[-1])

    def zero_params(self, num_frames: int = 1) -> RigParams:
        return RigParams.zeros(self.num_shape, self.num_expr, num_frames,
                               dtype=self.v_template.dtype, device=self.v_template.device)

    def forward(self, params: RigParams) -> Tensor:
        """Posed vertices [T, V, 3] for T frames (shape shared, translation applied last)."""
        offsets = torch.einsum("vks,s->vk", self.shapedirs, params.shape)[None]  # [1, V, 3]
        offsets = offsets + torch.einsum("vke,te->tvk", self.exprdirs, params.expr)  # [T, V, 3]
        v_shaped = self.v_template[None] + offsets
        verts, _ = lbs(v_shaped, self.joint_pose(params), self.posedirs, self.j_regressor, self.parents,
                       self.lbs_weights)
        return verts + params.translation[:, None, :]

    @staticmethod
    def joint_pose(params: RigParams) -> Tensor:
        """Axis-angle rotations [T, 5, 3] of the joints, in JOINT_NAMES order."""
        return torch.stack([params.rotation, params.neck, params.jaw, params.eyes[:, :3], params.eyes[:, 3:]], dim=1)

    __call__ = forward

    def landmarks(self, verts: Tensor) -> Tensor:
        """Landmark positions [T, L, 3] on posed vertices [T, V, 3]."""
        if self.lmk_faces is None or self.lmk_bary is None:
            raise ValueError(f"rig '{self.name}' has no landmark embedding")
        tri = verts[:, self.faces[self.lmk_faces]]  # [T, L, 3, 3]
        return torch.einsum("tlkd,lk->tld", tri, self.lmk_bary)

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "HeadRig":
        def move(x):
            if not isinstance(x, Tensor):
                return x
            if x.is_floating_point():
                return x.to(device=device, dtype=dtype)
            return x.to(device=device)
        return HeadRig(**{k: move(v) for k, v in self.__dict__.items()})

    def identity_hash(self) -> str:
        """SHA-256 over the geometry arrays: ties an .avatar file to the rig it was trained on."""
        h = hashlib.sha256(self.name.encode())
        for name in GEOMETRY_ARRAYS:
            a = getattr(self, name).detach().cpu().numpy()
            h.update(str(a.shape).encode())
            h.update(np.ascontiguousarray(a.astype(np.float32 if a.dtype.kind == "f" else np.int64)).tobytes())
        return h.hexdigest()

    def arrays(self) -> dict[str, Tensor]:
        """All tensors keyed by field name (for embedding into .avatar files)."""
        return {k: v for k, v in self.__dict__.items() if isinstance(v, Tensor)}
