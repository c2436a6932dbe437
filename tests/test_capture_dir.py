"""Capture directories: write/load round trips, interrupted writes, tampered files, and the splits
held out in time (`avatar.data.splits`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from avatar.data.capture import CameraInfo, CaptureWriter, load_capture
from avatar.data.errors import CaptureError
from avatar.data.splits import time_splits
from avatar.splat.camera import Camera
from avatar.rig.params import RigParams

RNG = np.random.default_rng(0)


def orbit_camera(name: str, angle: float, width: int, height: int) -> CameraInfo:
    cam = Camera.orbit(angle, 5.0, 1.0, (0.0, 0.0, 0.0), width, height, fov_y_deg=25.0)
    return CameraInfo(name, cam.K.numpy(), width, height, cam.world_to_cam.numpy())


def random_params(num_times: int) -> RigParams:
    g = torch.Generator().manual_seed(num_times)
    r = lambda *s: torch.randn(*s, generator=g) * 0.1  # noqa: E731
    return RigParams(r(7), r(num_times, 5), r(num_times, 3), r(num_times, 3), r(num_times, 3),
                     r(num_times, 6), r(num_times, 3))


def write_capture(root, cameras: list[CameraInfo], num_times: int, mask_every: int = 1):
    """Writes a capture; returns (capture, images {frame: uint8}, masks {frame: uint8 | None})."""
    writer = CaptureWriter(root, fps=25.0, rig="builtin", cameras=cameras)
    images, masks = {}, {}
    for t in range(num_times):
        for c, info in enumerate(cameras):
            image = RNG.integers(0, 256, (info.height, info.width, 3), dtype=np.uint8)
            mask = None
            if (t + c) % mask_every == 0:
                mask = RNG.integers(0, 256, (info.height, info.width), dtype=np.uint8)
            index = writer.add_frame(t, c, image, mask)
            images[index], masks[index] = image, mask
    frames = len(images)
    splits = {"train": list(range(0, frames - 2)), "val": [frames - 2], "test": [frames - 1]}
    params = random_params(num_times)
    capture = writer.finish(params, splits, extra={"source": "unit test"})
    return capture, images, masks, params, splits


def check_round_trip(root, cameras, num_times, mask_every):
    written, images, masks, params, splits = write_capture(root, cameras, num_times, mask_every)
    capture = load_capture(root)
    assert capture.fps == 25.0 and capture.rig == "builtin"
    assert capture.splits == splits and capture.extra == {"source": "unit test"}
    assert len(capture.frames) == len(images) == num_times * len(cameras)
    for k in ("shape", "expr", "jaw", "neck", "rotation", "eyes", "translation"):
        assert torch.equal(getattr(capture.params, k), getattr(params, k))
    for frame, image in images.items():
        info = capture.frames[frame]
        loaded = capture.load_image(frame)
        assert loaded.shape == (cameras[info.camera].height, cameras[info.camera].width, 3)
        assert loaded.dtype == torch.float32
        assert torch.equal((loaded * 255).round().to(torch.uint8), torch.from_numpy(image))
        mask = capture.load_mask(frame)
        if masks[frame] is None:
            assert mask is None
        else:
            assert mask.shape[-1] == 1
            assert torch.equal((mask[..., 0] * 255).round().to(torch.uint8),
                               torch.from_numpy(masks[frame]))
        cam = capture.camera(frame)
        source = cameras[info.camera]
        assert (cam.width, cam.height) == (source.width, source.height)
        assert torch.allclose(cam.K, torch.as_tensor(source.K), atol=1e-4)
        assert torch.allclose(cam.world_to_cam, torch.as_tensor(source.world_to_cam), atol=1e-6)
        one = capture.frame_params(frame)
        assert one.num_frames == 1 and torch.equal(one.expr[0], params.expr[info.time])
        assert torch.equal(one.eyes[0], params.eyes[info.time])
    return capture


def test_monocular_round_trip(tmp_path):
    capture = check_round_trip(tmp_path / "mono", [orbit_camera("front", 0.0, 24, 16)], 4, 1)
    assert [f.time for f in capture.frames] == [0, 1, 2, 3]
    assert not (tmp_path / "mono.partial").exists()


def test_three_camera_round_trip_with_some_masks_missing(tmp_path):
    cameras = [orbit_camera(f"cam{i}", a, 20 + 4 * i, 12) for i, a in enumerate((-30, 0, 30))]
    capture = check_round_trip(tmp_path / "multi", cameras, 3, 2)
    assert {(f.time, f.camera) for f in capture.frames} == {(t, c) for t in range(3) for c in range(3)}
    assert any(f.mask is None for f in capture.frames) and any(f.mask for f in capture.frames)


def test_interrupted_write_leaves_only_partial_folder(tmp_path):
    root = tmp_path / "crashed"
    writer = CaptureWriter(root, 30.0, "builtin", [orbit_camera("front", 0.0, 8, 8)])
    writer.add_frame(0, 0, np.zeros((8, 8, 3), np.uint8))
    # The process dies here: finish() is never called.
    assert not root.exists() and (tmp_path / "crashed.partial" / "images").is_dir()
    with pytest.raises(CaptureError, match="crashed.partial"):
        load_capture(root)


def test_failed_finish_publishes_nothing(tmp_path):
    root = tmp_path / "short"
    writer = CaptureWriter(root, 30.0, "builtin", [orbit_camera("front", 0.0, 8, 8)])
    for t in range(3):
        writer.add_frame(t, 0, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(CaptureError, match="time step 2"):
        writer.finish(random_params(2), {"train": [0, 1, 2]})
    assert not root.exists()
    with pytest.raises(CaptureError, match="short"):
        load_capture(root)


def test_writer_refuses_existing_folder_unless_overwrite(tmp_path):
    root = tmp_path / "cap"
    write_capture(root, [orbit_camera("front", 0.0, 8, 6)], 3)
    with pytest.raises(CaptureError, match="already exists"):
        CaptureWriter(root, 30.0, "builtin", [orbit_camera("front", 0.0, 8, 6)])
    writer = CaptureWriter(root, 50.0, "builtin", [orbit_camera("front", 0.0, 8, 6)], overwrite=True)
    assert load_capture(root).fps == 25.0  # the old capture stays until finish
    writer.add_frame(0, 0, np.zeros((6, 8, 3), np.uint8))
    assert writer.finish(random_params(1), {"train": [0]}).fps == 50.0
    assert len(load_capture(root).frames) == 1


def test_writer_rejects_wrong_image_and_duplicate_frames(tmp_path):
    writer = CaptureWriter(tmp_path / "w", 30.0, "builtin", [orbit_camera("front", 0.0, 8, 6)])
    with pytest.raises(CaptureError, match=r"uint8 \[6, 8, 3\]"):
        writer.add_frame(0, 0, np.zeros((8, 6, 3), np.uint8))
    writer.add_frame(0, 0, np.zeros((6, 8, 3), np.uint8))
    with pytest.raises(CaptureError, match="already added"):
        writer.add_frame(0, 0, np.zeros((6, 8, 3), np.uint8))
    with pytest.raises(CaptureError, match="camera 1 out of range"):
        writer.add_frame(1, 1, np.zeros((6, 8, 3), np.uint8))


@pytest.fixture(scope="module")
def good_capture(tmp_path_factory):
    root = tmp_path_factory.mktemp("good") / "cap"
    write_capture(root, [orbit_camera("a", -20.0, 8, 6), orbit_camera("b", 20.0, 8, 6)], 3)
    return root


def edit_json(root, change):
    meta = json.loads((root / "capture.json").read_text())
    change(meta)
    (root / "capture.json").write_text(json.dumps(meta))


def edit_params(root, change):
    with np.load(root / "params.npz") as data:
        arrays = dict(data)
    change(arrays)
    np.savez(root / "params.npz", **arrays)


TAMPERING = {
    "missing image": (lambda r: (r / "images" / "00001_c01.png").unlink(), "00001_c01.png.*missing"),
    "unknown version": (lambda r: edit_json(r, lambda m: m.update(version=2)), "unknown version 2"),
    "not json": (lambda r: (r / "capture.json").write_text("{frames: "), "not readable JSON"),
    "wrong format": (lambda r: edit_json(r, lambda m: m.update(format="x")), "'format'"),
    "no capture.json": (lambda r: (r / "capture.json").unlink(), "has no capture.json"),
    "params too short": (lambda r: edit_params(r, lambda a: a.update(expr=a["expr"][:2])),
                         r"params.npz.*shape \(2, 5\).*3 time steps"),
    "params too long": (lambda r: edit_json(r, lambda m: m.update(num_time_steps=4)),
                        "4 time steps"),
    "params key missing": (lambda r: edit_params(r, lambda a: a.pop("jaw")), "missing arrays: jaw"),
    "params jaw width": (lambda r: edit_params(r, lambda a: a.update(jaw=a["jaw"][:, :2])),
                         "'jaw' must have shape"),
    "params nan": (lambda r: edit_params(r, lambda a: a["eyes"].__setitem__((0, 0), np.nan)),
                   "'eyes' must hold finite"),
    "params missing": (lambda r: (r / "params.npz").unlink(), "params.npz is missing"),
    "params truncated": (lambda r: (r / "params.npz").write_bytes((r / "params.npz").read_bytes()[:200]),
                         "not an .npz archive"),
    "camera disagrees": (lambda r: edit_params(r, lambda a: a["world_to_cam"].__setitem__(
        (1, 0, 3), 9.0)), "disagrees"),
    "camera index": (lambda r: edit_json(r, lambda m: m["frames"][2].update(camera=5)),
                     "frame 2: 'camera' 5"),
    "time index": (lambda r: edit_json(r, lambda m: m["frames"][0].update(time=-1)),
                   "frame 0: 'time' -1"),
    "path escapes": (lambda r: edit_json(r, lambda m: m["frames"][0].update(image="../x.png")),
                     "inside the capture"),
    "bad split": (lambda r: edit_json(r, lambda m: m["splits"].update(val=[99])), "split 'val'"),
    "bad K": (lambda r: edit_json(r, lambda m: m["cameras"][0].update(K=[[1, 0], [0, 1]])),
              "camera 0 K"),
    "bad fps": (lambda r: edit_json(r, lambda m: m.update(fps=0)), "'fps' must be a positive"),
    "zero K": (lambda r: edit_json(r, lambda m: m["cameras"][0].update(K=[[0, 0, 4], [0, 0, 3], [0, 0, 1]])),
               "positive focal lengths"),
    "camera that scales": (lambda r: edit_json(r, lambda m: m["cameras"][1].update(
        world_to_cam=(2 * np.eye(4)).tolist())), "rigid transform"),
    "huge image size": (lambda r: edit_json(r, lambda m: m["cameras"][0].update(width=10**9)), "'width' must be"),
    "image linked from outside": (lambda r: _link_outside(r, "images/00000_c00.png"), "leads outside the capture"),
    "params linked from outside": (lambda r: _link_outside(r, "params.npz"), "leads outside the capture"),
}


def _link_outside(root, relative):
    """Replace a file of the capture by a symbolic link to a copy outside it."""
    outside = root.parent / ("outside_" + relative.replace("/", "_"))
    shutil.copy(root / relative, outside)
    (root / relative).unlink()
    (root / relative).symlink_to(outside)


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampered_capture_raises_clear_error(good_capture, tmp_path, case):
    root = tmp_path / "cap"
    shutil.copytree(good_capture, root)
    load_capture(root)  # intact copy loads
    tamper, message = TAMPERING[case]
    tamper(root)
    with pytest.raises(CaptureError, match=message) as info:
        load_capture(root)
    assert str(root) in str(info.value)


def test_image_of_wrong_size_fails_on_load_image(good_capture, tmp_path):
    root = tmp_path / "cap"
    shutil.copytree(good_capture, root)
    Image.fromarray(np.zeros((5, 8, 3), np.uint8)).save(root / "images" / "00000_c00.png")
    capture = load_capture(root)
    with pytest.raises(CaptureError, match="00000_c00.png: image is 8x5, camera 'a' is 8x6"):
        capture.load_image(0)
    assert capture.load_image(1).shape == (6, 8, 3)


def test_a_decompression_bomb_is_refused_before_decoding(good_capture, tmp_path):
    root = tmp_path / "cap"
    shutil.copytree(good_capture, root)
    capture = load_capture(root)
    # Under PIL's own limit: refused by the size check before any pixel is decoded.
    Image.new("L", (12000, 12000)).save(root / capture.frames[0].image, compress_level=1)  # 144 Mpx, small file
    with pytest.raises(CaptureError, match="image is 12000x12000"):
        capture.load_image(0)
    # Over it: PIL refuses at open, and that is the same one clear error.
    Image.new("L", (20000, 20000)).save(root / capture.frames[1].image, compress_level=1)
    with pytest.raises(CaptureError, match="cannot read image of frame 1.*decompression bomb"):
        capture.load_image(1)


def test_an_npz_of_a_zip_version_python_cannot_read_is_one_clear_error(tmp_path):
    """zipfile raises NotImplementedError (not BadZipFile) for a newer zip version; found by the
    fuzz test on a mutated params.npz."""
    import io
    import struct

    from avatar.data.npz import read_npz

    buffer = io.BytesIO()
    np.savez(buffer, a=np.zeros(3))
    data = bytearray(buffer.getvalue())
    central = data.rfind(b"PK\x01\x02")
    data[central + 6:central + 8] = struct.pack("<H", 64)  # "version needed to extract": 6.4
    path = tmp_path / "params.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(CaptureError, match="params.npz: not an .npz archive"):
        read_npz(path, CaptureError)


@pytest.mark.parametrize("header_edit", [(b"'shape'", b"'shape{"), (b"(3,)", b"(3,,)"),
                                         (b"(3,)", b"(4294967296, 4294967296, 4294967296)")])
def test_an_npz_whose_array_header_is_mangled_is_one_clear_error(tmp_path, header_edit):
    """numpy parses an .npy header as a Python literal: an unterminated quote escaped as
    tokenize.TokenError (found by a long fuzz run of the readers); dimensions whose product
    overflows int64 must not wrap to a small size."""
    import io
    import zipfile

    from avatar.data.npz import read_npz

    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3, np.float32))
    old, new = header_edit
    path = tmp_path / "map.npz"
    with zipfile.ZipFile(path, "w") as archive:  # a consistent archive (CRC of the edited bytes)
        archive.writestr("a.npy", buffer.getvalue().replace(old, new, 1))
    with pytest.raises(CaptureError, match="map.npz: "):
        read_npz(path, CaptureError)


def test_splits_hold_out_test_and_val_in_time_within_each_video():
    video = np.array([0] * 100 + [1] * 40)
    plain = time_splits(video)
    assert set(plain) == {"train", "test"}  # no val unless asked for
    assert plain["test"] == list(range(85, 100)) + list(range(134, 140))
    splits = time_splits(video, 0.1)
    assert splits["test"] == plain["test"]  # the test frames do not depend on the val split
    assert splits["val"] == list(range(75, 85)) + list(range(130, 134))
    assert splits["train"] == list(range(75)) + list(range(100, 130))
    assert sorted(sum(splits.values(), [])) == list(range(140))


def test_a_val_split_needs_frames_to_train_on():
    with pytest.raises(ValueError, match="short.mp4: 2 tracked frame.*too few"):
        time_splits(np.zeros(2, int), 0.1, [Path("short.mp4")])  # 1 test frame, 1 val frame, none to train on
    assert time_splits(np.zeros(3, int), 0.1) == {"train": [0], "val": [1], "test": [2]}


def test_a_capture_sized_for_another_version_of_the_rig_says_to_track_again(good_capture):
    """good_capture's parameters have 7 identity values; the built-in rig has more: one error,
    naming params.npz, that says what differs and what to do."""
    from avatar.rig.loaders import load_rig

    rig = load_rig("builtin")
    with pytest.raises(CaptureError, match=r"params\.npz.*'shape' has 7 values per time step, the rig 'builtin' has "
                                           rf"{rig.num_shape} .*`avatar track` the video again"):
        load_capture(good_capture).check_rig(rig)


@pytest.mark.parametrize("record", ["signature", "hash"])
def test_a_capture_tracked_with_another_version_of_the_rig_says_to_track_again(tmp_path, record):
    """`avatar track` records the rig's geometry signature (captures before it, its hash): a rig of
    the same sizes with other geometry (a changed built-in head) would train on parameters fitted
    to another face."""
    from avatar.rig.loaders import load_rig
    from avatar.rig.signature import geometry_signature

    rig = load_rig("builtin")
    changed = load_rig("builtin")
    changed.v_template = changed.v_template.clone()
    changed.v_template[:300] += 1e-3  # 300 vertices moved 1 mm
    writer = CaptureWriter(tmp_path / "cap", fps=25.0, rig="builtin", cameras=[orbit_camera("a", 0.0, 8, 6)])
    writer.add_frame(0, 0, np.zeros((6, 8, 3), np.uint8), None)
    extra = {"rig_signature": geometry_signature(rig)} if record == "signature" else {"rig_hash": rig.identity_hash()}
    capture = writer.finish(rig.zero_params(), {"train": [0]}, extra=extra)
    capture.check_rig(rig)
    with pytest.raises(CaptureError, match=r"capture\.json.*another version of the rig 'builtin'.*`avatar track`"):
        capture.check_rig(changed)
