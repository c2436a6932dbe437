"""Expression blendshapes of the builtin head, named as in ICT-FaceKit / ARKit (``_L``/``_R``).

Sides are the subject's own: ``_L`` acts at +x. Eyelid shapes (blink, wide, squint) are
differences of whole-mesh positions between lid states, so the lids slide over the eyeball
exactly as the rest opening was made. Every other shape is a smooth displacement field: a
Gaussian bump around an anatomical anchor (taken from the rest landmarks) times a fixed
displacement, split at the lip line where upper and lower lip must move apart. Eyeballs never
move with expressions (gaze is the eye joints' job).

jawOpen is a small corrective only (mouth corners draw in, lips thin, chin lengthens): the jaw
joint opens the mouth, and ARKit drivers set jaw = [jawOpen * 0.35 rad, 0, 0] alongside it
(see avatar.data.livelink). jawLeft/jawRight/jawForward translate the jaw region.
"""

from __future__ import annotations

import numpy as np

from avatar.rig.builtin.geometry import HeadGeometry, LidState, eye_centres
from avatar.rig.builtin.grid import EYEBALL

SIDED = ("eyeBlink", "eyeSquint", "eyeWide", "mouthSmile", "mouthFrown", "mouthDimple",
         "mouthStretch", "mouthPress", "mouthLowerDown", "mouthUpperUp", "browDown",
         "browOuterUp", "cheekSquint", "noseSneer")
UNSIDED = ("jawOpen", "jawForward", "jawLeft", "jawRight", "mouthClose", "mouthFunnel",
           "mouthPucker", "mouthLeft", "mouthRight", "mouthRollLower", "mouthRollUpper",
           "mouthShrugLower", "mouthShrugUpper", "browInnerUp", "cheekPuff")
EXPRESSION_NAMES = tuple(f"{n}_{s}" for n in SIDED for s in "LR") + UNSIDED
LID_STATES = {"eyeBlink": (0.0, 0.0), "eyeWide": (1.45, 1.05), "eyeSquint": (0.8, -0.35)}


def _gauss(p: np.ndarray, centre, sigma) -> np.ndarray:
    """Anisotropic Gaussian bump [V] with per-axis std-devs sigma (metres)."""
    return np.exp(-0.5 * (((p - np.asarray(centre)) / np.asarray(sigma)) ** 2).sum(-1))


class _Fields:
    """Rest positions, lip sides and anchors shared by the displacement fields."""

    def __init__(self, rest: np.ndarray, landmarks: np.ndarray, lower: np.ndarray, jaw: np.ndarray):
        self.p, self.lower, self.jaw = rest, lower, jaw
        self.upper = 1.0 - lower
        self.lmk = landmarks  # [68, 3] rest landmarks
        self.mouth = landmarks[62]  # upper inner lip centre, on the lip line

    def bump(self, centre, sigma, move, mask=None) -> np.ndarray:
        """[V, 3]: move (metres) times a Gaussian around centre, optionally masked [V]."""
        w = _gauss(self.p, centre, sigma) if mask is None else _gauss(self.p, centre, sigma) * mask
        return w[:, None] * np.asarray(move, dtype=np.float64)

    def sided(self, name: str, s: float) -> np.ndarray:
        """The shape on side s (+1: the subject's left, +x; -1: right)."""
        m = np.array([s, 1.0, 1.0])  # mirrors anchors and x displacements
        corner = self.lmk[64 if s > 0 else 60]  # inner-lip corners sit on the mouth corners
        lip = self.mouth + m * (0.012, 0.0, -0.002)
        eye = eye_centres()[0 if s > 0 else 1]
        if name == "mouthSmile":
            return (self.bump(corner, (0.012, 0.011, 0.014), m * (0.005, 0.007, -0.003))
                    + self.bump(corner + m * (0.014, 0.024, -0.006), (0.015, 0.012, 0.015), (0, 0.003, 0.002)))
        if name == "mouthFrown":
            return self.bump(corner, (0.011, 0.011, 0.014), m * (0.001, -0.006, -0.001))
        if name == "mouthDimple":
            return self.bump(corner, (0.010, 0.010, 0.012), m * (0.003, 0.0005, -0.004))
        if name == "mouthStretch":
            return (self.bump(corner, (0.012, 0.012, 0.014), m * (0.005, -0.003, -0.002))
                    + self.bump(lip - (0, 0.008, 0), (0.012, 0.008, 0.012), (0, -0.002, 0), self.lower))
        if name == "mouthPress":
            squeeze = _gauss(self.p, lip, (0.011, 0.009, 0.012))[:, None]
            return squeeze * ((self.mouth[1] - self.p[:, 1:2]) * np.array([0.0, 0.3, 0.0]) + (0, 0, -0.0015))
        if name == "mouthLowerDown":
            return self.bump(lip - (0, 0.006, 0), (0.011, 0.009, 0.012), (0, -0.006, 0.0005), self.lower)
        if name == "mouthUpperUp":
            return self.bump(lip + (0, 0.006, 0), (0.011, 0.009, 0.012), (0, 0.005, 0.001), self.upper)
        if name == "browDown":
            return self.bump(self.lmk[24 if s > 0 else 19], (0.016, 0.011, 0.016), m * (-0.002, -0.005, 0.001))
        if name == "browOuterUp":
            return self.bump(self.lmk[25 if s > 0 else 18], (0.013, 0.012, 0.016), (0, 0.006, 0.0))
        if name == "cheekSquint":
            return self.bump(eye + (0, -0.021, 0.006), (0.013, 0.010, 0.013), (0, 0.004, 0.001))
        if name == "noseSneer":
            ala = self.lmk[35 if s > 0 else 31]
            return (self.bump(ala, (0.008, 0.008, 0.008), (0, 0.004, 0.0005))
                    + self.bump(ala + (0, 0.02, -0.008), (0.008, 0.012, 0.01), (0, 0.002, 0.001)))
        if name == "eyeSquint":  # the lids come from the lid state; this is the cheek rising
            return self.bump(eye + (0, -0.017, 0.008), (0.012, 0.008, 0.012), (0, 0.0025, 0.001))
        return np.zeros_like(self.p)

    def unsided(self, name: str) -> np.ndarray:
        lips = (0.022, 0.011, 0.016)
        if name == "jawOpen":
            return (self.bump(self.lmk[60], (0.01, 0.01, 0.012), (0.002, -0.001, 0))
                    + self.bump(self.lmk[64], (0.01, 0.01, 0.012), (-0.002, -0.001, 0))
                    + self.bump(self.lmk[8], (0.03, 0.02, 0.03), (0, -0.002, 0)))
        if name in ("jawForward", "jawLeft", "jawRight"):
            move = {"jawForward": (0, 0, 0.006), "jawLeft": (0.007, 0, 0), "jawRight": (-0.007, 0, 0)}[name]
            return self.jaw[:, None] * np.asarray(move)
        if name == "mouthClose":
            return (self.bump(self.mouth, lips, (0, 0.008, 0.002), self.lower)
                    + self.bump(self.mouth, lips, (0, -0.004, 0), self.upper))
        if name == "mouthFunnel":
            lips_zone = _gauss(self.p, self.mouth, lips)
            part = np.where(self.lower > 0.5, -0.003, 0.003) * lips_zone
            inward = -0.15 * (self.p[:, 0] - self.mouth[0]) * lips_zone
            return np.stack([inward, part, 0.006 * lips_zone], -1)
        if name == "mouthPucker":
            lips_zone = _gauss(self.p, self.mouth, lips)
            inward = -0.35 * (self.p[:, 0] - self.mouth[0]) * lips_zone
            return np.stack([inward, np.zeros_like(inward), 0.009 * lips_zone], -1)
        if name in ("mouthLeft", "mouthRight"):
            return self.bump(self.mouth, (0.02, 0.015, 0.02), (0.008 if name == "mouthLeft" else -0.008, 0, 0))
        if name == "mouthRollLower":
            return self.bump(self.mouth - (0, 0.005, 0), (0.02, 0.006, 0.012), (0, 0.002, -0.004), self.lower)
        if name == "mouthRollUpper":
            return self.bump(self.mouth + (0, 0.004, 0), (0.02, 0.006, 0.012), (0, -0.002, -0.004), self.upper)
        if name == "mouthShrugLower":
            return self.bump(self.mouth - (0, 0.012, 0), (0.02, 0.014, 0.016), (0, 0.004, 0.003), self.lower)
        if name == "mouthShrugUpper":
            return self.bump(self.mouth + (0, 0.007, 0), (0.02, 0.009, 0.014), (0, 0.003, 0.002), self.upper)
        if name == "browInnerUp":
            return sum(self.bump(self.lmk[k], (0.012, 0.013, 0.016), (0, 0.007, 0)) for k in (21, 22))
        if name == "cheekPuff":
            out = np.zeros_like(self.p)
            for s in (1.0, -1.0):
                centre = np.array([0.040 * s, self.mouth[1] + 0.002, self.mouth[2] - 0.035])
                w = _gauss(self.p, centre, (0.016, 0.017, 0.02))
                outward = self.p * np.array([1.0, 0.0, 1.0]) - centre * np.array([0.0, 0.0, 1.0])
                outward /= np.linalg.norm(outward, axis=1, keepdims=True) + 1e-12
                out += (0.009 * w)[:, None] * outward
            return out
        raise KeyError(name)


def expression_basis(geometry: HeadGeometry, rest: np.ndarray, landmarks: np.ndarray,
                     lower_side: np.ndarray, jaw_weight: np.ndarray) -> np.ndarray:
    """exprdirs [V, 3, E] in EXPRESSION_NAMES order (metres at weight 1)."""
    fields = _Fields(rest, landmarks, lower_side, jaw_weight)
    shapes = []
    for name in EXPRESSION_NAMES:
        base, _, suffix = name.rpartition("_")
        if base in SIDED:
            s = 1.0 if suffix == "L" else -1.0
            d = fields.sided(base, s)
            if base in LID_STATES:
                state = LidState(left=LID_STATES[base]) if s > 0 else LidState(right=LID_STATES[base])
                d = d + geometry.positions(state) - rest
        else:
            d = fields.unsided(name)
        shapes.append(d)
    basis = np.stack(shapes, axis=-1)  # [V, 3, E]
    basis[geometry.grid.region == EYEBALL] = 0.0
    return basis
