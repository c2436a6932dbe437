"""Load FLAME 2020 / 2023 (`generic_model.pkl`, `flame2020*.pkl`, `flame2023*.pkl`, or a `.npz`
with the same keys) into a `HeadRig`, without chumpy and without executing pickled code.

Naming heuristic: "2023" anywhere in the file name or its folder name -> "flame2023"; anything
else (FLAME 2020, and the layout-identical 2017/2019 `generic_model.pkl`) -> "flame2020".

Landmarks come from an embedding file next to the model, first match wins:
- `landmark_embedding.npy` (DECA): its `full_lmk_*` 68-point iBUG embedding, or else its
  static 51 points plus the 17-point contour row for zero head yaw -> "ibug68";
- `flame_static_embedding.pkl` (smplx): iBUG points 17..67 (no jaw contour) -> "ibug51", or,
  with `flame_dynamic_embedding.npy` beside it, the zero-yaw contour row first -> "ibug68".
  (The dynamic contour follows head yaw in smplx; `HeadRig` keeps the frontal one fixed.)
Without any, `lmk_faces` is None and `landmark_scheme` is "none".
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from avatar.rig.errors import FLAME_SOURCE, RigFileError, RigFileNotFoundError
from avatar.rig.flame_pickle import PickleRefused, load_npy, load_pickle
from avatar.rig.head_rig import FLAME_PARENTS, HeadRig

NUM_SHAPE_COMPONENTS = 300  # FLAME's shapedirs: 300 identity components, then expression ones
NUM_POSE_FEATURES = 36  # (R - I) of the 4 non-root joints
NUM_JOINTS = len(FLAME_PARENTS)
CONTOUR_POINTS = 17


def load_flame(path: str | Path, num_shape: int = 100, num_expr: int = 50,
               dtype: torch.dtype = torch.float32) -> HeadRig:
    """Read a FLAME model file; keep the first `num_shape` identity and `num_expr` expression
    components (fewer if the file has fewer)."""
    path = Path(path)
    if num_shape < 0 or num_expr < 0:
        raise ValueError(f"num_shape and num_expr must be >= 0, got {num_shape}, {num_expr}")
    if not path.is_file():
        raise RigFileNotFoundError(f"FLAME model file '{path}' does not exist. {FLAME_SOURCE}.")
    arrays = _validated(_read_model(path), path)
    num_shape = min(num_shape, NUM_SHAPE_COMPONENTS)
    num_expr = min(num_expr, arrays["shapedirs"].shape[-1] - NUM_SHAPE_COMPONENTS)
    lmk_faces, lmk_bary, scheme = _find_landmarks(path.parent, arrays["f"].shape[0])

    def real(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)

    shapedirs = arrays["shapedirs"]  # [V, 3, 300 + E_file]
    return HeadRig(
        name="flame2023" if "2023" in f"{path.parent.name}/{path.name}" else "flame2020",
        v_template=real(arrays["v_template"]),
        faces=torch.as_tensor(arrays["f"], dtype=torch.long),
        shapedirs=real(shapedirs[:, :, :num_shape]),
        exprdirs=real(shapedirs[:, :, NUM_SHAPE_COMPONENTS:NUM_SHAPE_COMPONENTS + num_expr]),
        posedirs=real(arrays["posedirs"]),
        j_regressor=real(arrays["J_regressor"]),
        lbs_weights=real(arrays["weights"]),
        parents=torch.tensor(FLAME_PARENTS, dtype=torch.long),
        expr_names=None,
        lmk_faces=None if lmk_faces is None else torch.as_tensor(lmk_faces, dtype=torch.long),
        lmk_bary=None if lmk_bary is None else real(lmk_bary),
        landmark_scheme=scheme,
        embeddable=False,  # FLAME's licence forbids redistributing its arrays
    )


def _read_model(path: Path) -> dict:
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (ValueError, OSError, zipfile.BadZipFile) as e:
            raise RigFileError(f"'{path}' is not a readable FLAME .npz (arrays must be plain, "
                               f"e.g. a dense J_regressor): {e}. {FLAME_SOURCE}.") from e
    try:
        data = load_pickle(path)
    except PickleRefused as e:
        raise RigFileError(f"'{path}' was not loaded: {e}. A genuine FLAME file only needs "
                           f"numpy, scipy.sparse and chumpy arrays. {FLAME_SOURCE}.") from e
    except Exception as e:  # noqa: BLE001 - corrupt pickles fail in many ways; all mean "bad file"
        raise RigFileError(f"'{path}' is not a readable FLAME pickle (truncated or corrupt?): "
                           f"{type(e).__name__}: {e}. {FLAME_SOURCE}.") from e
    if not isinstance(data, dict):
        raise RigFileError(f"'{path}' holds a {type(data).__name__}, not FLAME's dict of arrays. "
                           f"{FLAME_SOURCE}.")
    return data


def _validated(raw: dict, path: Path) -> dict[str, np.ndarray]:
    """FLAME's arrays as ndarrays with checked shapes; RigFileError naming the first problem."""
    def fail(what: str) -> RigFileError:
        return RigFileError(f"'{path}' is not a FLAME model: {what}. {FLAME_SOURCE}.")

    needed = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")
    missing = [k for k in needed if k not in raw]
    if missing:
        raise fail(f"missing key(s) {missing} (found {sorted(map(str, raw))})")
    try:
        a = {k: np.asarray(raw[k], dtype=np.int64 if k in ("f", "kintree_table") else np.float64)
             for k in needed}
    except (TypeError, ValueError) as e:
        raise fail(f"an entry is not a numeric array ({e})") from e
    v = a["v_template"].shape[0]
    expected = {"v_template": (v, 3), "posedirs": (v, 3, NUM_POSE_FEATURES),
                "J_regressor": (NUM_JOINTS, v), "weights": (v, NUM_JOINTS),
                "kintree_table": (2, NUM_JOINTS)}
    for key, shape in expected.items():
        if a[key].shape != shape:
            raise fail(f"'{key}' has shape {a[key].shape}, expected {shape}")
    sd = a["shapedirs"]
    if sd.ndim != 3 or sd.shape[:2] != (v, 3) or sd.shape[2] <= NUM_SHAPE_COMPONENTS:
        raise fail(f"'shapedirs' has shape {sd.shape}, expected ({v}, 3, >{NUM_SHAPE_COMPONENTS}) "
                   f"(300 shape then expression components)")
    f = a["f"]
    if f.ndim != 2 or f.shape[1] != 3 or f.min() < 0 or f.max() >= v:
        raise fail(f"'f' must be [F, 3] vertex indices below {v}, got shape {f.shape}")
    if tuple(a["kintree_table"][0, 1:]) != FLAME_PARENTS[1:]:
        raise fail(f"joint parents {a['kintree_table'][0].tolist()} are not FLAME's "
                   f"[root, neck, jaw, eye, eye] tree")
    return a


def _find_landmarks(folder: Path, num_faces: int) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """(face index [L], barycentric [L, 3], scheme) from the first embedding file found."""
    deca, static, dynamic = (folder / n for n in ("landmark_embedding.npy",
                                                   "flame_static_embedding.pkl",
                                                   "flame_dynamic_embedding.npy"))
    if deca.is_file():
        d = _read_embedding(deca)
        if "full_lmk_faces_idx" in d:
            faces, bary = d["full_lmk_faces_idx"], d["full_lmk_bary_coords"]
        else:
            faces, bary = _with_frontal_contour(
                d["static_lmk_faces_idx"], d["static_lmk_bary_coords"],
                d["dynamic_lmk_faces_idx"], d["dynamic_lmk_bary_coords"])
        return _checked(deca, faces, bary, 68, num_faces) + ("ibug68",)
    if static.is_file():
        s = _read_embedding(static)
        if dynamic.is_file():
            dyn = _read_embedding(dynamic)
            faces, bary = _with_frontal_contour(s["lmk_face_idx"], s["lmk_b_coords"],
                                                dyn["lmk_face_idx"], dyn["lmk_b_coords"])
            return _checked(static, faces, bary, 68, num_faces) + ("ibug68",)
        return _checked(static, s["lmk_face_idx"], s["lmk_b_coords"], 51, num_faces) + ("ibug51",)
    return None, None, "none"


def _read_embedding(path: Path) -> dict:
    try:
        data = load_npy(path) if path.suffix == ".npy" else load_pickle(path)
    except Exception as e:  # noqa: BLE001 - same policy as the model file
        raise RigFileError(f"landmark embedding '{path}' is unreadable: {type(e).__name__}: {e}") from e
    if not isinstance(data, dict):
        raise RigFileError(f"landmark embedding '{path}' holds a {type(data).__name__}, not a dict")
    return _KeyChecked(path, data)


class _KeyChecked(dict):
    """A dict whose missing keys raise RigFileError naming the embedding file."""

    def __init__(self, path: Path, data: dict) -> None:
        super().__init__(data)
        self.path = path

    def __missing__(self, key: str):
        raise RigFileError(f"landmark embedding '{self.path}' lacks '{key}' (has {sorted(self)})")


def _with_frontal_contour(static_faces, static_bary, dyn_faces, dyn_bary) -> tuple[np.ndarray, np.ndarray]:
    """iBUG-68 order: the 17 contour points of the zero-yaw row (row 0 of smplx's/DECA's yaw
    look-up table), then the 51 static points."""
    dyn_faces = np.asarray(dyn_faces).reshape(-1, CONTOUR_POINTS)  # [79, 17]
    dyn_bary = np.asarray(dyn_bary).reshape(dyn_faces.shape[0], CONTOUR_POINTS, 3)  # [79, 17, 3]
    faces = np.concatenate([dyn_faces[0], np.asarray(static_faces).reshape(-1)])
    bary = np.concatenate([dyn_bary[0], np.asarray(static_bary).reshape(-1, 3)])
    return faces, bary


def _checked(path: Path, faces, bary, count: int,
             num_faces: int) -> tuple[np.ndarray, np.ndarray]:
    faces = np.asarray(faces).reshape(-1).astype(np.int64)
    bary = np.asarray(bary, dtype=np.float64).reshape(-1, 3)
    if len(faces) != count or bary.shape != (count, 3):
        raise RigFileError(f"landmark embedding '{path}' has {len(faces)} faces and barycentric "
                           f"shape {bary.shape}, expected {count} and ({count}, 3)")
    if faces.min() < 0 or faces.max() >= num_faces:
        raise RigFileError(f"landmark embedding '{path}' indexes faces outside [0, {num_faces}): "
                           f"is it for this FLAME topology?")
    return faces, bary


__all__ = ["load_flame"]
