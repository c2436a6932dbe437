"""Trust, then use: a compiled kernel is compared with its reference before a process uses it.

The CUDA blend and splat kernels are each checked once per process, the first time their
backend is asked for (`avatar.gaussians.blend_check`, `avatar.splat.splat_check`): a small
fixed scene is run forward and backward by the CUDA kernel and by the torch reference on the CPU,
with the same random upstream gradients, and every output and gradient is compared here. On a mismatch the registry
(`avatar.runtime.backends`) warns once, naming what differed, and the process uses the torch
reference on the GPU. A check costs a few seconds; AVATAR_SKIP_SELFCHECK=1 skips them.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

SKIP_VARIABLE = "AVATAR_SKIP_SELFCHECK"
TOLERANCE = 2e-3  # max |a - b| over max |b|, per tensor: float32 sums in another order stay far below


def skipped() -> bool:
    return os.environ.get(SKIP_VARIABLE) == "1"


def differences(op: str, candidate: dict[str, Tensor], reference: dict[str, Tensor]) -> list[str]:
    """One entry per tensor of `reference` that `candidate` misses by more than TOLERANCE (or
    by shape, or with a non-finite value), each starting with `op` and the tensor's key."""
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
