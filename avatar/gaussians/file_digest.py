"""A SHA-256 over every byte of an `.avatar` file: header, metadata and tensor data.

A safetensors file is an 8-byte header length, a JSON header (tensor dtypes, shapes and offsets,
and the string metadata) and the raw tensor bytes. The digest lives in the metadata itself, so it
is computed over the file as written with DIGEST_PLACEHOLDER in its place and then patched in
(same length: no offset moves). Verifying puts the placeholder back and hashes again, so editing
any byte, including the header's whitespace or a metadata string, is refused.

It protects against damage and careless edits, not against a forger, who can recompute it: the
loader's structural checks (`avatar.gaussians.file_checks`) refuse inconsistent contents anyway.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from avatar.data.errors import JSONTextError, parse_json
from avatar.runtime.errors import InputError

DIGEST_KEY = "digest"
DIGEST_PLACEHOLDER = "0" * 64
_HEX = re.compile(r"[0-9a-f]{64}")


class DigestError(InputError):
    """The file is not a well-formed safetensors file or its digest does not match."""


def split_header(data: bytes) -> tuple[int, dict]:
    """(header end offset, parsed header) of a safetensors file's bytes."""
    if len(data) < 8:
        raise DigestError("shorter than a safetensors header (truncated?)")
    size = int.from_bytes(data[:8], "little")
    if size <= 0 or 8 + size > len(data):
        raise DigestError(f"header length {size} does not fit the file's {len(data)} bytes (truncated?)")
    try:
        header = parse_json(data[8:8 + size].decode("utf-8"))
    except UnicodeDecodeError:
        raise DigestError("header is not UTF-8 text") from None
    except JSONTextError as e:
        raise DigestError(f"header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise DigestError("header is not a JSON object")
    return 8 + size, header


def _digest_span(data: bytes, end: int, value: str) -> int:
    """Offset of the digest's value inside the header, which must hold it exactly once."""
    needle = f'"{DIGEST_KEY}":"{value}"'.encode()
    first = data.find(needle, 8, end)
    if first < 0 or data.find(needle, first + 1, end) >= 0:
        raise DigestError("the digest is missing from the header or appears more than once")
    return first + len(needle) - len(value) - 1


def seal(path: Path) -> None:
    """Replace the placeholder digest of the file just written at `path` by the real one."""
    data = bytearray(path.read_bytes())
    end, _ = split_header(bytes(data))
    at = _digest_span(bytes(data), end, DIGEST_PLACEHOLDER)
    digest = hashlib.sha256(data).hexdigest()
    data[at:at + 64] = digest.encode()
    path.write_bytes(bytes(data))


def verify(data: bytes) -> dict:
    """The file's metadata (strings) once every byte is confirmed; DigestError otherwise."""
    end, header = split_header(data)
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise DigestError("no metadata of strings in the header")
    digest = meta.get(DIGEST_KEY)
    if not isinstance(digest, str) or not _HEX.fullmatch(digest):
        raise DigestError("no whole-file digest in the metadata (written by an older version?)")
    at = _digest_span(data, end, digest)
    zeroed = data[:at] + DIGEST_PLACEHOLDER.encode() + data[at + 64:]
    if hashlib.sha256(zeroed).hexdigest() != digest:
        raise DigestError("digest mismatch: the file was modified or damaged after it was written")
    return meta
