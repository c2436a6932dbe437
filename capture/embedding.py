"""Which rig surface point each tracked MediaPipe landmark corresponds to.

A `LandmarkEmbedding` pairs MediaPipe indices with rig surface points (triangle + barycentric
coordinates). The built-in and ICT rigs bind all 478 landmarks densely, by registering
MediaPipe's canonical face model to their neutral mesh (`registration`), anchored on their 68
iBUG landmark points (through `ibug68.MP_TO_IBUG68`) and the two pupils (the front-most point
of each eyeball, driven by the eye joints, matched to MediaPipe's iris centres). FLAME uses the
user's `mediapipe_landmark_embedding.npz` (keys `landmark_indices`, `lmk_face_idx`,
`lmk_b_coords`, as distributed with metrical-tracker), plus the pupils. When all the points of
the face's outline (`face_model.SILHOUETTE`) are embedded, they get candidate paths over the
surface (`silhouette`): the fitters let them slide to wherever the rig's outline is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from avatar.rig import HeadRig
from avatar.rig.errors import RigFileError, RigFileNotFoundError
from avatar.rig.face_region import EYE_JOINTS, eyeball_triangles
from capture.face_model import SILHOUETTE
from capture.ibug68 import IRIS_CENTRES, MP_TO_IBUG68
from capture.registration import register_face_model
from capture.fit.silhouette import OutlinePaths, outline_paths


@dataclass
class LandmarkEmbedding:
    mp_index: np.ndarray  # [L] MediaPipe landmark index of each point
    faces: Tensor  # [L] long, rig triangle
    bary: Tensor  # [L, 3] barycentric coordinates in that triangle
    ibug: np.ndarray | None  # [68] positions in the L points of the iBUG set (None: not all present)
    pupils: np.ndarray  # [2] positions in the L points of the left and right pupils
    outline_index: np.ndarray | None  # [S] positions in the L points of SILHOUETTE, in its order
    outline: OutlinePaths | None  # their candidate paths (None: outline points fixed, if any)

    @property
    def num_points(self) -> int:
        return len(self.mp_index)

    def subset(self, mp_points: np.ndarray) -> "LandmarkEmbedding":
        """Only the MediaPipe points mp_points (of those embedded) and the pupils; the iBUG set and
        the outline (with its paths) stay when all their points are kept."""
        keep = {int(m) for m in mp_points} | {int(self.mp_index[p]) for p in self.pupils}
        rows = np.array([i for i, m in enumerate(self.mp_index) if int(m) in keep])
        position = {int(r): i for i, r in enumerate(rows)}

        def moved(positions: np.ndarray | None) -> np.ndarray | None:
            if positions is None or not all(int(p) in position for p in positions):
                return None
            return np.array([position[int(p)] for p in positions])

        outline_index = moved(self.outline_index)
        return LandmarkEmbedding(
            self.mp_index[rows],
            self.faces[rows],
            self.bary[rows],
            moved(self.ibug),
            moved(self.pupils),
            outline_index,
            self.outline if outline_index is not None else None,
        )


def embedding_for_rig(rig: HeadRig, flame_embedding: str | Path | None = None) -> LandmarkEmbedding:
    """All 478 landmarks registered onto a rig with iBUG-68 points, or FLAME's MediaPipe
    embedding file + the pupils."""
    pupil_faces, pupil_bary = _pupils(rig)
    if flame_embedding is not None:
        mp_index, faces, bary = _read_flame_embedding(Path(flame_embedding), rig)
        count = len(mp_index)
        mp_index = np.concatenate([mp_index, IRIS_CENTRES[::-1]])
        faces = torch.cat([torch.as_tensor(faces, dtype=torch.long), pupil_faces])
        bary = torch.cat([torch.as_tensor(bary, dtype=torch.float32), pupil_bary])
        return LandmarkEmbedding(
            mp_index, faces, bary, None, np.array([count, count + 1]), *_outline(rig, mp_index, faces, bary)
        )
    if rig.lmk_faces is None or rig.landmark_scheme != "ibug68":
        raise RigFileError(
            f"rig '{rig.name}' has no iBUG-68 landmarks; FLAME needs its "
            "mediapipe_landmark_embedding.npz (--landmark-embedding)"
        )
    anchors = np.concatenate([MP_TO_IBUG68, IRIS_CENTRES[::-1]])
    reg = register_face_model(
        rig.v_template.double().numpy(),
        rig.faces.numpy(),
        eyeball_triangles(rig).numpy(),
        anchors,
        np.concatenate([rig.lmk_faces.numpy(), pupil_faces.numpy()]),
        np.concatenate([rig.lmk_bary.numpy(), pupil_bary.numpy()]),
    )
    mp_index = np.arange(len(reg.faces))
    faces, bary = torch.from_numpy(reg.faces), torch.from_numpy(reg.bary)
    return LandmarkEmbedding(
        mp_index, faces, bary, MP_TO_IBUG68.copy(), IRIS_CENTRES[::-1].copy(), *_outline(rig, mp_index, faces, bary)
    )


def _outline(
    rig: HeadRig, mp_index: np.ndarray, faces: Tensor, bary: Tensor
) -> tuple[np.ndarray | None, OutlinePaths | None]:
    """Positions of the SILHOUETTE points among the embedded ones and their candidate paths, when
    all of them are embedded."""
    where = {int(m): i for i, m in enumerate(mp_index)}
    if not all(int(m) in where for m in SILHOUETTE):
        return None, None
    index = np.array([where[int(m)] for m in SILHOUETTE])
    paths = outline_paths(
        rig.v_template.double().numpy(),
        rig.faces.numpy(),
        ~eyeball_triangles(rig).numpy(),
        faces[index].numpy(),
        bary[index].double().numpy(),
    )
    return index, paths


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
        raise RigFileError(
            f"{path}: not a MediaPipe landmark embedding (.npz with landmark_indices, lmk_face_idx, lmk_b_coords): {e}"
        ) from None
    if not (len(mp_index) == len(faces) == len(bary)) or len(faces) == 0:
        raise RigFileError(f"{path}: landmark_indices, lmk_face_idx and lmk_b_coords differ in length")
    if mp_index.min() < 0 or mp_index.max() >= 478 or faces.min() < 0 or faces.max() >= len(rig.faces):
        raise RigFileError(f"{path}: indices out of range for MediaPipe (478) or the rig's {len(rig.faces)} triangles")
    return mp_index, torch.from_numpy(faces), torch.from_numpy(bary)
