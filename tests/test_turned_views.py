"""The numbers that see shards and floaters without ground truth, the turned cameras, and the
splits that hold head turns out."""

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from avatar.data.capture import load_capture
from avatar.data.splits import interleaved_splits, turn_splits
from avatar.data.synthetic import make_synthetic_capture
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.pose_drivers import turn_from_median
from avatar.splat.framing import camera_path
from avatar.rig.lbs import axis_angle_to_matrix
from avatar.rig.face_region import face_triangles
from avatar.rig.loaders import load_rig
from avatar.training.turned_views import (FAR_EDGES, NEEDLE_RATIO, hair_margin, outside_share, pixels_per_metre,
                                          silhouette, surface_shares, turned_camera)


def test_surface_shares_weigh_far_and_needle_face_gaussians_by_their_opacity():
    model = GaussianAvatar.on_mesh(load_rig("builtin"))
    face = face_triangles(model.rig)[model.parent]  # [N]
    on, off = torch.nonzero(face).flatten(), torch.nonzero(~face).flatten()
    with torch.no_grad():
        model.opacity_logit.fill_(0.0)  # 0.5 each
        model.opacity_logit[on[:10]] = 10.0  # ~1 each
        model.xyz[on[:10], 2] = FAR_EDGES + 0.1  # ten opaque face Gaussians far off along the normal
        model.xyz[on[10:30], 2] = -(FAR_EDGES + 0.2)  # twenty half-opaque ones far off behind
        model.log_scale[on[40:45]] = torch.log(torch.tensor([1.0, 0.1, 0.05]))  # needles
        model.log_scale[on[45:50]] = torch.log(torch.tensor([1.0, 1.0 / (NEEDLE_RATIO - 0.5), 0.05]))  # not quite
        model.xyz[off[:100], 2] = 3.0  # hair off the scalp: not counted
    opacity = model.opacity().detach().double()[on]
    shares = surface_shares(model)
    assert shares.far == pytest.approx(float(opacity[:30].sum() / opacity.sum()))
    assert shares.needle == pytest.approx(float(opacity[40:45].sum() / opacity.sum()))
    assert shares.either == pytest.approx(shares.far + shares.needle)
    assert shares.normal_offset_median < FAR_EDGES


def test_outside_share_counts_the_opacity_beyond_the_grown_silhouette():
    inside = np.zeros((20, 30), bool)
    inside[5:15, 5:15] = True
    alpha = torch.zeros(20, 30, 1)
    alpha[5:15, 5:15] = 1.0  # 100 on the silhouette
    alpha[10, 17] = 1.0  # 3 px beyond its edge (column 14)
    alpha[10, 25] = 0.5  # 11 px beyond
    assert outside_share(alpha, inside, margin_px=2.0) == pytest.approx(1.5 / 101.5)
    assert outside_share(alpha, inside, margin_px=5.0) == pytest.approx(0.5 / 101.5)
    assert outside_share(alpha, inside, margin_px=20.0) == 0.0
    assert outside_share(torch.zeros(20, 30, 1), inside, 2.0) == 0.0


@pytest.fixture(scope="module")
def capture_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("margin") / "capture"
    make_synthetic_capture(load_rig("builtin"), root, num_train=4, num_test=1, size=64, progress=False)
    return root


def test_the_hair_margin_is_how_far_the_matte_reaches_past_the_rig(capture_dir):
    rig = load_rig("builtin")
    capture = load_capture(capture_dir)
    assert hair_margin(capture, rig) * _pixels_per_metre(capture, rig) < 1.0  # the synthetic matte is the rig
    grown = 6
    for f in capture.splits["train"]:  # the matte grown by 6 px all round: hair the rig does not have
        path = capture.root / capture.frames[f].mask
        mask = np.asarray(Image.open(path)) > 127
        Image.fromarray((ndimage.binary_dilation(mask, iterations=grown, structure=np.ones((3, 3))) * 255)
                        .astype(np.uint8)).save(path)
    reach = hair_margin(load_capture(capture_dir), rig) * _pixels_per_metre(capture, rig)
    assert grown - 1.5 <= reach <= grown * math.sqrt(2) + 0.5


def _pixels_per_metre(capture, rig) -> float:
    f = capture.splits["train"][0]
    return pixels_per_metre(capture.camera(f), rig.forward(capture.frame_params(f))[0].mean(0))


def test_a_turned_camera_at_zero_is_the_front_camera_and_turns_the_silhouette():
    rig = load_rig("builtin")
    front = camera_path(rig, "front", 48, 1)(0)
    zero = turned_camera(rig, 0.0, 48)
    assert torch.allclose(zero.world_to_cam, front.world_to_cam) and torch.allclose(zero.K, front.K)
    verts = rig.v_template
    left, right = silhouette(rig, verts, turned_camera(rig, 35.0, 48)), silhouette(rig, verts, turned_camera(rig, -35.0, 48))
    assert left.sum() > 100 and np.array_equal(left, left) and not np.array_equal(left, right)
    # the rest head is nearly symmetric: turned either way its silhouettes mirror each other
    assert (left ^ right[:, ::-1]).sum() < 0.08 * left.sum()


def test_turn_splits_hold_out_the_furthest_turns_and_train_below_the_75th_percentile():
    turn = np.array([0.05, 0.3, 0.01, 0.2, 0.9, 0.02, 0.15, 0.4, 0.03, 0.6, 0.08, 0.12, 0.07, 0.25, 0.5, 0.04, 0.09,
                     0.11, 0.13, 0.06])
    splits = turn_splits(turn)
    assert splits["test"] == [4, 9, 14]  # 15% of 20: the three furthest, in frame order
    assert set(splits["train"]) == set(np.flatnonzero(turn < np.quantile(turn, 0.75)).tolist())
    assert max(turn[splits["train"]]) < min(turn[splits["test"]])
    assert not set(splits["train"]) & set(splits["test"])


def test_interleaved_splits_have_the_sizes_asked_and_hold_out_blocks_inside_the_clip():
    splits = interleaved_splits(100, num_test=15, num_train=75, block=5)
    test, train = np.array(splits["test"]), np.array(splits["train"])
    assert len(test) == 15 and len(train) == 75 and not set(test) & set(train)
    assert test.min() > 0 and test.max() < 99  # held out between training frames, not at the ends
    blocks = np.split(test, np.flatnonzero(np.diff(test) > 1) + 1)
    assert [len(b) for b in blocks] == [5, 5, 5]
    left_out = np.setdiff1d(np.arange(100), np.concatenate([test, train]))
    gap = lambda frames: np.abs(frames[:, None] - test[None]).min(1)  # noqa: E731
    assert gap(left_out).max() <= gap(train).min()  # the ten left out are the nearest to the test blocks
    with pytest.raises(ValueError, match="do not fit"):
        interleaved_splits(10, num_test=5, num_train=6, block=2)


def test_turn_from_median_measures_from_the_medoid_orientation():
    yaw = torch.tensor([0.0, 0.1, 0.12, 0.14, 1.0], dtype=torch.float64)
    orientation = axis_angle_to_matrix(torch.stack([torch.zeros(5), yaw, torch.zeros(5)], -1).double())
    turns = turn_from_median(orientation)
    assert torch.allclose(turns, (yaw - 0.12).abs(), atol=1e-6)  # the medoid is the 0.12 frame, not the mean (0.27)
