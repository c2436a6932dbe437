"""The rig's left-right mirror: the parameters of the same head mirrored in its plane x = 0.

A face is nearly symmetric, so a frame of a video flipped left-right is another view of the
person: the side a camera saw, shown where it never looked. Training uses such frames
(`avatar.training.mirrored`): the flipped image is what the rig posed at the mirrored parameters
shows through the mirrored camera (`Camera.mirrored`).

Rig-agnostic: no names are needed. Identity and expression blendshapes map to their mirrors by
least squares over the mirrored vertex offsets (a permutation with signs for rigs built
symmetric, such as the builtin head and ICT, whose _L / _R shapes swap); rotations about the
joints, which lie on the plane, mirror as (x, -y, -z); the eyes swap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from avatar.rig.head_rig import HeadRig
from avatar.rig.params import RigParams
from avatar.runtime.errors import InputError

REFLECT = (-1.0, 1.0, 1.0)  # x -> -x: rig space's left-right mirror
AXIS_ANGLE = (1.0, -1.0, -1.0)  # a rotation mirrored in x = 0, as an axis-angle vector
MAX_VERTEX_GAP = 2e-3  # metres: a rig whose mirrored rest vertices land further from a vertex is not symmetric
MAX_BLENDSHAPE_RESIDUAL = 0.15  # of a blendshape's mirror left outside the blendshapes' span (ICT: 9%, sculpted lids)
SNAP_RESIDUAL = 0.02  # a single blendshape that explains a mirror this nearly as well as all of them is its mirror
# Vertices at one rest position (lips and lids closed) are told apart by how far each blendshape
# moves them (sorted, so the blendshapes' order does not matter), in metres times this.
OFFSET_WEIGHT = 0.1


@dataclass(frozen=True)
class RigMirror:
    vertex: Tensor  # [V] long: the vertex each vertex's mirror image lands on
    shape: Tensor  # [S, S]: mirrored identity coefficients = shape @ coefficients
    expr: Tensor  # [E, E]: mirrored expression weights = expr @ weights

    @classmethod
    def of(cls, rig: HeadRig) -> "RigMirror":
        """The rig's mirror, or ValueError when the rig is not left-right symmetric."""
        v = rig.v_template.detach().double().cpu().numpy()  # [V, 3]
        moves = np.sort(rig.exprdirs.detach().double().cpu().norm(dim=1).numpy(), axis=1) * OFFSET_WEIGHT  # [V, E]
        _, vertex = cKDTree(np.concatenate([v, moves], 1)).query(np.concatenate([v * np.array(REFLECT), moves], 1))
        gap = np.linalg.norm(v[vertex] - v * np.array(REFLECT), axis=1)  # [V]
        if gap.max() > MAX_VERTEX_GAP:
            raise InputError(f"rig '{rig.name}' is not left-right symmetric: a mirrored rest vertex lies "
                             f"{1e3 * gap.max():.1f} mm from any vertex (at most {1e3 * MAX_VERTEX_GAP:.0f})")
        vertex = torch.from_numpy(vertex).long()
        return cls(vertex, _blendshape_map(rig.shapedirs, vertex, rig.name, "identity"),
                   _blendshape_map(rig.exprdirs, vertex, rig.name, "expression"))

    def params(self, p: RigParams) -> RigParams:
        """p [T] mirrored: the head the rig shows at p, mirrored in x = 0."""
        axis = torch.tensor(AXIS_ANGLE, dtype=p.jaw.dtype, device=p.jaw.device)
        eyes = torch.cat([p.eyes[:, 3:], p.eyes[:, :3]], dim=1) * axis.repeat(2)  # left <-> right
        return RigParams(self.shape.to(p.shape) @ p.shape, p.expr @ self.expr.to(p.expr).T, p.jaw * axis,
                         p.neck * axis, p.rotation * axis, eyes,
                         p.translation * torch.tensor(REFLECT, dtype=p.translation.dtype, device=p.translation.device))


def _blendshape_map(dirs: Tensor, vertex: Tensor, rig: str, what: str) -> Tensor:
    """[K, K] M: the mirror of blendshape k is sum_j M[j, k] blendshape j (dirs [V, 3, K]), so a
    head's coefficients c [K] mirror to M @ c. Where one blendshape, with a positive coefficient,
    explains a mirror nearly as well as all of them (a rig built symmetric: mouthSmile_L is
    mouthSmile_R mirrored), that one alone, so ARKit-style weights stay weights of the same kind;
    otherwise the least-squares combination. ValueError when some mirror is not in their span."""
    d = dirs.detach().double().cpu()
    k = d.shape[-1]
    if k == 0:
        return torch.zeros(0, 0)
    basis = d.reshape(-1, k).contiguous()  # [3V, K]
    mirrored = (d[vertex] * torch.tensor(REFLECT, dtype=d.dtype)[None, :, None]).reshape(-1, k).contiguous()
    # [K, K]: mirrored[:, k] ~= basis @ m[:, k]; SVD-based, as blendshapes may be linearly dependent
    m = torch.linalg.lstsq(basis, mirrored, driver="gelsd").solution
    size = mirrored.norm(dim=0).clamp_min(1e-12)  # [K]
    residual = (basis @ m - mirrored).norm(dim=0) / size  # [K]
    if float(residual.max()) > MAX_BLENDSHAPE_RESIDUAL:
        raise InputError(f"rig '{rig}': the mirror of {what} blendshape {int(residual.argmax())} is not among its "
                         f"blendshapes ({100 * float(residual.max()):.0f}% of it left over)")
    coefficient = (basis.T @ mirrored) / basis.pow(2).sum(0).clamp_min(1e-24)[:, None]  # [K (j), K (k)]
    alone = torch.stack([(basis * coefficient[:, i]).sub(mirrored[:, i:i + 1]).norm(dim=0) / size[i]
                         for i in range(k)], 1)  # [K (j), K (k)] residual of blendshape j alone
    alone = torch.where(coefficient > 0, alone, torch.full_like(alone, float("inf")))
    best = alone.argmin(0)  # [K]
    for i in range(k):
        if float(alone[best[i], i]) <= float(residual[i]) + SNAP_RESIDUAL:
            m[:, i] = 0
            m[best[i], i] = coefficient[best[i], i]
    return m.float()
