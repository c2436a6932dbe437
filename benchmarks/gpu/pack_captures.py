"""Copies of captures small enough to carry to the device tool's GPU machine.

    python benchmarks/gpu/pack_captures.py CAPTURE_DIR [CAPTURE_DIR ...] --out gpu [--overwrite]

A call of the device tool carries at most 64 MiB of the repository, and a shared clip's capture
at 256 px is 17-50 MB, mostly PNG frames and masks. Each copy, OUT/<name>/ (name: the capture's
folder, or the folder above one named `capture`), has its frames and masks as lossless WebP (about
half the bytes; the same pixels), the capture.json naming them, and params.npz and report.json;
what only tracking and the viewer read (landmarks.npz, overlay.mp4) is left out. `avatar train`
and `avatar eval` read a copy as they read the capture. A capture that records its rig's byte hash
alone (tracked before the geometry signature) gets the signature of this machine's build of that
rig, after the hash is checked here: the GPU machine builds the built-in head with other last bits
and would refuse the hash (avatar/rig/signature.py). OUT should be a folder of the repository
that `.git/info/exclude` ignores, named in the call's `carry`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from PIL import Image

COPIED = ("params.npz", "report.json")  # beside capture.json; a capture without report.json is fine


def packed_name(capture: Path) -> str:
    return capture.parent.name if capture.name == "capture" else capture.name


def pack(capture: Path, out: Path, overwrite: bool = False) -> int:
    """Write the packed copy of `capture` to `out` (through out.partial); its size in bytes."""
    meta_path = capture / "capture.json"
    if not meta_path.is_file():
        raise ValueError(f"{capture}: not a capture directory (no capture.json)")
    if out.exists() and not overwrite:
        raise ValueError(f"{out} already exists (--overwrite replaces it)")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _write(capture, json.loads(meta_path.read_text()), partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


def _write(capture: Path, meta: dict, partial: Path) -> None:
    """Each frame's image and mask as lossless WebP, the capture.json (meta) naming them, and COPIED."""
    for frame in meta["frames"]:
        for key in ("image", "mask"):
            if frame.get(key) is None:
                continue
            webp = Path(frame[key]).with_suffix(".webp")
            (partial / webp).parent.mkdir(parents=True, exist_ok=True)
            with Image.open(capture / frame[key]) as image:
                image.save(partial / webp, "WEBP", lossless=True, method=4)
            frame[key] = webp.as_posix()
    _sign_rig(capture, meta)
    (partial / "capture.json").write_text(json.dumps(meta, indent=1))
    for name in COPIED:
        if (capture / name).is_file():
            shutil.copy2(capture / name, partial / name)


def _sign_rig(capture: Path, meta: dict) -> None:
    """Add extra.rig_signature to a capture that records only extra.rig_hash, which must be this
    machine's build's hash (else ValueError: tracked with another version of the rig)."""
    from avatar.rig.loaders import load_rig
    from avatar.rig.signature import geometry_signature

    extra = meta.get("extra") or {}
    if "rig_hash" not in extra or "rig_signature" in extra:
        return
    rig = load_rig(meta["rig"])
    if rig.identity_hash() != extra["rig_hash"]:
        raise ValueError(f"{capture}: tracked with another version of the rig '{meta['rig']}' (or on another "
                         "machine): `avatar track` the video again")
    extra["rig_signature"] = geometry_signature(rig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("captures", nargs="+", type=Path, help="capture directories")
    parser.add_argument("--out", type=Path, required=True, help="folder for the copies")
    parser.add_argument("--overwrite", action="store_true", help="replace copies already there")
    args = parser.parse_args(argv)
    names = [packed_name(c) for c in args.captures]
    if len(set(names)) != len(names):
        print(f"pack_captures: two captures would be packed under one name ({', '.join(names)})", file=sys.stderr)
        return 2
    total = 0
    for capture, name in zip(args.captures, names):
        try:
            size = pack(capture, args.out / name, args.overwrite)
        except (ValueError, OSError) as e:
            print(f"pack_captures: {e}", file=sys.stderr)
            return 1
        total += size
        print(f"{args.out / name}: {size / 2**20:.1f} MiB")
    print(f"in all {total / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
