"""Register MediaPipe's canonical face model to a rig's neutral mesh: every one of the 478
landmarks gets a place on the rig's surface (a triangle and barycentric coordinates).

Anchors are the points both sides already name: the 68 iBUG landmarks (through
`ibug68.MP_TO_IBUG68`) and the pupils. The model is first moved onto the anchors by a similarity
(Umeyama), then bent by a thin-plate spline through them, then refined by non-rigid ICP: each
point is snapped to the nearest compatible rig surface point (facing the same way, on the
eyeballs only for the iris rings) and a smoother spline is refitted through all of them, with
the anchors held exactly. The last snap gives the embedding; anchors keep the rig's own
embedding, so the registered iBUG points are exactly the rig's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import RBFInterpolator

from capture.face_model import IRIS_RINGS, NUM_POINTS, canonical_face_model
from capture.surface import closest_points

# Spline smoothing per ICP round (squared metres): from a stiff bend to a close fit.
ICP_SMOOTHING = (1e-3, 3e-4, 1e-4, 3e-5)
FACING = 0.2  # min cosine between a point's normal and a triangle's normal it may snap to


@dataclass
class Registration:
    faces: np.ndarray  # [478] rig triangle of each MediaPipe landmark
    bary: np.ndarray  # [478, 3] barycentric coordinates in it
    distance: np.ndarray  # [478] metres from the final warped model point to its surface point


def register_face_model(verts: np.ndarray, faces: np.ndarray, eyeball: np.ndarray, anchor_index: np.ndarray,
                        anchor_faces: np.ndarray, anchor_bary: np.ndarray) -> Registration:
    """verts [V, 3] and faces [F, 3]: the rig's neutral mesh (metres, rig space); eyeball [F] bool:
    triangles of the eyeballs; anchors: MediaPipe indices [A] with their known rig surface points
    (triangle [A], barycentric [A, 3])."""
    model = canonical_face_model()
    anchors = np.einsum("akd,ak->ad", verts[faces[anchor_faces]], anchor_bary)  # [A, 3]
    scale, rotation, shift = _similarity(model.points[anchor_index], anchors)
    start = scale * model.points @ rotation.T + shift  # [478, 3]
    normals = model.normals() @ rotation.T
    tri_normals = _triangle_normals(verts, faces)
    ring = np.zeros(NUM_POINTS, dtype=bool)
    ring[IRIS_RINGS] = True

    warped = start + _spline(start[anchor_index], anchors - start[anchor_index], start, smoothing=0.0)
    fixed = np.zeros(NUM_POINTS, dtype=bool)
    fixed[anchor_index] = True
    for smoothing in ICP_SMOOTHING:
        tri, bary, _ = _snap(warped, normals, verts, faces, tri_normals, eyeball, ring)
        target = np.einsum("qkd,qk->qd", verts[faces[tri]], bary)
        target[anchor_index] = anchors
        warped = start + _spline(start, target - start, start, smoothing=np.where(fixed, 0.0, smoothing))
    tri, bary, dist = _snap(warped, normals, verts, faces, tri_normals, eyeball, ring)
    tri[anchor_index], bary[anchor_index], dist[anchor_index] = anchor_faces, anchor_bary, 0.0
    return Registration(tri.astype(np.int64), bary.astype(np.float32), dist)


def _snap(points: np.ndarray, normals: np.ndarray, verts: np.ndarray, faces: np.ndarray, tri_normals: np.ndarray,
          eyeball: np.ndarray, ring: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest compatible surface point of each model point: iris rings on the eyeballs, the rest
    on the other triangles that face the way the point's normal does (not the inside of the lips
    or lids)."""
    tri = np.zeros(len(points), dtype=np.int64)
    bary = np.zeros((len(points), 3))
    dist = np.zeros(len(points))
    tri[ring], bary[ring], dist[ring] = closest_points(points[ring], verts, faces, eyeball)
    skin = ~ring
    tri[skin], bary[skin], dist[skin] = closest_points(points[skin], verts, faces, ~eyeball,
                                                       normals[skin], tri_normals, FACING)
    return tri, bary, dist


def _spline(at: np.ndarray, values: np.ndarray, query: np.ndarray, smoothing) -> np.ndarray:
    """Thin-plate spline through `values` [N, 3] at points `at` [N, 3], evaluated at `query`."""
    return RBFInterpolator(at, values, kernel="thin_plate_spline", smoothing=smoothing)(query)


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale, rotation [3, 3] and shift [3] minimising |s R src + t - dst|² (Umeyama)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = float((sig * np.diag(d)).sum() / (a * a).sum(1).mean())
    return scale, rotation, mu_d - scale * rotation @ mu_s


def _triangle_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    n = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)
