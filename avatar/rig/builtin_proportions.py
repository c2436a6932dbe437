"""The builtin head's face warped to an average face's proportions.

The procedural head was drawn by hand: its mouth came out 19% wider than an average adult's (in
outer-eye-corner distances), its eye openings 11% shorter (the inner corners too far apart) and
its brows 19% narrower. Tracked with it, every person needed the same corrections: eye spacing
2.3-3.2 standard deviations below the identity basis' mean on all six shared clips, and
expressions that narrow the mouth held at their limits.

The reference is MediaPipe's canonical face model, an average face whose points the landmark
detector predicts (`CANONICAL_IBUG` is derived from it; Apache-2.0, licence in
capture/assets/LICENSE-mediapipe). It is aligned onto the head by a similarity over the nose and
the outer eye corners, which the two faces share; then the mouth's landmarks (x and y) and the
eye corners (x only) are moved onto it by Gaussian radial basis functions, held still at the lids'
middles (they rest on the eyeball's sphere; moved, a closed lid lets the iris through), the eye
centres (the eyeballs stay rigid), the brows, the nose and the chin. The brows are painted on
smooth skin, so their landmarks move instead of the skin (builtin_landmarks.BROW_XY).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# MediaPipe's canonical face model at the 68 iBUG landmarks (its points capture.ibug68.MP_TO_IBUG68
# of capture/assets/mediapipe_face_model.obj): metres, y up, face towards +z, +x the subject's left.
CANONICAL_IBUG = np.array([
    (-0.076642, 0.006731, -0.024359), (-0.075422, -0.010493, -0.024313), (-0.072709, -0.028909, -0.022525),
    (-0.067197, -0.047886, -0.017454), (-0.059405, -0.062236, -0.006315), (-0.050853, -0.071786, 0.007147),
    (-0.040689, -0.079931, 0.019251), (-0.023090, -0.089742, 0.036091), (0.000000, -0.094034, 0.042645),
    (0.023090, -0.089742, 0.036091), (0.040689, -0.079931, 0.019251), (0.050853, -0.071786, 0.007147),
    (0.059405, -0.062236, -0.006315), (0.067197, -0.047886, -0.017454), (0.072709, -0.028909, -0.022525),
    (0.075422, -0.010493, -0.024313), (0.076642, 0.006731, -0.024359), (-0.057210, 0.042546, 0.028309),
    (-0.049859, 0.048025, 0.037520), (-0.039866, 0.051095, 0.044663), (-0.027603, 0.051010, 0.050160),
    (-0.013956, 0.050120, 0.053160), (0.013956, 0.050120, 0.053160), (0.027603, 0.051010, 0.050160),
    (0.039866, 0.051095, 0.044663), (0.049859, 0.048025, 0.037520), (0.057210, 0.042546, 0.028309),
    (0.000000, 0.032710, 0.052360), (0.000000, 0.017284, 0.063168), (0.000000, 0.003657, 0.072429),
    (0.000000, -0.004632, 0.075866), (-0.014056, -0.017142, 0.052411), (-0.005974, -0.020137, 0.058665),
    (0.000000, -0.020890, 0.060583), (0.005974, -0.020137, 0.058665), (0.014056, -0.017142, 0.052411),
    (-0.044459, 0.026640, 0.031734), (-0.036701, 0.029277, 0.037243), (-0.027240, 0.029618, 0.038718),
    (-0.018564, 0.025852, 0.037579), (-0.027240, 0.023158, 0.037772), (-0.036701, 0.023602, 0.036352),
    (0.018564, 0.025852, 0.037579), (0.027240, 0.029618, 0.038718), (0.036701, 0.029277, 0.037243),
    (0.044459, 0.026640, 0.031734), (0.036701, 0.023602, 0.036352), (0.027240, 0.023158, 0.037772),
    (-0.024562, -0.043426, 0.042839), (-0.019149, -0.038031, 0.050289), (-0.007115, -0.033294, 0.058770),
    (0.000000, -0.034064, 0.059795), (0.007115, -0.033294, 0.058770), (0.019149, -0.038031, 0.050289),
    (0.024562, -0.043426, 0.042839), (0.018386, -0.048287, 0.048237), (0.006996, -0.052919, 0.054483),
    (0.000000, -0.053651, 0.055354), (-0.006996, -0.052919, 0.054483), (-0.018386, -0.048287, 0.048237),
    (-0.021531, -0.042763, 0.040381), (-0.010243, -0.039899, 0.049267), (0.000000, -0.039944, 0.052195),
    (0.010243, -0.039899, 0.049267), (0.021531, -0.042763, 0.040381), (0.010988, -0.044588, 0.051207),
    (0.000000, -0.045424, 0.054048), (-0.010988, -0.044588, 0.051207),
])  # [68, 3]

ALIGN = (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 45)  # nose and outer eye corners
EYE_CORNERS = (36, 39, 42, 45)  # moved in x only
LIDS = (37, 38, 40, 41, 43, 44, 46, 47)  # held: the lids rest on the eyeball's sphere
MOUTH = tuple(range(48, 60)) + (60, 64)  # the lips' outer line and inner corners
INNER_LIPS = (61, 62, 63, 65, 66, 67)  # the canonical lips are apart: x from it, y with the corners
STILL = tuple(range(17, 36)) + tuple(range(4, 13))  # brows (their landmarks move instead), nose, chin
# Metres: the warp's reach around each landmark. At 8 mm the narrowed mouth's corners fold the
# cheek beside them, which a turned head shows as a false outline (tests/test_registration.py).
SIGMA = 0.012
RIDGE = 1e-6  # the lips meet at rest (61/67, 62/66, 63/65 coincide): without it the system is singular


def _similarity(src: np.ndarray, dst: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Umeyama: the scaled rotation and translation taking src [N, 3] onto dst [N, 3]."""
    ms, md = src.mean(0), dst.mean(0)
    u, s, vt = np.linalg.svd((dst - md).T @ (src - ms) / len(src))
    d = np.eye(3)
    d[2, 2] = np.sign(np.linalg.det(u @ vt))
    r = u @ d @ vt
    c = np.trace(np.diag(s) @ d) / (src - ms).var(0).sum()
    return lambda x: c * x @ r.T + (md - c * ms @ r.T)


def canonical_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """CANONICAL_IBUG [68, 3] aligned onto the head's landmarks [68, 3] (nose and outer eye corners)."""
    return _similarity(CANONICAL_IBUG[list(ALIGN)], landmarks[list(ALIGN)])(CANONICAL_IBUG)


def proportion_warp(landmarks: np.ndarray, eye_centres: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The warp, points [N, 3] -> [N, 3], that takes the drawn head's landmarks [68, 3] (metres)
    to the canonical face's proportions; eye_centres [2, 3] stay where they are."""
    target = canonical_landmarks(landmarks)  # [68, 3]
    move = np.zeros_like(landmarks)  # [68, 3]
    for i in MOUTH:
        move[i, :2] = target[i, :2] - landmarks[i, :2]
    for i in EYE_CORNERS:
        move[i, 0] = target[i, 0] - landmarks[i, 0]
    corner_rise = move[[60, 64], 1].mean()
    for i in INNER_LIPS:
        move[i, :2] = target[i, 0] - landmarks[i, 0], corner_rise
    ids = list(EYE_CORNERS + LIDS + MOUTH + INNER_LIPS + STILL)
    centres = np.concatenate([landmarks[ids], eye_centres])  # [K, 3]
    values = np.concatenate([move[ids], np.zeros((2, 3))])  # [K, 3]

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # [N, K]
        return np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / (2 * SIGMA**2))

    weights = np.linalg.solve(kernel(centres, centres) + RIDGE * np.eye(len(centres)), values)  # [K, 3]
    return lambda p: p + kernel(p, centres) @ weights
