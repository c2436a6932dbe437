"""Which rig surface point each tracked MediaPipe landmark corresponds to.

A `LandmarkEmbedding` pairs MediaPipe indices with rig surface points (triangle + barycentric
coordinates). The built-in and ICT rigs get theirs from their 68 iBUG landmark points (through
`ibug68.MP_TO_IBUG68`) plus the two pupils (the front-most point of each eyeball, driven by the
eye joints, matched to MediaPipe's iris centres). FLAME uses the user's
`mediapipe_landmark_embedding.npz` (keys `landmark_indices`, `lmk_face_idx`, `lmk_b_coords`, as
distributed with metrical-tracker), plus the pupils.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from avatar.rig import HeadRig
from avatar.rig.errors import RigFileError, RigFileNotFoundError
from capture.ibug68 import IRIS_CENTRES, MP_TO_IBUG68

EYE_JOINTS = (3, 4)  # eye_l, eye_r: pupils pair with IRIS_CENTRES reversed (left iris is 473)


@dataclass
class LandmarkEmbedding:
    mp_index: np.ndarray  # [L] MediaPipe landmark index of each point
    faces: Tensor  # [L] long, rig triangle
    bary: Tensor  # [L, 3] barycentric coordinates in that triangle
    ibug: np.ndarray | None  # [68] positions in the L points of the iBUG set (None: not all present)
    pupils: np.ndarray  # [2] positions in the L points of the left and right pupils

    @property
    def num_points(self) -> int:
        return len(self.mp_index)


def embedding_for_rig(rig: HeadRig, flame_embedding: str | Path | None = None) -> LandmarkEmbedding:
    """The rig's own iBUG-68 points + pupils, or FLAME's MediaPipe embedding file + pupils."""
    pupil_faces, pupil_bary = _pupils(rig)
    if flame_embedding is not None:
        mp_index, faces, bary = _read_flame_embedding(Path(flame_embedding), rig)
        ibug = None
    elif rig.lmk_faces is not None and rig.landmark_scheme == "ibug68":
        mp_index, faces, bary = MP_TO_IBUG68, rig.lmk_faces, rig.lmk_bary
        ibug = np.arange(68)
    else:
        raise RigFileError(f"rig '{rig.name}' has no iBUG-68 landmarks; FLAME needs its "
                           "mediapipe_landmark_embedding.npz (--landmark-embedding)")
    count = len(mp_index)
    return LandmarkEmbedding(
        mp_index=np.concatenate([mp_index, IRIS_CENTRES[::-1]]),
        faces=torch.cat([torch.as_tensor(faces, dtype=torch.long), pupil_faces]),
        bary=torch.cat([torch.as_tensor(bary, dtype=torch.float32), pupil_bary]),
        ibug=ibug, pupils=np.array([count, count + 1]))


def _pupils(rig: HeadRig) -> tuple[Tensor, Tensor]:
    """Each eye's front-most vertex (largest z among vertices the eye joint mostly moves)."""
    faces, bary = [], []
    for joint in EYE_JOINTS:
        members = (rig.lbs_weights[:, joint] > 0.5).nonzero()[:, 0]
        if len(members) == 0:
            raise RigFileError(f"rig '{rig.name}' has no vertices on eye joint {joint}: no pupils to track")
        vertex = members[rig.v_template[members, 2].argmax()]
        face = (rig.faces == vertex).any(1).nonzero()[0, 0]
        faces.append(face)
        bary.append((rig.faces[face] == vertex).float())
    return torch.stack(faces), torch.stack(bary)


def _read_flame_embedding(path: Path, rig: HeadRig) -> tuple[np.ndarray, Tensor, Tensor]:
    if not path.is_file():
        raise RigFileNotFoundError(f"{path}: FLAME MediaPipe landmark embedding not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            mp_index = np.asarray(data["landmark_indices"], dtype=np.int64).reshape(-1)
            faces = np.asarray(data["lmk_face_idx"], dtype=np.int64).reshape(-1)
            bary = np.asarray(data["lmk_b_coords"], dtype=np.float32).reshape(-1, 3)
    except (OSError, ValueError, KeyError) as e:
        raise RigFileError(f"{path}: not a MediaPipe landmark embedding (.npz with landmark_indices, "
                           f"lmk_face_idx, lmk_b_coords): {e}") from None
    if not (len(mp_index) == len(faces) == len(bary)) or len(faces) == 0:
        raise RigFileError(f"{path}: landmark_indices, lmk_face_idx and lmk_b_coords differ in length")
    if mp_index.min() < 0 or mp_index.max() >= 478 or faces.min() < 0 or faces.max() >= len(rig.faces):
        raise RigFileError(f"{path}: indices out of range for MediaPipe (478) or the rig's "
                           f"{len(rig.faces)} triangles")
    return mp_index, torch.from_numpy(faces), torch.from_numpy(bary)
