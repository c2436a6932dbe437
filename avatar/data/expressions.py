"""Expression files: rig parameters over time, in three formats chosen by suffix.

- ``.npz``: arrays named by `PARAM_KEYS` (``expr`` [T, E] required; ``shape`` [S]; ``jaw``,
  ``neck``, ``rotation``, ``translation`` [T, 3]; ``eyes`` [T, 6]; missing ones are zeros), a
  scalar ``fps`` and optionally ``expr_names`` [E] (strings). Loaded without pickle.
- ``.json``: one object with the same keys, arrays as nested lists.
- ``.csv``: Live Link Face recordings (see `avatar.data.livelink`).

When the file has ``expr_names`` and the rig has expression names, expressions map by name
(`avatar.data.arkit.name_map`); otherwise by position, padded with zeros or truncated to the rig.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np

from avatar.data.atomic import atomic_path
from avatar.data.arkit import name_map
from avatar.data.errors import ExpressionFileError, JSONTextError, read_json
from avatar.data.livelink import load_livelink_csv
from avatar.data.npz import read_npz
from avatar.data.video import MAX_FPS, MIN_FPS
from avatar.rig.head_rig import HeadRig
from avatar.rig.params import PARAM_KEYS, RigParams

SUFFIXES = (".npz", ".json", ".csv")
MAX_FRAMES = 1_000_000  # about 9 hours at 30 fps
MAX_ABS_VALUE = 1e4  # no weight, angle (radians) or offset (metres) comes near; 1e30 overflows float32 maths
MAX_JSON_BYTES = 256 << 20


def load_expression_file(path: str | Path, rig: HeadRig, arkit_map: str | Path | None = None,
                         jaw_from_jawopen: bool | None = None) -> tuple[RigParams, float]:
    """(params sized for `rig`, fps) from an .npz, .json or Live Link Face .csv file.

    `arkit_map` and `jaw_from_jawopen` apply to .csv files only (see `livelink_to_params`).
    Params are float32 on the CPU.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ExpressionFileError(path, f"unknown expression file type '{path.suffix}'; "
                                  f"expected one of {', '.join(SUFFIXES)}")
    if not path.is_file():
        raise ExpressionFileError(path, "file not found")
    if suffix == ".csv":
        return load_livelink_csv(path, rig, arkit_map, jaw_from_jawopen)
    arrays = read_npz(path, ExpressionFileError) if suffix == ".npz" else _read_json(path)
    return _to_params(path, arrays, rig), _fps(path, arrays)


def save_expression_file(path: str | Path, params: RigParams, fps: float,
                         expr_names: list[str] | None = None) -> None:
    """Write `params` to an .npz or .json file (replaced atomically)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".json"):
        raise ExpressionFileError(path, f"can only write .npz or .json expression files, "
                                  f"not '{path.suffix}'")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ExpressionFileError(path, f"fps must be a positive number, got {fps!r}")
    if expr_names is not None and len(expr_names) != params.expr.shape[1]:
        raise ExpressionFileError(path, f"{len(expr_names)} expr_names for "
                                  f"{params.expr.shape[1]} expressions")
    arrays = params.to_numpy()
    with atomic_path(path) as partial, open(partial, "wb") as f:
        if suffix == ".npz":
            extra = {} if expr_names is None else {"expr_names": np.array(expr_names, dtype=str)}
            np.savez(f, fps=np.float64(fps), **arrays, **extra)
        else:
            doc = {"fps": float(fps), **{k: v.tolist() for k, v in arrays.items()}}
            if expr_names is not None:
                doc["expr_names"] = list(expr_names)
            f.write(json.dumps(doc).encode())


def _read_json(path: Path) -> dict:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ExpressionFileError(path, f"larger than {MAX_JSON_BYTES >> 20} MiB; use .npz for long recordings")
    try:
        doc = read_json(path)
    except OSError as e:
        raise ExpressionFileError(path, f"not a readable JSON file ({e.strerror or e})") from None
    except JSONTextError as e:
        raise ExpressionFileError(path, f"not a readable JSON file ({e})") from None
    if not isinstance(doc, dict):
        raise ExpressionFileError(path, "expected a JSON object with 'expr', 'fps', ...")
    return doc


def _fps(path: Path, arrays: dict) -> float:
    if "fps" not in arrays:
        raise ExpressionFileError(path, "missing 'fps'")
    try:
        fps = float(np.asarray(arrays["fps"], dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise ExpressionFileError(path, f"'fps' must be one number, got {arrays['fps']!r}") from None
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise ExpressionFileError(path, f"'fps' must be in [{MIN_FPS}, {MAX_FPS}], got {fps}")
    return fps


def _as_float_array(path: Path, key: str, value) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ExpressionFileError(path, f"'{key}' is not a numeric array") from None
    if not np.isfinite(a).all() or (a.size and float(np.abs(a).max()) > MAX_ABS_VALUE):
        raise ExpressionFileError(path, f"'{key}' holds non-finite values or values beyond {MAX_ABS_VALUE:g}")
    return a


def _names(path: Path, names) -> list[str]:
    """'expr_names' as a list of strings: a JSON list of strings or an .npz 1-D string array."""
    if isinstance(names, np.ndarray) and names.dtype.kind in "US" and names.ndim == 1:
        return [str(n) for n in names]
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return names
    raise ExpressionFileError(path, "'expr_names' must be a list of expression names (strings)")


def _to_params(path: Path, raw: dict, rig: HeadRig) -> RigParams:
    arrays = {k: _as_float_array(path, k, raw[k]) for k in PARAM_KEYS if k in raw}
    if "expr" not in arrays:
        raise ExpressionFileError(path, "missing 'expr' (expression weights [T, E])")
    if arrays["expr"].ndim != 2:
        raise ExpressionFileError(path, f"'expr' must be [T, E], got shape {arrays['expr'].shape}")
    if not 1 <= arrays["expr"].shape[0] <= MAX_FRAMES:
        raise ExpressionFileError(path, f"'expr' has {arrays['expr'].shape[0]} frames; 1 to {MAX_FRAMES} are read")
    names = raw.get("expr_names")
    if names is not None and rig.expr_names is not None:
        names = _names(path, names)
        if len(names) != arrays["expr"].shape[1]:
            raise ExpressionFileError(path, f"{len(names)} expr_names for "
                                      f"{arrays['expr'].shape[1]} columns of 'expr'")
        mapping = name_map(names, rig.expr_names)
        if mapping.unmatched_source or mapping.unmatched_target:
            warnings.warn(f"{path}: file -> rig '{rig.name}' expressions: {mapping.describe()}",
                          stacklevel=3)
        arrays["expr"] = arrays["expr"] @ mapping.matrix.T  # [T, E_rig]
    try:
        return RigParams.from_numpy(arrays, num_shape=rig.num_shape, num_expr=rig.num_expr)
    except (KeyError, ValueError) as e:
        raise ExpressionFileError(path, str(e)) from None
