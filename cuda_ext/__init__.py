"""Custom kernels of the avatar engine: blend and splat, forward and backward.

The ops live under `torch.ops.avatar_ext`. Their schemas are defined in Python, in one place
(cuda_ext/ops.py), with their fake kernels (fakes.py) and backward formulas (autograd.py); two
compiled modules only implement them: `_cpu` (every csrc/*.cpp, C++ with OpenMP) and `_cuda`
(every csrc/*.cu), built from the same maths in include/, each loadable without the other.
`load("cpu" | "cuda")` registers the schemas and makes a module available: it uses the one built
at install time when it matches the sources, torch and AVATAR_EXT_DEBUG, and otherwise compiles
it once (cuda_ext/build.py, cached per user). Importing this package never compiles and never
fails; `load` raises `ExtensionUnavailable` with the reason. Imports nothing from `avatar`.
"""

from __future__ import annotations

import importlib.machinery
import logging
from pathlib import Path

from cuda_ext import _sources
from cuda_ext.errors import ExtensionUnavailable

__all__ = ["ExtensionUnavailable", "load", "loaded"]

log = logging.getLogger("cuda_ext")

_loaded: dict[str, Path] = {}  # kind -> library loaded into this process
_failed: dict[str, str] = {}  # kind -> why it cannot load (not retried in this process)


def load(device: str) -> None:
    """Make the ops for `device` ("cpu" or "cuda") callable; a no-op once done."""
    if device not in _sources.KINDS:
        raise ValueError(f"cuda_ext.load: device must be one of {', '.join(_sources.KINDS)}, got '{device}'")
    if device in _loaded:
        return
    if device in _failed:
        raise ExtensionUnavailable(_failed[device])
    try:
        _load(device)
    except ExtensionUnavailable as e:
        _failed[device] = str(e)
        raise


def loaded() -> dict[str, str]:
    """kind -> path of the library loaded in this process."""
    return {kind: str(path) for kind, path in _loaded.items()}


def _load(kind: str) -> None:
    import torch

    if kind == "cuda":
        if torch.version.cuda is None:
            raise ExtensionUnavailable(f"torch {torch.__version__} is a CPU-only build (no CUDA support)")
        if not torch.cuda.is_available():
            raise ExtensionUnavailable("no CUDA device is available (torch.cuda.is_available() is False)")
    # The schemas (ops.py), fake kernels and backward formulas are registered before any kernel.
    from cuda_ext import autograd, build, fakes  # noqa: F401

    stamp = _sources.build_stamp(kind, torch.__version__, _sources.debug_build())
    library = _installed_library(kind, stamp) or build.cached_library(kind, stamp) or build.build_library(kind, stamp)
    try:
        torch.ops.load_library(str(library))
    except OSError as e:
        raise ExtensionUnavailable(f"loading {library} failed: {e}") from e
    _loaded[kind] = library
    log.debug("cuda_ext: loaded the %s extension from %s", kind, library)


def _installed_library(kind: str, stamp: dict) -> Path | None:
    """The module built by `pip install` (cuda_ext/_<kind>.*.so), if it matches `stamp`."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        library = _sources.PACKAGE_DIR / f"_{kind}{suffix}"
        if library.is_file():
            recorded = _sources.read_stamp(_sources.PACKAGE_DIR / f"_{kind}.build.json")
            if recorded == stamp:
                return library
            log.info("cuda_ext: the installed %s extension does not match the sources/torch/debug switch; "
                     "building a fresh one", kind)
            return None
    return None
