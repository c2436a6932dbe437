"""`splat()`: render world-space Gaussians through whichever backend is asked for."""

from __future__ import annotations

from torch import Tensor

from avatar.backends import BackendRegistry, BackendUnavailable
from avatar.gaussians.world import Gaussians
from avatar.render.camera import Camera
from avatar.render.ext_backend import load_splat_cpu, load_splat_cuda
from avatar.render.output import RenderOutput

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
# cuda_ext backends: their loaders compile or load nothing until first asked.
splat_registry.register("cpu", load_splat_cpu)
splat_registry.register("cuda", load_splat_cuda)


def splat(gaussians: Gaussians, camera: Camera, background: Tensor | None = None,
          backend: str = "auto") -> RenderOutput:
    """Rasterize `gaussians` seen by `camera`. background: [3] colour (default black)."""
    _, fn = splat_registry.get(backend)
    return fn(gaussians, camera, background)
