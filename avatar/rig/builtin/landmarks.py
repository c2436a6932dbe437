"""The 68 iBUG landmarks of the builtin head as (face, barycentric) points on the skin grid.

Every landmark is a point in grid parameter space (theta, phi) and lies in one grid cell, so
its barycentric coordinates come from the cell's parameter-space triangle. Points on a slit
(eye and inner-lip landmarks) name the side they belong to, which picks the cell above the
slit (upper lid / lip) or below it. iBUG numbering (0-based): 0-16 jaw line from the subject's
right (-x) to left, 17-21 right brow, 22-26 left brow, 27-30 nose bridge to tip, 31-35 nostril
base, 36-41 right eye, 42-47 left eye (corners, upper lid, lower lid), 48-59 outer lip line,
60-67 inner lip line.
"""

from __future__ import annotations

import numpy as np

from avatar.rig.builtin.geometry import MOUTH_ARC_RADIUS
from avatar.rig.builtin.grid import HeadGrid, Slit

# Brow line of the subject's left brow from inner to outer end: (x, y) metres.
BROW_XY = ((0.013, 0.019), (0.022, 0.0245), (0.032, 0.0265), (0.042, 0.0245), (0.051, 0.0185))
# Vermilion border heights above / below the lip line (metres) at |x| = 0, 7-8 mm, 16-17 mm.
UPPER_LIP_BORDER = ((0.0, 0.0085), (0.007, 0.0092), (0.016, 0.006))
LOWER_LIP_BORDER = ((0.0, 0.0095), (0.008, 0.009), (0.017, 0.0065))
FACE_RADIUS = 0.09  # converts metres along the face into grid angles near the mouth


def _angles(x: float, y: float, z: float) -> tuple[float, float]:
    """Grid (theta, phi) of the direction towards a point."""
    return float(np.arccos(y / np.linalg.norm([x, y, z]))), float(np.arctan2(x, z))


def locate(grid: HeadGrid, theta: float, phi: float, side: str = "upper") -> tuple[int, np.ndarray]:
    """Face index and barycentric coordinates [3] of grid point (theta, phi).

    side: on a slit row, "upper" takes the cell above (the upper lid/lip edge), "lower" below.
    """
    rows, cols = grid.theta_rows, grid.phi_cols
    i = int(np.searchsorted(rows, theta, side="right") - 1)
    if side == "upper" and np.isclose(rows[i], theta) and i > 0:
        i -= 1
    j = int(np.searchsorted(cols, phi, side="right") - 1) % len(cols)
    for f in grid.cell_faces[i, j]:
        if f < 0:
            continue
        tri = grid.faces[f]
        p = np.stack([grid.skin_theta[tri], np.unwrap(grid.skin_phi[tri])], -1)  # [3, 2]
        m = np.stack([p[1] - p[0], p[2] - p[0]], -1)
        b12 = np.linalg.solve(m, np.array([theta, phi]) - p[0])
        bary = np.array([1.0 - b12.sum(), b12[0], b12[1]])
        if (bary > -1e-9).all():
            return int(f), np.clip(bary, 0.0, 1.0) / np.clip(bary, 0.0, 1.0).sum()
    raise ValueError(f"grid point ({theta:.4f}, {phi:.4f}) is in no face of cell ({i}, {j})")


def _slit_point(grid: HeadGrid, slit: Slit, frac: float, side: str) -> tuple[float, float, str]:
    """Point at fraction `frac` from column j0 to j1 along a slit, on the given side."""
    a, b = grid.phi_cols[slit.j0], grid.phi_cols[slit.j1]
    return grid.theta_rows[slit.row], a + frac * (b - a), side


def landmark_points(grid: HeadGrid) -> list[tuple[float, float, str]]:
    """The 68 landmarks as (theta, phi, side) in iBUG order."""
    pts: list[tuple[float, float, str]] = []
    for k in range(17):  # jaw line: ear level on the right, round the chin, to the left
        u = (k - 8) / 8.0
        phi = np.radians(78.0) * u
        y = -0.114 + 0.108 * abs(u) ** 1.5
        pts.append((*_angles(0.075 * np.sin(phi), y, 0.075 * np.cos(phi)), "upper"))
    brow = [(-x, y) for x, y in BROW_XY[::-1]] + list(BROW_XY)  # right outer..inner, left inner..outer
    pts += [(*_angles(x, y, 0.08), "upper") for x, y in brow]
    pts += [(*_angles(0.0, y, 0.09), "upper") for y in (0.003, -0.007, -0.017)]
    pts.append((*_angles(0.0, -0.028, 0.11), "upper"))  # nose tip
    pts += [(*_angles(x, y, 0.09), "upper") for x, y in
            ((-0.0135, -0.036), (-0.007, -0.039), (0.0, -0.041), (0.007, -0.039), (0.0135, -0.036))]
    left, right = grid.eye_slits  # left: j0 inner, j1 outer; right: j0 outer, j1 inner
    pts += [_slit_point(grid, right, f, s) for f, s in
            ((0, "upper"), (1 / 3, "upper"), (2 / 3, "upper"), (1, "upper"), (2 / 3, "lower"), (1 / 3, "lower"))]
    pts += [_slit_point(grid, left, f, s) for f, s in
            ((0, "upper"), (1 / 3, "upper"), (2 / 3, "upper"), (1, "upper"), (2 / 3, "lower"), (1 / 3, "lower"))]
    mouth = grid.mouth_slit
    theta_m, corner = grid.theta_rows[mouth.row], grid.phi_cols[mouth.j1]
    outer_corner = corner + 0.0025 / FACE_RADIUS

    def lip(x: float, height: float) -> tuple[float, float, str]:  # height > 0: above the lip line
        return theta_m - height / MOUTH_ARC_RADIUS, float(np.arctan2(x, FACE_RADIUS)), "upper"

    upper = [lip(s * x, h) for s, (x, h) in zip((-1, -1, 1, 1, 1), UPPER_LIP_BORDER[::-1] + UPPER_LIP_BORDER[1:])]
    lower = [lip(s * x, -h) for s, (x, h) in zip((1, 1, 1, -1, -1), LOWER_LIP_BORDER[::-1] + LOWER_LIP_BORDER[1:])]
    pts += [(theta_m, -outer_corner, "upper")] + upper + [(theta_m, outer_corner, "upper")] + lower
    inner_x = 0.009 / FACE_RADIUS
    pts += [(theta_m, -corner, "upper"), (theta_m, -inner_x, "upper"), (theta_m, 0.0, "upper"),
            (theta_m, inner_x, "upper"), (theta_m, corner, "upper"), (theta_m, inner_x, "lower"),
            (theta_m, 0.0, "lower"), (theta_m, -inner_x, "lower")]
    return pts


def landmark_embedding(grid: HeadGrid) -> tuple[np.ndarray, np.ndarray]:
    """lmk_faces [68] and lmk_bary [68, 3]."""
    located = [locate(grid, *p) for p in landmark_points(grid)]
    return np.array([f for f, _ in located], np.int64), np.stack([b for _, b in located])
