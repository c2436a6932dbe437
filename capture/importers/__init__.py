"""Importers: other head trackers' outputs -> our capture directory (avatar.data.capture).

Owns reading VHAP / GaussianAvatars exports (`vhap`), metrical-tracker output, the tracker INSTA
uses (`metrical`), and IMavatar / PointAvatar video folders (`imavatar`), mapping their FLAME
parameters and camera conventions onto RigParams and OpenCV cameras. Each module's docstring
documents its source layout and mapping. Uses `avatar.*` only; nothing imports it but the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from avatar.data.capture import Capture
from avatar.runtime.errors import InputError
from capture.importers.common import ImportSourceError
from capture.importers.imavatar import import_imavatar
from capture.importers.metrical import import_metrical
from capture.importers.vhap import import_vhap

# kind -> importer(src, out, overwrite=False, progress=True, fps=None) -> Capture
IMPORTERS: dict[str, Callable[..., Capture]] = {
    "vhap": import_vhap,
    "metrical": import_metrical,
    "imavatar": import_imavatar,
}

__all__ = ["IMPORTERS", "ImportSourceError", "import_capture"]


def import_capture(kind: str, src: Path, out: Path, overwrite: bool = False,
                   progress: bool = True, fps: float | None = None) -> Capture:
    """Read `src` as written by tracker `kind` and write the capture directory `out`.

    `fps` is the source video's frame rate when known (none of these formats store it; 25 is
    assumed otherwise and noted in the capture's `extra`).
    """
    if kind not in IMPORTERS:
        raise InputError(f"unknown import kind '{kind}'; known: {', '.join(IMPORTERS)}")
    if not Path(src).exists():
        raise ImportSourceError(src, f"{kind} source not found")
    return IMPORTERS[kind](Path(src), Path(out), overwrite=overwrite, progress=progress, fps=fps)
