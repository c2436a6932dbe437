"""The `cpu` and `cuda` blend backends: cuda_ext's fused per-Gaussian kernel.

The rig's per-vertex work (blendshapes + LBS) runs in cuda_ext's rig kernel when no gradient must
reach the rig parameters (0.8-1.1 ms in torch for the builtin head, ~0.25 ms fused), else in torch's
autograd LBS; the blend kernel does everything per Gaussian: blendshape offsets, the parent triangle's
frame, and the mapping to world space, forward and backward (gradients reach the model tensors,
the drivers and, through torch's LBS, the rig parameters). Each backend serves its own device:
`cpu` CPU tensors, `cuda` CUDA tensors (the registry refuses the other device before they run).
"""

from __future__ import annotations

from dataclasses import fields

import torch
from torch import Tensor

from avatar.runtime.backends import extension_loader
from avatar.gaussians.model import GaussianAvatar
from avatar.splat.world import Gaussians
from avatar.splat.sh import SH_C0
from avatar.rig import HeadRig, RigParams


def _posed_vertices(rig: HeadRig, params: RigParams) -> Tensor:
    """Posed rig vertices [V, 3] of one frame: the CPU rig kernel where no gradient must reach the
    rig or its parameters (the common case: fixed tracking), else the rig's own forward, torch's
    autograd LBS (fitting a frame's parameters through the avatar, as benchmarks/diagnostics/
    error_budget.py --fit-params does; CUDA tensors; stand-ins that pose vertices their own way)."""
    from cuda_ext.rig import pose_vertices

    if not isinstance(rig, HeadRig):
        return rig.forward(params)[0]
    tensors = (rig.v_template, rig.shapedirs, rig.exprdirs, rig.posedirs, rig.j_regressor, rig.lbs_weights,
               *(getattr(params, f.name) for f in fields(params)))
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    if needs_grad or not rig.v_template.is_cpu:
        return rig.forward(params)[0]
    return pose_vertices(rig.v_template, rig.shapedirs, rig.exprdirs, rig.posedirs, rig.j_regressor, rig.parents,
                         rig.lbs_weights, params.shape, params.expr[0], rig.joint_pose(params)[0],  # pose [5, 3]
                         params.translation[0])


def _kernel_blend(model: GaussianAvatar, params: RigParams, verts: Tensor | None = None,
                  drivers: Tensor | None = None) -> tuple[Gaussians, Tensor]:
    """The world Gaussians and the kernel's blended local attributes [N, 14]; verts [V, 3]: the
    rig already posed at params (else posed here); drivers [D]: the offsets' drivers (else the
    model's drivers of params)."""
    from cuda_ext.blend import blend_gaussians

    if params.num_frames != 1:
        raise ValueError(f"blend takes one frame of rig parameters, got {params.num_frames}")
    verts = _posed_vertices(model.rig, params) if verts is None else verts  # [V, 3]
    drivers = model.drivers(params)[0] if drivers is None else drivers  # [D]
    means, quats, scales, opacities, sh, local = blend_gaussians(
        verts, model.rig.faces, model.parent, drivers, model.xyz, model.rot, model.log_scale, model.opacity_logit,
        model.sh_dc, model.sh_rest, model.d_xyz, model.d_rot, model.d_log_scale, model.d_opacity, model.d_color)
    return Gaussians(means, quats, scales, opacities, sh), local


def blend_ext_with_offsets(model: GaussianAvatar, params: RigParams,
                           drivers: Tensor | None = None) -> tuple[Gaussians, Tensor]:
    """The world Gaussians and the offsets this frame applies, Σ_k w_k Δ_k [N, 14] (layout of
    GaussianAvatar.applied_offsets), both from one kernel call; drivers [D] as `_kernel_blend`."""
    world, local = _kernel_blend(model, params, drivers=drivers)
    base = torch.cat([model.xyz, model.rot, model.log_scale, model.opacity_logit[:, None], model.sh_dc[:, 0]], -1)
    offsets = local - base  # [N, 14]
    offsets[:, 11:] *= SH_C0  # the colour's local offsets are Δ / SH_C0
    return world, offsets


def blend_cpu(model: GaussianAvatar, params: RigParams, verts: Tensor | None = None) -> Gaussians:
    if model.xyz.device.type != "cpu":
        raise ValueError(f"the cpu blend backend needs the model on the CPU, it is on {model.xyz.device} "
                         "(use backend 'cuda')")
    return _kernel_blend(model, params, verts)[0]


def blend_cuda(model: GaussianAvatar, params: RigParams, verts: Tensor | None = None) -> Gaussians:
    if model.xyz.device.type != "cuda":
        raise ValueError(f"the cuda blend backend needs the model on a CUDA device, it is on {model.xyz.device} "
                         "(use backend 'cpu')")
    return _kernel_blend(model, params, verts)[0]


load_blend_cpu = extension_loader("cpu", blend_cpu)
load_blend_cuda = extension_loader("cuda", blend_cuda)
