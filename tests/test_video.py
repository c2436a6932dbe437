"""Video io: H.264 mp4 round trip, atomic writes, rotation metadata, corrupt files."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from avatar.data.errors import VideoError
from avatar.data.video import VideoWriter, probe_video, read_video_frames

# PyAV is a dependency of the project (pyproject.toml): skipped only where `pytest -m cuda` collects this
# module on a GPU machine that PyAV's wheel could not be carried to (benchmarks/gpu/gpu_check.py).
av = pytest.importorskip("av", reason="PyAV is not installed")

DATA = Path(os.environ.get("AVATAR_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def test_frames(n: int, height: int, width: int) -> list[np.ndarray]:
    """Smooth gradients with a moving bright square: easy to encode, easy to tell apart."""
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(n):
        f = np.stack([x * 255 / width, y * 255 / height, np.full_like(x, 40.0 + 10 * i)], -1)
        f[10:26, 4 + 3 * i : 20 + 3 * i] = 250.0
        frames.append(f.astype(np.uint8))
    return frames


test_frames.__test__ = False  # a helper, not a test


def test_round_trip(tmp_path):
    path = tmp_path / "clip.mp4"
    frames = test_frames(10, 48, 64)
    with VideoWriter(path, fps=25, width=64, height=48, crf=18) as writer:
        for f in frames:
            writer.write(f)
    assert path.is_file() and not (tmp_path / "clip.mp4.partial.mp4").exists()
    with av.open(str(path)) as container:  # PyAV's own view of the file
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width, stream.height, stream.frames) == (64, 48, 10)
    assert probe_video(path) == {"fps": 25.0, "frames": 10, "width": 64, "height": 48, "rotation": 0, "codec": "h264"}
    decoded = list(read_video_frames(path))
    assert len(decoded) == 10
    for original, back in zip(frames, decoded):
        assert back.shape == (48, 64, 3) and back.dtype == np.uint8
        assert np.abs(back.astype(float) - original).mean() < 4.0
    # Frames stay in order: each is closer to its own original than to the neighbours.
    errors = np.array([[np.abs(b.astype(float) - o).mean() for o in frames] for b in decoded])
    assert (errors.argmin(axis=1) == np.arange(10)).all()
    assert len(list(read_video_frames(path, max_frames=3))) == 3


def test_float_tensors_and_odd_sizes(tmp_path):
    path = tmp_path / "odd.mp4"
    frames = test_frames(3, 33, 45)
    with VideoWriter(path, fps=30, width=45, height=33) as writer:
        assert (writer.width, writer.height) == (46, 34)
        for f in frames:
            writer.write(torch.from_numpy(f).float() / 255.0)
    info = probe_video(path)
    assert (info["width"], info["height"], info["frames"]) == (46, 34, 3)
    back = next(read_video_frames(path))
    assert np.abs(back[:33, :45].astype(float) - frames[0]).mean() < 4.0
    assert np.abs(back[33, :45].astype(float) - frames[0][32]).mean() < 6.0  # edge row repeated


def test_aborted_writer_leaves_nothing(tmp_path):
    path = tmp_path / "aborted.mp4"
    with pytest.raises(RuntimeError, match="renderer crashed"):
        with VideoWriter(path, fps=30, width=32, height=32) as writer:
            writer.write(np.zeros((32, 32, 3), np.uint8))
            raise RuntimeError("renderer crashed")
    with pytest.raises(VideoError, match=r"\[32, 32, 3\]"):
        with VideoWriter(path, fps=30, width=32, height=32) as writer:
            writer.write(np.zeros((32, 30, 3), np.uint8))
    with pytest.raises(VideoError, match="no frames"):
        with VideoWriter(path, fps=30, width=32, height=32):
            pass
    assert list(tmp_path.iterdir()) == []


def test_an_interrupt_while_the_encoder_opens_leaves_nothing(tmp_path, monkeypatch):
    """SIGTERM (raised as avatar.cli's Terminated) or ^C can land while PyAV sets the encoder up,
    after the partial file exists and before the `with` block owns the writer."""
    import av

    class Interrupted(BaseException):
        pass

    real_open = av.open

    class InterruptedOnAddStream:
        """The opened container, with add_stream interrupted (PyAV's own types are immutable)."""

        def __init__(self, container):
            self.container = container

        def add_stream(self, *args, **kwargs):
            raise Interrupted()

        def __getattr__(self, name):
            return getattr(self.container, name)

    monkeypatch.setattr(av, "open", lambda *a, **k: InterruptedOnAddStream(real_open(*a, **k)))
    with pytest.raises(Interrupted):
        VideoWriter(tmp_path / "r.mp4", fps=30, width=32, height=32)
    assert list(tmp_path.iterdir()) == []


def tkhd_matrix(path: Path) -> np.ndarray:
    """The video track's display matrix from the mp4 'tkhd' box (ISO/IEC 14496-12), as floats.

    Returned as [[a, b, u], [c, d, v], [tx, ty, w]]; a point maps as
    x' = a x + c y + tx, y' = b x + d y + ty (screen coordinates, y down).
    """
    data = path.read_bytes()

    def boxes(start: int, end: int):
        while start + 8 <= end:
            size, kind = struct.unpack(">I4s", data[start : start + 8])
            header = 8
            if size == 1:
                size, header = struct.unpack(">Q", data[start + 8 : start + 16])[0], 16
            size = size or end - start
            yield kind, start + header, start + size
            start += size

    def find(kind: bytes, start: int, end: int):
        for k, body, stop in boxes(start, end):
            if k == kind:
                return body, stop
        raise AssertionError(f"no {kind} box")

    moov = find(b"moov", 0, len(data))
    trak = find(b"trak", *moov)
    body, _ = find(b"tkhd", *trak)
    version = data[body]
    offset = body + 4 + (32 if version == 1 else 20) + 16
    m = np.array(struct.unpack(">9i", data[offset : offset + 36]), dtype=float).reshape(3, 3)
    m[:, :2] /= 65536.0  # 16.16 fixed point
    m[:, 2] /= 2.0**30  # 2.30 fixed point
    return m


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotation_metadata_is_applied(tmp_path, rotation):
    path = tmp_path / "rotated.mp4"
    height, width = 32, 48
    frame = np.full((height, width, 3), 20, np.uint8)
    frame[:8, :8] = 255  # marks the stored top-left corner
    with VideoWriter(path, fps=30, width=width, height=height, rotation=rotation) as writer:
        writer.write(frame)
    # Where the container says the stored top-left corner is displayed.
    m = tkhd_matrix(path)
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=float)
    shown = corners @ m[:2, :2] + m[2, :2]  # [4, 2] display positions of the corners
    top_left = shown[0]
    at_right = top_left[0] > shown[:, 0].mean()
    at_bottom = top_left[1] > shown[:, 1].mean()
    span = shown.max(axis=0) - shown.min(axis=0)  # displayed width, height

    info = probe_video(path)
    assert (info["width"], info["height"]) == tuple(span.round().astype(int))
    decoded = next(read_video_frames(path))
    assert decoded.shape == (info["height"], info["width"], 3)
    rows = slice(-8, None) if at_bottom else slice(0, 8)
    cols = slice(-8, None) if at_right else slice(0, 8)
    assert decoded[rows, cols].mean() > 200
    assert decoded.mean() < 60  # only one corner is bright


def test_corrupt_and_missing_files(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    for path in (corrupt, tmp_path / "missing.mp4"):
        with pytest.raises(VideoError) as info:
            probe_video(path)
        assert str(path) in str(info.value)
        with pytest.raises(VideoError, match=path.name):
            read_video_frames(path)  # fails on the call, not on first iteration


def test_frame_count_without_header_count(tmp_path):
    """Matroska stores no frame count, so probe_video has to count packets."""
    path = tmp_path / "clip.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for f in test_frames(7, 32, 32):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(stream.encode(None))
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0  # the case under test
    info = probe_video(path)
    assert (info["frames"], info["fps"], info["width"]) == (7, 24.0, 32)
    assert len(list(read_video_frames(path))) == 7


def test_real_video_matches_its_description():
    path = DATA / "videos" / "wojtek_512.mp4"
    if not path.is_file():
        pytest.skip(f"test material {path} is absent")
    assert probe_video(path) == {
        "fps": 25.0,
        "frames": 400,
        "width": 512,
        "height": 512,
        "rotation": 0,
        "codec": "h264",
    }
    frames = list(read_video_frames(path, max_frames=2))
    assert len(frames) == 2 and frames[0].shape == (512, 512, 3) and frames[0].std() > 10


def test_training_and_evaluation_run_without_pyav(tmp_path):
    """PyAV is imported when a video is read or written, not by `avatar train` or `avatar eval`,
    which read none: on a machine without it (a GPU machine whose carry its wheel would fill)
    they run; writing a video there is what fails."""
    import subprocess
    import sys

    script = f"""
import sys
sys.modules["av"] = None  # any import of PyAV fails
from avatar.cli.main import main
from avatar.data.synthetic import make_synthetic_capture
from avatar.rig.builtin import build_builtin_head
make_synthetic_capture(build_builtin_head(), {str(tmp_path / "cap")!r}, num_train=2, num_test=1, size=16, progress=False)
assert main(["train", {str(tmp_path / "cap")!r}, "--out", {str(tmp_path / "m.avatar")!r}, "--iterations", "2",
             "--preset", "fast"]) == 0
assert main(["eval", {str(tmp_path / "m.avatar")!r}, {str(tmp_path / "cap")!r}]) == 0
from avatar.data.video import VideoWriter
try:
    VideoWriter({str(tmp_path / "v.mp4")!r}, 25, 16, 16)
except ImportError:
    print("writing needs PyAV")
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "writing needs PyAV" in result.stdout
