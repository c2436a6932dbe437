"""Evaluation marks the frames that ask an avatar for what its training frames never showed, and
scores them apart from the rest."""

import pytest
import torch

from avatar.data.capture import load_capture
from avatar.data.synthetic import make_synthetic_capture
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.pose_drivers import HeadPoseDrivers
from avatar.model import Avatar
from avatar.model.beyond_training import beyond_training
from avatar.rig.loaders import load_rig
from avatar.training.config import load_config
from avatar.training.evaluate import evaluate_avatar
from avatar.training.trainer import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small avatar whose offsets follow the head's pose (so it has both ranges), and its capture."""
    root = tmp_path_factory.mktemp("beyond")
    make_synthetic_capture(load_rig("builtin"), root / "capture", num_train=6, num_test=2, size=40, progress=False)
    capture = load_capture(root / "capture")
    cfg = load_config("fast", iterations=10, pose_offsets=True, backend="torch", eval_every=0, checkpoint_every=0)
    me = train(capture, load_rig("builtin"), cfg, root / "me.avatar", progress=False)
    assert me.expression_range is not None and me.model.pose_drivers is not None
    return me, root / "capture"


def test_training_frames_lie_inside_and_a_pushed_frame_is_scored_apart(trained):
    me, root = trained
    capture = load_capture(root)
    inside_time = capture.frames[capture.splits["train"][0]].time
    first, second = (capture.frames[f].time for f in capture.splits["test"])
    for time in (first, second):  # both test frames shown as a training frame was
        for key in ("expr", "jaw", "eyes", "rotation", "neck", "translation"):
            getattr(capture.params, key)[time] = getattr(capture.params, key)[inside_time]
    jaw_open = list(me.rig.expr_names).index("jawOpen")
    capture.params.expr[first, jaw_open] = float(me.expression_range.expr_high[jaw_open]) + 0.3  # the mouth wider

    metrics = evaluate_avatar(me, capture, ["train", "test"])
    trained_on, held = metrics["train"], metrics["test"]
    assert trained_on["beyond_training"]["either"] == 0  # the ranges are the training frames' own
    assert trained_on["beyond_training"]["psnr_beyond"] is None
    assert trained_on["beyond_training"]["psnr_inside"] == pytest.approx(trained_on["psnr"])
    rows = held["per_frame"]
    assert [r["beyond_expression"] for r in rows] == [True, False]
    assert [r["beyond_head_pose"] for r in rows] == [False, False]
    assert held["beyond_training"] == {"expression": 0.5, "head_pose": 0.0, "either": 0.5,
                                       "psnr_inside": rows[1]["psnr"], "psnr_beyond": rows[0]["psnr"]}


def test_a_head_turned_past_the_trained_poses_is_beyond(trained):
    me, root = trained
    params = load_capture(root).params
    pose: HeadPoseDrivers = me.model.pose_drivers
    turned = params.frame(0)
    turned.neck = turned.neck + torch.tensor([[0.0, 1.0, 0.0]])  # a full radian further in yaw
    beyond = beyond_training(me, turned)
    assert beyond.head_pose.tolist() == [True] and beyond.any().tolist() == [True]
    assert float(pose.excess(turned)[0]) > 0.5


def test_an_avatar_without_ranges_marks_nothing(trained):
    """Files from before the ranges were recorded, and models without pose offsets: unknown, not inside."""
    _, root = trained
    bare = Avatar(GaussianAvatar.on_mesh(load_rig("builtin")), backend="torch")  # no range, no pose drivers
    held = evaluate_avatar(bare, load_capture(root), ["test"])["test"]
    assert held["beyond_training"] is None
    assert all(r["beyond_expression"] is None and r["beyond_head_pose"] is None for r in held["per_frame"])
