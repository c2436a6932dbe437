"""Differentiable Gaussian splatting on the avatar_ext kernels (CPU or CUDA build, float32/float64).

Two autograd Functions, chained by `splat()`:
  _Project:   means, quats, scales, sh (opacities only for culling)
              -> means2d [N, 2], conics [N, 3], depths [N], colours [N, 3], radii [N] int32
  _Rasterize: means2d, conics, colours, opacities, depths (+ radii, background)
              -> rgb [H, W, 3], alpha [H, W, 1], depth [H, W, 1]
so `SplatResult.means2d` is a real intermediate of the graph: after `result.means2d.retain_grad()`
and a backward pass, `result.means2d.grad` is d loss / d means2d, the screen-space gradient that
densification reads (as with the torch reference's RenderOutput.means2d), and gradients a caller
sends into means2d directly flow on to the 3D means. The ops must be loaded first
(`cuda_ext.load("cpu")` / `cuda_ext.load("cuda")`); the semantics are those of
avatar/render/reference.py (see include/splat_math.h).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class CameraParams(NamedTuple):
    """A pinhole camera as plain numbers, already rounded to the render dtype."""
    world_to_cam: list[float]  # 16, row-major [4, 4]
    K: list[float]  # 9, row-major [3, 3] intrinsics in pixels
    position: list[float]  # 3, camera centre in world space (SH view directions)
    width: int
    height: int
    near: float
    far: float


class SplatResult(NamedTuple):
    rgb: Tensor  # [H, W, 3] with (1 - alpha) background composited in
    alpha: Tensor  # [H, W, 1]
    depth: Tensor  # [H, W, 1] sum of w z (not normalised)
    means2d: Tensor  # [N, 2] pixels; its .grad (after retain_grad) is the screen-space gradient
    radii: Tensor  # [N] int32, 0 where culled


def _ops():
    return torch.ops.avatar_ext


class _Project(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, sh: Tensor,
                camera: CameraParams):
        means2d, conics, depths, colours, radii = _ops().splat_project_forward(
            means, quats, scales, opacities, sh, camera.world_to_cam, camera.K, camera.position, camera.width,
            camera.height, camera.near, camera.far)
        ctx.mark_non_differentiable(radii)
        ctx.save_for_backward(means, quats, scales, sh)
        ctx.camera = camera
        return means2d, conics, depths, colours, radii

    @staticmethod
    def backward(ctx, grad_means2d, grad_conics, grad_depths, grad_colours, _grad_radii):
        means, quats, scales, sh = ctx.saved_tensors
        cam = ctx.camera
        grad_means, grad_quats, grad_scales, grad_sh = _ops().splat_project_backward(
            means, quats, scales, sh, cam.world_to_cam, cam.K, cam.position, cam.width, cam.height, cam.near,
            cam.far, grad_means2d.contiguous(), grad_conics.contiguous(), grad_depths.contiguous(),
            grad_colours.contiguous())
        return grad_means, grad_quats, grad_scales, None, grad_sh, None


class _Rasterize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means2d: Tensor, conics: Tensor, colours: Tensor, opacities: Tensor, depths: Tensor,
                radii: Tensor, background: Tensor, width: int, height: int):
        rgb, alpha, depth, state = _ops().splat_rasterize_forward(
            means2d, conics, colours, opacities, depths, radii, background, width, height)
        # state (device-specific): per pixel the final transmittance and last contributing entry,
        # the per-tile Gaussian lists; the backward walks them back to front.
        ctx.save_for_backward(means2d, conics, colours, opacities, depths, radii, background, alpha, *state)
        return rgb, alpha, depth

    @staticmethod
    def backward(ctx, grad_rgb, grad_alpha, grad_depth):
        means2d, conics, colours, opacities, depths, radii, background, alpha, *state = ctx.saved_tensors
        grads = _ops().splat_rasterize_backward(
            means2d, conics, colours, opacities, depths, radii, background, state, grad_rgb.contiguous(),
            grad_alpha.contiguous(), grad_depth.contiguous())
        grad_background = None
        if ctx.needs_input_grad[6]:
            grad_background = (grad_rgb * (1.0 - alpha)).sum(dim=(0, 1))  # rgb += (1 - alpha) background
        return (*grads, None, grad_background, None, None)


def splat(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, sh: Tensor, camera: CameraParams,
          background: Tensor | None = None) -> SplatResult:
    """Render N Gaussians (means [N, 3], quats [N, 4] wxyz any norm, scales [N, 3], opacities [N],
    sh [N, K, 3]; one float dtype, one device) through `camera`. background: [3] or None (black).
    Differentiable w.r.t. the five Gaussian tensors and the background."""
    means, quats, scales, opacities, sh = (t.contiguous() for t in (means, quats, scales, opacities, sh))
    if background is None:
        background = means.new_zeros(3)
    background = background.to(device=means.device, dtype=means.dtype).contiguous()
    means2d, conics, depths, colours, radii = _Project.apply(means, quats, scales, opacities.detach(), sh, camera)
    rgb, alpha, depth = _Rasterize.apply(means2d, conics, colours, opacities, depths, radii, background,
                                         camera.width, camera.height)
    return SplatResult(rgb, alpha, depth, means2d, radii)
