"""Vertex positions of the builtin head for a given eyelid state.

Skin: each grid vertex is the skin hit along its (theta, phi) direction, after a lid warp
that slides the rows above/below each eye slit apart (the lids open over the eyeball like
real lids, along the lid sphere), plus grid-space lip bulges around the mouth slit and a
vertical correction that levels the mouth line (constant-theta rows curve up at the sides).
Pouch and lid-pocket rings are placed relative to their slit loops; eyeballs are UV spheres.
Eyelid expressions are differences of these positions between lid states.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatar.rig.builtin.grid import EYE_SEGMENTS, HeadGrid
from avatar.rig.builtin.shape import EYE_CENTRE_L, EYE_RADIUS, EYE_ROW_THETA, cast_rays

UPPER_LID_OPEN = np.radians(5.2)  # rest opening of the upper lid edge above the slit (peak)
LOWER_LID_OPEN = np.radians(2.2)
UPPER_LID_REACH = np.radians(13.0)  # rows this far above the slit follow the lid
LOWER_LID_REACH = np.radians(9.0)
LIP_BULGE = 0.0038  # radial lip fullness, metres
MOUTH_ARC_RADIUS = 0.11  # metres along the face per radian of grid theta near the mouth
# Mouth pouch rings behind the lip line: (depth back, height away from the line) for the upper
# and the lower half, and a width factor. Ring 1 is the inner lip; rings 2-3 carry the teeth,
# the upper incisors reaching 2 mm below the lip line in front of the lower ones (overbite);
# then the dark cavity.
MOUTH_POUCH = (((0.0025, 0.0015), (0.0025, 0.0015), 1.0), ((0.004, -0.002), (0.0055, -0.0005), 0.96),
               ((0.0055, 0.008), (0.007, 0.008), 0.96), ((0.014, 0.012), (0.014, 0.012), 1.0),
               ((0.028, 0.012), (0.028, 0.012), 0.85), ((0.040, 0.006), (0.040, 0.006), 0.55))
MOUTH_POUCH_END = 0.044
LID_POCKET = (0.3, 0.65)  # rings pulled this far from the lid edge towards the eye centre


@dataclass(frozen=True)
class LidState:
    """Lid openings as multiples of the rest opening: (upper, lower) per eye; 0 closes."""

    left: tuple[float, float] = (1.0, 1.0)
    right: tuple[float, float] = (1.0, 1.0)


def eye_centres() -> np.ndarray:
    """[2, 3]: the subject's left eye (+x), then the right eye."""
    return np.stack([EYE_CENTRE_L, EYE_CENTRE_L * np.array([-1.0, 1.0, 1.0])])


def _falloff(x: np.ndarray) -> np.ndarray:
    """1 at x = 0, smoothly (cosine) to 0 at x >= 1."""
    return np.where(x < 1.0, 0.5 * (1.0 + np.cos(np.pi * np.clip(x, 0.0, 1.0))), 0.0)


def _lid_profile(t: np.ndarray, peak: float) -> np.ndarray:
    """Almond bump over t in [0, 1] (inner to outer corner), maximal at t = peak."""
    gamma = np.log(0.5) / np.log(peak)
    return np.where((t > 0) & (t < 1), np.sin(np.pi * np.clip(t, 0, 1) ** gamma), 0.0)


def lid_warp(grid: HeadGrid, lids: LidState) -> np.ndarray:
    """Warped theta of every skin vertex [Vs] for the given lid state."""
    theta, phi = grid.skin_theta, grid.skin_phi
    out = theta.copy()
    for slit, (up, low) in zip(grid.eye_slits, (lids.left, lids.right)):
        inner, outer = sorted((grid.phi_cols[slit.j0], grid.phi_cols[slit.j1]), key=abs)
        t = (phi - inner) / (outer - inner)  # 0 at the inner corner, 1 at the outer
        upper_side = (theta < EYE_ROW_THETA) | ((theta == EYE_ROW_THETA) & ~grid.lower_copy)
        lift = up * UPPER_LID_OPEN * _lid_profile(t, 0.42) * _falloff((EYE_ROW_THETA - theta) / UPPER_LID_REACH)
        drop = low * LOWER_LID_OPEN * _lid_profile(t, 0.6) * _falloff((theta - EYE_ROW_THETA) / LOWER_LID_REACH)
        out += np.where(upper_side, -lift, drop)
    return out


def _lip_bulge(grid: HeadGrid) -> np.ndarray:
    """Radial lip fullness [Vs] around the mouth slit, equal on both copies at the slit."""
    mouth_theta = grid.theta_rows[grid.mouth_slit.row]
    corner = grid.phi_cols[grid.mouth_slit.j1]
    arc = (grid.skin_theta - mouth_theta) * MOUTH_ARC_RADIUS  # metres along the face, + below
    below = (arc > 0) | grid.lower_copy
    width = np.where(below, 0.0048, 0.0036)  # the lower lip is the fuller one
    centre = np.where(below, width, -width)
    across = np.clip(1.0 - (grid.skin_phi / (1.15 * corner)) ** 2, 0.0, 1.0) ** 1.5
    return LIP_BULGE * np.exp(-(((arc - centre) / width) ** 2)) * across


class HeadGeometry:
    """Positions of every vertex for a lid state; the rest state is cast once and reused."""

    def __init__(self, grid: HeadGrid):
        self.grid = grid
        self._rest_theta = lid_warp(grid, LidState())
        self._bulge = _lip_bulge(grid)
        self._rest_hits = cast_rays(self._rest_theta, grid.skin_phi)  # [Vs, 3]
        self._level = self._mouth_levelling(self._skin(self._rest_hits))

    def _skin(self, hits: np.ndarray) -> np.ndarray:
        radial = hits / np.linalg.norm(hits, axis=1, keepdims=True)
        return hits + self._bulge[:, None] * radial

    def _mouth_levelling(self, skin: np.ndarray) -> np.ndarray:
        """Vertical offsets [Vs] that bring the mouth-row corners level with its centre."""
        g = self.grid
        row = g.vid(g.mouth_slit.row, np.arange(len(g.phi_cols)))
        y_row = skin[row, 1]  # [C]
        corner = g.phi_cols[g.mouth_slit.j1]
        rise = 0.0012 * np.minimum(1.0, (g.phi_cols / corner) ** 2)  # corners a touch up
        shift = (y_row[np.argmin(np.abs(g.phi_cols))] + rise - y_row) * _falloff(
            np.clip(np.abs(g.phi_cols) / corner - 1.3, 0, None) / 1.7)
        column = np.searchsorted(g.phi_cols, g.skin_phi).clip(0, len(g.phi_cols) - 1)
        band = _falloff(np.abs(g.skin_theta - g.theta_rows[g.mouth_slit.row]) / np.radians(22))
        out = shift[column] * band
        out[g.vid([0, len(g.theta_rows) - 1], 0)] = 0.0  # poles sit at phi = 0 only nominally
        return out

    def positions(self, lids: LidState = LidState()) -> np.ndarray:
        """All vertex positions [V, 3] (float64) for the lid state."""
        g = self.grid
        theta = lid_warp(g, lids)
        hits = self._rest_hits.copy()
        moved = theta != self._rest_theta
        if moved.any():
            hits[moved] = cast_rays(theta[moved], g.skin_phi[moved])
        skin = self._skin(hits)
        skin[:, 1] += self._level
        out = np.zeros((g.num_vertices, 3))
        out[: g.num_skin] = skin
        self._place_mouth_pouch(out)
        for k, centre in enumerate(eye_centres()):
            loop = out[g.lid_loops[k]]  # [n, 3]
            for ring, f in zip(g.lid_rings[k], LID_POCKET, strict=True):
                out[ring] = loop + f * (centre - loop)
            out[g.lid_centres[k]] = centre
            out[g.eyeballs[k]] = eyeball_vertices(centre, g.eye_ring_deg)
        return out

    def _place_mouth_pouch(self, out: np.ndarray) -> None:
        g = self.grid
        loop = out[g.mouth_loop]  # [2m, 3]
        m = len(g.mouth_loop) // 2
        side = np.concatenate([[0.0], np.ones(m - 1), [0.0], -np.ones(m - 1)])  # +1 upper lip
        across = np.abs(g.skin_phi[g.mouth_loop] / g.phi_cols[g.mouth_slit.j1])
        envelope = np.clip(1.0 - across ** 2, 0.0, 1.0) ** 0.35
        for ring, (upper, lower, width) in zip(g.mouth_rings, MOUTH_POUCH, strict=True):
            depth, height = np.where(side >= 0, upper[0], lower[0]), np.where(side >= 0, upper[1], lower[1])
            out[ring] = loop * np.array([width, 1.0, 1.0]) + np.stack(
                [np.zeros(2 * m), side * height * envelope, -depth], -1)
        out[g.mouth_centre] = loop.mean(0) - np.array([0.0, 0.0, MOUTH_POUCH_END])


def eyeball_vertices(centre: np.ndarray, ring_deg: np.ndarray) -> np.ndarray:
    """Front pole, rings (front to back, EYE_SEGMENTS each), back pole: [2 + n * S, 3]."""
    alpha = np.radians(ring_deg)[:, None]  # [n, 1]
    beta = np.linspace(0, 2 * np.pi, EYE_SEGMENTS, endpoint=False)[None]  # [1, S]
    ring = np.stack([np.sin(alpha) * np.cos(beta), np.sin(alpha) * np.sin(beta),
                     np.cos(alpha) * np.ones_like(beta)], -1).reshape(-1, 3)
    unit = np.vstack([[0.0, 0.0, 1.0], ring, [0.0, 0.0, -1.0]])
    return centre + EYE_RADIUS * unit
