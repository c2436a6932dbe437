"""`blend()`: avatar + rig parameters -> world-space Gaussians, through a chosen backend.

The torch implementation here is the reference the cuda_ext kernels are tested against:
posed vertices = rig.forward(params); local attributes = base + Σ_k w_k Δ_k; then each Gaussian
is mapped through its posed triangle's frame (rotation, centroid origin, edge-length unit).
"""

from __future__ import annotations

import torch

from avatar.runtime.backends import BackendDeviceError, BackendRegistry
from avatar.gaussians.binding import triangle_frames
from avatar.gaussians.ext_blend import blend_ext_with_offsets, load_blend_cpu, load_blend_cuda
from avatar.gaussians.model import GaussianAvatar
from avatar.gaussians.rotations import matrix_to_quat, quat_multiply
from avatar.render.world import Gaussians
from avatar.rig import RigParams
from avatar.gaussians.blend_check import cuda_blend_trusted

blend_registry = BackendRegistry("blend")


def blend_reference_with_offsets(model: GaussianAvatar, params: RigParams,
                                 verts: torch.Tensor | None = None) -> tuple[Gaussians, torch.Tensor]:
    """The world Gaussians and the offsets the frame applies [N, 14], computed once for both;
    verts [V, 3]: the rig already posed at params (else posed here)."""
    if params.num_frames != 1:
        raise ValueError(f"blend takes one frame of rig parameters, got {params.num_frames}")
    verts = model.rig.forward(params) if verts is None else verts[None]  # [1, V, 3]
    origin, rotation, unit = triangle_frames(verts, model.rig.faces)
    p = model.parent
    origin, rotation, unit = origin[0, p], rotation[0, p], unit[0, p]  # [N, 3], [N, 3, 3], [N]
    offsets = model.applied_offsets(model.drivers(params)[0])  # [N, 14]
    xyz, rot, log_scale, opacity_logit, sh = model.local_attributes(offsets)
    means = origin + unit[:, None] * torch.einsum("nij,nj->ni", rotation, xyz)
    quats = quat_multiply(matrix_to_quat(rotation), rot)
    scales = unit[:, None] * torch.exp(log_scale)
    return Gaussians(means, quats, scales, torch.sigmoid(opacity_logit), sh), offsets


def blend_reference(model: GaussianAvatar, params: RigParams, verts: torch.Tensor | None = None) -> Gaussians:
    return blend_reference_with_offsets(model, params, verts)[0]


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


def blend_with_offsets(model: GaussianAvatar, params: RigParams, backend: str = "auto") -> tuple[Gaussians, torch.Tensor]:
    """`blend()` plus the offsets this frame applies (GaussianAvatar.applied_offsets, [N, 14]),
    which training regularises. The cuda_ext backends take them from the blend kernel, so their
    gradient joins its single backward pass over the [D, N, 14] offsets; the torch reference
    blends from the same offsets it returns."""
    name, _ = blend_backend(backend, model)
    if name in ("cpu", "cuda"):
        return blend_ext_with_offsets(model, params)
    return blend_reference_with_offsets(model, params)
