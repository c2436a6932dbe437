"""Write a small SYNTHETIC model in FLAME's exact file layout (no FLAME data involved).

- `write_chumpy_pickle`: like the distributed `generic_model.pkl`: a latin1-readable pickle of a
  dict whose big arrays are `chumpy.ch.Ch` objects and whose `J_regressor` is a scipy.sparse
  matrix. A throwaway `chumpy.ch.Ch` class lives in `sys.modules` only while pickling, so the
  file names `chumpy.ch Ch` exactly like the real one and loading it needs no chumpy.
- `write_smplx_folder`: the plain-numpy `FLAME_NEUTRAL.pkl` + `flame_static_embedding.pkl` +
  `flame_dynamic_embedding.npy` that `smplx.FLAME` reads (the independent oracle).
- `write_npz`, `write_deca_embedding`: the converted `.npz` and DECA's `landmark_embedding.npy`.
"""

from __future__ import annotations

import pickle
import sys
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import scipy.sparse as sp

CH_KEYS = ("v_template", "shapedirs", "posedirs", "J")  # stored as chumpy objects in our fixture
ROOT_PARENT = 4294967295  # FLAME's kintree_table marks the root's parent with uint32 max
NUM_YAW_ROWS = 79  # rows of the dynamic contour look-up table (yaw -39..39 degrees)


def make_flame_arrays(seed: int = 0, num_verts: int = 300, num_faces: int = 500) -> dict:
    """Random arrays with FLAME's keys, dtypes and shapes (400 = 300 shape + 100 expression)."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(num_verts, 3)) * np.array([0.08, 0.11, 0.09])  # [V, 3] head-sized blob
    faces = np.stack([rng.choice(num_verts, 3, replace=False) for _ in range(num_faces)])
    # Smooth-ish bases: low-frequency functions of the rest position.
    freq = rng.normal(size=(400, 3)) * 8.0
    phase = rng.uniform(0, 2 * np.pi, size=(400, 3))
    shapedirs = 1e-3 * np.sin((v @ freq.T)[:, None, :] + phase.T[None])  # [V, 3, 400]
    posedirs = rng.normal(size=(num_verts, 3, 36)) * 2e-3
    rows, cols, vals = [], [], []
    for j in range(5):
        idx = rng.choice(num_verts, 8, replace=False)
        w = rng.uniform(0.5, 1.5, 8)
        rows += [j] * 8
        cols += idx.tolist()
        vals += (w / w.sum()).tolist()
    j_regressor = sp.csc_matrix((vals, (rows, cols)), shape=(5, num_verts))
    weights = rng.dirichlet(np.full(5, 0.7), size=num_verts)  # [V, 5], rows sum to 1
    # smplx casts every model array to float32 before building its float64 model, so values
    # exactly representable in float32 let the float64 comparison be tight.
    v, shapedirs, posedirs, weights = (a.astype(np.float32).astype(np.float64)
                                       for a in (v, shapedirs, posedirs, weights))
    j_regressor = j_regressor.astype(np.float32).astype(np.float64)
    return {
        "v_template": v,
        "f": faces.astype(np.uint32),
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": j_regressor,
        "J": j_regressor @ v,
        "weights": weights,
        "kintree_table": np.array([[ROOT_PARENT, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
        "weights_prior": weights.copy(),
    }


@contextmanager
def _fake_chumpy() -> Iterator[type]:
    """A `chumpy.ch.Ch` look-alike registered only for the duration of the block."""
    package, module = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")

    class Ch:
        """Holds an array and pickles its __dict__ (minus caches) like chumpy's Ch."""

        def __init__(self, x: np.ndarray) -> None:
            self.__dict__.update({"_dirty_vars": set(), "_itr": None, "_depends_on_deps": {},
                                  "_make_dense": False, "_make_sparse": False, "x": x})

        def __getstate__(self) -> dict:
            return dict(self.__dict__)

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    module.Ch, package.ch = Ch, module
    if "chumpy" in sys.modules or "chumpy.ch" in sys.modules:
        raise RuntimeError("a real chumpy is imported; the fixture must not shadow it")
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = package, module
    try:
        yield Ch
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]


def write_chumpy_pickle(arrays: dict, path: Path, protocol: int = 2) -> Path:
    """FLAME's distributed layout: chumpy arrays, sparse J_regressor, Python-2 protocol."""
    with _fake_chumpy() as Ch:
        data = {k: Ch(v) if k in CH_KEYS else v for k, v in arrays.items()}
        path.write_bytes(pickle.dumps(data, protocol=protocol))
    return path


def make_landmark_embedding(arrays: dict, seed: int = 1) -> dict:
    """Random static (51) and dynamic (79 x 17) landmark embeddings on the fixture's faces."""
    rng = np.random.default_rng(seed)
    num_faces = len(arrays["f"])
    return {
        "static_faces": rng.integers(0, num_faces, 51),
        "static_bary": rng.dirichlet(np.ones(3), size=51),
        "dynamic_faces": rng.integers(0, num_faces, (NUM_YAW_ROWS, 17)),
        "dynamic_bary": rng.dirichlet(np.ones(3), size=(NUM_YAW_ROWS, 17)),
    }


def write_smplx_embeddings(lmk: dict, folder: Path, dynamic: bool = True) -> None:
    """smplx's `flame_static_embedding.pkl` (+ `flame_dynamic_embedding.npy`)."""
    static = {"lmk_face_idx": lmk["static_faces"].astype(np.uint32), "lmk_b_coords": lmk["static_bary"]}
    (folder / "flame_static_embedding.pkl").write_bytes(pickle.dumps(static, protocol=2))
    if dynamic:
        dyn = {"lmk_face_idx": lmk["dynamic_faces"], "lmk_b_coords": lmk["dynamic_bary"]}
        np.save(folder / "flame_dynamic_embedding.npy", np.array(dyn, dtype=object), allow_pickle=True)


def write_smplx_folder(arrays: dict, lmk: dict, folder: Path) -> Path:
    """What `smplx.FLAME(model_path=folder)` loads: plain arrays, no chumpy."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "FLAME_NEUTRAL.pkl").write_bytes(pickle.dumps(arrays, protocol=2))
    write_smplx_embeddings(lmk, folder)
    return folder


def write_npz(arrays: dict, path: Path) -> Path:
    """The converted `.npz`: same keys, J_regressor dense (npz holds no sparse matrices)."""
    dense = {k: (v.toarray() if sp.issparse(v) else np.asarray(v)) for k, v in arrays.items()}
    np.savez(path, **dense)
    return path


def write_deca_embedding(lmk: dict, folder: Path, with_full: bool = True) -> None:
    """DECA's `landmark_embedding.npy`; `full_*` is the frontal contour then the static points,
    which is how the loader's static+dynamic path orders iBUG-68 too."""
    d = {"static_lmk_faces_idx": lmk["static_faces"], "static_lmk_bary_coords": lmk["static_bary"],
         "dynamic_lmk_faces_idx": lmk["dynamic_faces"], "dynamic_lmk_bary_coords": lmk["dynamic_bary"]}
    if with_full:
        d["full_lmk_faces_idx"] = np.concatenate([lmk["dynamic_faces"][0], lmk["static_faces"]])[None]
        d["full_lmk_bary_coords"] = np.concatenate([lmk["dynamic_bary"][0], lmk["static_bary"]])[None]
    np.save(folder / "landmark_embedding.npy", np.array(d, dtype=object), allow_pickle=True)
