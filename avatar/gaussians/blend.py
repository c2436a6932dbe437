"""`blend()`: avatar + rig parameters -> world-space Gaussians, through a chosen backend.

The torch implementation (avatar/gaussians/reference.py) is the reference the cuda_ext kernels
are tested against.
"""

from __future__ import annotations

import torch

from avatar.runtime.backends import BackendDeviceError, BackendRegistry
from avatar.gaussians.ext_blend import blend_ext_with_offsets, load_blend_cpu, load_blend_cuda
from avatar.gaussians.model import GaussianAvatar
from avatar.gaussians.reference import blend_reference, blend_reference_with_offsets
from avatar.splat.world import Gaussians
from avatar.rig import RigParams
from avatar.gaussians.blend_check import cuda_blend_trusted

blend_registry = BackendRegistry("blend")
blend_registry.register("torch", lambda: blend_reference, devices=("cpu", "cuda"))
# cuda_ext backends: their loaders compile or load nothing until first asked.
blend_registry.register("cpu", load_blend_cpu, devices=("cpu",))
blend_registry.register("cuda", load_blend_cuda, devices=("cuda",), trust=cuda_blend_trusted)


def blend_backend(backend: str, model: GaussianAvatar) -> tuple[str, object]:
    """(name of what runs, implementation) of the blend for a render `backend` on the model's
    device. gsplat only splats: its runs blend with our CUDA kernel."""
    if backend == "gsplat" and model.xyz.device.type != "cuda":
        raise BackendDeviceError(f"the 'gsplat' backend (our blend + gsplat's rasterizer) computes on cuda tensors "
                                 f"and the run's device is {model.xyz.device.type}: choose --device cuda")
    return blend_registry.get("cuda" if backend == "gsplat" else backend, model.xyz.device)


def blend(model: GaussianAvatar, params: RigParams, backend: str = "auto", verts: torch.Tensor | None = None
          ) -> Gaussians:
    """World-space Gaussians [N] for one frame of `params`, on the model's device; verts [V, 3]:
    the rig already posed at params (else posed here)."""
    _, fn = blend_backend(backend, model)
    return fn(model, params, verts=verts)


def blend_with_offsets(model: GaussianAvatar, params: RigParams, backend: str = "auto",
                       drivers: torch.Tensor | None = None) -> tuple[Gaussians, torch.Tensor]:
    """`blend()` plus the offsets this frame applies (GaussianAvatar.applied_offsets, [N, 14]),
    which training regularises. The cuda_ext backends take them from the blend kernel, so their
    gradient joins its single backward pass over the [D, N, 14] offsets; the torch reference
    blends from the same offsets it returns. drivers [D]: the offsets' drivers, when not the
    model's drivers of params."""
    name, _ = blend_backend(backend, model)
    if name in ("cpu", "cuda"):
        return blend_ext_with_offsets(model, params, drivers)
    return blend_reference_with_offsets(model, params, drivers=drivers)
