"""The CUDA splat kernels' self-check (see `avatar.runtime.kernel_check`): 2,000 random
Gaussians (SH degree 2) in front of a 64 x 64 camera, splatted by the CUDA kernels and by the
torch reference on the CPU, forward and backward with the same random upstream gradient, compared
image by image and gradient by gradient."""

from __future__ import annotations

import functools
from typing import Callable

import torch
from torch import Tensor

from avatar.splat.camera import Camera
from avatar.splat.reference import splat_reference
from avatar.splat.world import Gaussians
from avatar.runtime.kernel_check import differences, skipped

NUM_GAUSSIANS, SIZE = 2000, 64
_NAMES = ("means", "quats", "scales", "opacities", "sh")

Splat = tuple[Callable, torch.device]  # (splat(gaussians, camera, background) -> RenderOutput, its device)


@functools.cache
def cuda_splat_trusted() -> str | None:
    """None when the CUDA splat agrees with the torch reference on the fixed scene (or the check
    is skipped), else what differed. The reference needs no compiled module: the check runs
    wherever the CUDA backend is first asked for, whatever else this process has loaded."""
    if skipped():
        return None
    from avatar.splat.ext_backend import splat_cuda

    return "; ".join(compare_splats((splat_cuda, torch.device("cuda")), (splat_reference, torch.device("cpu")))) or None


def splat_scene(seed: int = 7) -> tuple[Gaussians, Camera, Tensor]:
    """(Gaussians, camera, upstream [H, W, 4] gradient of rgb and alpha) on the CPU: a ball of
    overlapping Gaussians of a head's size, seen from 0.6 m, some reaching past the image edge."""
    g = torch.Generator().manual_seed(seed)
    n = NUM_GAUSSIANS
    gaussians = Gaussians(means=0.08 * torch.randn(n, 3, generator=g),  # [N, 3]
                          quats=torch.randn(n, 4, generator=g),  # [N, 4]
                          scales=torch.exp(-6.0 + 0.7 * torch.randn(n, 3, generator=g)),  # [N, 3] ~2.5 mm
                          opacities=0.05 + 0.6 * torch.rand(n, generator=g),  # [N]
                          sh=0.3 * torch.randn(n, 9, 3, generator=g))  # [N, 9, 3]
    camera = Camera.orbit(10.0, 5.0, 0.6, torch.zeros(3), SIZE, SIZE)
    upstream = torch.rand(SIZE, SIZE, 4, generator=g) - 0.5  # [H, W, 4]
    return gaussians, camera, upstream


def compare_splats(candidate: Splat, reference: Splat, seed: int = 7) -> list[str]:
    """What differs between two splats on the fixed scene: one entry per image or gradient
    beyond the tolerance (empty: they agree)."""
    # The first render of a process may come from inside no_grad or inference_mode (eval, the
    # viewer): the scene is made, and the gradients taken, with autograd on.
    with torch.inference_mode(False), torch.enable_grad():
        gaussians, camera, upstream = splat_scene(seed)
        got, want = (_splat_pass(splat, gaussians, camera, upstream, device)
                     for splat, device in (candidate, reference))
    return differences("splat", got, want)


def _splat_pass(splat: Callable, gaussians: Gaussians, camera: Camera, upstream: Tensor,
                device: torch.device) -> dict[str, Tensor]:
    leaves = [getattr(gaussians, k).to(device).requires_grad_(True) for k in _NAMES]
    out = splat(Gaussians(*leaves), camera, torch.ones(3, device=device))
    image = torch.cat([out.rgb, out.alpha], -1)  # [H, W, 4]
    grads = torch.autograd.grad((image * upstream.to(device)).sum(), leaves, allow_unused=True)
    result = {"forward rgb": out.rgb.detach().cpu(), "forward alpha": out.alpha.detach().cpu()}
    return result | {f"gradient {k}": (gr if gr is not None else torch.zeros(1)).cpu() for k, gr in zip(_NAMES, grads)}
