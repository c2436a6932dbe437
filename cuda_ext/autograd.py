"""Backward formulas of the differentiable ops, registered with `torch.library.register_autograd`:
splat_project_forward, splat_rasterize_forward and blend_forward, each differentiated by its own
backward op (splat_project_backward, splat_rasterize_backward, blend_backward).

What a forward hands its backward is saved as tensors, plus the ints and floats of its schema:
nothing else lives on ctx, so torch.compile traces a training step through them (AOTAutograd
records the backward ops in its backward graph).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from cuda_ext import ops

_ops = torch.ops.avatar_ext


def _register(name: str, backward: Callable[..., tuple], setup_context: Callable[..., None]) -> None:
    torch.library.register_autograd(f"{ops.NAMESPACE}::{name}", backward, setup_context=setup_context)


def _contiguous_or_zeros(grad: Tensor | None, like: Tensor, shape: tuple[int, ...]) -> Tensor:
    """An upstream gradient as the backward ops read it: zeros of `shape` for an unused output.
    (The setups turn off autograd's own zero-filling, which would also fill the outputs that take
    no gradient: radii, the rasterizer's state, blend's frames.)"""
    return grad.contiguous() if grad is not None else like.new_zeros(shape)


# ---- splat projection: d means, quats, scales, sh (opacities only cull: no gradient) ----------

def _project_setup(ctx, inputs: tuple, output: tuple[Tensor, ...]) -> None:
    means, quats, scales, _opacities, sh, world_to_cam, K, cam_pos, width, height, near, far = inputs
    ctx.mark_non_differentiable(output[4])  # radii
    ctx.set_materialize_grads(False)  # no zeros for radii; the backward makes those of unused outputs
    ctx.save_for_backward(means, quats, scales, sh, world_to_cam, K, cam_pos)
    ctx.width, ctx.height, ctx.near, ctx.far = width, height, near, far


def _project_backward(ctx, grad_means2d: Tensor | None, grad_conics: Tensor | None, grad_depths: Tensor | None,
                      grad_colours: Tensor | None, _grad_radii: None) -> tuple[Tensor | None, ...]:
    means, quats, scales, sh, world_to_cam, K, cam_pos = ctx.saved_tensors
    n = means.shape[0]
    upstream = [_contiguous_or_zeros(g, means, shape) for g, shape in
                zip((grad_means2d, grad_conics, grad_depths, grad_colours), ((n, 2), (n, 3), (n,), (n, 3)))]
    grad_means, grad_quats, grad_scales, grad_sh = _ops.splat_project_backward(
        means, quats, scales, sh, world_to_cam, K, cam_pos, ctx.width, ctx.height, ctx.near, ctx.far, *upstream)
    return grad_means, grad_quats, grad_scales, None, grad_sh, None, None, None, None, None, None, None


_register("splat_project_forward", _project_backward, _project_setup)


# ---- splat rasterizer: d means2d, conics, colours, opacities, depths, background ---------------

def _rasterize_setup(ctx, inputs: tuple, output: tuple) -> None:
    means2d, conics, colours, opacities, depths, radii, background, _width, _height = inputs
    _rgb, alpha, _depth, state = output
    ctx.mark_non_differentiable(*state)
    ctx.set_materialize_grads(False)  # no zeros for the state; the backward makes those of unused images
    # state: per pixel the final transmittance and last contributing entry, the tile lists; the
    # backward walks them back to front.
    ctx.save_for_backward(means2d, conics, colours, opacities, depths, radii, background, alpha, *state)


def _rasterize_backward(ctx, grad_rgb: Tensor | None, grad_alpha: Tensor | None, grad_depth: Tensor | None,
                        _grad_state: list) -> tuple[Tensor | None, ...]:
    means2d, conics, colours, opacities, depths, radii, background, alpha, *state = ctx.saved_tensors
    height, width = alpha.shape[:2]
    grad_rgb, grad_alpha, grad_depth = (_contiguous_or_zeros(g, means2d, (height, width, channels))
                                        for g, channels in zip((grad_rgb, grad_alpha, grad_depth), (3, 1, 1)))
    grads = _ops.splat_rasterize_backward(means2d, conics, colours, opacities, depths, radii, background, state,
                                          grad_rgb, grad_alpha, grad_depth)
    grad_background = None
    if ctx.needs_input_grad[6]:
        grad_background = (grad_rgb * (1.0 - alpha)).sum(dim=(0, 1))  # rgb += (1 - alpha) background
    return (*grads, None, grad_background, None, None)


_register("splat_rasterize_forward", _rasterize_backward, _rasterize_setup)


# ---- blend: d verts, drivers, the base attributes and their offsets ----------------------------

def _blend_setup(ctx, inputs: tuple, output: tuple[Tensor, ...]) -> None:
    *_, local, frames = output
    ctx.mark_non_differentiable(frames)
    ctx.set_materialize_grads(False)  # unused outputs get None: no zero tensors for local [N, 14]
    # local [N, 14] spares the backward re-reading every offset; frames [F, 17] computing them again.
    ctx.save_for_backward(*inputs, local, frames)


def _blend_backward(ctx, grad_means: Tensor | None, grad_quats: Tensor | None, grad_scales: Tensor | None,
                    grad_opacities: Tensor | None, grad_sh: Tensor | None, grad_local: Tensor | None,
                    _grad_frames: None) -> tuple[Tensor | None, ...]:
    *inputs, local, frames = ctx.saved_tensors
    n, sh_rest = local.shape[0], inputs[9]  # sh_rest [N, K-1, 3]
    shapes = ((n, 3), (n, 4), (n, 3), (n,), (n, sh_rest.shape[1] + 1, 3))
    upstream = [_contiguous_or_zeros(g, local, shape)
                for g, shape in zip((grad_means, grad_quats, grad_scales, grad_opacities, grad_sh), shapes)]
    grad_local = grad_local.contiguous() if grad_local is not None else local.new_empty(0)
    need_verts, need_drivers = ctx.needs_input_grad[0], ctx.needs_input_grad[3]  # else their work is skipped
    (g_verts, g_drivers, g_xyz, g_rot, g_log_scale, g_opacity_logit, g_sh_dc,
     g_d_xyz, g_d_rot, g_d_log_scale, g_d_opacity, g_d_color) = _ops.blend_backward(
        *inputs, local, frames, *upstream, grad_local, need_verts, need_drivers)
    g_sh_rest = upstream[4][:, 1:]  # sh = [sh_dc, sh_rest]: sh_rest passes through
    return (g_verts if need_verts else None, None, None, g_drivers if need_drivers else None,
            g_xyz, g_rot, g_log_scale, g_opacity_logit, g_sh_dc, g_sh_rest,
            g_d_xyz, g_d_rot, g_d_log_scale, g_d_opacity, g_d_color)


_register("blend_forward", _blend_backward, _blend_setup)
