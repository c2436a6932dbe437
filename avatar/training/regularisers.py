"""What keeps a trained avatar a head between its training frames and beyond them: Gaussians near
their triangles, small, with small offsets, and (where enabled) on the face's surface, flat on
their triangles and, on the face, discs rather than needles."""

from __future__ import annotations

import math

import torch

from avatar.gaussians import GaussianAvatar
from avatar.gaussians.rotations import quat_to_matrix
from avatar.training.config import TrainConfig


def regularisers(
    model: GaussianAvatar,
    cfg: TrainConfig,
    offsets: torch.Tensor,
    face: torch.Tensor,
    floating: torch.Tensor | None = None,
    lift: torch.Tensor | None = None,
) -> torch.Tensor:
    """Stay near the parent triangle, stay small, and keep the blendshape offsets this frame
    applies (offsets [N, 14]) small: offsets fitted to few expression combinations otherwise
    absorb anything that co-varies with them and break on unseen combinations. Where enabled,
    stay on the face's triangles (face [F] bool: the rig's face region), flat on every triangle
    and no longer than needle_ratio times their width on the face: off the surface or drawn out
    along it, a Gaussian that looks right from the video's camera breaks into shards from any other.
    floating [N] bool: the Gaussians beyond the person (`avatar.training.floaters`), whose
    opacity fades (`floater_reg`). lift [F]: where each triangle's Gaussians sit at rest along its
    normal (triangle units; the hair's shell, `avatar.training.hair_lift`), what "near" counts from."""
    xyz = model.xyz
    if lift is not None:
        xyz = torch.cat([xyz[:, :2], xyz[:, 2:] - lift[model.parent, None]], -1)  # [N, 3] from the shell
    far = torch.relu(xyz.norm(dim=-1) - cfg.xyz_reg_threshold).mean()
    big = torch.relu(torch.exp(model.log_scale).amax(-1) - cfg.scale_reg_threshold).mean()
    applied = offsets.pow(2).sum(-1).mean()
    total = cfg.xyz_reg * far + cfg.scale_reg * big + cfg.offset_reg * applied
    if cfg.face_offset_reg:
        off_plane = (model.xyz[:, 2] + offsets[:, 2]).abs()  # [N] edge lengths
        on_face = face[model.parent].to(off_plane.dtype)  # [N]
        total = total + cfg.face_offset_reg * (torch.relu(off_plane - cfg.face_offset_threshold) * on_face).mean()
    if cfg.flat_reg:
        total = total + cfg.flat_reg * torch.relu(normal_extent(model, offsets) - cfg.flat_threshold).mean()
    if cfg.needle_reg:
        scales = (model.log_scale + offsets[:, 7:10]).sort(dim=-1).values  # [N, 3] log, ascending
        excess = torch.relu(scales[:, 2] - scales[:, 1] - math.log(cfg.needle_ratio))  # [N] log of largest / middle
        total = total + cfg.needle_reg * (excess * face[model.parent].to(excess.dtype)).mean()
    if cfg.floater_reg and floating is not None:
        opacity = torch.sigmoid(model.opacity_logit + offsets[:, 10])  # [N]
        total = total + cfg.floater_reg * (opacity * floating.to(opacity.dtype)).mean()
    return total


def normal_extent(model: GaussianAvatar, offsets: torch.Tensor) -> torch.Tensor:
    """[N] each Gaussian's standard deviation along its triangle's normal (edge lengths), as the
    frame's offsets [N, 14] place it: sqrt(sum_k R[2, k]^2 s_k^2), R its rotation in the triangle's frame."""
    rot = quat_to_matrix(torch.nn.functional.normalize(model.rot + offsets[:, 3:7], dim=-1))  # [N, 3, 3]
    scale = torch.exp(model.log_scale + offsets[:, 7:10])  # [N, 3]
    return ((rot[:, 2, :] * scale).pow(2).sum(-1) + 1e-12).sqrt()
