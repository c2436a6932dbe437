"""Hair that hangs below the line through the head's sides is kept in the masks; a collar is not."""

import numpy as np

from avatar.render.head_cut import CutParts
from capture.hanging_hair import hair_hangs, hanging_hair

SIZE = 100


def _parts() -> CutParts:
    """A head whose sides line runs along row 40 and whose neck line along row 90; the rig's own
    pixels (grown by the margin) are a face and neck in columns 35-64."""
    rows = np.arange(SIZE)[:, None] + np.zeros((1, SIZE), int)  # [H, W]
    neck = np.zeros((SIZE, SIZE), bool)
    neck[:, 35:65] = True
    above_ring, above_sides = rows < 90, rows < 40
    return CutParts(above_ring, above_sides, neck & above_ring & ~above_sides)


def test_hair_hanging_from_above_the_line_is_kept_down_to_where_the_matte_ends():
    parts = _parts()
    matte = np.zeros((SIZE, SIZE), np.float32)
    matte[10:40, 15:85] = 1.0  # the head's hair and face above the line
    strands = {16: 60, 20: 70, 24: 80, 28: 65}  # column: the strand's lower end (no straight line)
    for column, end in strands.items():
        matte[40:end, column] = 1.0
    kept = hanging_hair(matte, parts)
    for column, end in strands.items():
        assert kept[40:end, column].all()
        assert not kept[end + 3:, column].any()  # ends where the matte does (and its soft edge)
    assert not kept[parts.neck].any() and not kept[~parts.band].any()


def test_a_collar_rising_from_below_is_not_kept():
    parts = _parts()
    matte = np.zeros((SIZE, SIZE), np.float32)
    matte[10:40, 35:65] = 1.0  # a short-haired head: background beside it at the line
    matte[40:90, 5:95] = 1.0  # the neck, and shoulders risen up to the line beside it (background above them)
    assert not hanging_hair(matte, parts).any()


def test_a_collar_that_meets_the_head_through_the_rigs_pixels_alone_is_not_kept():
    """Under a wide jaw (the rig's pixels up to the line) the matte goes on beside the narrower
    neck: a collar joined to the head only through the jaw does not hang from above."""
    rows = np.arange(SIZE)[:, None] + np.zeros((1, SIZE), int)
    neck = np.zeros((SIZE, SIZE), bool)
    neck[:60, 30:70] = True  # the jaw, wide
    neck[60:, 40:60] = True  # the neck below it, narrower
    parts = CutParts(rows < 90, rows < 40, neck & (rows < 90) & (rows >= 40))
    matte = np.zeros((SIZE, SIZE), np.float32)
    matte[10:90, 30:70] = 1.0  # head, jaw and, beside the narrow neck, collar
    assert not hanging_hair(matte, parts).any()


def test_hair_fills_the_space_beside_a_narrowing_jaw():
    """Under the cheek the rig's pixels reach the line; below, the jaw narrows and the hair beside
    it fills the space: kept with the hair it joins, not cut out in vertical strips under the cheek."""
    rows = np.arange(SIZE)[:, None] + np.zeros((1, SIZE), int)
    neck = np.zeros((SIZE, SIZE), bool)
    neck[:55, 30:70] = True  # cheeks and jaw, wide down to row 55
    neck[55:, 40:60] = True  # the chin and neck below, narrower
    parts = CutParts(rows < 90, rows < 40, neck & (rows < 90) & (rows >= 40))
    matte = np.zeros((SIZE, SIZE), np.float32)
    matte[10:85, 20:80] = 1.0  # long hair each side, joining under the jaw
    kept = hanging_hair(matte, parts)
    beside_jaw = (rows >= 55) & (rows < 85) & ~neck
    beside_jaw[:, :20] = beside_jaw[:, 80:] = False
    assert kept[beside_jaw].all()


def test_a_gap_in_the_matte_ends_the_hair_and_the_soft_edge_comes_along():
    parts = _parts()
    matte = np.zeros((SIZE, SIZE), np.float32)
    matte[10:40, 15:85] = 1.0
    matte[40:70, 20] = 1.0
    matte[50, 20] = 0.2  # background shows through the hair here
    matte[40:70, 19] = 0.3  # the matte's fuzz beside the strand
    kept = hanging_hair(matte, parts)
    assert kept[40:50, 20].all() and not kept[52:, 20].any()
    assert kept[40:50, 19].all()  # the soft edge beside a run stays with it


def test_a_video_keeps_hanging_hair_only_when_most_of_its_frames_have_it():
    """Hair hangs in (nearly) every frame; what a short-haired head shows below the line comes
    with a few poses (a shoulder meeting an ear), and the video keeps the cut at the line."""
    assert hair_hangs([0.09, 0.1, 0.08, 0.11])  # talking_woman_512: 8-12% of every frame
    assert not hair_hangs([0.0] * 8 + [0.05, 0.08])  # talking_man_glasses_512: a shirt in a tenth of them
    assert not hair_hangs([0.003] * 10)  # expressive_selfie_512: a few pixels of wispy hair
    assert not hair_hangs([])
