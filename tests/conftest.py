"""Fixtures shared by test modules: a small demo avatar (per module), cuda_ext's CPU module, a real phone clip tracked into a
capture, and an avatar trained from it (small and quick, but real: Gaussians densified from a
tracked video, with expression offsets, degree-2 colours and the cut below the head). They skip,
with the reason, when the module cannot build, or ../shared/data or mediapipe is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("AVATAR_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
REAL_CLIP = DATA / "videos" / "wojtek_512.mp4"
REAL_CAPTURE_SIZE = 128
# Enough steps for the offsets to be learnt (after their warm-up) and the Gaussians to densify.
REAL_TRAINING = [
    "--iterations",
    "900",
    "--set",
    "offsets_from_frac=0.3333",
    "--set",
    "eval_every=0",
    "--set",
    "checkpoint_every=0",
]


@pytest.fixture(scope="session")
def cpu_extension() -> None:
    """cuda_ext's CPU module loaded; the tests that use it skip where it cannot build."""
    import cuda_ext

    try:
        cuda_ext.load("cpu")
    except cuda_ext.ExtensionUnavailable as e:
        pytest.skip(f"the cuda_ext cpu module cannot be built/loaded: {e}")


@pytest.fixture(scope="session")
def real_capture(tmp_path_factory) -> Path:
    """wojtek_512 tracked at 128 px (64 frames: train and held-out test)."""
    pytest.importorskip("mediapipe", reason="tracking needs mediapipe==0.10.21 (the capture extra)")
    if not REAL_CLIP.is_file():
        pytest.skip(f"test video {REAL_CLIP} is missing (set AVATAR_TEST_DATA)")
    from avatar.cli.main import main

    out = tmp_path_factory.mktemp("real") / "capture"
    assert (
        main(["track", str(REAL_CLIP), "--out", str(out), "--size", str(REAL_CAPTURE_SIZE), "--max-frames", "64"]) == 0
    )
    return out


@pytest.fixture(scope="session")
def real_avatar(real_capture) -> Path:
    """An avatar trained from `real_capture` with the capture's preset (mono-phone), shortened."""
    from avatar.cli.main import main

    out = real_capture.parent / "real.avatar"
    assert main(["train", str(real_capture), "--out", str(out), *REAL_TRAINING]) == 0
    return out


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """`avatar demo` at 64 px, 30 iterations: a small avatar with its capture, model.avatar and demo.mp4."""
    from avatar.cli.main import main

    out = tmp_path_factory.mktemp("demo")
    code = main(
        ["demo", "--out", str(out), "--size", "64", "--train-frames", "12", "--test-frames", "4", "--iterations", "30"]
    )
    assert code == 0
    return out
