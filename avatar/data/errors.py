"""One exception type per data format; each message names the file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class DataFileError(ValueError):
    """A file or folder that cannot be read as the format it claims to be."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class CaptureError(DataFileError):
    """A capture directory that is missing, unfinished, or inconsistent."""


class VideoError(DataFileError):
    """A video that is missing, corrupt, or cannot be encoded."""


class ExpressionFileError(DataFileError):
    """An expression file (.npz/.json/.csv) with a bad value; CSV errors carry row and column.

    `row` counts lines of the file from 1 with the header as row 1, as a text editor shows them.
    """

    def __init__(self, path: str | Path, problem: str, row: int | None = None,
                 column: str | None = None):
        self.row = row
        self.column = column
        where = []
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(path, f"{', '.join(where)}: {problem}" if where else problem)
