"""What each compiled module is built from and with: sources, flags and a content hash.

Standard library only: setup.py loads this file by path (before the package is installed), and
the runtime loader uses it to decide whether an installed module still matches the sources.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

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


def compile_flags(kind: str, debug: bool) -> dict[str, list[str]]:
    """Compiler flags ('cxx', 'nvcc', 'ld'); portable (no -march=native: wheels travel)."""
    optimise = ["-O0", "-g"] if debug else ["-O3", "-g0"]  # -g0: Python's CFLAGS carry -g into setup.py builds
    if kind == "cpu":
        return {"cxx": optimise + ["-fopenmp"], "nvcc": [], "ld": ["-fopenmp"]}
    nvcc = ["-O0", "-g", "-G"] if debug else ["-O3", "-lineinfo"]
    return {"cxx": optimise, "nvcc": nvcc, "ld": []}


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
