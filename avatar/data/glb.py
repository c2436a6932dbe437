"""`GlbBuilder`: a glTF 2.0 document and its one binary buffer, packed as a .glb file.

Knows glTF's containers (buffer views, accessors, dense or sparse, the GLB chunks) and nothing of
avatars: avatar.export.gltf fills it. The JSON is plain dicts, so what a file holds is
what the writer wrote; tests read it back with an independent reader (pygltflib).

Rules of the spec it keeps: every buffer view starts at a multiple of 4 bytes (so every accessor
is aligned to its component size, and vertex attributes to 4); accessors of POSITION attributes
and animation inputs carry `min` / `max` (computed from the float32 values as stored, so they
match exactly); sparse indices strictly increase; the JSON chunk is padded with spaces and the
binary chunk with zeros to a multiple of 4 bytes.
"""

from __future__ import annotations

import json
import struct

import numpy as np

ARRAY_BUFFER = 34962  # bufferView.target of vertex attributes
ELEMENT_ARRAY_BUFFER = 34963  # bufferView.target of triangle indices
COMPONENT_TYPES = {np.dtype(np.int8): 5120, np.dtype(np.uint8): 5121, np.dtype(np.int16): 5122,
                   np.dtype(np.uint16): 5123, np.dtype(np.uint32): 5125, np.dtype(np.float32): 5126}
TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 16: "MAT4"}
GLB_MAGIC, GLB_VERSION = 0x46546C67, 2  # b"glTF"
CHUNK_JSON, CHUNK_BIN = 0x4E4F534A, 0x004E4942  # b"JSON", b"BIN\0"


class GlbBuilder:
    """Accumulates the glTF JSON (`doc`: add nodes, meshes, ... to it directly) and the bytes of
    buffer 0; `accessor` / `sparse_accessor` return accessor indices; `to_bytes` packs the GLB."""

    def __init__(self, generator: str):
        self.doc: dict = {"asset": {"version": "2.0", "generator": generator}, "buffers": [], "bufferViews": [],
                          "accessors": []}
        self._chunks: list[bytes] = []
        self._length = 0

    def view(self, data: np.ndarray, target: int | None = None) -> int:
        """A buffer view holding `data` (C order, its own dtype), 4-byte aligned; its index."""
        raw = np.ascontiguousarray(data).tobytes()
        view = {"buffer": 0, "byteOffset": self._length, "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        pad = -len(raw) % 4
        self._chunks.append(raw + b"\0" * pad)
        self._length += len(raw) + pad
        self.doc["bufferViews"].append(view)
        return len(self.doc["bufferViews"]) - 1

    def accessor(self, data: np.ndarray, target: int | None = None, normalized: bool = False,
                 min_max: bool = False) -> int:
        """A dense accessor of `data` [count] or [count, width] (width 1-4 or 16 for MAT4, stored
        as given, MAT4 column-major as the caller flattened it); its index."""
        data = np.asarray(data)
        width = 1 if data.ndim == 1 else int(np.prod(data.shape[1:]))
        accessor = {"bufferView": self.view(data, target), **_accessor_type(data.dtype, width),
                    "count": int(data.shape[0])}
        if normalized:
            accessor["normalized"] = True
        if min_max:
            accessor |= _min_max(data.reshape(len(data), width))
        self.doc["accessors"].append(accessor)
        return len(self.doc["accessors"]) - 1

    def sparse_accessor(self, dense: np.ndarray, kept: np.ndarray, min_max: bool = False) -> int:
        """An accessor of float32 `dense` [count, width] that stores only the rows `kept` [count]
        bool; the others read as zeros (none kept: an accessor with no data, all zeros, as the spec
        allows). Indices are uint16 where the count allows. Its min / max span every row, the zeros
        included (what a reader sees)."""
        dense = np.asarray(dense, dtype=np.float32)
        rows = np.flatnonzero(kept)
        width = int(np.prod(dense.shape[1:]))
        if not len(rows):
            accessor = {**_accessor_type(dense.dtype, width), "count": int(dense.shape[0])}
            if min_max:
                accessor |= {"min": [0.0] * width, "max": [0.0] * width}
            self.doc["accessors"].append(accessor)
            return len(self.doc["accessors"]) - 1
        index_type = np.uint16 if dense.shape[0] <= 65536 else np.uint32
        accessor = {**_accessor_type(dense.dtype, width), "count": int(dense.shape[0]),
                    "sparse": {"count": int(len(rows)),
                               "indices": {"bufferView": self.view(rows.astype(index_type)),
                                           "componentType": COMPONENT_TYPES[np.dtype(index_type)]},
                               "values": {"bufferView": self.view(dense[rows])}}}
        if min_max:  # over what a reader sees: the rows left out read as zeros
            accessor |= _min_max(np.where(kept[:, None], dense.reshape(len(dense), width), 0))
        self.doc["accessors"].append(accessor)
        return len(self.doc["accessors"]) - 1

    def to_bytes(self) -> bytes:
        """The whole .glb: header, JSON chunk, BIN chunk."""
        self.doc["buffers"] = [{"byteLength": self._length}]
        text = json.dumps(self.doc, separators=(",", ":"), allow_nan=False).encode()
        text += b" " * (-len(text) % 4)
        binary = b"".join(self._chunks)  # each part already padded to 4 bytes
        total = 12 + 8 + len(text) + 8 + len(binary)
        return b"".join([struct.pack("<III", GLB_MAGIC, GLB_VERSION, total),
                         struct.pack("<II", len(text), CHUNK_JSON), text,
                         struct.pack("<II", len(binary), CHUNK_BIN), binary])


def _accessor_type(dtype: np.dtype, width: int) -> dict:
    if np.dtype(dtype) not in COMPONENT_TYPES:
        raise TypeError(f"glTF has no component type for {dtype}")
    if width not in TYPES:
        raise ValueError(f"glTF has no accessor type of {width} components")
    return {"componentType": COMPONENT_TYPES[np.dtype(dtype)], "type": TYPES[width]}


def _min_max(rows: np.ndarray) -> dict:
    """Per-component min / max [width] as JSON numbers that read back to the stored values."""
    low, high = rows.min(axis=0), rows.max(axis=0)
    as_list = (lambda a: [float(x) for x in a]) if rows.dtype.kind == "f" else (lambda a: [int(x) for x in a])
    return {"min": as_list(low), "max": as_list(high)}
