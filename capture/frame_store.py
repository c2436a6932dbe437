"""The per-frame arrays of a clip being tracked, kept on disk while the capture is made.

Every tracked frame has a crop, the segmenter's person matte, the part of the crop inside the
video frame and, later, what the cut keeps: 2.6 MB a frame at 512 px in the precisions stored
here, 14 GB for a 3-minute clip. In memory that does not fit a laptop; here each array is a
memory-mapped .npy file in a temporary folder beside the output, so the kernel keeps in memory
what fits and reads back the rest (the stages read the frames in order, or a window at a time).
The folder is deleted when the store closes, also when tracking fails.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np


class FrameStore:
    """Disk-backed arrays in a temporary folder beside `near` (the capture being written)."""

    def __init__(self, near: Path):
        near.parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f".{near.name}.frames-", dir=near.parent))

    def array(self, name: str, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
        """A new zero-filled array, memory-mapped from `name`.npy in the store."""
        return np.lib.format.open_memmap(self.root / f"{name}.npy", mode="w+", dtype=dtype, shape=shape)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "FrameStore":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
