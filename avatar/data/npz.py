"""Reading `.npz` files that may be hostile: never pickle, and nothing allocated or decompressed
before its size is known and bounded.

`np.load` alone returns a plain array for an `.npy` renamed `.npz`, allocates whatever an array
header declares (a 373 GiB array in a 1 kB file) and decompresses whatever a zip member holds (a
zip bomb). Here the zip directory's declared sizes and every member's `.npy` header are checked
first; `zipfile` then never produces more than a member declares.
"""

from __future__ import annotations

import math
import tokenize
import zipfile
from pathlib import Path

import numpy as np

from avatar.data.errors import DataFileError

MAX_NPZ_BYTES = 1 << 30  # 1 GiB of arrays, uncompressed: far above any expression file, map or capture
MAX_MEMBERS = 1000


def read_npz(path: Path, error: type[DataFileError], max_bytes: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """{name: array} of an .npz file; `error(path, problem)` for anything else or too large."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise error(path, "file not found") from None
    except (OSError, zipfile.BadZipFile, ValueError, NotImplementedError) as e:  # e.g. a zip version it cannot read
        raise error(path, f"not an .npz archive ({e})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise error(path, f"{len(members)} arrays; at most {MAX_MEMBERS} are read")
        declared = sum(m.file_size for m in members)
        if declared > max_bytes:
            raise error(path, f"its arrays would take {declared / 2**20:.0f} MiB uncompressed; at most "
                              f"{max_bytes / 2**20:.0f} MiB are read")
        arrays = {}
        for member in members:
            name = member.filename[:-4] if member.filename.endswith(".npy") else member.filename
            try:
                with archive.open(member) as f:
                    arrays[name] = _read_member(f, member.file_size)
            except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError) as e:
                raise error(path, f"array '{name}' is not readable ({e})") from None
        return arrays


def _read_member(f, declared: int) -> np.ndarray:
    """One .npy member, its header checked against the bytes the zip directory declared."""
    version = np.lib.format.read_magic(f)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise ValueError(f"unsupported .npy format version {version}")
    try:
        shape, fortran, dtype = readers[version](f, max_header_size=10000)
    except (SyntaxError, TypeError, tokenize.TokenError, RecursionError, OverflowError) as e:
        # numpy evaluates the header's Python literal: a mangled one escapes as these, not ValueError
        raise ValueError(f"malformed .npy header ({type(e).__name__})") from None
    if dtype.hasobject:
        raise ValueError("object arrays are not read (they would need pickle)")
    count = math.prod(shape)  # Python integers: a product of huge dimensions cannot wrap around
    if count < 0 or count * dtype.itemsize > declared:
        raise ValueError(f"its header declares {shape} {dtype}, more than the {declared} bytes stored")
    array = np.empty(count, dtype=dtype)
    if count and f.readinto(memoryview(array).cast("B")) != array.nbytes:
        raise ValueError("truncated")
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
