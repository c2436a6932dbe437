"""`splat()`: render world-space Gaussians through whichever backend is asked for."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from avatar.backends import BackendRegistry, BackendUnavailable
from avatar.gaussians.world import Gaussians
from avatar.render.camera import Camera


@dataclass
class RenderOutput:
    rgb: Tensor  # [H, W, 3], background composited in
    alpha: Tensor  # [H, W, 1] accumulated opacity
    depth: Tensor  # [H, W, 1] accumulated sum_i w_i z_i (divide by alpha for expected depth)
    means2d: Tensor  # [N, 2] projected centres in pixels (in the graph: densification reads its grad)
    radii: Tensor  # [N] int pixel radius, 0 where culled


splat_registry = BackendRegistry("splat")


def _load_torch():
    from avatar.render.reference import splat_reference
    return splat_reference


def _load_gsplat():
    try:
        import torch
        import gsplat  # noqa: F401
    except ImportError as e:
        raise BackendUnavailable(f"gsplat not installed ({e}); pip install '.[gsplat]'") from e
    if not torch.cuda.is_available():
        raise BackendUnavailable("gsplat rasterizes only on CUDA and no CUDA device is present")
    from avatar.render.gsplat_backend import splat_gsplat
    return splat_gsplat


splat_registry.register("torch", _load_torch)
splat_registry.register("gsplat", _load_gsplat)


def splat(gaussians: Gaussians, camera: Camera, background: Tensor | None = None,
          backend: str = "auto") -> RenderOutput:
    """Rasterize `gaussians` seen by `camera`. background: [3] colour (default black)."""
    _, fn = splat_registry.get(backend)
    return fn(gaussians, camera, background)


# cuda_ext backends, registered last: their loaders compile or load nothing until first asked.
from avatar.render.ext_backend import load_splat_cpu, load_splat_cuda  # noqa: E402

splat_registry.register("cpu", load_splat_cpu)
splat_registry.register("cuda", load_splat_cuda)
