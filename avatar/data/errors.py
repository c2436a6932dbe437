"""One exception type per data format; each message names the file and what is wrong with it.
Each is an `InputError` (`avatar.runtime.errors`): the CLI prints it on one line, exit status 2.

`parse_json` is the one way JSON from a user's file is read (expression files, capture.json,
.avatar metadata), so a hostile text fails there with a reason the caller puts after the file name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from avatar.runtime.errors import InputError

# Longer integers are read as floats (inf beyond about 1e308): no field of these formats holds one,
# and as Python ints they escape every reader's checks: 400 digits overflow float(), numpy and
# math.isfinite (OverflowError), 4301 digits already fail int() itself (a ValueError naming no file).
MAX_INT_DIGITS = 20


class DataFileError(InputError):
    """A file or folder that cannot be read as the format it claims to be."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class CaptureError(DataFileError):
    """A capture directory that is missing, unfinished, or inconsistent."""


class VideoError(DataFileError):
    """A video that is missing, corrupt, or cannot be encoded."""


class AudioError(DataFileError):
    """An audio file (or a video's sound) that is missing, unreadable, or cannot go with a take."""


class CalibrationError(DataFileError):
    """A camera-calibration file (OpenCV, NeRSemble, COLMAP) that is unreadable or whose cameras are
    not valid pinhole cameras; the problem says which camera and which key or line."""


class ExpressionFileError(DataFileError):
    """An expression file (.npz/.json/.csv) with a bad value; CSV errors carry row and column.

    `row` counts lines of the file from 1 with the header as row 1, as a text editor shows them.
    """

    def __init__(self, path: str | Path, problem: str, row: int | None = None, column: str | None = None):
        self.row = row
        self.column = column
        where = []
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(path, f"{', '.join(where)}: {problem}" if where else problem)


class JSONTextError(InputError):
    """Text that is not JSON data a reader can take; the message says why, without the file."""


def read_json(path: Path) -> Any:
    """`parse_json` of a UTF-8 file; OSError when the file cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise JSONTextError(f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    return parse_json(text)


def parse_json(text: str) -> Any:
    """The value of a JSON text from a user's file, or JSONTextError.

    Integers of more than MAX_INT_DIGITS digits come back as floats, so the reader's own range
    and type checks refuse them by name ('fps' ... got inf; 'width' must be an integer). Nesting
    deeper than the interpreter's recursion limit is refused here instead of escaping as
    RecursionError.
    """
    try:
        return json.loads(text, parse_int=_int)
    except RecursionError:
        raise JSONTextError("nested too deeply") from None
    except json.JSONDecodeError as e:
        raise JSONTextError(str(e)) from None


def _int(digits: str) -> int | float:
    # float() of a digit string has no length limit and never raises for one that json matched
    return int(digits) if len(digits.lstrip("-")) <= MAX_INT_DIGITS else float(digits)
