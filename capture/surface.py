"""Points on a rig's surface as (triangle, barycentric) pairs: the closest points to queries
(numpy, vectorised over query points and their candidate triangles), and a rig's own vertices
in that form, with their normals, for the fitters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree
from torch import Tensor

from avatar.rig import HeadRig

CANDIDATES = 48  # triangles (nearest by centroid) searched per query point


def closest_points(points: np.ndarray, verts: np.ndarray, faces: np.ndarray, allowed: np.ndarray | None = None,
                   normals: np.ndarray | None = None, face_normals: np.ndarray | None = None,
                   min_cosine: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each query point [Q, 3]: the nearest surface point among `faces` [F, 3] of `verts`
    [V, 3] (only the triangles where `allowed` [F] is True and, when the query's `normals`
    [Q, 3] and the unit `face_normals` [F, 3] are given, whose normal is within `min_cosine`
    of the query's). Returns (triangle [Q], barycentric [Q, 3], distance [Q]). The candidates
    are the triangles with the nearest centroids, enough on the fine, even meshes of head rigs."""
    ids = np.flatnonzero(allowed) if allowed is not None else np.arange(len(faces))
    if len(ids) == 0:
        raise ValueError("no triangles to project onto")
    tri = verts[faces[ids]]  # [F', 3, 3]
    k = min(CANDIDATES, len(ids))
    _, near = cKDTree(tri.mean(1)).query(points, k=k)
    near = near.reshape(len(points), k)  # [Q, k]
    bary = _closest_barycentric(points[:, None, :], tri[near])  # [Q, k, 3]
    found = np.einsum("qkc,qkcd->qkd", bary, tri[near])
    dist = np.linalg.norm(found - points[:, None, :], axis=-1)  # [Q, k]
    if normals is not None:
        facing = np.einsum("qkd,qd->qk", face_normals[ids][near], normals) >= min_cosine
        dist = np.where(facing | ~facing.any(1, keepdims=True), dist, np.inf)
    best = dist.argmin(1)
    rows = np.arange(len(points))
    return ids[near[rows, best]], bary[rows, best], dist[rows, best]


def _closest_barycentric(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentrics [..., 3] of the point of each triangle [..., 3, 3] nearest to p [..., 3]:
    the interior projection when it lies inside, else the nearest point on the nearest edge."""
    a, b, c = tri[..., 0, :], tri[..., 1, :], tri[..., 2, :]
    ab, ac = b - a, c - a
    normal = np.cross(ab, ac)
    area2 = np.maximum((normal * normal).sum(-1), 1e-30)
    ap = p - a
    # Barycentrics of the projection onto the triangle's plane.
    v = (np.cross(ap, ac) * normal).sum(-1) / area2
    w = (np.cross(ab, ap) * normal).sum(-1) / area2
    inside = np.stack([1 - v - w, v, w], -1)
    best, best_d = inside, np.where((v >= 0) & (w >= 0) & (v + w <= 1), 0.0, np.inf)
    best_d = np.where(np.isfinite(best_d), (((a + v[..., None] * ab + w[..., None] * ac) - p) ** 2).sum(-1), best_d)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        s, e = tri[..., i, :], tri[..., j, :]
        d = e - s
        t = np.clip(((p - s) * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-30), 0.0, 1.0)
        dist = (((s + t[..., None] * d) - p) ** 2).sum(-1)
        edge = np.zeros_like(inside)
        edge[..., i], edge[..., j] = 1 - t, t
        closer = dist < best_d
        best = np.where(closer[..., None], edge, best)
        best_d = np.where(closer, dist, best_d)
    return best


@dataclass
class VertexSamples:
    faces: Tensor  # [N] a triangle at each sampled vertex
    bary: Tensor  # [N, 3] one-hot: the vertex itself
    normals: Tensor  # [N, 3] rest-pose vertex normals
    vertices: Tensor  # [N] vertex ids

    @property
    def count(self) -> int:
        return int(self.vertices.shape[0])


def vertex_samples(rig: HeadRig, vertices: Tensor) -> VertexSamples:
    """The rig's vertices [N] as surface points (a triangle each), with their rest-pose normals."""
    incident = torch.full((rig.num_vertices,), -1, dtype=torch.long)
    incident.scatter_(0, rig.faces.reshape(-1), torch.arange(rig.faces.shape[0]).repeat_interleave(3))
    faces = incident[vertices]
    bary = (rig.faces[faces] == vertices[:, None]).float()
    return VertexSamples(faces, bary, vertex_normals(rig.v_template, rig.faces)[vertices], vertices)


def vertex_normals(verts: Tensor, faces: Tensor) -> Tensor:
    """Area-weighted vertex normals [V, 3], oriented away from the mesh's centre on average."""
    v0, v1, v2 = verts[faces].unbind(1)
    face_n = torch.linalg.cross(v1 - v0, v2 - v0)
    normals = torch.zeros_like(verts).index_add_(0, faces.reshape(-1), face_n.repeat_interleave(3, 0))
    normals = F.normalize(normals, dim=1)
    if float((normals * (verts - verts.mean(0))).sum()) < 0:  # wound clockwise from outside
        normals = -normals
    return normals
