"""Read FLAME-era pickles (chumpy `Ch` arrays, scipy.sparse matrices) safely, without chumpy.

FLAME's `.pkl` files were written by Python 2 with chumpy installed: arrays are `chumpy.ch.Ch`
objects and `J_regressor` is a scipy.sparse matrix. A `Ch` pickles like any plain object
(`copy_reg._reconstructor` for protocols 0/1, NEWOBJ for 2+) followed by `__setstate__` with
its `__dict__` minus the weak-reference caches; the array itself is the state's `'x'` entry.

`SafeUnpickler` maps every `chumpy.*` and `scipy.sparse` class to a stand-in that only records
the pickled state, allows the handful of numpy/builtin callables needed to rebuild ndarrays,
and refuses every other global, so a crafted pickle cannot run code. `resolve` then turns the
stand-ins into plain ndarrays.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


class PickleRefused(pickle.UnpicklingError):
    """The pickle references something outside the allow-list."""


class _Recorded:
    """Base of the stand-ins: keeps the pickled state instead of running the real class."""

    source: str = ""  # "module.Class" of the class the pickle named

    def __setstate__(self, state: Any) -> None:
        self.state = state


_STAND_INS: dict[str, type] = {}


def _stand_in(module: str, name: str) -> type:
    key = f"{module}.{name}"
    if key not in _STAND_INS:
        _STAND_INS[key] = type(f"Recorded_{name}", (_Recorded,), {"source": key})
    return _STAND_INS[key]


def _reconstructor(cls: type, base: type, state: Any) -> Any:
    """Protocol 0/1 object creation (`copy_reg._reconstructor`), limited to our stand-ins."""
    if not (isinstance(cls, type) and issubclass(cls, _Recorded)) or base is not object:
        raise PickleRefused(f"refusing to reconstruct {cls!r} from base {base!r}")
    return cls()


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """`_codecs.encode` as Python 3 pickles bytes for protocols < 3; only latin-1 is needed."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise PickleRefused(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


# Everything that may be called while rebuilding arrays: pure constructors without side effects.
_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray",
                  "numpy.core.numeric", "numpy._core.numeric")
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("copy_reg", "_reconstructor"): _reconstructor,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("_codecs", "encode"): _latin1_encode,
    ("__builtin__", "object"): object, ("builtins", "object"): object,
    ("__builtin__", "set"): set, ("builtins", "set"): set,
    ("__builtin__", "frozenset"): frozenset, ("builtins", "frozenset"): frozenset,
    ("__builtin__", "bytearray"): bytearray, ("builtins", "bytearray"): bytearray,
}
# Take the functions from numpy's own reductions: their module moved (numpy.core -> numpy._core).
for _mod in _NUMPY_MODULES:
    _ALLOWED[(_mod, "_reconstruct")] = np.ndarray.__reduce__(np.zeros(0))[0]
    _ALLOWED[(_mod, "scalar")] = np.float64(0).__reduce__()[0]
    _ALLOWED[(_mod, "_frombuffer")] = np.ndarray.__reduce_ex__(np.zeros(1), 5)[0]


class SafeUnpickler(pickle.Unpickler):
    """Unpickler for FLAME files: chumpy/scipy.sparse become stand-ins; other globals refused."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file, encoding="latin1")  # Python 2 str -> latin1 (what numpy expects)

    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return _stand_in(module, name)
        if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix", "coo_matrix"):
            return _stand_in(module, name)
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise PickleRefused(f"refusing to load global '{module}.{name}' (not needed by FLAME files)")

    def persistent_load(self, pid: Any) -> Any:
        raise PickleRefused("refusing persistent ids")


def load_pickle(path: Path) -> Any:
    """Unpickle a file with `SafeUnpickler` and resolve stand-ins (may raise pickle errors)."""
    with open(path, "rb") as f:
        return resolve(SafeUnpickler(f).load())


def load_npy(path: Path) -> Any:
    """Read a `.npy`; an object array (e.g. a pickled dict) goes through `SafeUnpickler`."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        header = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                  else np.lib.format.read_array_header_2_0(f))
        if not header[2].hasobject:
            f.seek(0)
            return np.lib.format.read_array(f, allow_pickle=False)
        return resolve(SafeUnpickler(io.BytesIO(f.read())).load())


def resolve(obj: Any) -> Any:
    """Replace stand-ins by ndarrays, recursing into dicts, lists and object arrays."""
    if isinstance(obj, _Recorded):
        return _to_array(obj)
    if isinstance(obj, dict):
        return {k: resolve(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(resolve(v) for v in obj)
    if isinstance(obj, np.ndarray) and obj.dtype == object:
        if obj.ndim == 0:
            return resolve(obj[()])
        return np.array([resolve(v) for v in obj.ravel()], dtype=object).reshape(obj.shape)
    return obj


def _to_array(rec: _Recorded) -> np.ndarray:
    state = getattr(rec, "state", None)
    if not isinstance(state, dict):
        raise PickleRefused(f"pickled {rec.source} has no readable state")
    if rec.source.startswith("chumpy"):
        if "x" not in state:
            raise PickleRefused(f"pickled {rec.source} is a chumpy expression, not a stored array")
        return np.asarray(resolve(state["x"]))
    return _sparse_to_dense(rec.source, state)


def _sparse_to_dense(source: str, state: dict) -> np.ndarray:
    """Rebuild a pickled scipy.sparse csc/csr/coo matrix as a dense array (old and new layouts)."""
    shape = tuple(int(s) for s in state.get("_shape", state.get("shape", ())))
    if len(shape) != 2:
        raise PickleRefused(f"pickled {source} has no 2-D shape")
    data = np.asarray(state["data"])
    out = np.zeros(shape, dtype=data.dtype)
    if source.endswith("coo_matrix"):
        rows, cols = state["coords"] if "coords" in state else (state["row"], state["col"])
        np.add.at(out, (np.asarray(rows), np.asarray(cols)), data)
        return out
    indptr, indices = np.asarray(state["indptr"]), np.asarray(state["indices"])
    major = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))  # row (csr) or column (csc)
    where = (indices, major) if source.endswith("csc_matrix") else (major, indices)
    np.add.at(out, where, data)
    return out


__all__ = ["PickleRefused", "SafeUnpickler", "load_pickle", "load_npy", "resolve"]
