"""The person matte of a real selfie video keeps the person and leaves out a bright object beside
her head: expressive_selfie_512's orange bottle on a shelf at the right of the frame, which
MediaPipe's general (square) selfie model called "person" in 53 of 54 frames sampled here, joined
to her hair through the dark wall between them."""

import numpy as np
import pytest

from conftest import DATA

pytest.importorskip("mediapipe", reason="the selfie matte needs mediapipe==0.10.21 (the capture extra)")

from avatar.data.video import read_video_frames  # noqa: E402
from capture.landmarks import SelfieMatte  # noqa: E402

CLIP = DATA / "videos" / "expressive_selfie_512.mp4"
EVERY = 15  # frames between samples: 36 of the clip's 536


def _bottle(rgb: np.ndarray) -> np.ndarray:
    """[H, W] bool: saturated orange in the frame's right third (the bottle; her skin and lips
    are not this saturated, and she is in the middle of the frame)."""
    x = rgb.astype(np.float32) / 255
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    orange = (r > 0.7) & (g > 0.25) & (g < 0.65) & (b < 0.35) & (r - b > 0.45)
    orange[:, : rgb.shape[1] * 2 // 3] = False
    return orange


def test_the_matte_keeps_her_and_leaves_out_the_bottle_beside_her_head():
    if not CLIP.is_file():
        pytest.skip(f"test video {CLIP} is missing (set AVATAR_TEST_DATA)")
    matte = SelfieMatte()
    sampled, bottle_frames, kept = 0, 0, []
    try:
        for i, rgb in enumerate(read_video_frames(CLIP)):
            if i % EVERY:
                continue
            alpha = matte.alpha(rgb)  # [H, W]
            h, w = alpha.shape
            sampled += 1
            # Her face fills the middle of every frame of this selfie.
            assert alpha[h * 2 // 5: h * 3 // 5, w * 2 // 5: w * 3 // 5].mean() > 0.95, f"frame {i}"
            bottle = _bottle(rgb)
            if bottle.sum() >= 100:
                bottle_frames += 1
                kept.append(float((alpha[bottle] > 0.5).mean()))
    finally:
        matte.close()
    assert sampled == 36
    assert bottle_frames >= 30, "the bottle is in view in most frames of the clip"
    assert max(kept) < 0.05, f"the matte keeps up to {max(kept):.0%} of the bottle's pixels"
