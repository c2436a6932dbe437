"""MediaPipe's canonical face model: the 478 points the face-mesh detector predicts, in 3-D.

`assets/mediapipe_face_model.obj` is MediaPipe's `face_model_with_iris.obj` (Apache-2.0, see
`assets/LICENSE-mediapipe`): 468 face-mesh vertices and 10 iris points in the order of the
detector's landmarks, an average face in centimetres, y up, looking +z, x towards the subject's
left (the rig-space convention). Registered to a rig (`registration`), it binds every detected
landmark to a point of the rig's surface. The index groups below are MediaPipe's published
face-mesh connections.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from avatar.rig.obj_io import read_obj
from capture.ibug68 import IRIS_CENTRES

MODEL_PATH = Path(__file__).resolve().parent / "assets" / "mediapipe_face_model.obj"
CM_TO_M = 0.01
NUM_POINTS = 478
FACE_MESH_POINTS = 468  # then the 10 iris points

# The face oval as a closed loop: forehead top (10), down the subject's left side, chin (152),
# up the right side.
FACE_OVAL = np.array([10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
                      152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109])
# The part of the oval that is the face's outline in the image (cheeks, jaw, chin: from ear level
# down); above it the oval runs over the forehead, where it is an ordinary surface point.
SILHOUETTE = FACE_OVAL[7:30]  # 356 ... 127
IRIS_RINGS = np.array([469, 470, 471, 472, 474, 475, 476, 477])
LIPS = np.array([0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191, 267,
                 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415])
EYE_CONTOURS = np.array([7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246,
                         249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466])
EYEBROWS = np.array([46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300, 334, 336])


@dataclass(frozen=True)
class FaceModel:
    points: np.ndarray  # [478, 3] metres
    triangles: np.ndarray  # [T, 3] over the first 468 points

    def normals(self) -> np.ndarray:
        """Area-weighted vertex normals [478, 3] facing out of the face (+z at the nose); the iris
        points, which no triangle uses, face +z."""
        p, t = self.points, self.triangles
        face_n = np.cross(p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]])  # [T, 3]
        n = np.zeros_like(p)
        for k in range(3):
            np.add.at(n, t[:, k], face_n)
        if (n[:, 2].sum()) < 0:  # wound clockwise as seen from the front
            n = -n
        n[IRIS_CENTRES] = n[IRIS_RINGS] = (0.0, 0.0, 1.0)
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


@lru_cache(maxsize=1)
def canonical_face_model() -> FaceModel:
    mesh = read_obj(MODEL_PATH)
    if mesh.vertices.shape != (NUM_POINTS, 3):
        raise RuntimeError(f"{MODEL_PATH}: expected {NUM_POINTS} points, found {len(mesh.vertices)}")
    face = (mesh.triangles < FACE_MESH_POINTS).all(1)  # the file also fans the iris rings
    return FaceModel(mesh.vertices * CM_TO_M, mesh.triangles[face])
