"""A tiny HeadRig (an octahedron-based sphere, 2 expressions) for fast unit tests."""

from __future__ import annotations

import torch

from avatar.rig import HeadRig


def make_tiny_rig(subdivisions: int = 1, num_expr: int = 2, seed: int = 0) -> HeadRig:
    verts = torch.tensor([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=torch.float32)
    faces = torch.tensor([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
    for _ in range(subdivisions):
        verts, faces = _subdivide(verts, faces)
    verts = 0.1 * torch.nn.functional.normalize(verts, dim=-1)  # [V, 3] a 10 cm sphere
    v = verts.shape[0]
    g = torch.Generator().manual_seed(seed)
    exprdirs = 0.01 * torch.randn(v, 3, num_expr, generator=g)
    weights = torch.zeros(v, 5)
    weights[:, 1] = 1.0
    lower = verts[:, 1] < -0.03
    weights[lower, 1], weights[lower, 2] = 0.0, 1.0  # the bottom follows the jaw
    regressor = torch.zeros(5, v)
    regressor[:, :] = 1.0 / v
    return HeadRig(name="tiny", v_template=verts, faces=faces, shapedirs=0.005 * torch.randn(v, 3, 2, generator=g),
                   exprdirs=exprdirs, posedirs=torch.zeros(v, 3, 36), j_regressor=regressor, lbs_weights=weights,
                   expr_names=[f"e{i}" for i in range(num_expr)], vertex_colors=(verts / 0.2 + 0.5).clamp(0, 1))


def _subdivide(verts: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    edges = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).sort(dim=1).values
    unique, inverse = torch.unique(edges, dim=0, return_inverse=True)
    mid = (verts[unique[:, 0]] + verts[unique[:, 1]]) / 2
    m = inverse.view(3, -1) + verts.shape[0]  # [3, F] midpoint ids of edges 01, 12, 20
    a, b, c = faces.unbind(1)
    new = torch.stack([torch.stack([a, m[0], m[2]], 1), torch.stack([m[0], b, m[1]], 1),
                       torch.stack([m[2], m[1], c], 1), torch.stack([m[0], m[1], m[2]], 1)]).reshape(-1, 3)
    return torch.cat([verts, mid]), new
