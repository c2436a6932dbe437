"""Standard FLAME linear blend skinning (the same maths as smplx's `lbs`), batched over frames."""

from __future__ import annotations

import torch
from scipy.spatial.transform import Rotation
from torch import Tensor


def axis_angle_to_matrix(aa: Tensor) -> Tensor:
    """Rodrigues: [..., 3] axis-angle -> [..., 3, 3]; smooth at zero angle."""
    angle = torch.linalg.norm(aa + 1e-8, dim=-1, keepdim=True)  # [..., 1] (eps as in smplx)
    axis = aa / angle
    c, s = torch.cos(angle)[..., None], torch.sin(angle)[..., None]
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*aa.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(k)
    return eye + s * k + (1 - c) * (k @ k)


def matrix_to_axis_angle(m: Tensor) -> Tensor:
    """[..., 3, 3] rotations -> [..., 3] axis-angle (scipy's rotation vector: robust up to pi).
    Not differentiable; for retargeting and display, not for fitting."""
    rotvec = Rotation.from_matrix(m.detach().cpu().double().reshape(-1, 3, 3).numpy()).as_rotvec()
    return torch.as_tensor(rotvec, dtype=m.dtype).reshape(*m.shape[:-2], 3)


def rigid_transforms(rot_mats: Tensor, joints: Tensor, parents: Tensor) -> tuple[Tensor, Tensor]:
    """Chain joint rotations down the kinematic tree.

    rot_mats [B, J, 3, 3], joints [B, J, 3] rest positions, parents [J] (parents[0] = -1).
    Returns posed joints [B, J, 3] and skinning transforms [B, J, 4, 4] relative to rest.
    """
    b, j = joints.shape[:2]
    rel = joints.clone()
    rel[:, 1:] = joints[:, 1:] - joints[:, parents[1:]]
    top = torch.cat([rot_mats, rel[..., None]], dim=-1)  # [B, J, 3, 4]
    bottom = torch.tensor([0, 0, 0, 1], dtype=joints.dtype, device=joints.device).expand(b, j, 1, 4)
    local = torch.cat([top, bottom], dim=-2)  # [B, J, 4, 4]
    chain = [local[:, 0]]
    for i in range(1, j):
        chain.append(chain[int(parents[i])] @ local[:, i])
    world = torch.stack(chain, dim=1)  # [B, J, 4, 4]
    posed_joints = world[..., :3, 3]
    # Remove the rest-pose joint location so the transform acts on rest-pose vertices.
    rest = torch.einsum("bjik,bjk->bji", world[..., :3, :3], joints)
    skin = world.clone()
    skin[..., :3, 3] = world[..., :3, 3] - rest
    return posed_joints, skin


def lbs(v_shaped: Tensor, pose: Tensor, posedirs: Tensor, j_regressor: Tensor,
        parents: Tensor, weights: Tensor, joints: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Pose shaped vertices.

    v_shaped [B, V, 3] (template + shape + expression offsets), pose [B, J, 3] axis-angle,
    posedirs [V, 3, 9*(J-1)], j_regressor [J, V], parents [J], weights [V, J].
    joints [B, J, 3]: rest joints when v_shaped is only part of the mesh (j_regressor unused).
    Returns vertices [B, V, 3] and posed joints [B, J, 3].
    """
    b, v = v_shaped.shape[:2]
    if joints is None:
        joints = torch.einsum("jv,bvk->bjk", j_regressor, v_shaped)  # [B, J, 3]
    rot = axis_angle_to_matrix(pose)  # [B, J, 3, 3]
    eye = torch.eye(3, dtype=pose.dtype, device=pose.device)
    pose_feature = (rot[:, 1:] - eye).reshape(b, -1)  # [B, 9*(J-1)]
    pose_offsets = torch.einsum("bp,vkp->bvk", pose_feature, posedirs)  # [B, V, 3]
    v_posed = v_shaped + pose_offsets
    posed_joints, skin = rigid_transforms(rot, joints, parents)
    t = torch.einsum("vj,bjmn->bvmn", weights, skin)  # [B, V, 4, 4]
    verts = torch.einsum("bvmn,bvn->bvm", t[..., :3, :3], v_posed) + t[..., :3, 3]
    return verts, posed_joints
