"""Connectivity of the builtin head: skin grid with slits, mouth pouch, lid pockets, eyeballs.

The skin is a (theta, phi) grid (rows: polar angle from +y, row 0 and the last row are the
poles; columns: azimuth from +z towards +x, cyclic). The eye and mouth openings are slits
along grid rows: the slit's inner vertices exist twice (upper copy used by the cells above,
lower copy by the cells below), so lids and lips separate. Each slit's boundary loop is closed
by a pouch of rings ending in a fan, so the whole mesh is closed (every edge in exactly two
faces) and consistently wound: counter-clockwise seen from outside (from inside the mouth for
the pouch, which continues the skin into the cavity).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from avatar.rig.builtin.shape import EYE_CENTRE_L, EYE_ROW_THETA, LID_RADIUS, MOUTH_Y

SKIN, MOUTH, LID_POCKET, EYEBALL = 0, 1, 2, 3  # region labels
RESOLUTIONS = {"low": 1.6, "default": 1.0, "high": 0.75}  # grid step multipliers
MOUTH_RINGS = 6  # pouch rings behind the lips (see builtin_geometry.MOUTH_POUCH)
LID_RINGS = 2
# Eyeball rings: polar angles from the front pole, dense over pupil and iris (iris edge 30 deg).
EYE_RING_DEG = (5.0, 10.0, 14.0, 19.0, 24.0, 29.0, 34.0, 45.0, 62.0, 90.0, 118.0, 150.0)
EYE_SEGMENTS = 24


def _corner_angles() -> dict[str, float]:
    """Azimuths (radians) of the eye corners and mouth corners on the subject's left.

    The eye corners sit on the lid sphere 62 degrees either side of straight ahead, where the
    lids still rest on the eyeball (further out the skin leaves the sphere). The mouth corners
    share the inner eye corners' column (25 mm from the midline), which avoids a sliver column.
    """
    side = np.radians(62.0)
    x_in = EYE_CENTRE_L[0] - LID_RADIUS * np.sin(side)
    x_out = EYE_CENTRE_L[0] + LID_RADIUS * np.sin(side)
    z = EYE_CENTRE_L[2] + LID_RADIUS * np.cos(side)
    inner = float(np.arctan2(x_in, z))
    return {"eye_inner": inner, "eye_outer": float(np.arctan2(x_out, z)), "mouth": inner}


def _segments(breaks: list[float], steps: list[float], scale: float) -> np.ndarray:
    """Points from breaks[0] to breaks[-1] hitting every break, spacing about steps * scale."""
    out = [breaks[0]]
    for a, b, h in zip(breaks[:-1], breaks[1:], steps):
        n = max(1, int(round((b - a) / (h * scale))))
        out.extend(np.linspace(a, b, n + 1)[1:])
    return np.array(out)


def _ids() -> np.ndarray:
    return np.zeros(0, np.int64)


@dataclass
class Slit:
    row: int
    j0: int  # corner columns (shared); j0 < j1, columns between are duplicated
    j1: int
    lower: np.ndarray = field(default_factory=_ids)  # [j1 - j0 - 1] ids of the lower copies

    @property
    def inner_cols(self) -> np.ndarray:
        return np.arange(self.j0 + 1, self.j1)


@dataclass
class HeadGrid:
    """Index bookkeeping for the whole mesh (no positions). build_grid fills every field."""

    theta_rows: np.ndarray  # [R] radians, rows[0] = 0 and rows[-1] = pi (poles)
    phi_cols: np.ndarray  # [C] radians, increasing, symmetric about 0, last = pi
    eye_slits: tuple[Slit, Slit]  # (subject's left eye at +x, right eye at -x)
    mouth_slit: Slit
    region: np.ndarray = field(default_factory=_ids)  # [V] SKIN / MOUTH / LID_POCKET / EYEBALL
    skin_theta: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [Vs] grid theta per skin vertex
    skin_phi: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [Vs]
    lower_copy: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # [Vs] lower slit copies
    faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))  # [F, 3]
    cell_faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 2), np.int64))  # [R-1, C, 2], -1: none
    mouth_loop: np.ndarray = field(default_factory=_ids)  # [2m] upper edge left to right, lower edge back
    mouth_rings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))  # [MOUTH_RINGS, 2m]
    mouth_centre: int = -1  # the pouch's closing vertex
    lid_loops: tuple[np.ndarray, ...] = ()  # per eye (left, right), [2m_e]
    lid_rings: tuple[np.ndarray, ...] = ()  # per eye, [LID_RINGS, 2m_e]
    lid_centres: tuple[int, ...] = ()
    eyeballs: tuple[np.ndarray, ...] = ()  # per eye, vertex ids: front pole, rings, back pole
    eye_ring_deg: np.ndarray = field(default_factory=lambda: np.array(EYE_RING_DEG))  # eyeball ring angles

    @property
    def num_vertices(self) -> int:
        return len(self.region)

    @property
    def num_skin(self) -> int:
        return len(self.skin_theta)

    def vid(self, i: int | np.ndarray, j: int | np.ndarray, lower: bool = False) -> np.ndarray:
        """Vertex id of grid node (row i, column j); lower=True picks a slit's lower copy."""
        i, j = np.broadcast_arrays(np.asarray(i), np.asarray(j) % len(self.phi_cols))
        c = len(self.phi_cols)
        ids = np.where(i == 0, 0, np.where(i == len(self.theta_rows) - 1, 1 + (len(self.theta_rows) - 2) * c,
                                            1 + (i - 1) * c + j))
        if lower:
            for s in (*self.eye_slits, self.mouth_slit):
                hit = (i == s.row) & (j > s.j0) & (j < s.j1)
                ids = np.where(hit, s.lower[np.clip(j - s.j0 - 1, 0, len(s.lower) - 1)], ids)
        return ids


def _layout(scale: float) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Grid rows and columns (radians) with rows/columns exactly at the slits and corners."""
    deg = np.radians
    corners = _corner_angles()
    mouth_theta = EYE_ROW_THETA + np.arctan2(-MOUTH_Y, 0.092)
    # Dense over the face; the neck (seen from the origin between 150 and 168 deg) needs its
    # own dense band, or its skinning blends would fall inside single long triangles.
    rows = _segments([0.0, deg(40), deg(70), EYE_ROW_THETA, deg(104), mouth_theta, deg(138), deg(150),
                      deg(168), np.pi],
                     [deg(8), deg(4), deg(1.7), deg(1.9), deg(1.6), deg(1.7), deg(3.0), deg(1.6), deg(4)],
                     scale)
    ei, eo, mc = corners["eye_inner"], corners["eye_outer"], corners["mouth"]
    half = _segments([0.0, ei, eo, deg(60), deg(90), deg(120), np.pi],
                     [deg(2.1), deg(1.7), deg(3.5), deg(5), deg(9), deg(13)], scale)
    cols = np.concatenate([-half[1:][::-1][1:], half])  # (-pi, pi]: 0 and pi once each
    index = {"eye_row": int(np.argmin(np.abs(rows - EYE_ROW_THETA))),
             "mouth_row": int(np.argmin(np.abs(rows - mouth_theta)))}
    for name, angle in (("eye_inner", ei), ("eye_outer", eo), ("mouth", mc)):
        index[name] = int(np.argmin(np.abs(cols - angle)))
        index[name + "_mirror"] = int(np.argmin(np.abs(cols + angle)))
    return rows, cols, index


def _skin_faces(cols: np.ndarray, ids: np.ndarray, lower_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two triangles per grid cell, diagonals mirrored about the face's midline (phi = 0).

    ids, lower_ids [R, C]: vertex of each grid node (pole rows repeat the pole), with slit
    nodes replaced by their lower copies in lower_ids. Returns faces [F, 3] and cell_faces.
    """
    c = len(cols)
    jn = (np.arange(c) + 1) % c
    a, b = lower_ids[:-1], lower_ids[:-1][:, jn]  # cells below a slit use its lower copies
    cc, d = ids[1:], ids[1:][:, jn]  # [R - 1, C] each
    right = (cols >= 0) & (np.arange(c) != c - 1)  # the back seam cell counts as left
    t1 = np.where(right[None, :, None], np.stack([a, cc, d], -1), np.stack([a, cc, b], -1))
    t2 = np.where(right[None, :, None], np.stack([a, d, b], -1), np.stack([b, cc, d], -1))
    tris = np.stack([t1, t2], axis=2)  # [R - 1, C, 2, 3]
    keep = (tris[..., 0] != tris[..., 1]) & (tris[..., 1] != tris[..., 2]) & (tris[..., 0] != tris[..., 2])
    cell_faces = np.where(keep, np.cumsum(keep.ravel()).reshape(keep.shape) - 1, -1)
    return tris[keep], cell_faces


def _pouch_faces(loop: np.ndarray, rings: np.ndarray, centre: int) -> np.ndarray:
    """Strips from the slit loop inward through each ring, closed by a fan to `centre`.

    The skin walks the loop forward, so the pouch walks every loop edge backward.
    """
    outer = np.vstack([loop[None], rings[:-1]])  # [K, n]: the outer ring of each strip
    outer_next, inner_next = np.roll(outer, -1, axis=1), np.roll(rings, -1, axis=1)
    strips = np.stack([np.stack([outer_next, outer, rings], -1),
                       np.stack([outer_next, rings, inner_next], -1)], axis=2)  # [K, n, 2, 3]
    last = rings[-1]
    fan = np.stack([np.roll(last, -1), last, np.full_like(last, centre)], -1)  # [n, 3]
    return np.vstack([strips.reshape(-1, 3), fan])


def _sphere_faces(front: int, rings: np.ndarray, back: int) -> np.ndarray:
    """UV sphere around the front-back axis; rings [n, S] ordered front to back."""
    top, bottom = rings[:-1], rings[1:]
    top_next, bottom_next = np.roll(top, -1, axis=1), np.roll(bottom, -1, axis=1)
    bands = np.stack([np.stack([top, bottom, bottom_next], -1),
                      np.stack([top, bottom_next, top_next], -1)], axis=2).reshape(-1, 3)
    cap_front = np.stack([np.full_like(rings[0], front), rings[0], np.roll(rings[0], -1)], -1)
    cap_back = np.stack([rings[-1], np.full_like(rings[-1], back), np.roll(rings[-1], -1)], -1)
    return np.vstack([cap_front, bands, cap_back])


def build_grid(resolution: str = "default") -> HeadGrid:
    """All indices and faces of the builtin head at a named resolution (see RESOLUTIONS)."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown builtin head resolution '{resolution}'; choose one of {sorted(RESOLUTIONS)}")
    rows, cols, at = _layout(RESOLUTIONS[resolution])
    r, c = len(rows), len(cols)
    num_grid = 2 + (r - 2) * c
    slits = [Slit(at["eye_row"], at["eye_inner"], at["eye_outer"]),
             Slit(at["eye_row"], at["eye_outer_mirror"], at["eye_inner_mirror"]),
             Slit(at["mouth_row"], at["mouth_mirror"], at["mouth"])]
    next_id = num_grid
    for s in slits:
        s.lower = np.arange(next_id, next_id + s.j1 - s.j0 - 1)
        next_id += len(s.lower)
    num_skin = next_id
    grid = HeadGrid(rows, cols, (slits[0], slits[1]), slits[2])
    ii, jj = np.meshgrid(np.arange(1, r - 1), np.arange(c), indexing="ij")
    theta = np.concatenate([[0.0], rows[ii].ravel(), [np.pi]] + [np.full(len(s.lower), rows[s.row]) for s in slits])
    phi = np.concatenate([[0.0], cols[jj].ravel(), [0.0]] + [cols[s.inner_cols] for s in slits])
    node_i, node_j = np.meshgrid(np.arange(r), np.arange(c), indexing="ij")
    skin_faces, grid.cell_faces = _skin_faces(cols, grid.vid(node_i, node_j), grid.vid(node_i, node_j, lower=True))
    faces = [skin_faces]
    region = [np.full(num_skin, SKIN)]

    def loop_of(s: Slit) -> np.ndarray:
        upper = grid.vid(s.row, np.arange(s.j0, s.j1 + 1))
        return np.concatenate([upper, s.lower[::-1]])

    def add(count: int, label: int) -> np.ndarray:
        nonlocal next_id
        ids = np.arange(next_id, next_id + count)
        next_id += count
        region.append(np.full(count, label))
        return ids

    pouches = []
    for s, rings, label in ((slits[2], MOUTH_RINGS, MOUTH), (slits[0], LID_RINGS, LID_POCKET),
                            (slits[1], LID_RINGS, LID_POCKET)):
        loop = loop_of(s)
        ring_ids = add(rings * len(loop), label).reshape(rings, len(loop))
        centre = int(add(1, label)[0])
        faces.append(_pouch_faces(loop, ring_ids, centre))
        pouches.append((loop, ring_ids, centre))
    eyeballs = []
    for _ in range(2):
        ids = add(2 + len(EYE_RING_DEG) * EYE_SEGMENTS, EYEBALL)
        faces.append(_sphere_faces(int(ids[0]), ids[1:-1].reshape(len(EYE_RING_DEG), EYE_SEGMENTS), int(ids[-1])))
        eyeballs.append(ids)

    grid.region = np.concatenate(region)
    grid.skin_theta, grid.skin_phi = theta, phi
    grid.lower_copy = np.zeros(num_skin, bool)
    grid.lower_copy[num_grid:] = True
    grid.faces = np.vstack(faces).astype(np.int64)
    grid.mouth_loop, grid.mouth_rings, grid.mouth_centre = pouches[0]
    grid.lid_loops = (pouches[1][0], pouches[2][0])
    grid.lid_rings = (pouches[1][1], pouches[2][1])
    grid.lid_centres = (pouches[1][2], pouches[2][2])
    grid.eyeballs = (eyeballs[0], eyeballs[1])
    return grid
