"""Local frames of posed triangles: where a bound Gaussian's local coordinates live."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def triangle_frames(verts: Tensor, faces: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """verts [T, V, 3], faces [F, 3] -> origin [T, F, 3], rotation [T, F, 3, 3], unit [T, F].

    Rotation columns: first edge direction, in-plane perpendicular, normal. The unit length is
    the mean edge length, so Gaussians grow and shrink with their triangle.
    """
    v0, v1, v2 = verts[:, faces[:, 0]], verts[:, faces[:, 1]], verts[:, faces[:, 2]]  # [T, F, 3]
    origin = (v0 + v1 + v2) / 3
    e0, e1, e2 = v1 - v0, v2 - v1, v0 - v2
    axis_x = F.normalize(e0, dim=-1)
    normal = F.normalize(torch.linalg.cross(e0, v2 - v0), dim=-1)
    axis_y = torch.linalg.cross(normal, axis_x)
    rotation = torch.stack([axis_x, axis_y, normal], dim=-1)  # [T, F, 3, 3]
    unit = (e0.norm(dim=-1) + e1.norm(dim=-1) + e2.norm(dim=-1)) / 3
    return origin, rotation, unit
