"""`splat()`: render world-space Gaussians through whichever backend is asked for, on the device
the Gaussians are on."""

from __future__ import annotations

from torch import Tensor

from avatar.runtime.backends import BackendRegistry, BackendUnavailable
from avatar.splat.world import Gaussians
from avatar.splat.camera import Camera
from avatar.splat.ext_backend import load_splat_cpu, load_splat_cuda
from avatar.splat.output import RenderOutput
from avatar.splat.splat_check import cuda_splat_trusted

splat_registry = BackendRegistry("splat")


def _load_torch():
    from avatar.splat.reference import splat_reference
    return splat_reference


def _load_gsplat():
    try:
        import torch
        import gsplat  # noqa: F401
    except ImportError as e:
        raise BackendUnavailable(f"gsplat not installed ({e}); pip install --no-build-isolation -e "
                                 '".[gsplat]"') from e
    if not torch.cuda.is_available():
        raise BackendUnavailable("gsplat rasterizes only on CUDA and no CUDA device is present")
    from avatar.splat.gsplat_backend import check_gsplat_version, splat_gsplat
    check_gsplat_version()
    return splat_gsplat


splat_registry.register("torch", _load_torch, devices=("cpu", "cuda"))
splat_registry.register("gsplat", _load_gsplat, devices=("cuda",))
# cuda_ext backends: their loaders compile or load nothing until first asked.
splat_registry.register("cpu", load_splat_cpu, devices=("cpu",))
splat_registry.register("cuda", load_splat_cuda, devices=("cuda",), trust=cuda_splat_trusted)


def splat(gaussians: Gaussians, camera: Camera, background: Tensor | None = None,
          backend: str = "auto") -> RenderOutput:
    """Rasterize `gaussians` seen by `camera` with `backend` for the Gaussians' device.
    background: [3] colour (default black)."""
    _, fn = splat_registry.get(backend, gaussians.means.device)
    return fn(gaussians, camera, background)
