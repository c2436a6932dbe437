"""The rig as glTF puts it: a template with the identity folded in, named morph targets, a skin
of its five joints, and per-frame joint tracks that reproduce `HeadRig.forward` exactly.

glTF skins a vertex v (morphed: template + sum_e w_e target_e) as sum_j w_j M_j v with
M_j = global(joint node j) . inverseBindMatrix_j. The rig's LBS (avatar.rig.lbs) uses
A_j = [R_j | G_j - R_j J_j], where J_j are the joints regressed from the expression-displaced
vertices of that frame and G_j where they end up posed. With fixed inverse bind matrices
T(-J0_j) (J0: the joints of the neutral, identity-folded template) M_j = A_j exactly when joint
node j's global transform is A_j . T(J0_j): its rotation is R_j (so each node's local rotation is
the rig's own joint rotation) and its translation is G_j + R_j (J0_j - J_j) + the frame's
translation. `joint_tracks` animates the nodes' translations that way, so the skinned mesh is
the rig's, although glTF cannot regress joints from morphed vertices; the nodes themselves then
sit off the rig's joints by the expression's joint shift turned with the joint (what the rig
regresses: 0 for ICT, under a millimetre for the builtin head's jaw).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from avatar.data.arkit import ARKIT_NAMES, canonical_name
from avatar.gaussians.rotations import matrix_to_quat
from avatar.rig import HeadRig, RigParams
from avatar.rig.lbs import axis_angle_to_matrix, rigid_transforms

INFLUENCES = 4  # joints per vertex in JOINTS_0 / WEIGHTS_0, what every glTF reader supports

_ARKIT_BY_CANONICAL = {canonical_name(name): name for name in ARKIT_NAMES}


@dataclass
class RigMesh:
    template: np.ndarray  # [V, 3] float64, v_template + shapedirs . identity
    faces: np.ndarray  # [F, 3] int64
    targets: np.ndarray  # [E, V, 3] float32, the expression blendshapes (metres per unit weight)
    target_names: list[str]  # [E] ARKit spelling where the expression is one ARKit shape
    rest_joints: np.ndarray  # [5, 3] float64, regressed from the template
    joints: np.ndarray  # [V, 4] uint8 JOINTS_0
    weights: np.ndarray  # [V, 4] float32 WEIGHTS_0, each row sums to 1
    dropped_weight: float  # the largest skinning weight a vertex lost to the 4-joint limit


@dataclass
class JointTracks:
    rotations: np.ndarray  # [T, 5, 4] float32 local rotations (x, y, z, w), one hemisphere frame to frame
    translations: np.ndarray  # [T, 5, 3] float32 local translations


def target_names(rig: HeadRig) -> list[str]:
    """The rig's expression names, in ARKit's spelling (``eyeBlink_L`` -> ``eyeBlinkLeft``) where
    the expression is one ARKit blendshape, else the rig's own (ICT's ``browInnerUp_L``)."""
    names = rig.expr_names or [f"expression{e:03d}" for e in range(rig.num_expr)]
    return [_ARKIT_BY_CANONICAL.get(canonical_name(name), name) for name in names]


def identity_template(rig: HeadRig, identity: Tensor) -> Tensor:
    """[V, 3] float64: the template with the person's identity shape [S] folded in."""
    shape = torch.as_tensor(identity, dtype=torch.float64).reshape(-1)
    return rig.v_template.double().cpu() + torch.einsum("vks,s->vk", rig.shapedirs.double().cpu(), shape)


def rig_mesh(rig: HeadRig, identity: Tensor) -> RigMesh:
    template = identity_template(rig, identity)  # [V, 3]
    rest = rig.j_regressor.double().cpu() @ template  # [5, 3]
    joints, weights, dropped = top_influences(rig.lbs_weights.double().cpu().numpy())
    targets = rig.exprdirs.detach().float().cpu().permute(2, 0, 1).contiguous().numpy()  # [E, V, 3]
    return RigMesh(template.numpy(), rig.faces.cpu().numpy(), targets, target_names(rig), rest.numpy(), joints,
                   weights, dropped)


def top_influences(weights: np.ndarray, count: int = INFLUENCES) -> tuple[np.ndarray, np.ndarray, float]:
    """Skinning weights [V, J] -> the `count` largest per vertex, renormalised: JOINTS [V, count]
    uint8, WEIGHTS [V, count] float32 (rows sum to 1), and the largest weight a vertex lost.
    Slots with weight 0 name joint 0, as the spec asks of unused slots."""
    if count > weights.shape[1]:
        raise ValueError(f"{count} influences need at least {count} joints, the rig has {weights.shape[1]}")
    order = np.argsort(-weights, axis=1, kind="stable")  # [V, J] largest first
    kept = order[:, :count]
    values = np.take_along_axis(weights, kept, axis=1).clip(min=0)  # [V, count]
    dropped = float(np.take_along_axis(weights, order[:, count:], axis=1).clip(min=0).max(initial=0.0))
    values = _normalised_float32(values / values.sum(axis=1, keepdims=True))
    return np.where(values > 0, kept, 0).astype(np.uint8), values, dropped


def _normalised_float32(values: np.ndarray) -> np.ndarray:
    """float32 rows that sum to 1 as closely as float32 allows (the rounding put on the largest)."""
    out = values.astype(np.float32)
    out[:, 0] += (1.0 - out.astype(np.float64).sum(axis=1)).astype(np.float32)
    return out


def inverse_bind_matrices(rest_joints: np.ndarray) -> np.ndarray:
    """[5, 16] float32, column-major 4x4 each: T(-J0_j), the neutral skeleton's inverse."""
    matrices = np.tile(np.eye(4), (len(rest_joints), 1, 1))
    matrices[:, :3, 3] = -rest_joints
    return matrices.transpose(0, 2, 1).reshape(len(rest_joints), 16).astype(np.float32)


def rest_translations(rig: HeadRig, rest_joints: np.ndarray) -> np.ndarray:
    """[5, 3] the joint nodes' local translations at rest (root: its position)."""
    parents = rig.parents.tolist()
    return np.stack([rest_joints[j] - (rest_joints[p] if p >= 0 else 0.0) for j, p in enumerate(parents)])


@torch.no_grad()
def joint_tracks(rig: HeadRig, mesh: RigMesh, params: RigParams) -> JointTracks:
    """The joint nodes' local rotations and translations at every frame of params [T] (see the
    module's docstring: with them glTF's skin reproduces HeadRig.forward)."""
    params = params.to(device="cpu", dtype=torch.float64)
    rest = torch.from_numpy(mesh.rest_joints)  # [5, 3]
    jreg = rig.j_regressor.double().cpu()
    moved = torch.einsum("jv,vke->jke", jreg, rig.exprdirs.double().cpu())  # [5, 3, E] joint shift per weight
    joints = rest[None] + torch.einsum("jke,te->tjk", moved, params.expr)  # [T, 5, 3] as the rig regresses them
    rot = axis_angle_to_matrix(HeadRig.joint_pose(params))  # [T, 5, 3, 3]
    _, skin = rigid_transforms(rot, joints, rig.parents.cpu())  # [T, 5, 4, 4] A_j
    skin[..., :3, 3] += params.translation[:, None]
    world_r = skin[..., :3, :3]  # [T, 5, 3, 3] R_j
    world_t = skin[..., :3, 3] + torch.einsum("tjik,jk->tji", world_r, rest)  # [T, 5, 3] A_j . J0_j
    local_t = world_t.clone()
    for j, p in enumerate(rig.parents.tolist()):
        if p >= 0:  # R_parent^T (t_j - t_parent)
            local_t[:, j] = torch.einsum("tki,tk->ti", world_r[:, p], world_t[:, j] - world_t[:, p])
    quats = matrix_to_quat(rot).numpy()  # [T, 5, 4] (w, x, y, z): the rig's own rotation matrices
    return JointTracks(_one_hemisphere(quats[..., [1, 2, 3, 0]]).astype(np.float32),
                       local_t.numpy().astype(np.float32))


def _one_hemisphere(quats: np.ndarray) -> np.ndarray:
    """[T, J, 4] with each quaternion's sign chosen next to the previous frame's, so that a
    reader's slerp between frames turns the short way."""
    if len(quats) < 2:
        return quats
    flips = np.sign((quats[1:] * quats[:-1]).sum(-1))  # [T-1, J]
    flips[flips == 0] = 1
    signs = np.concatenate([np.ones_like(flips[:1]), np.cumprod(flips, axis=0)])  # [T, J]
    return quats * signs[..., None]
