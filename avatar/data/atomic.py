"""Files that appear only when complete: written under `<name>.partial`, renamed at the end.

An output that cannot be written (the path is a directory, the folder is not writable, the disk
is full) is one `OutputError` naming it, and nothing is left behind. `avatar.cli` turns SIGTERM
into an exception, so a killed command cleans up the same way as an interrupted one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from avatar.data.errors import DataFileError

# Errors of the place written to, not of the program: reported as the output's problem.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR,
                errno.EFBIG, errno.ENAMETOOLONG}


class OutputError(DataFileError):
    """An output file that cannot be written where it was asked for."""


def check_output_path(path: Path, folder_must_exist: bool = False) -> None:
    """Refuse, before any work, an output path that cannot become a file.

    atomic_path creates missing folders; `folder_must_exist` is for writers that do not (the
    video writer), whose open would otherwise fail at the end with an errno that names no path.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is a directory; give a file name")
    if folder_must_exist and not path.parent.exists():
        raise OutputError(path, f"the folder {path.parent} does not exist")
    folder = next((p for p in path.parents if p.exists()), Path("."))
    if not folder.is_dir():
        raise OutputError(path, f"{folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(path, f"cannot write in {folder} (permission denied)")


def write_failure(path: Path, error: OSError, writing: bool = False) -> OutputError | None:
    """The OutputError naming `path` and what failed, for an OSError met while writing it that is
    about the output: its errno is one of the place written to (WRITE_ERRNOS), it names `path` or a
    file of its partial copy, or `writing` says it came from a call that only writes `path` (an
    encoder's muxer, whose errors name no file: `/proc/x.mp4`'s ENOENT). None for an error about
    another file, which the caller raises as it is."""
    named = error.filename is not None and str(error.filename).startswith(str(path))
    if error.errno in WRITE_ERRNOS or named or writing:
        what = os.strerror(error.errno) if error.errno else (error.strerror or str(error) or type(error).__name__)
        return OutputError(path, f"could not be written: {what}")
    return None


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yields `<path>.partial` to write to; renames it to `path` when the block succeeds and
    removes it when the block fails, so `path` never holds a half-written file."""
    path = Path(path)
    check_output_path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield partial
        os.replace(partial, path)
    except OSError as e:
        partial.unlink(missing_ok=True)
        failure = write_failure(path, e)
        if failure is None:
            raise
        raise failure from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Yields the empty folder `<path>.partial` to fill; renames it to `path` when the block
    succeeds and removes it when the block fails, so `path` never holds half of its files.
    `path` must not exist yet (refused before any work)."""
    path = Path(path)
    if path.exists():
        raise OutputError(path, "already exists; give a new folder name")
    folder = next((p for p in path.parents if p.exists()), Path("."))
    if not folder.is_dir():
        raise OutputError(path, f"{folder} is not a directory")
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # left by a run that was killed
    try:
        partial.mkdir(parents=True)
        yield partial
        os.replace(partial, path)
    except OSError as e:
        shutil.rmtree(partial, ignore_errors=True)
        failure = write_failure(path, e)
        if failure is None:
            raise
        raise failure from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def dump_json(data: dict | list, path: Path) -> None:
    """Write `data` as indented JSON, atomically."""
    with atomic_path(path) as partial:
        partial.write_text(json.dumps(data, indent=2))
