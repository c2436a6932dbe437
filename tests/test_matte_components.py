"""capture.matte.components.head_pieces: the matte's pieces that do not touch the fitted rig (a
bottle beside the head, a hand) go with their soft edge; the head's piece stays whole."""

import numpy as np

from capture.matte.components import head_pieces


def _disc(shape, centre, radius, soft=3.0):
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    distance = np.hypot(ys - centre[0], xs - centre[1])
    return np.clip((radius + soft - distance) / (2 * soft), 0, 1).astype(np.float32)  # soft rim


def test_a_piece_away_from_the_rig_goes_with_its_edge_and_the_head_stays():
    shape = (256, 256)
    head, bottle = _disc(shape, (128, 100), 60), _disc(shape, (60, 230), 12)
    alpha = np.maximum(head, bottle)
    rig = _disc(shape, (135, 100), 40) > 0.5  # the rig covers the face, not the hair's rim
    out = head_pieces(alpha, rig)
    np.testing.assert_array_equal(out[head > 0], alpha[head > 0])  # the head, hair and soft rim untouched
    assert out[bottle > 0].max() == 0  # the bottle and its soft rim gone
    assert out.dtype == alpha.dtype


def test_nothing_changes_when_every_piece_touches_the_rig():
    shape = (128, 128)
    alpha = np.maximum(_disc(shape, (64, 40), 25), _disc(shape, (64, 95), 20))
    rig = np.zeros(shape, bool)
    rig[64, 40] = rig[64, 95] = True
    assert head_pieces(alpha, rig) is alpha


def test_a_piece_touching_the_rig_only_at_one_pixel_stays_whole():
    shape = (128, 128)
    hair = _disc(shape, (40, 64), 30)
    rig = np.zeros(shape, bool)
    rig[40, 64] = True
    np.testing.assert_array_equal(head_pieces(hair, rig), hair)


def test_a_lock_of_hair_parted_from_the_head_by_a_few_pixels_stays():
    shape = (256, 256)
    head, lock = _disc(shape, (128, 100), 50, soft=1), _disc(shape, (128, 163), 6, soft=1)  # 7 px apart
    alpha = np.maximum(head, lock)
    rig = _disc(shape, (128, 100), 30) > 0.5
    np.testing.assert_array_equal(head_pieces(alpha, rig), alpha)
