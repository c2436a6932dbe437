"""Quaternion helpers (w, x, y, z), shared by blending, export and tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def quat_multiply(a: Tensor, b: Tensor) -> Tensor:
    """Hamilton product a ⊗ b, [..., 4] each."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], dim=-1)


def quat_to_matrix(q: Tensor) -> Tensor:
    """[..., 4] (normalised inside) -> [..., 3, 3]."""
    w, x, y, z = F.normalize(q, dim=-1).unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(*q.shape[:-1], 3, 3)


def matrix_to_quat(m: Tensor) -> Tensor:
    """Rotation matrices [..., 3, 3] -> unit quaternions [..., 4] with w >= 0.

    Builds the four candidate quaternions (one per largest component) and keeps the best
    conditioned one, so gradients stay finite for every rotation.
    """
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    four_sq = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                           1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1)  # [..., 4] = 4 q_i^2
    root = torch.sqrt(four_sq.clamp_min(1e-12))  # [..., 4] = 2 |q_i|
    candidates = torch.stack([
        torch.stack([root[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1) / (2 * root[..., 0:1]),
        torch.stack([m21 - m12, root[..., 1] ** 2, m10 + m01, m02 + m20], dim=-1) / (2 * root[..., 1:2]),
        torch.stack([m02 - m20, m10 + m01, root[..., 2] ** 2, m21 + m12], dim=-1) / (2 * root[..., 2:3]),
        torch.stack([m10 - m01, m20 + m02, m21 + m12, root[..., 3] ** 2], dim=-1) / (2 * root[..., 3:4]),
    ], dim=-2)  # [..., 4 candidates, 4]
    best = four_sq.argmax(dim=-1)  # [...]
    q = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = F.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)
