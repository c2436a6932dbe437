"""The `cpu` and `cuda` splat backends: cuda_ext's tile rasterizer behind the RenderOutput interface.

Same semantics as the torch reference (avatar.splat.reference), differentiable w.r.t. the
Gaussians and the background by the kernels' own backward. `RenderOutput.means2d` is a real
intermediate of the graph (see cuda_ext/splat.py): after `out.means2d.retain_grad()` and a
backward pass its `.grad` is the screen-space gradient, as with the reference. Each backend
serves its own device: `cpu` CPU tensors, `cuda` CUDA tensors. Float32 and float64 are
supported; the camera is rounded to the Gaussians' dtype. The camera reaches the kernels as
tensors of its host copy, which they read on the host: a Camera kept on the CPU (as training keeps
them) costs no device synchronisation.
"""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.runtime.backends import extension_loader
from avatar.splat.world import Gaussians
from avatar.splat.camera import Camera
from avatar.splat.output import RenderOutput


def camera_params(camera: Camera, dtype: torch.dtype):
    """The camera as the kernels take it (cuda_ext.splat.CameraParams): contiguous tensors of its
    host copy, rounded to dtype as the reference rounds them."""
    from cuda_ext.splat import CameraParams

    cam = camera.to(device="cpu", dtype=dtype)
    return CameraParams(world_to_cam=cam.world_to_cam.contiguous(), K=cam.K.contiguous(),
                        position=cam.view_origin.contiguous(), width=camera.width, height=camera.height,
                        near=camera.near, far=camera.far)


def _splat_ext(gaussians: Gaussians, camera: Camera, background: Tensor | None) -> RenderOutput:
    from cuda_ext.splat import splat

    g = gaussians
    if not g.means.is_floating_point():
        raise ValueError(f"Gaussians.means must be floating point, got {g.means.dtype}")
    out = splat(g.means, g.quats, g.scales, g.opacities, g.sh, camera_params(camera, g.means.dtype), background)
    return RenderOutput(rgb=out.rgb, alpha=out.alpha, depth=out.depth, means2d=out.means2d, radii=out.radii)


def splat_cpu(gaussians: Gaussians, camera: Camera, background: Tensor | None = None) -> RenderOutput:
    """Render with the C++/OpenMP kernels; the Gaussians must be CPU tensors. background: [3] or None."""
    if gaussians.means.device.type != "cpu":
        raise ValueError(f"the cpu splat backend needs the Gaussians on the CPU, they are on "
                         f"{gaussians.means.device} (use backend 'cuda')")
    return _splat_ext(gaussians, camera, background)


def splat_cuda(gaussians: Gaussians, camera: Camera, background: Tensor | None = None) -> RenderOutput:
    """Render with the CUDA kernels; the Gaussians must be CUDA tensors. background: [3] or None."""
    if gaussians.means.device.type != "cuda":
        raise ValueError(f"the cuda splat backend needs the Gaussians on a CUDA device, they are on "
                         f"{gaussians.means.device} (use backend 'cpu')")
    return _splat_ext(gaussians, camera, background)


load_splat_cpu = extension_loader("cpu", splat_cpu)
load_splat_cuda = extension_loader("cuda", splat_cuda)
