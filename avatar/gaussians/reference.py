"""The blend's torch reference: avatar + one frame of rig parameters -> world-space Gaussians.

The cuda_ext kernels (cpu and cuda) are tested against it and the CUDA kernel's self-check
compares with it: posed vertices = rig.forward(params); local attributes = base + sum_k w_k delta_k;
then each Gaussian is mapped through its posed triangle's frame (rotation, centroid origin,
edge-length unit).
"""

from __future__ import annotations

import torch

from avatar.gaussians.binding import triangle_frames
from avatar.gaussians.model import GaussianAvatar
from avatar.gaussians.rotations import matrix_to_quat, quat_multiply
from avatar.splat.world import Gaussians
from avatar.rig import RigParams


def blend_reference_with_offsets(model: GaussianAvatar, params: RigParams, verts: torch.Tensor | None = None,
                                 drivers: torch.Tensor | None = None) -> tuple[Gaussians, torch.Tensor]:
    """The world Gaussians and the offsets the frame applies [N, 14], computed once for both;
    verts [V, 3]: the rig already posed at params (else posed here); drivers [D]: the offsets'
    drivers (else the model's drivers of params)."""
    if params.num_frames != 1:
        raise ValueError(f"blend takes one frame of rig parameters, got {params.num_frames}")
    verts = model.rig.forward(params) if verts is None else verts[None]  # [1, V, 3]
    origin, rotation, unit = triangle_frames(verts, model.rig.faces)
    p = model.parent
    origin, rotation, unit = origin[0, p], rotation[0, p], unit[0, p]  # [N, 3], [N, 3, 3], [N]
    offsets = model.applied_offsets(model.drivers(params)[0] if drivers is None else drivers)  # [N, 14]
    xyz, rot, log_scale, opacity_logit, sh = model.local_attributes(offsets)
    means = origin + unit[:, None] * torch.einsum("nij,nj->ni", rotation, xyz)
    quats = quat_multiply(matrix_to_quat(rotation), rot)
    scales = unit[:, None] * torch.exp(log_scale)
    return Gaussians(means, quats, scales, torch.sigmoid(opacity_logit), sh), offsets


def blend_reference(model: GaussianAvatar, params: RigParams, verts: torch.Tensor | None = None,
                    drivers: torch.Tensor | None = None) -> Gaussians:
    return blend_reference_with_offsets(model, params, verts, drivers)[0]
