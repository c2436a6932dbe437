"""Build FLAME's 5-joint skeleton [root, neck, jaw, eye_l, eye_r] for ICT-FaceKit, which has none.

Joint placement, all from the mesh and its own blendshapes (metres, rig space):
- eye_l / eye_r: centre of the sphere fitted to each sclera (ICT's eyeballs are separate meshes;
  its eyeLook* targets move only the lids, so the eyeballs turn only through these joints);
- jaw: the hinge of ICT's own `jawOpen` target: the lower teeth move rigidly in it, so a
  Kabsch fit gives a rotation about an axis (left-right) whose point in the mid-sagittal plane
  is the joint (on ICT it lands 11 cm behind the nose tip, level with the base of the nose);
- root: centroid of the neck cut (the skin's open boundary);
- neck: the head's pivot, at the jaw hinge's height on the vertical axis of the neck column
  (mid front-to-back at the neck's narrowest level).

Regressor: each joint is a convex combination of a few anchor vertices, chosen by a small LP
that prefers anchors near the joint. Anchors for neck, jaw and eyes are vertices no expression
moves, so those joints stay put under expressions (and follow identity shapes); the root, below
every such vertex, is anchored on the neck cut, which expressions move by under 0.6 mm.

Weights: eyeball vertices 100% to their eye. Everything else: the head (above the chin) on
`neck`, fading to `root` at the neck cut; the jaw share of the head comes from projecting
`jawOpen` on the fitted jaw rotation (1 on the lower teeth and chin, 0 above the mouth),
smoothed over the mesh. Posing `jaw` therefore opens the mouth like `jawOpen` does, and the two
add up if both are used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

ROOT, NECK, JAW, EYE_L, EYE_R = range(5)


@dataclass
class Skeleton:
    j_regressor: np.ndarray  # [5, V], rows convex combinations
    lbs_weights: np.ndarray  # [V, 5], rows sum to 1


@dataclass
class Hinge:
    point: np.ndarray  # [3] on the rotation axis, in the plane x = 0
    rotation: np.ndarray  # [3, 3] rigid rotation of the lower teeth in jawOpen


def sphere_centre(points: np.ndarray) -> np.ndarray:
    """Least-squares sphere centre of points [N, 3]: |p|^2 = 2 p.c + (r^2 - |c|^2) is linear."""
    a = np.concatenate([2 * points, np.ones((len(points), 1))], axis=1)  # [N, 4]
    sol = np.linalg.lstsq(a, (points ** 2).sum(1), rcond=None)[0]
    return sol[:3]


def fit_hinge(rest: np.ndarray, moved: np.ndarray) -> Hinge:
    """Kabsch fit of moved ~ R rest + t [N, 3]; the hinge is the axis point with x = 0."""
    pc, qc = rest.mean(0), moved.mean(0)
    u, _, vt = np.linalg.svd((rest - pc).T @ (moved - qc))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    t = qc - rot @ pc
    axis = np.array([rot[2, 1] - rot[1, 2], rot[0, 2] - rot[2, 0], rot[1, 0] - rot[0, 1]])
    axis /= np.linalg.norm(axis)
    if abs(axis[0]) < 0.9:
        raise ValueError(f"jawOpen does not rotate the lower teeth about a left-right axis ({axis})")
    p = np.linalg.lstsq(np.eye(3) - rot, t, rcond=None)[0]  # a point on the axis
    return Hinge(point=p - axis * (p[0] / axis[0]), rotation=rot)


def boundary_vertices(triangles: np.ndarray) -> np.ndarray:
    """Vertices on edges used by one triangle only: the neck cut of a head mesh."""
    edges = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    on_boundary = np.unique(uniq[counts == 1])
    if len(on_boundary) == 0:
        raise ValueError("the skin mesh is closed: no neck cut to put the root joint on")
    return on_boundary


def neck_column_z(skin: np.ndarray, y_low: float, y_high: float, slab: float = 0.003) -> float:
    """Mid front-to-back position of the neck at its narrowest (in x) level in [y_low, y_high]."""
    best = None
    for y in np.arange(y_low, y_high, slab):
        ring = skin[np.abs(skin[:, 1] - y) < slab / 2]
        if len(ring) < 8:
            continue
        width = np.ptp(ring[:, 0])
        if best is None or width < best[0]:
            best = (width, 0.5 * (ring[:, 2].min() + ring[:, 2].max()))
    if best is None:
        raise ValueError("no neck cross-section found between the neck cut and the chin")
    return float(best[1])


def convex_regressor(vertices: np.ndarray, candidates: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Weights [V] >= 0 summing to 1 over `candidates` with sum w_i v_i = target, minimising
    sum w_i |v_i - target|^2 (an LP: its solution uses at most 4 nearby vertices)."""
    pts = vertices[candidates]  # [C, 3]
    a_eq = np.concatenate([pts.T, np.ones((1, len(pts)))])  # [4, C]
    b_eq = np.append(target, 1.0)
    cost = ((pts - target) ** 2).sum(1)
    res = linprog(cost, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status != 0:
        raise ValueError(f"joint at {target} is outside the hull of its {len(pts)} anchor vertices")
    row = np.zeros(len(vertices))
    row[candidates] = res.x
    return row


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def laplacian_smooth(values: np.ndarray, triangles: np.ndarray, iterations: int) -> np.ndarray:
    """Average each vertex value with its mesh neighbours, `iterations` times. values [V]."""
    n = len(values)
    i, j = triangles[:, [0, 1, 2]].ravel(), triangles[:, [1, 2, 0]].ravel()
    adj = sp.coo_matrix((np.ones(2 * len(i)), (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    adj.data[:] = 1.0  # duplicate edges count once
    adj = adj + sp.eye(n, format="csr")
    norm = sp.diags(1.0 / np.asarray(adj.sum(1)).ravel()) @ adj
    for _ in range(iterations):
        values = norm @ values
    return values


def jaw_share(vertices: np.ndarray, jaw_open_delta: np.ndarray, hinge: Hinge,
              triangles: np.ndarray, min_arm: float = 0.002) -> np.ndarray:
    """Per vertex, the fraction [V] of the fitted jaw rotation that jawOpen applies to it."""
    rigid = (vertices - hinge.point) @ (hinge.rotation - np.eye(3)).T  # [V, 3] full-jaw motion
    share = (jaw_open_delta * rigid).sum(1) / np.maximum((rigid ** 2).sum(1), min_arm ** 2)
    return np.clip(laplacian_smooth(np.clip(share, 0, 1), triangles, iterations=4), 0, 1)


def build_skeleton(vertices: np.ndarray, joints: np.ndarray, anchors: list[np.ndarray],
                   head_share: np.ndarray, jaw: np.ndarray,
                   eyeballs: tuple[np.ndarray, np.ndarray]) -> Skeleton:
    """Regressor and weights for joints [5, 3]. anchors[j]: candidate vertices for joint j;
    head_share [V]: weight of the head (neck + jaw) vs root; jaw [V]: jaw share of the head."""
    regressor = np.stack([convex_regressor(vertices, anchors[k], joints[k]) for k in range(5)])
    weights = np.zeros((len(vertices), 5))
    weights[:, ROOT] = 1 - head_share
    weights[:, NECK] = head_share * (1 - jaw)
    weights[:, JAW] = head_share * jaw
    for joint, ids in ((EYE_L, eyeballs[0]), (EYE_R, eyeballs[1])):
        weights[ids] = 0
        weights[ids, joint] = 1
    return Skeleton(j_regressor=regressor, lbs_weights=weights)
