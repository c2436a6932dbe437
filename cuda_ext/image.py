"""Image op of the CPU inference path (csrc/image_cpu.cpp): a render converted to 8-bit in one pass."""

from __future__ import annotations

import torch
from torch import Tensor

from cuda_ext import load


def rgb_to_uint8(rgb: Tensor) -> Tensor:
    """[H, W, 3] uint8 = round(clamp(rgb, 0, 1) 255) of a float32 CPU image (torch's rounding)."""
    load("cpu")
    return torch.ops.avatar_ext.rgb_to_uint8(rgb.contiguous())
