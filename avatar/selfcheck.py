"""Trust, then use: the CUDA kernels are checked against the CPU kernels once per process.

The first time a process asks for the `cuda` blend or splat backend, a small fixed scene (the
builtin head, 2,000 Gaussians, 64 x 64 pixels, 5 expressions with offsets) is blended and
splatted forward and backward on both builds, with the same random upstream gradients, and every
output and gradient is compared. On a mismatch the registries (`avatar.backends`) warn once,
naming what differed, and the process uses the torch reference on the GPU. The check costs a
few seconds; AVATAR_SKIP_SELFCHECK=1 skips it.
"""

from __future__ import annotations

import copy
import functools
import os
from typing import Callable

import torch
from torch import Tensor

from avatar.gaussians.world import Gaussians

SKIP_VARIABLE = "AVATAR_SKIP_SELFCHECK"
TOLERANCE = 2e-3  # max |a - b| over max |b|, per tensor: float32 sums in another order stay far below
SCENE = (64, 64, 2000, 5)  # width, height, Gaussians, expressions with offsets
_GRADIENT_OF = ("xyz", "rot", "log_scale", "opacity_logit", "sh_dc", "d_xyz", "d_rot", "d_log_scale", "d_opacity",
                "d_color")


@functools.cache
def cuda_kernels_trusted() -> str | None:
    """None when the CUDA kernels agree with the CPU kernels on the fixed scene (or the check is
    skipped), else what differed."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        return None
    from avatar.gaussians.ext_blend import blend_cuda, blend_cpu
    from avatar.render.ext_backend import splat_cpu, splat_cuda

    import cuda_ext

    cuda_ext.load("cpu")
    cuda_ext.load("cuda")
    differences = compare_kernels((blend_cuda, splat_cuda, torch.device("cuda")),
                                  (blend_cpu, splat_cpu, torch.device("cpu")))
    return "; ".join(differences) or None


Kernels = tuple[Callable, Callable, torch.device]  # (blend(model, params), splat(gaussians, camera, bg), device)


def compare_kernels(candidate: Kernels, reference: Kernels) -> list[str]:
    """What differs between two (blend, splat, device) triples on the fixed scene, forward and
    backward: one entry per output or gradient beyond TOLERANCE (empty: they agree)."""
    from avatar.bench import BenchSize, bench_scene

    model, params, camera = bench_scene(BenchSize(*SCENE), seed=7)
    g = torch.Generator().manual_seed(7)
    upstream = torch.rand(camera.height, camera.width, 4, generator=g) - 0.5  # rgb and alpha
    (got, _), (want, world) = [_blend_pass(blend, model, params, device, seed=7) for blend, _, device in
                               (candidate, reference)]
    problems = _differences("blend", got, want)
    splatted = [_splat_pass(splat, world, camera, upstream, device) for _, splat, device in (candidate, reference)]
    return problems + _differences("splat", splatted[0], splatted[1])


def _blend_pass(blend: Callable, model_cpu, params, device: torch.device, seed: int) -> tuple[dict[str, Tensor],
                                                                                            Gaussians]:
    """Blend on `device`: the world Gaussians' tensors and the gradients of a fixed random
    projection of them to every model tensor, and the world Gaussians, all on the CPU."""
    model = copy.deepcopy(model_cpu).to(device)
    world = blend(model, params.to(device=device))
    outputs = {"means": world.means, "quats": world.quats, "scales": world.scales, "opacities": world.opacities,
               "sh": world.sh}
    g = torch.Generator().manual_seed(seed)
    loss = sum((t * torch.rand(t.shape, generator=g).to(t)).sum() for t in outputs.values())
    grads = torch.autograd.grad(loss, [getattr(model, k) for k in _GRADIENT_OF], allow_unused=True)
    result = {f"forward {k}": v.detach().cpu() for k, v in outputs.items()}
    result |= {f"gradient {k}": (gr if gr is not None else torch.zeros(1)).cpu() for k, gr in zip(_GRADIENT_OF, grads)}
    return result, Gaussians(*(t.detach().cpu() for t in outputs.values()))


def _splat_pass(splat: Callable, world: Gaussians, camera, upstream: Tensor, device: torch.device) -> dict[str, Tensor]:
    leaves = [t.to(device).requires_grad_(True) for t in (world.means, world.quats, world.scales, world.opacities,
                                                          world.sh)]
    out = splat(Gaussians(*leaves), camera, torch.ones(3, device=device))
    image = torch.cat([out.rgb, out.alpha], -1)  # [H, W, 4]
    grads = torch.autograd.grad((image * upstream.to(device)).sum(), leaves, allow_unused=True)
    names = ("means", "quats", "scales", "opacities", "sh")
    result = {"forward rgb": out.rgb.detach().cpu(), "forward alpha": out.alpha.detach().cpu()}
    result |= {f"gradient {k}": (gr if gr is not None else torch.zeros(1)).cpu() for k, gr in zip(names, grads)}
    return result


def _differences(op: str, candidate: dict[str, Tensor], reference: dict[str, Tensor]) -> list[str]:
    problems = []
    for key, want in reference.items():
        got = candidate[key]
        scale = float(want.abs().max()) if want.numel() else 0.0
        if got.shape != want.shape:
            problems.append(f"{op} {key}: shape {tuple(got.shape)}, expected {tuple(want.shape)}")
            continue
        if not bool(torch.isfinite(got).all()):
            problems.append(f"{op} {key}: not finite")
            continue
        error = float((got.double() - want.double()).abs().max()) / max(scale, 1e-12) if got.numel() else 0.0
        if error > TOLERANCE:
            problems.append(f"{op} {key}: max difference {error:.2g} of its largest value")
    return problems
