"""A procedural vertex colouring of ICT-FaceKit so that synthetic captures look like a face.

Skin tone everywhere, then: a hair cap above a hairline derived from the eyes and chin, dark
brows along the brow landmarks, red lips inside the outer lip contour, white eyeballs with a
brown iris and black pupil (by angle from each eye's forward axis), white teeth and a dark red
mouth interior that darkens towards the throat.
Region edges are softened by mesh smoothing. Nothing here is measured from a real face.
"""

from __future__ import annotations

import numpy as np

from avatar.rig.face_region import inside_polygon
from avatar.rig.ict_skeleton import laplacian_smooth, smoothstep

SKIN = np.array([0.80, 0.60, 0.50])
LIPS = np.array([0.68, 0.33, 0.33])
BROWS = np.array([0.28, 0.19, 0.14])
HAIR = np.array([0.22, 0.15, 0.11])
SCLERA = np.array([0.93, 0.91, 0.88])
IRIS = np.array([0.36, 0.22, 0.12])
PUPIL = np.array([0.03, 0.03, 0.03])
TEETH = np.array([0.92, 0.90, 0.82])
MOUTH = np.array([0.55, 0.20, 0.20])
IRIS_HALF_ANGLE = np.radians(27.0)  # iris radius ~6 mm on a ~12.5 mm eyeball
PUPIL_HALF_ANGLE = np.radians(11.0)


def procedural_colors(vertices: np.ndarray, triangles: np.ndarray, parts: dict[str, np.ndarray],
                      landmarks: np.ndarray, eye_centres: np.ndarray) -> np.ndarray:
    """Colours [V, 3] in [0, 1]. vertices [V, 3] in metres (y up, face +z); landmarks [68, 3]
    iBUG positions; eye_centres [2, 3] (left, right); parts: vertex ids per ICT material group."""
    colors = np.tile(SKIN, (len(vertices), 1))
    skin = parts["skin"]
    p = vertices[skin]

    def paint(ids: np.ndarray, mask: np.ndarray, color: np.ndarray) -> None:
        """Blend `color` in by a [len(ids)] mask in [0, 1], softened over the mesh."""
        full = np.zeros(len(vertices))
        full[ids] = mask
        soft = laplacian_smooth(full, triangles, iterations=3)[ids, None]
        colors[ids] = (1 - soft) * colors[ids] + soft * color

    eye_y, chin_y = eye_centres[:, 1].mean(), landmarks[8, 1]
    face = eye_y - chin_y
    # Hairline: high on the forehead, dropping behind the ears to the nape.
    behind = np.clip((landmarks[0, 2] - 0.02 - p[:, 2]) / 0.08, 0, 1)
    hairline = eye_y + 0.62 * face - behind * 1.1 * face
    paint(skin, smoothstep((p[:, 1] - hairline) / 0.01 + 0.5), HAIR)

    front = p[:, 2] > landmarks[17:27, 2].min() - 0.012
    brow_dist = np.minimum(_polyline_distance(p[:, :2], landmarks[17:22, :2]),
                           _polyline_distance(p[:, :2], landmarks[22:27, :2]))
    paint(skin, (front & (brow_dist < 0.0045)).astype(float), BROWS)

    lip_front = p[:, 2] > landmarks[48:60, 2].min() - 0.01
    paint(skin, (lip_front & inside_polygon(p[:, :2], landmarks[48:60, :2])).astype(float), LIPS)

    for side, centre in (("l", eye_centres[0]), ("r", eye_centres[1])):
        ids = np.concatenate([parts[f"sclera_{side}"], parts[f"iris_{side}"]])
        d = vertices[ids] - centre
        angle = np.arccos(np.clip(d[:, 2] / np.linalg.norm(d, axis=1), -1, 1))  # from +z
        iris_mix = smoothstep((IRIS_HALF_ANGLE - angle) / np.radians(3) + 0.5)[:, None]
        pupil_mix = smoothstep((PUPIL_HALF_ANGLE - angle) / np.radians(2) + 0.5)[:, None]
        colors[ids] = (1 - iris_mix) * SCLERA + iris_mix * ((1 - pupil_mix) * IRIS + pupil_mix * PUPIL)

    mouth = parts["mouth"]
    z = vertices[mouth, 2]
    depth = (z.max() - z) / max(np.ptp(z), 1e-9)  # 0 at the lips, 1 at the throat
    colors[mouth] = MOUTH * (1 - 0.7 * depth[:, None])
    colors[parts["teeth"]] = TEETH
    return np.clip(colors, 0.0, 1.0)


def _polyline_distance(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance [N] from points [N, 2] to an open polyline [K, 2]."""
    best = np.full(len(points), np.inf)
    for a, b in zip(line[:-1], line[1:]):
        ab = b - a
        t = np.clip(((points - a) @ ab) / max(ab @ ab, 1e-12), 0, 1)
        best = np.minimum(best, np.linalg.norm(points - (a + t[:, None] * ab), axis=1))
    return best
