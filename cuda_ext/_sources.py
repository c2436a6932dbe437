"""What each compiled module is built from and with: sources, flags and a content hash.

Standard library only: setup.py loads this file by path (before the package is installed), and
the runtime loader uses it to decide whether an installed module still matches the sources.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

PACKAGE_DIR = Path(__file__).resolve().parent
INCLUDE_DIR = PACKAGE_DIR / "include"
CSRC_DIR = PACKAGE_DIR / "csrc"
SCHEMA_FILE = PACKAGE_DIR / "ops.py"  # the ops' schemas, which the kernels' C++ signatures implement
KINDS = ("cpu", "cuda")
HEADER_SUFFIXES = (".h", ".cuh")


def debug_build() -> bool:
    """AVATAR_EXT_DEBUG=1 asks for unoptimised builds with debug info."""
    return os.environ.get("AVATAR_EXT_DEBUG", "") not in ("", "0")


def sources(kind: str) -> list[Path]:
    """cpu: every csrc/*.cpp; cuda: every csrc/*.cu."""
    suffix = {"cpu": ".cpp", "cuda": ".cu"}[kind]
    return sorted(p for p in CSRC_DIR.glob(f"*{suffix}") if p.is_file())


def _hashed_files(kind: str) -> list[Path]:
    headers = [p for d in (INCLUDE_DIR, CSRC_DIR) for p in d.iterdir() if p.suffix in HEADER_SUFFIXES]
    return sorted(headers + sources(kind) + [SCHEMA_FILE])


def source_hash(kind: str) -> str:
    """SHA-256 over the names and contents of everything the module is compiled from, and of the
    schemas it implements."""
    h = hashlib.sha256()
    for path in _hashed_files(kind):
        h.update(str(path.relative_to(PACKAGE_DIR)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


# Where Homebrew keeps libomp (Apple clang ships no OpenMP runtime): Apple Silicon, then Intel.
HOMEBREW_LIBOMP = (Path("/opt/homebrew/opt/libomp"), Path("/usr/local/opt/libomp"))


class OpenMPNotFound(RuntimeError):
    """macOS: no libomp to compile the CPU kernels' OpenMP against."""


class LibOMP(NamedTuple):
    """An OpenMP runtime for Apple clang: the folder of omp.h and the folder of libomp.dylib.
    (A NamedTuple, not a dataclass: setup.py runs this file as a module outside sys.modules.)"""

    include_dir: Path
    lib_dir: Path


def toolchain(platform: str) -> str:
    """The compiler family torch's extension builder uses on `platform` (a sys.platform value):
    'msvc' (cl, Windows), 'apple-clang' (macOS; torch accepts only clang there) or 'gnu' (GCC, or
    clang, on Linux and other POSIX systems: both take GCC's flags)."""
    if platform.startswith("win"):
        return "msvc"
    return "apple-clang" if platform == "darwin" else "gnu"


def find_libomp(prefixes: tuple[Path, ...] | None = None, torch_lib: Path | None = None) -> LibOMP:
    """macOS: omp.h from $OMP_PREFIX, else Homebrew's libomp (`brew --prefix libomp`, else its
    usual folders); libomp.dylib from torch's own lib folder when torch ships one (one OpenMP
    runtime per process: a second copy aborts with "OMP: Error #15"), else from the same prefix.
    prefixes / torch_lib: where to look instead of those (tests)."""
    if prefixes is None:
        prefixes = tuple(Path(p) for p in (os.environ.get("OMP_PREFIX"), _brew_prefix("libomp")) if p)
        prefixes += HOMEBREW_LIBOMP
    prefix = next((p for p in prefixes if (p / "include" / "omp.h").is_file()), None)
    if prefix is None:
        raise OpenMPNotFound(
            "the CPU kernels use OpenMP, and Apple clang has no OpenMP runtime: install one with "
            "`brew install libomp` (or set OMP_PREFIX to a folder holding include/omp.h and lib/libomp.dylib); "
            f"looked in {', '.join(str(p) for p in prefixes)}"
        )
    torch_lib = _torch_lib_dir() if torch_lib is None else torch_lib
    shipped = torch_lib is not None and (torch_lib / "libomp.dylib").is_file()
    return LibOMP(include_dir=prefix / "include", lib_dir=torch_lib if shipped else prefix / "lib")


def _brew_prefix(formula: str) -> str | None:
    """`brew --prefix FORMULA`, or None without Homebrew."""
    brew = shutil.which("brew")
    if brew is None:
        return None
    try:
        done = subprocess.run([brew, "--prefix", formula], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    prefix = done.stdout.strip()
    return prefix if done.returncode == 0 and prefix else None


def _torch_lib_dir() -> Path | None:
    """torch's lib folder, found without importing torch (setup.py loads this file before it)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "lib"


def compile_flags(
    kind: str, debug: bool, platform: str | None = None, libomp: LibOMP | None = None
) -> dict[str, list[str]]:
    """Compiler flags ('cxx', 'nvcc', 'ld') for `platform` (default: this one); portable (no
    -march=native: wheels travel). The C++ standard is torch's to set: its builder adds the one its
    headers need (-std=c++20 / /std:c++20 in torch 2.13). The CPU module's OpenMP:
    - gnu: -fopenmp (GCC's libgomp; clang's libomp);
    - apple-clang: `-Xpreprocessor -fopenmp` (Apple's driver refuses -fopenmp), libomp's headers,
      and -lomp from `libomp` (default: find_libomp(), which raises OpenMPNotFound without one);
    - msvc: /openmp (OpenMP 2.0, vcomp).
    The result depends on nothing but the arguments once `libomp` is given."""
    family = toolchain(sys.platform if platform is None else platform)
    if family == "msvc":
        optimise, link = (["/Od", "/Z7"], ["/DEBUG"]) if debug else (["/O2"], [])
        openmp = ["/openmp"] if kind == "cpu" else []
        nvcc = ["-O0", "-g", "-G"] if debug else ["-O3", "-lineinfo"]
        return {"cxx": optimise + openmp, "nvcc": [] if kind == "cpu" else nvcc, "ld": link}
    optimise = ["-O0", "-g"] if debug else ["-O3", "-g0"]  # -g0: Python's CFLAGS carry -g into setup.py builds
    if kind != "cpu":
        nvcc = ["-O0", "-g", "-G"] if debug else ["-O3", "-lineinfo"]
        return {"cxx": optimise, "nvcc": nvcc, "ld": []}
    if family == "gnu":
        return {"cxx": optimise + ["-fopenmp"], "nvcc": [], "ld": ["-fopenmp"]}
    libomp = find_libomp() if libomp is None else libomp
    return {
        "cxx": optimise + ["-Xpreprocessor", "-fopenmp", f"-I{libomp.include_dir}"],
        "nvcc": [],
        "ld": [f"-L{libomp.lib_dir}", "-lomp", f"-Wl,-rpath,{libomp.lib_dir}"],
    }


def build_stamp(kind: str, torch_version: str, debug: bool) -> dict:
    """What a built module must match to be used: its sources, torch and the debug switch."""
    return {"kind": kind, "source_hash": source_hash(kind), "torch": torch_version, "debug": debug}


def write_stamp(path: Path, stamp: dict) -> None:
    path.write_text(json.dumps(stamp, indent=1, sort_keys=True))


def read_stamp(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
