"""Offsets driven by the head's rotation (avatar/gaussians/pose_drivers.py): the rotation vector
from the mean training pose, its clamp to the training range, the model's drivers, the .avatar
file, and training that learns what changes with the head's pose."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.spatial.transform import Rotation

from avatar.data.capture import load_capture
from avatar.data.synthetic import make_synthetic_capture
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import load_avatar, save_avatar
from avatar.gaussians.pose_drivers import DRIVERS_PER_RADIAN, HeadPoseDrivers, head_orientation, rotation_vector
from avatar.rig.lbs import axis_angle_to_matrix
from avatar.rig.loaders import load_rig
from avatar.training.config import load_config
from avatar.training.evaluate import evaluate
from avatar.training.trainer import train
from tiny_rig import make_tiny_rig


def test_the_rotation_vector_is_scipys():
    g = torch.Generator().manual_seed(0)
    axes = torch.nn.functional.normalize(torch.randn(200, 3, generator=g, dtype=torch.float64), dim=-1)
    vectors = axes * torch.rand(200, 1, generator=g, dtype=torch.float64) * 3.0  # angles up to 3 rad
    vectors[0] = 0.0
    vectors[1] = torch.tensor([1e-9, 0, 0])
    m = torch.from_numpy(Rotation.from_rotvec(vectors.numpy()).as_matrix())
    torch.testing.assert_close(rotation_vector(m), vectors, atol=1e-9, rtol=0)


def _params_around(rig, mean: torch.Tensor, spread: torch.Tensor, count: int, seed: int = 0):
    """count frames whose head orientation (root then neck) is mean's rotation turned by up to
    spread [3] (radians per axis), split between the root and the neck joints."""
    g = torch.Generator().manual_seed(seed)
    params = rig.zero_params(count)
    turns = (torch.rand(count, 3, generator=g) * 2 - 1) * spread  # [T, 3]
    head = axis_angle_to_matrix(mean)[None] @ axis_angle_to_matrix(turns)  # [T, 3, 3]
    neck = 0.3 * turns
    root = head @ axis_angle_to_matrix(neck).transpose(-1, -2)
    params.rotation = torch.from_numpy(Rotation.from_matrix(root.double().numpy()).as_rotvec()).float()
    params.neck = neck
    return params, turns


def test_the_drivers_are_the_turn_from_the_mean_pose_clamped_to_the_training_range():
    rig = make_tiny_rig()
    mean = torch.tensor([0.1, -0.4, 0.05])
    params, turns = _params_around(rig, mean, torch.tensor([0.2, 0.4, 0.1]), 400)
    pose = HeadPoseDrivers.from_training(params)
    # the training frames spread evenly about the mean: it is found, and each frame's turn is its driver
    torch.testing.assert_close(pose.mean, axis_angle_to_matrix(mean), atol=0.02, rtol=0)
    drivers = pose.coefficients(params)  # [T, 3]
    assert ((drivers >= pose.low * DRIVERS_PER_RADIAN) & (drivers <= pose.high * DRIVERS_PER_RADIAN)).all()
    exact = rotation_vector(pose.mean.double().T @ head_orientation(params).double()).float()  # radians
    torch.testing.assert_close(drivers, exact * DRIVERS_PER_RADIAN)
    assert float((exact - turns).abs().max()) < 0.05
    torch.testing.assert_close(pose.low, exact.min(0).values)
    torch.testing.assert_close(pose.high, exact.max(0).values)
    # a pose the video never showed gets the nearest one's drivers: turned 1 rad further in yaw
    far, _ = _params_around(rig, mean, torch.zeros(3), 1)
    far.neck = torch.tensor([[0.0, 1.0, 0.0]])
    got = pose.coefficients(far)[0]
    assert float(got[1]) == pytest.approx(float(pose.high[1]) * DRIVERS_PER_RADIAN)
    assert abs(float(got[0])) < 0.05 * DRIVERS_PER_RADIAN and abs(float(got[2])) < 0.05 * DRIVERS_PER_RADIAN
    # what the clamp took off, as the viewer's stats count it: nothing inside, the overshoot past it
    assert float(pose.excess(params).max()) < 1e-6  # float rounding of the range's ends
    overshoot = float(exact_far := rotation_vector(pose.mean.T @ head_orientation(far))[0, 1]) - float(pose.high[1])
    assert exact_far > 1.0 and float(pose.excess(far)[0]) == pytest.approx(overshoot, abs=1e-5)
    assert not pose.outside(params).any() and pose.outside(far).tolist() == [True]


def test_the_viewer_stats_count_the_frames_shown_beyond_the_trained_poses():
    from viewer.stats import FrameRecord, FrameStats

    rig = make_tiny_rig()
    params, _ = _params_around(rig, torch.tensor([0.0, 0.2, 0.0]), torch.tensor([0.1, 0.3, 0.1]), 50)
    pose = HeadPoseDrivers.from_training(params)
    stats = FrameStats(pose)
    shown = [params.frame(i) for i in range(10)]  # inside the range
    for turn in (0.2, 0.5):  # two frames turned past the range's largest yaw
        far = params.frame(0)
        far.neck = torch.tensor([[0.0, 0.0, 0.0]])
        far.rotation = (rotation_vector(pose.mean @ axis_angle_to_matrix(torch.tensor([0.0, float(pose.high[1]) + turn,
                                                                                        0.0]))))[None]
        shown.append(far)
    for i, p in enumerate(shown):
        stats.add(FrameRecord(float(i), 1.0, 1.0, 1.0, None, None, i), p)
    counted = stats.summary()["head_pose_beyond_training"]
    assert (counted["frames"], counted["frames_outside"]) == (12, 2)
    assert counted["fraction"] == pytest.approx(2 / 12)
    assert counted["largest_excess_deg"] == pytest.approx(np.degrees(0.5), abs=0.01)
    assert FrameStats(None).summary()["head_pose_beyond_training"] is None  # no pose drivers: nothing counted


def test_the_model_appends_three_drivers_that_move_its_gaussians_with_the_head(tmp_path):
    rig = make_tiny_rig()
    params, _ = _params_around(rig, torch.tensor([0.0, 0.2, 0.0]), torch.tensor([0.1, 0.3, 0.1]), 50)
    pose = HeadPoseDrivers.from_training(params)
    plain = GaussianAvatar.on_mesh(rig, blend_expr=2)
    model = GaussianAvatar.on_mesh(rig, blend_expr=2, pose=pose)
    assert (plain.num_drivers, model.num_drivers) == (2 + 3, 2 + 3 + 3)
    torch.testing.assert_close(model.drivers(params)[:, :5], plain.drivers(params))
    torch.testing.assert_close(model.drivers(params)[:, 5:], pose.coefficients(params))
    with torch.no_grad():
        model.d_color[-1].fill_(0.5)  # the last pose driver (roll) brightens every Gaussian
    frame = params.frame(int(pose.coefficients(params)[:, 2].argmax()))
    offsets = model.applied_offsets(model.drivers(frame)[0])  # [N, 14]
    brighter = 0.5 * float(pose.high[2]) * DRIVERS_PER_RADIAN
    torch.testing.assert_close(offsets[:, 11:14], torch.full((model.num_gaussians, 3), brighter))
    # the file keeps the drivers (tests/test_avatar_file.py refuses broken ones)
    save_avatar(model, tmp_path / "m.avatar", {})
    loaded, _ = load_avatar(tmp_path / "m.avatar")
    torch.testing.assert_close(loaded.drivers(params), model.drivers(params), rtol=0, atol=0)
    save_avatar(plain, tmp_path / "plain.avatar", {})
    assert load_avatar(tmp_path / "plain.avatar")[0].pose_drivers is None


def _relight_with_the_pitch(root, strength: float = 3.0) -> None:
    """Rewrite a synthetic capture's images as if lit from above: each frame's head brighter or
    darker by strength x its pitch (radians) from the mean, which the rig's motion cannot show."""
    capture = load_capture(root)
    pose = HeadPoseDrivers.from_training(capture.params)
    pitch = pose.coefficients(capture.params)[:, 0] / DRIVERS_PER_RADIAN  # [T] radians
    for frame in capture.frames:
        path = root / frame.image
        image = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255  # [H, W, 3]
        head = np.asarray(Image.open(root / frame.mask).convert("L"), np.float32)[..., None] / 255  # [H, W, 1]
        lit = np.clip(image * (1.0 + strength * float(pitch[frame.time])), 0, 1)
        Image.fromarray(((head * lit + (1 - head) * image) * 255).round().astype(np.uint8)).save(path)


def test_training_with_pose_offsets_learns_light_that_follows_the_head(tmp_path):
    """The same training without pose offsets cannot fit the frames' brightness; with them it does."""
    rig = load_rig("builtin")
    root = tmp_path / "capture"
    make_synthetic_capture(rig, root, num_train=12, num_test=1, size=48, progress=False)
    _relight_with_the_pitch(root)
    capture = load_capture(root)
    scores = {}
    for pose_offsets in (False, True):
        cfg = load_config("fast", iterations=300, pose_offsets=pose_offsets, num_blend_expr=0, offsets_from_frac=0.0,
                          backend="torch", eval_every=0, checkpoint_every=0, seed=0)
        avatar = train(capture, rig, cfg, tmp_path / f"{pose_offsets}.avatar", progress=False)
        assert (avatar.model.pose_drivers is not None) == pose_offsets
        scores[pose_offsets] = evaluate(avatar.renderer, capture, "train")["psnr"]
    assert scores[True] > scores[False] + 1.0, scores
