"""The CUDA blend kernel's self-check (see `avatar.runtime.kernel_check`): the builtin head
with 2,000 Gaussians and 5 expressions with offsets, blended by the CUDA kernel and by the torch
reference on the CPU, forward and backward, compared output by output and gradient by gradient."""

from __future__ import annotations

import copy
import functools
from typing import Callable

import torch
from torch import Tensor

from avatar.gaussians.model import GaussianAvatar
from avatar.gaussians.reference import blend_reference
from avatar.rig import RigParams
from avatar.rig.builtin import build_builtin_head
from avatar.runtime.kernel_check import differences, skipped

NUM_GAUSSIANS, NUM_EXPR = 2000, 5
_GRADIENT_OF = ("xyz", "rot", "log_scale", "opacity_logit", "sh_dc", "d_xyz", "d_rot", "d_log_scale", "d_opacity",
                "d_color")

Blend = tuple[Callable, torch.device]  # (blend(model, params) -> Gaussians, the device it runs on)


@functools.cache
def cuda_blend_trusted() -> str | None:
    """None when the CUDA blend agrees with the torch reference on the fixed scene (or the check
    is skipped), else what differed. The reference needs no compiled module: the check runs
    wherever the CUDA backend is first asked for, whatever else this process has loaded."""
    if skipped():
        return None
    from avatar.gaussians.ext_blend import blend_cuda

    return "; ".join(compare_blends((blend_cuda, torch.device("cuda")), (blend_reference, torch.device("cpu")))) or None


def blend_scene(seed: int = 7) -> tuple[GaussianAvatar, RigParams]:
    """(model, one frame of parameters) on the CPU: Gaussians on the builtin head's triangles,
    jittered, offsets on NUM_EXPR expressions, those expressions and the jaw and head moved."""
    rig = build_builtin_head()
    g = torch.Generator().manual_seed(seed)
    model = GaussianAvatar.on_mesh(rig, per_face=1, sh_degree=1, blend_expr=NUM_EXPR, seed=seed)
    keep = torch.randperm(model.num_gaussians, generator=g)[:NUM_GAUSSIANS].sort().values
    tensors = {k: v.detach()[:, keep] if k.startswith("d_") else v.detach()[keep]
               for k, v in model.attribute_tensors().items()}
    for name, sigma in {"xyz": 0.05, "rot": 0.05, "log_scale": 0.1, "sh_dc": 0.5, "sh_rest": 0.1, "d_xyz": 0.02,
                        "d_rot": 0.02, "d_log_scale": 0.02, "d_opacity": 0.05, "d_color": 0.05}.items():
        tensors[name] = tensors[name] + sigma * torch.randn(tensors[name].shape, generator=g)
    model.replace_gaussians(tensors, model.parent[keep])
    params = rig.zero_params(1)
    params.expr[0, :NUM_EXPR] = 0.5 * torch.rand(NUM_EXPR, generator=g)
    params.jaw[0, 0] = 0.1
    params.rotation[0] = torch.tensor([0.05, 0.2, 0.0])
    return model, params


def compare_blends(candidate: Blend, reference: Blend, seed: int = 7) -> list[str]:
    """What differs between two blends on the fixed scene: one entry per world-space output or
    model gradient beyond the tolerance (empty: they agree)."""
    # The first blend of a process may come from inside no_grad or inference_mode (eval, the
    # viewer): the scene is made, and the gradients taken, with autograd on.
    with torch.inference_mode(False), torch.enable_grad():
        model, params = blend_scene(seed)
        got, want = (_blend_pass(blend, model, params, device, seed) for blend, device in (candidate, reference))
    return differences("blend", got, want)


def _blend_pass(blend: Callable, model_cpu: GaussianAvatar, params: RigParams, device: torch.device,
                seed: int) -> dict[str, Tensor]:
    """The world Gaussians' tensors blended on `device` and the gradients of a fixed random
    projection of them to every model tensor, all on the CPU."""
    model = copy.deepcopy(model_cpu).to(device)
    world = blend(model, params.to(device=device))
    outputs = {"means": world.means, "quats": world.quats, "scales": world.scales, "opacities": world.opacities,
               "sh": world.sh}
    g = torch.Generator().manual_seed(seed)
    loss = sum((t * torch.rand(t.shape, generator=g).to(t)).sum() for t in outputs.values())
    grads = torch.autograd.grad(loss, [getattr(model, k) for k in _GRADIENT_OF], allow_unused=True)
    result = {f"forward {k}": v.detach().cpu() for k, v in outputs.items()}
    return result | {f"gradient {k}": (gr if gr is not None else torch.zeros(1)).cpu()
                     for k, gr in zip(_GRADIENT_OF, grads)}
