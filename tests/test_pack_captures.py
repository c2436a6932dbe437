"""benchmarks/gpu/pack_captures.py: a packed copy loads with the same pixels, parameters and splits,
in fewer bytes, and bad input fails with one message and no copy left behind."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("pack_captures", REPO / "benchmarks" / "gpu" / "pack_captures.py")
pack_captures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pack_captures)


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    from avatar.data.synthetic import make_synthetic_capture
    from avatar.rig.builtin import build_builtin_head

    path = tmp_path_factory.mktemp("pack") / "clip" / "capture"
    make_synthetic_capture(build_builtin_head(), path, num_train=3, num_test=1, size=48, progress=False)
    return path


def test_a_packed_copy_loads_the_same_pixels_in_fewer_bytes(tmp_path, capture, capsys):
    from avatar.data.capture import load_capture

    assert pack_captures.main([str(capture), "--out", str(tmp_path)]) == 0
    packed = tmp_path / "clip"
    assert f"{packed}: " in capsys.readouterr().out
    original, copy = load_capture(capture), load_capture(packed)
    assert copy.splits == original.splits and len(copy.frames) == len(original.frames)
    assert torch.equal(copy.params.expr, original.params.expr)
    for f in range(len(original.frames)):
        assert torch.equal(copy.load_image(f), original.load_image(f))
        mask, mask_copy = original.load_mask(f), copy.load_mask(f)
        assert (mask is None and mask_copy is None) or torch.equal(mask, mask_copy)
    assert all(p.suffix == ".webp" for p in (packed / "images").iterdir())
    image_bytes = lambda root: sum(p.stat().st_size for p in (root / "images").iterdir())  # noqa: E731
    assert image_bytes(packed) < image_bytes(capture)


def test_an_existing_copy_is_kept_without_overwrite_and_a_non_capture_is_refused(tmp_path, capture, capsys):
    (tmp_path / "clip").mkdir()
    assert pack_captures.main([str(capture), "--out", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err and not any((tmp_path / "clip").iterdir())
    assert pack_captures.main([str(tmp_path / "clip"), "--out", str(tmp_path / "o")]) == 1
    assert "not a capture directory" in capsys.readouterr().err and not (tmp_path / "o").exists()
    assert pack_captures.main([str(capture), "--out", str(tmp_path), "--overwrite"]) == 0
    assert (tmp_path / "clip" / "capture.json").is_file()


def test_a_capture_with_only_the_rigs_byte_hash_is_packed_with_its_signature(tmp_path, capture):
    """Captures tracked before the geometry signature record a byte hash, which another machine's
    build of the built-in head misses: the copy carries the signature of the rig checked here, and
    a hash of another version is refused with no copy left."""
    import json
    import shutil

    from avatar.rig.builtin import build_builtin_head
    from avatar.rig.signature import same_geometry

    rig = build_builtin_head()
    old = tmp_path / "old" / "capture"
    shutil.copytree(capture, old)
    meta = json.loads((old / "capture.json").read_text())
    meta.setdefault("extra", {}).update(rig_hash=rig.identity_hash())
    meta["extra"].pop("rig_signature", None)
    (old / "capture.json").write_text(json.dumps(meta))
    assert pack_captures.main([str(old), "--out", str(tmp_path / "packed")]) == 0
    packed = json.loads((tmp_path / "packed" / "old" / "capture.json").read_text())
    assert same_geometry(packed["extra"]["rig_signature"], rig)

    meta["extra"]["rig_hash"] = "0" * 64
    (old / "capture.json").write_text(json.dumps(meta))
    assert pack_captures.main([str(old), "--out", str(tmp_path / "refused")]) == 1
    assert not any((tmp_path / "refused").glob("*"))
