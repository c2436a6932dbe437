"""Differentiable blend op: rig-posed vertices + Gaussian attributes -> world-space Gaussians.

Wraps `torch.ops.avatar_ext.blend_forward`, differentiated by `blend_backward` (csrc/blend_*.{cpp,cu},
registered in cuda_ext/autograd.py); the maths is in include/blend_math.h (+ blend_geometry.h) and
mirrors avatar.gaussians.blend.blend_reference. Kernels run on the device of the tensors (float32 or
float64); the module for it is loaded on first use.
"""

from __future__ import annotations

import torch
from torch import Tensor

from cuda_ext import load


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
    means, quats, scales, opacities, sh, local, _frames = torch.ops.avatar_ext.blend_forward(
        *(t.contiguous() for t in inputs))
    return means, quats, scales, opacities, sh, local
