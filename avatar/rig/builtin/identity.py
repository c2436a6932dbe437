"""Identity (shape) components of the builtin head: smooth global displacement fields.

Each component is one anatomical trait, and a coefficient of 1 is about one standard deviation
of that trait in adults (a few millimetres). The fields overlap little, so the components are
close to orthogonal. Eyeballs translate rigidly (never deform, so the eye joints stay at their
centres) with their eye's opening: by the mean of the field over that eye's six lid landmarks. The
field at the eyeball's centre would not do: eye_spacing peaks there and falls off towards the
corners, so a fitted face slid its pupils off-centre between the corners, and the tracker turned
the eyes apart to put them back under the irises.
"""

from __future__ import annotations

import numpy as np

from avatar.rig.builtin.geometry import eye_centres
from avatar.rig.builtin.skin import smoothstep

SHAPE_NAMES = (
    "head_width",
    "head_height",
    "head_depth",
    "face_length",
    "jaw_width",
    "nose_length",
    "nose_width",
    "nose_projection",
    "cheek_fullness",
    "brow_ridge",
    "chin_projection",
    "eye_spacing",
    "lip_fullness",
    "neck_width",
)
LID_LANDMARKS = (range(42, 48), range(36, 42))  # iBUG: the subject's left eye (+x), then the right eye


def _gauss(p: np.ndarray, centre, sigma) -> np.ndarray:
    return np.exp(-0.5 * (((p - np.asarray(centre)) / np.asarray(sigma)) ** 2).sum(-1))


def _field(name: str, p: np.ndarray, lmk: np.ndarray) -> np.ndarray:
    """Displacement [N, 3] of trait `name` at points p [N, 3]; lmk [68, 3] rest landmarks."""
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    zero = np.zeros_like(x)
    head = smoothstep((y + 0.15) / 0.06)  # 1 on the head, 0 down the neck
    front = smoothstep((z + 0.03) / 0.06)
    if name == "head_width":
        return np.stack([0.07 * x * head, zero, zero], -1)
    if name == "head_height":
        return np.stack([zero, 0.05 * np.maximum(y, 0.0), zero], -1)
    if name == "head_depth":
        return np.stack([zero, zero, 0.06 * np.minimum(z, 0.0) * head], -1)
    if name == "face_length":
        return np.stack([zero, 0.05 * np.clip(y, -0.13, 0.0) * front * head, zero], -1)
    if name == "jaw_width":
        return np.stack([0.12 * x * _gauss(p[:, 1:2], -0.075, 0.022) * smoothstep((z + 0.05) / 0.04), zero, zero], -1)
    if name == "nose_length":
        return _gauss(p, lmk[30], 0.012)[:, None] * np.array([0.0, -0.003, 0.0015])
    if name == "nose_width":
        return np.stack([0.25 * x * _gauss(p, lmk[33] + (0, 0.004, -0.005), (0.015, 0.01, 0.012)), zero, zero], -1)
    if name == "nose_projection":
        return np.stack([zero, zero, 0.004 * _gauss(p, lmk[29], (0.01, 0.02, 0.015))], -1)
    if name == "cheek_fullness":
        out = np.zeros_like(p)
        for s in (1.0, -1.0):
            centre = np.array([0.045 * s, -0.04, 0.045])
            outward = (p - centre * np.array([0.0, 1.0, 0.0])) * np.array([1.0, 0.0, 1.0])
            outward /= np.linalg.norm(outward, axis=1, keepdims=True) + 1e-12
            out += (0.004 * _gauss(p, centre, 0.018))[:, None] * outward
        return out
    if name == "brow_ridge":
        return np.stack([zero, zero, 0.0035 * _gauss(p, (0.0, 0.022, 0.08), (0.045, 0.009, 0.02))], -1)
    if name == "chin_projection":
        return _gauss(p, lmk[8] + (0, 0.01, 0), 0.015)[:, None] * np.array([0.0, -0.002, 0.005])
    if name == "eye_spacing":
        left, right = eye_centres()
        dx = 0.0025 * (_gauss(p, left, 0.016) - _gauss(p, right, 0.016))
        return np.stack([dx, zero, zero], -1)
    if name == "lip_fullness":
        return np.stack([zero, zero, 0.0025 * _gauss(p, lmk[62], (0.022, 0.009, 0.012))], -1)
    if name == "neck_width":
        neck = 1.0 - head
        return np.stack([0.12 * x * neck, zero, 0.1 * (z + 0.014) * neck], -1)
    raise KeyError(name)


def identity_basis(rest: np.ndarray, landmarks: np.ndarray, eyeballs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """shapedirs [V, 3, S] in SHAPE_NAMES order; eyeballs [2] vertex ids (left, right)."""
    basis = np.stack([_field(n, rest, landmarks) for n in SHAPE_NAMES], axis=-1)  # [V, 3, S]
    for ids, lids in zip(eyeballs, LID_LANDMARKS):
        opening = landmarks[list(lids)]  # [6, 3]
        basis[ids] = np.stack([_field(n, opening, landmarks).mean(0) for n in SHAPE_NAMES], -1)  # [3, S]
    return basis
