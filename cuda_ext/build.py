"""Just-in-time builds of the compiled modules with torch.utils.cpp_extension, cached per user.

Used when no installed module matches the sources (a source checkout, edited kernels, a CUDA
module that could not be built at install time). Builds go to
`$AVATAR_EXT_CACHE` or `~/.cache/gaussian-avatar/ext/<torch version>-<source hash>[-debug]/<kind>`
and are reused by later processes without invoking the compiler again. MAX_JOBS and
TORCH_CUDA_ARCH_LIST are honoured by torch's builder.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from pathlib import Path

from cuda_ext import _sources
from cuda_ext.errors import ExtensionUnavailable

log = logging.getLogger("cuda_ext")

STAMP_NAME = "stamp.json"
LOG_NAME = "build.log"


def cache_root() -> Path:
    if os.environ.get("AVATAR_EXT_CACHE"):
        return Path(os.environ["AVATAR_EXT_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "gaussian-avatar" / "ext"


def build_dir(kind: str, stamp: dict) -> Path:
    key = f"{stamp['torch']}-{stamp['source_hash'][:16]}{'-debug' if stamp['debug'] else ''}"
    return cache_root() / key / kind


def cached_library(kind: str, stamp: dict) -> Path | None:
    """A finished earlier build for exactly these sources, torch and flags, if any."""
    directory = build_dir(kind, stamp)
    recorded = _sources.read_stamp(directory / STAMP_NAME)
    if recorded is None or {k: recorded.get(k) for k in stamp} != stamp:
        return None
    library = directory / recorded.get("library", "")
    return library if library.is_file() else None


def _check_toolchain(kind: str) -> None:
    from torch.utils import cpp_extension

    windows = sys.platform == "win32"
    compiler = os.environ.get("CXX", "cl" if windows else "c++")  # torch's builder's default compiler
    if shutil.which(compiler) is None:
        advice = "run from Visual Studio's developer prompt" if windows else "install g++ or set CXX"
        raise ExtensionUnavailable(
            f"cannot build the {kind} extension: no C++ compiler '{compiler}' on PATH ({advice})"
        )
    if not cpp_extension.is_ninja_available():
        raise ExtensionUnavailable(f"cannot build the {kind} extension: ninja is not installed (pip install ninja)")
    if kind == "cuda" and cpp_extension.CUDA_HOME is None:
        raise ExtensionUnavailable(
            "cannot build the cuda extension: nvcc not found (install the CUDA toolkit or set CUDA_HOME)"
        )


def build_library(kind: str, stamp: dict) -> Path:
    """Compile the `kind` module (which also loads it) and return the library path."""
    from torch.utils import cpp_extension

    sources = _sources.sources(kind)
    if not sources:
        raise ExtensionUnavailable(f"no {kind} sources in {_sources.CSRC_DIR}")
    _check_toolchain(kind)
    directory = build_dir(kind, stamp)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        flags = _sources.compile_flags(kind, stamp["debug"])
    except _sources.OpenMPNotFound as e:  # macOS without libomp
        raise ExtensionUnavailable(f"cannot build the {kind} extension: {e}") from e
    log.info("building the %s extension (first use after a change; can take minutes) in %s", kind, directory)
    started = time.perf_counter()
    try:
        library = cpp_extension.load(
            name=f"avatar_ext_{kind}",
            sources=[str(s) for s in sources],
            extra_include_paths=[str(_sources.INCLUDE_DIR)],
            extra_cflags=flags["cxx"],
            extra_cuda_cflags=flags["nvcc"],
            extra_ldflags=flags["ld"],
            build_directory=str(directory),
            with_cuda=kind == "cuda",
            is_python_module=False,
            verbose=False,
        )
    except (RuntimeError, OSError, ImportError) as e:
        log_path = directory / LOG_NAME
        log_path.write_text(f"{e}\n")
        raise ExtensionUnavailable(f"building the {kind} extension failed; compiler output in {log_path}") from e
    library = Path(library)
    _sources.write_stamp(directory / STAMP_NAME, {**stamp, "library": library.name})
    log.info("built the %s extension in %.0f s", kind, time.perf_counter() - started)
    return library
