"""Differentiable blend op: rig-posed vertices + Gaussian attributes -> world-space Gaussians.

Wraps `torch.ops.avatar_ext.blend_forward/blend_backward` (csrc/blend_*.{cpp,cu}); the maths
is in include/blend_math.h (+ blend_geometry.h) and mirrors avatar.gaussians.blend.blend_reference. Kernels run on
the device of the tensors (float32 or float64); the module for it is loaded on first use.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from cuda_ext import load


class _BlendFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, *inputs: Tensor) -> tuple[Tensor, ...]:
        means, quats, scales, opacities, sh, local, frames = torch.ops.avatar_ext.blend_forward(*inputs)
        ctx.save_for_backward(*inputs, local)  # local [N, 14]: spares the backward re-reading every offset
        ctx.frames = frames  # [F, 17] posed triangle frames (CPU; empty on CUDA): not computed twice
        ctx.set_materialize_grads(False)  # unused outputs get None: no zero tensors for local
        ctx.shapes = [t.shape for t in (means, quats, scales, opacities, sh)]
        return means, quats, scales, opacities, sh, local

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_means, grad_quats, grad_scales, grad_opacities, grad_sh, grad_local):
        *inputs, local = ctx.saved_tensors
        upstream = [g.contiguous() if g is not None else local.new_zeros(shape)
                    for g, shape in zip((grad_means, grad_quats, grad_scales, grad_opacities, grad_sh), ctx.shapes)]
        grad_local = grad_local.contiguous() if grad_local is not None else local.new_empty(0)
        need_verts, need_drivers = ctx.needs_input_grad[0], ctx.needs_input_grad[3]  # else their work is skipped
        (g_verts, g_drivers, g_xyz, g_rot, g_log_scale, g_opacity_logit, g_sh_dc,
         g_d_xyz, g_d_rot, g_d_log_scale, g_d_opacity, g_d_color) = torch.ops.avatar_ext.blend_backward(
            *inputs, local, ctx.frames, *upstream, grad_local, need_verts, need_drivers)
        g_sh_rest = upstream[4][:, 1:]
        return (g_verts if need_verts else None, None, None, g_drivers if need_drivers else None,
                g_xyz, g_rot, g_log_scale, g_opacity_logit, g_sh_dc, g_sh_rest,
                g_d_xyz, g_d_rot, g_d_log_scale, g_d_opacity, g_d_color)


def blend_gaussians(verts: Tensor, faces: Tensor, parent: Tensor, drivers: Tensor, xyz: Tensor, rot: Tensor,
                    log_scale: Tensor, opacity_logit: Tensor, sh_dc: Tensor, sh_rest: Tensor, d_xyz: Tensor,
                    d_rot: Tensor, d_log_scale: Tensor, d_opacity: Tensor, d_color: Tensor
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """One frame of blending, differentiable w.r.t. every floating input.

    verts [V, 3] posed rig vertices, faces [F, 3] and parent [N] int64, drivers [D] blendshape
    weights; per Gaussian xyz [N, 3], rot [N, 4], log_scale [N, 3], opacity_logit [N],
    sh_dc [N, 1, 3], sh_rest [N, K-1, 3]; offsets d_xyz [D, N, 3], d_rot [D, N, 4],
    d_log_scale [D, N, 3], d_opacity [D, N], d_color [D, N, 3].
    Returns means [N, 3], quats [N, 4], scales [N, 3], opacities [N], sh [N, K, 3] and local
    [N, 14]: the blended local attributes base + Σ w Δ (xyz 3, rot 4 not normalised, log_scale 3,
    opacity logit 1, DC colour 3 with its offsets divided by SH_C0), also differentiable: a loss on
    them joins the kernel's one backward pass over the offsets.
    Raises cuda_ext.ExtensionUnavailable when the module for the tensors' device cannot load.
    """
    load("cuda" if verts.is_cuda else "cpu")
    inputs = (verts, faces, parent, drivers, xyz, rot, log_scale, opacity_logit, sh_dc, sh_rest,
              d_xyz, d_rot, d_log_scale, d_opacity, d_color)
    return _BlendFunction.apply(*(t.contiguous() for t in inputs))
