"""A rig's geometry signature: tells another version of a rig from the same rig built elsewhere.

A capture and an `.avatar` file record which rig they were fitted to. A byte hash of the geometry
cannot say it: the built-in head is computed at load time, and another machine (another CPU's
vector units, another torch or numpy) builds it with other last bits (a capture tracked on a
2-core CPU with torch 2.13 was refused on an H100 machine with torch 2.11). The signature keeps,
per array, its shape, its RMS and a few fixed pseudo-random projections of its values, and two
signatures match when every projection agrees to within `RELATIVE_TOLERANCE` of the array's RMS:

- last-bit differences (about 1e-7 of the RMS) move a projection by less than that, far inside it;
- a change that spoils a fit moves it by far more: the projections are sums over every value
  scaled by 1/sqrt(n), so they move by about 0.08 x the RMS of the change. A warp of the
  built-in head that narrows its mouth by a fifth (docs/results.md, "The builtin head's
  proportions") moves the template's by about 2e-3 of its RMS and the expressions' by 0.03;
  300 vertices moved 1 mm, by 5e-4; relative noise of 1e-6 on every value, by 2e-7.

Integer arrays (the faces) must match exactly.
"""

from __future__ import annotations

import hashlib

import numpy as np

from avatar.rig.head_rig import GEOMETRY_ARRAYS, HeadRig

PROJECTIONS = 8
RELATIVE_TOLERANCE = 1e-5
BLOCK = 4096  # values per row of the projections' matrix product


def geometry_signature(rig: HeadRig) -> dict:
    """{array name: {"shape", and "rms" + "projections" (floats) or "sha256" (integers)}}; JSON-ready."""
    signature = {"name": rig.name}
    for name in GEOMETRY_ARRAYS:
        values = getattr(rig, name).detach().cpu().numpy()
        entry: dict = {"shape": list(values.shape)}
        if values.dtype.kind == "f":
            flat = values.astype(np.float64).ravel()  # [n]
            entry["rms"] = float(np.sqrt(np.mean(flat * flat))) if flat.size else 0.0
            entry["projections"] = _projections(flat).tolist()
        else:
            entry["sha256"] = hashlib.sha256(np.ascontiguousarray(values.astype(np.int64)).tobytes()).hexdigest()
        signature[name] = entry
    return signature


def is_recorded_rig(rig: HeadRig, signature: dict | None, rig_hash: str | None) -> bool:
    """Whether `rig` is the rig a capture or an `.avatar` file records: by its signature, or, in
    what was written before the signature (2026-11-27), by its byte hash, which another machine's
    build of the same rig can miss; True when neither is recorded (importers record none)."""
    if signature is not None:
        return same_geometry(signature, rig)
    return rig_hash is None or rig_hash == rig.identity_hash()


def same_geometry(recorded: dict, rig: HeadRig) -> bool:
    """Whether `rig` is the rig whose `geometry_signature` was `recorded` (see the module's docstring)."""
    current = geometry_signature(rig)
    try:
        return _matches(recorded, current)
    except (AttributeError, TypeError, ValueError):  # a damaged record: not this rig's
        return False


def _matches(recorded: dict, current: dict) -> bool:
    if recorded.get("name") != current["name"]:
        return False
    for name in GEOMETRY_ARRAYS:
        have, want = recorded.get(name), current[name]
        if not isinstance(have, dict) or have.get("shape") != want["shape"]:
            return False
        if "sha256" in want:
            if have.get("sha256") != want["sha256"]:
                return False
            continue
        projections = have.get("projections")
        if not isinstance(projections, list) or len(projections) != PROJECTIONS:
            return False
        tolerance = RELATIVE_TOLERANCE * max(want["rms"], np.finfo(np.float32).tiny)
        if any(abs(float(a) - b) > tolerance for a, b in zip(projections, want["projections"])):
            return False
    return True


def _projections(flat: np.ndarray) -> np.ndarray:
    """[n] values -> [PROJECTIONS]: sum_i value_i * weight_ij / sqrt(n). The weight of value i is
    within[i % BLOCK] * across[i // BLOCK], so one matrix product over the values laid out in rows of
    BLOCK does it (ICT's 4.2M expression values: a fraction of a second, not seconds)."""
    rows = -(-flat.size // BLOCK)  # ceil
    padded = np.zeros(rows * BLOCK)
    padded[:flat.size] = flat
    within = _uniform(BLOCK, seed=0)  # [BLOCK, P]
    across = _uniform(rows, seed=1)  # [rows, P]
    return ((padded.reshape(rows, BLOCK) @ within) * across).sum(0) / np.sqrt(max(flat.size, 1))  # [P]


def _uniform(count: int, seed: int) -> np.ndarray:
    """[count, PROJECTIONS] pseudo-random values in [-0.5, 0.5) from SplitMix64: integer arithmetic
    that every machine does alike."""
    z = np.arange(count * PROJECTIONS, dtype=np.uint64) + np.uint64(seed << 40) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)  # uint64 arrays wrap modulo 2^64
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) / 2.0**53 - 0.5).reshape(count, PROJECTIONS)
