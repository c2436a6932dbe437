"""Procedural vertex colours of the builtin head (the texture synthetic captures render).

Skin tone with smooth mottling and blotches (fixed-seed plane waves, wavelengths >= 1 cm so
that 128-256 px renders do not alias), reddish cheeks, nose and ears, darker under the eyes,
dark brows, red lips, nostrils, hair on the top and back of the skull with strand-like
variation, a shadowed throat; white sclera, patterned iris, black pupil; a dark red mouth with
white teeth; pink lid margins. Colours are sRGB-ish values in [0, 1].
"""

from __future__ import annotations

import numpy as np

from avatar.rig.builtin.geometry import MOUTH_ARC_RADIUS, eye_centres
from avatar.rig.builtin.grid import EYE_SEGMENTS, LID_POCKET, HeadGrid
from avatar.rig.builtin.landmarks import LOWER_LIP_BORDER, UPPER_LIP_BORDER
from avatar.rig.builtin.skin import smoothstep

SKIN = np.array([0.86, 0.67, 0.56])
FLUSH = np.array([0.84, 0.50, 0.45])
BROW = np.array([0.22, 0.15, 0.11])
HAIR = np.array([0.17, 0.115, 0.08])
LIP = np.array([0.74, 0.36, 0.36])
IRIS = np.array([0.30, 0.45, 0.52])
SCLERA = np.array([0.94, 0.92, 0.89])
TEETH = np.array([0.93, 0.91, 0.86])
MOUTH_DARK = np.array([0.28, 0.07, 0.08])
LID_PINK = np.array([0.78, 0.48, 0.46])
SEED = 20240521
# Hairline: grid theta (deg) of the hair's lower edge against |phi| (deg): forehead, temples,
# above the ear, behind the ear, nape.
HAIRLINE = ((0, 41), (30, 43), (55, 52), (75, 66), (90, 76), (110, 80), (135, 100), (160, 118), (180, 124))


def _waves(p: np.ndarray, rng: np.random.Generator, count: int, wavelength: tuple[float, float]) -> np.ndarray:
    """Sum of `count` random plane waves [N] with wavelengths in the range (metres), std ~ 1."""
    dirs = rng.normal(size=(count, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    freq = 2 * np.pi / rng.uniform(*wavelength, size=count)
    phase = rng.uniform(0, 2 * np.pi, size=count)
    return np.sin(p @ (dirs * freq[:, None]).T + phase).sum(1) * np.sqrt(2.0 / count)


def _gauss(p: np.ndarray, centre, sigma) -> np.ndarray:
    return np.exp(-0.5 * (((p - np.asarray(centre)) / np.asarray(sigma)) ** 2).sum(-1))


def _mix(col: np.ndarray, target, amount: np.ndarray) -> np.ndarray:
    a = np.clip(amount, 0.0, 1.0)[:, None]
    return col * (1 - a) + np.asarray(target) * a


def _vertex_normals(p: np.ndarray, faces: np.ndarray) -> np.ndarray:
    n = np.cross(p[faces[:, 1]] - p[faces[:, 0]], p[faces[:, 2]] - p[faces[:, 0]])
    out = np.zeros_like(p)
    for k in range(3):
        np.add.at(out, faces[:, k], n)
    return out / (np.linalg.norm(out, axis=1, keepdims=True) + 1e-12)


def _brow_amount(p: np.ndarray, lmk: np.ndarray) -> np.ndarray:
    """Eyebrow hair cover [N]: bands along landmarks 17-21 and 22-26, thick inside, thin outside."""
    out = np.zeros(len(p))
    for ids in ((21, 20, 19, 18, 17), (22, 23, 24, 25, 26)):  # inner to outer
        line = lmk[list(ids), :2] - np.array([0.0, 0.0015])
        half = np.linspace(0.0045, 0.0022, len(ids))
        for k in range(len(ids) - 1):
            a, b = line[k], line[k + 1]
            t = np.clip(((p[:, :2] - a) @ (b - a)) / ((b - a) @ (b - a)), 0.0, 1.0)
            dist = np.linalg.norm(p[:, :2] - (a + t[:, None] * (b - a)), axis=1)
            width = half[k] + t * (half[k + 1] - half[k])
            out = np.maximum(out, smoothstep((width - dist) / 0.0026 + 0.5))
    return out * (p[:, 2] > 0.04)


def _lip_amount(grid: HeadGrid) -> np.ndarray:
    """Red-lip cover [Vs] from the vermilion border heights used by the landmarks."""
    g = grid
    height = (g.theta_rows[g.mouth_slit.row] - g.skin_theta) * MOUTH_ARC_RADIUS  # + above the line
    x = 0.09 * np.tan(np.clip(g.skin_phi, -1.2, 1.2))
    corner = 0.09 * np.tan(g.phi_cols[g.mouth_slit.j1]) + 0.001
    below = (height < 0) | g.lower_copy
    table = [(np.array([x_ for x_, _ in t] + [corner]), np.array([h for _, h in t] + [0.0]))
             for t in (UPPER_LIP_BORDER, LOWER_LIP_BORDER)]
    border = np.where(below, np.interp(np.abs(x), *table[1], right=0.0), np.interp(np.abs(x), *table[0], right=0.0))
    return smoothstep((border - np.abs(height)) / 0.0024 + 0.3) * (border > 0)


def _hair_amount(grid: HeadGrid) -> np.ndarray:
    edge = np.radians(np.interp(np.degrees(np.abs(grid.skin_phi)), *np.array(HAIRLINE).T))
    soft = np.radians(np.interp(np.degrees(np.abs(grid.skin_phi)), (0, 50, 90, 130), (5.0, 5.0, 9.0, 14.0)))
    return smoothstep((edge - grid.skin_theta) / soft + 0.5)


def _eyeball_colors(grid: HeadGrid, rng: np.random.Generator) -> np.ndarray:
    """[2 + rings * S, 3] for one eyeball (same pattern for both eyes)."""
    alpha = np.concatenate([[0.0], np.repeat(grid.eye_ring_deg, EYE_SEGMENTS), [180.0]])
    beta = np.concatenate([[0.0], np.tile(np.linspace(0, 2 * np.pi, EYE_SEGMENTS, endpoint=False),
                                          len(grid.eye_ring_deg)), [0.0]])
    streaks = 0.08 * np.cos(7 * beta + rng.uniform(0, 6.3)) + 0.05 * np.cos(3 * beta + rng.uniform(0, 6.3))
    iris = IRIS * (1.0 + streaks[:, None]) * (1.0 - 0.35 * smoothstep((alpha - 20.0) / 9.0))[:, None]
    col = _mix(np.tile(SCLERA, (len(alpha), 1)), [0.88, 0.74, 0.72], smoothstep((alpha - 60.0) / 60.0))
    col = np.where((alpha < 31.0)[:, None], iris, col)
    return np.where((alpha < 11.0)[:, None], np.array([0.03, 0.03, 0.035]), col)


def vertex_colors(grid: HeadGrid, rest: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """[V, 3] colours in [0, 1] (deterministic: fixed seed)."""
    g, p, lmk = grid, rest, landmarks
    rng = np.random.default_rng(SEED)
    blotch = _waves(p, rng, 10, (0.03, 0.07))
    mottle = _waves(p, rng, 14, (0.01, 0.025))
    col = SKIN * (1.0 + 0.035 * mottle[:, None])
    col = _mix(col, FLUSH, 0.12 * np.clip(blotch, 0, None))
    for s in (1.0, -1.0):
        col = _mix(col, FLUSH, 0.45 * _gauss(p, (0.042 * s, -0.025, 0.06), (0.016, 0.014, 0.02)))
        col = _mix(col, FLUSH, 0.3 * _gauss(p, (0.074 * s, -0.006, -0.014), (0.012, 0.025, 0.018)))
        col *= (1.0 - 0.3 * _gauss(p, (0.083 * s, -0.01, -0.01), (0.004, 0.009, 0.006)))[:, None]  # concha
    col = _mix(col, FLUSH, 0.3 * _gauss(p, lmk[30], 0.01))
    for eye in eye_centres():
        col *= (1.0 - 0.16 * _gauss(p, eye + (0, -0.011, 0.008), (0.013, 0.0055, 0.01)))[:, None]
        col *= (1.0 - 0.10 * _gauss(p, eye + (0, 0.009, 0.008), (0.013, 0.005, 0.01)))[:, None]
    normals = _vertex_normals(p, g.faces)
    throat = np.clip(-normals[:, 1], 0, 1) * smoothstep((-0.085 - p[:, 1]) / 0.02) * (p[:, 2] > -0.03)
    col *= (1.0 - 0.22 * throat)[:, None]
    col = _mix(col, BROW * (1.0 + 0.15 * mottle[:, None]), 0.92 * _brow_amount(p, lmk))
    for s in (1.0, -1.0):
        col = _mix(col, [0.30, 0.15, 0.13], 0.9 * _gauss(p, (0.0065 * s, -0.0355, 0.095), (0.003, 0.0022, 0.004)))
    skin = slice(0, g.num_skin)
    line = _gauss(p[skin, 1:2], p[g.mouth_loop, 1].mean(), 0.0015)
    col[skin] = _mix(col[skin], LIP * (1.0 - 0.25 * line)[:, None], _lip_amount(g))
    strands = _waves(p * np.array([1.0, 0.25, 1.0]), rng, 12, (0.008, 0.016))  # long along y
    hair = HAIR * (1.0 + 0.22 * strands[skin, None] + 0.25 * smoothstep((p[skin, 1] - 0.08) / 0.04)[:, None])
    col[skin] = _mix(col[skin], hair, _hair_amount(g))
    for loop in g.lid_loops:
        col[loop] = _mix(col[loop], LID_PINK, np.full(len(loop), 0.45))
    col[g.region == LID_POCKET] = LID_PINK
    _mouth_colors(g, col)
    eyeball = _eyeball_colors(g, rng)
    for ids in g.eyeballs:
        col[ids] = eyeball
    return np.clip(col, 0.0, 1.0)


def _mouth_colors(grid: HeadGrid, col: np.ndarray) -> None:
    """Inner lip, teeth on the second and third pouch rings (not at the corners), dark cavity."""
    g = grid
    across = np.abs(g.skin_phi[g.mouth_loop] / g.phi_cols[g.mouth_slit.j1])  # [2m], 1 at corners
    col[g.mouth_rings[0]] = LIP * 0.8
    teeth = smoothstep((0.8 - across) / 0.15)
    for k in (1, 2):
        col[g.mouth_rings[k]] = _mix(np.tile(MOUTH_DARK * 1.6, (len(across), 1)), TEETH, teeth)
    for k in range(3, len(g.mouth_rings)):
        col[g.mouth_rings[k]] = MOUTH_DARK * (1.0 - 0.15 * (k - 3))
    col[g.mouth_centre] = MOUTH_DARK * 0.5
