"""Hair that hangs below the line through the head's sides is kept in the masks; a collar is not."""

import numpy as np

from avatar.splat.cut_region import CutParts
from capture.matte.hanging_hair import carried_over, hair_hangs, hanging_hair, loose_matte

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


def _ear_frame(joined: bool) -> tuple[np.ndarray, CutParts]:
    """Hair hanging beside the jaw under an ear. joined: the strand's top meets the matte above the
    line; else the rig's ear (wider than the matte there) lies between them, as on a tilted head."""
    rows = np.arange(SIZE)[:, None] + np.zeros((1, SIZE), int)
    neck = np.zeros((SIZE, SIZE), bool)
    neck[:, 35:65] = True
    if not joined:
        neck[:50, 65:80] = True  # the ear, out past the hair's column under the line
    parts = CutParts(rows < 90, rows < 40, neck & (rows < 90) & (rows >= 40))
    matte = np.zeros((SIZE, SIZE), np.float32)
    matte[10:40, 35:76] = 1.0
    matte[40:50, 35:76] = 1.0
    matte[50:80, 70:76] = 1.0  # the strand
    return matte, parts


def test_hair_that_meets_the_head_only_through_the_rigs_ear_is_carried_over_from_the_frame_before():
    joined, through_ear = _ear_frame(True), _ear_frame(False)
    assert hanging_hair(*joined)[50:80, 70:76].all()
    assert not hanging_hair(*through_ear).any()  # alone, the frame cannot tell it from a collar
    frames = [joined, through_ear, through_ear, joined]

    def carried(order, follows):
        first = np.stack([hanging_hair(*frames[t]) for t in order])
        left = np.stack([loose_matte(*frames[t]) for t in order]) & ~first
        return carried_over(first, left, np.array(follows),
                            lambda i, nearby: hanging_hair(*frames[order[i]], kept_nearby=nearby))

    kept = carried([0, 1, 2, 3], [False, True, True, True])
    assert all(kept[t][50:80, 70:76].all() for t in range(4))
    assert carried([1, 2, 3], [False, True, True])[0][50:80, 70:76].all()  # from the frames after it
    broken = carried([0, 1, 2, 3], [False, False, True, False])
    assert not broken[1].any() and not broken[2].any()  # not across frames that do not follow each other


def test_a_video_keeps_hanging_hair_only_when_most_of_its_frames_have_it():
    """Hair hangs in (nearly) every frame; what a short-haired head shows below the line comes
    with a few poses (a shoulder meeting an ear), and the video keeps the cut at the line."""
    assert hair_hangs([0.09, 0.1, 0.08, 0.11])  # talking_woman_512: 8-12% of every frame
    assert not hair_hangs([0.0] * 8 + [0.05, 0.08])  # talking_man_glasses_512: a shirt in a tenth of them
    assert not hair_hangs([0.003] * 10)  # expressive_selfie_512: a few pixels of wispy hair
    assert not hair_hangs([])
