"""Differentiable Gaussian splatting on the avatar_ext kernels (CPU or CUDA build, float32/float64).

`splat()` chains two ops, each differentiated by its own backward op (cuda_ext/autograd.py):
  splat_project_forward:   means, quats, scales, sh (opacities only for culling)
                           -> means2d [N, 2], conics [N, 3], depths [N], colours [N, 3], radii [N] int32
  splat_rasterize_forward: means2d, conics, colours, opacities, depths (+ radii, background)
                           -> rgb [H, W, 3], alpha [H, W, 1], depth [H, W, 1]
so `SplatResult.means2d` is a real intermediate of the graph: after `result.means2d.retain_grad()`
and a backward pass, `result.means2d.grad` is d loss / d means2d, the screen-space gradient that
densification reads (as with the torch reference's RenderOutput.means2d), and gradients a caller
sends into means2d directly flow on to the 3D means. The ops must be loaded first
(`cuda_ext.load("cpu")` / `cuda_ext.load("cuda")`); the semantics are those of
avatar/splat/reference.py (see include/splat_math.h). torch.compile traces `splat()` whole.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class CameraParams(NamedTuple):
    """A pinhole camera as the kernels take it: host tensors (CPU, float32 or float64; the kernels
    round them to the Gaussians' dtype) and plain numbers."""
    world_to_cam: Tensor  # [4, 4]
    K: Tensor  # [3, 3] intrinsics in pixels
    position: Tensor  # [3] camera centre in world space (SH view directions)
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


def splat(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, sh: Tensor, camera: CameraParams,
          background: Tensor | None = None) -> SplatResult:
    """Render N Gaussians (means [N, 3], quats [N, 4] wxyz any norm, scales [N, 3], opacities [N],
    sh [N, K, 3]; one float dtype, one device) through `camera`. background: [3] or None (black).
    Differentiable w.r.t. the five Gaussian tensors and the background."""
    ops = torch.ops.avatar_ext
    means, quats, scales, opacities, sh = (t.contiguous() for t in (means, quats, scales, opacities, sh))
    if background is None:
        background = means.new_zeros(3)
    background = background.to(device=means.device, dtype=means.dtype).contiguous()
    means2d, conics, depths, colours, radii = ops.splat_project_forward(
        means, quats, scales, opacities, sh, camera.world_to_cam, camera.K, camera.position, camera.width,
        camera.height, camera.near, camera.far)
    rgb, alpha, depth, _state = ops.splat_rasterize_forward(means2d, conics, colours, opacities, depths, radii,
                                                            background, camera.width, camera.height)
    return SplatResult(rgb, alpha, depth, means2d, radii)
