"""Image ops of the CPU inference path (csrc/image_cpu.cpp): the cut applied in place, and the
conversion of a render to 8-bit, one pass each."""

from __future__ import annotations

import torch
from torch import Tensor

from cuda_ext import load


def clip_to_region_(rgb: Tensor, alpha: Tensor, depth: Tensor, region: Tensor, background: Tensor) -> None:
    """In place, float32 CPU tensors: rgb [H, W, 3] = rgb r + background (1 - r), alpha and depth
    [H, W, 1] times r, with r = region [H, W, 1] (avatar.render.head_cut.clip_to_region)."""
    load("cpu")
    torch.ops.avatar_ext.clip_to_region_(rgb, alpha, depth, region.contiguous(), background.contiguous())


def rgb_to_uint8(rgb: Tensor) -> Tensor:
    """[H, W, 3] uint8 = round(clamp(rgb, 0, 1) 255) of a float32 CPU image (torch's rounding)."""
    load("cpu")
    return torch.ops.avatar_ext.rgb_to_uint8(rgb.contiguous())
