"""The matte refinement follows the frame's own structure: strands stand out from the wall between
them, the segmenter's speckle goes, and away from edges the matte is kept."""

import numpy as np
import pytest

pytest.importorskip("cv2", reason="the matte refinement needs OpenCV's contrib build (the capture extra)")

from capture.matte.refine import refine_matte  # noqa: E402

SIZE = 128
EDGE = 60  # columns < EDGE are the hair's mass, the rest is wall
BAND = 6  # columns of loose strands beyond it


def _strands_over_a_wall(seed: int):
    """A frame of dark hair with 1-px strands over a light wall, and a segmenter-like confidence:
    unsure (about 0.5) over the strands' band, a little higher on strands than on the wall between
    them, with speckle. Returns rgb, confidence, strand pixels, wall pixels of the band."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    in_band = (cols >= EDGE) & (cols < EDGE + BAND)
    strands = in_band & ((cols + rows // 3) % 4 == 0)
    truth = ((cols < EDGE) | strands).astype(np.float32)
    hair, wall = np.array([60, 45, 35]), np.array([225, 215, 190])
    rgb = truth[..., None] * hair + (1 - truth[..., None]) * wall + rng.normal(0, 3, (SIZE, SIZE, 3))
    unsure = (cols >= EDGE - 1) & (cols < EDGE + BAND)
    confidence = (cols < EDGE - 1).astype(np.float32)
    confidence[unsure] = np.clip(0.35 + 0.3 * truth[unsure] + rng.normal(0, 0.25, unsure.sum()), 0, 1)
    return np.clip(rgb, 0, 255).astype(np.uint8), confidence, strands, in_band & ~strands


def _separation(alpha: np.ndarray, strands: np.ndarray, wall: np.ndarray) -> float:
    """How far apart strand and wall pixels are, in units of their spread."""
    return float((alpha[strands].mean() - alpha[wall].mean()) / np.sqrt((alpha[strands].var() + alpha[wall].var()) / 2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_strands_stand_out_from_the_wall_between_them(seed):
    rgb, confidence, strands, wall = _strands_over_a_wall(seed)
    alpha = refine_matte(rgb, confidence)
    assert alpha.shape == confidence.shape and alpha.dtype == np.float32
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    # A blur would average strands and wall together (separation near 0); the raw map is noisy (about 1).
    assert _separation(alpha, strands, wall) > 2 * _separation(confidence, strands, wall)


def test_away_from_edges_the_matte_is_kept():
    rgb, confidence, _, _ = _strands_over_a_wall(3)
    alpha = refine_matte(rgb, confidence)
    assert np.all(alpha[:, :EDGE - 8] > 0.98) and np.all(alpha[:, EDGE + BAND + 8:] < 0.02)


def test_a_matte_of_another_size_is_refused():
    rgb, confidence, _, _ = _strands_over_a_wall(4)
    with pytest.raises(ValueError, match="shape"):
        refine_matte(rgb, confidence[:-1])
