"""MediaPipe face-mesh indices standing in for the 68 iBUG / 300-W landmarks.

iBUG order, image left to right as the face is seen: jaw 0-16, brows 17-26, nose bridge 27-30,
nose base 31-35, eyes 36-47 (outer corner, two upper-lid, inner corner, two lower-lid points),
outer lips 48-59, inner lips 60-67. MediaPipe's mesh has no iBUG points; each one is mapped to
the mesh vertex with the same anatomical meaning (MediaPipe's published keypoint groups:
silhouette, eyebrows, eye contours, lip contours, nose tip and base). The jaw uses the lower
face-oval silhouette, sampled symmetrically about the chin (152).
"""

from __future__ import annotations

import numpy as np

MP_TO_IBUG68 = np.array([
    # jaw 0-16: the face's right side (image left), chin, left side
    234, 93, 132, 58, 172, 136, 150, 176, 152, 400, 379, 365, 397, 288, 361, 323, 454,
    # right brow 17-21 (outer to inner), left brow 22-26 (inner to outer)
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose bridge 27-30 (between the eyes to the tip), nose base 31-35
    168, 197, 5, 4, 98, 97, 2, 326, 327,
    # right eye 36-41, left eye 42-47
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # outer lips 48-59 (left corner, upper lip, right corner, lower lip back)
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
    # inner lips 60-67
    78, 81, 13, 311, 308, 402, 14, 178,
], dtype=np.int64)

IRIS_CENTRES = np.array([468, 473], dtype=np.int64)  # the face's right iris (image left), left iris
OUTER_EYE_CORNERS = (36, 45)  # iBUG indices whose distance normalises the NME (inter-ocular)


def inter_ocular(landmarks: np.ndarray) -> np.ndarray:
    """[...] distance between the outer eye corners of MediaPipe landmarks [..., 478, 2+] (pixels):
    the scale that landmark errors and margins are measured in."""
    corners = landmarks[..., MP_TO_IBUG68[list(OUTER_EYE_CORNERS)], :2]  # [..., 2, 2]
    return np.linalg.norm(corners[..., 0, :] - corners[..., 1, :], axis=-1)
