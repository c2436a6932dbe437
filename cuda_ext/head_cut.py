"""The region an avatar keeps below its head, per frame: `torch.ops.avatar_ext.head_cut_region`
(csrc/head_cut_cpu.cpp and head_cut_cuda.cu, maths in include/head_cut_math.h). Same result as
avatar/splat/cut_region.py's cut_region (the reference), without its full-image rasterisation.
`head_cut_apply_` (CPU) cuts a render in place with that region without writing it out.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from cuda_ext import load


def head_cut_region(verts: Tensor, faces: Tensor, ring: Tensor, sides: Tensor, top: int, neck_margin: float,
                    world_to_cam: Sequence[float], K: Sequence[float], width: int, height: int,
                    near: float) -> Tensor:
    """[H, W, 1] in {0, 1}, verts' dtype and device: what the cut keeps of the rig posed as verts
    [V, 3] (float32/64), seen by the camera world_to_cam (16 values, row-major), K (9), width x
    height, near plane. faces [F, 3], ring [R], sides [2]: int64 vertex ids on verts' device;
    top: the skull's top. Raises cuda_ext.ExtensionUnavailable when the module cannot load."""
    load("cuda" if verts.is_cuda else "cpu")
    return torch.ops.avatar_ext.head_cut_region(verts.contiguous(), faces.contiguous(), ring.contiguous(),
                                                sides.contiguous(), int(top), float(neck_margin),
                                                [float(x) for x in world_to_cam], [float(x) for x in K],
                                                int(width), int(height), float(near))


def head_cut_apply_(rgb: Tensor, alpha: Tensor, depth: Tensor, background: Tensor, verts: Tensor, faces: Tensor,
                    ring: Tensor, sides: Tensor, top: int, neck_margin: float, world_to_cam: Sequence[float],
                    K: Sequence[float], near: float) -> None:
    """In place, float32 CPU tensors rgb [H, W, 3], alpha and depth [H, W, 1]: the pixels the cut
    removes (head_cut_region's zeros, the camera's image being W x H) become background [3],
    alpha and depth 0, as avatar.splat.cut_region.clip_to_region with that region; the others are
    left untouched. The rest of the arguments as head_cut_region's."""
    load("cpu")
    torch.ops.avatar_ext.head_cut_apply_(rgb, alpha, depth, background.contiguous(), verts.contiguous(),
                                         faces.contiguous(), ring.contiguous(), sides.contiguous(), int(top),
                                         float(neck_margin), [float(x) for x in world_to_cam],
                                         [float(x) for x in K], float(near))
