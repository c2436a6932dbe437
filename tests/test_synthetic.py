"""Synthetic captures: loadable, consistent with their own ground truth, held-out test frames."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from tiny_rig import make_tiny_rig

from avatar.data.capture import load_capture
from avatar.data.synthetic import HEAD_LIGHT, make_synthetic_capture
from avatar.data.synthetic_motion import make_motion
from avatar.splat.mesh_raster import rasterize_mesh
from avatar.rig.lbs import axis_angle_to_matrix


def small_capture(tmp_path, name="cap", **kw):
    rig = make_tiny_rig(subdivisions=2, num_expr=6)
    args = dict(num_train=12, num_test=6, size=32, progress=False)
    args.update(kw)
    return rig, make_synthetic_capture(rig, tmp_path / name, **args)


def test_writes_a_loadable_capture_with_requested_counts(tmp_path):
    rig, made = small_capture(tmp_path, rig_spec="tiny:spec")
    cap = load_capture(tmp_path / "cap")
    assert cap.rig == "tiny:spec" and len(cap.cameras) == 1
    assert len(cap.frames) == 18 and cap.params.num_frames == 18
    assert sorted(cap.splits) == ["test", "train"]
    assert [cap.frames[i].time for i in cap.splits["train"]] == list(range(12))
    assert [cap.frames[i].time for i in cap.splits["test"]] == list(range(12, 18))
    assert cap.load_image(0).shape == (32, 32, 3) and cap.load_mask(0).shape == (32, 32, 1)
    torch.testing.assert_close(cap.params.expr, made.params.expr)
    assert cap.extra["motion"]["held_out_expression_pairs"]


def test_images_are_the_rig_rendered_with_the_stored_params_and_camera(tmp_path):
    rig, cap = small_capture(tmp_path)
    for frame in (0, 7, 15):
        params = cap.frame_params(frame)
        verts = rig.forward(params)[0]
        light = axis_angle_to_matrix(params.rotation[0]) @ torch.tensor(HEAD_LIGHT)  # turns with the head
        out = rasterize_mesh(verts, rig.faces, cap.camera(frame), rig.vertex_colors,
                             background=(1.0, 1.0, 1.0), supersample=2, light_dir=light)
        assert (cap.load_image(frame) - out.rgb).abs().max() <= 1.0 / 255 + 1e-6
        assert (cap.load_mask(frame) - out.mask).abs().max() <= 1.0 / 255 + 1e-6


def test_masks_match_non_background_pixels_and_frame_the_head(tmp_path):
    _, cap = small_capture(tmp_path)
    for frame in range(len(cap.frames)):
        image, mask = cap.load_image(frame), cap.load_mask(frame)[..., 0]
        background = (image == 1.0).all(-1)
        assert torch.equal(mask == 0, background), f"frame {frame}"
        assert 0.1 < mask.mean() < 0.7  # the head is in view and not cropped to the edges
        border = torch.cat([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
        assert (border == 0).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("names", [True, False], ids=["arkit", "pca"])
def test_test_frames_are_held_out(seed, names):
    rig = make_tiny_rig(num_expr=12 if names else 30)
    if not names:
        rig = dataclasses.replace(rig, expr_names=None)
    plan = make_motion(rig, num_train=150, num_test=30, seed=seed)
    expr = plan.params.expr.double().numpy()
    train, test = expr[plan.train_times], expr[plan.test_times]
    # Distance in expression space from every test frame to its nearest training frame.
    nearest = np.sqrt(((test[:, None] - train[None]) ** 2).sum(-1)).min(1)
    assert nearest.min() > 0.2
    # Each test frame co-activates a pair of shapes that no training frame co-activates.
    train_on = np.abs(train) > 1e-6
    seen_pairs = (train_on[:, :, None] & train_on[:, None, :]).any(0)  # [E, E]
    test_on = np.abs(test) > 0.2
    novel = test_on[:, :, None] & test_on[:, None, :] & ~seen_pairs
    assert novel.any(axis=(1, 2)).all()
    # Head orientation (root then neck): every test pose is away from every training pose.
    head = [Rotation.from_rotvec(plan.params.rotation[t].double().numpy())
            * Rotation.from_rotvec(plan.params.neck[t].double().numpy()) for t in range(180)]
    angles = np.array([[np.degrees((head[a].inv() * head[b]).magnitude()) for b in plan.train_times]
                       for a in plan.test_times])
    assert angles.min(1).min() > 3.0


@pytest.mark.parametrize("names", [True, False], ids=["arkit", "pca"])
def test_training_motion_covers_ranges_smoothly(names):
    rig = make_tiny_rig(num_expr=12 if names else 30)
    if not names:
        rig = dataclasses.replace(rig, expr_names=None)
    p = make_motion(rig, num_train=150, num_test=30, seed=0).params
    train = list(range(150))
    expr = p.expr[train].double()
    if names:
        assert expr.min() >= 0 and expr.max() <= 1
        assert (expr.amax(0) > 0.3).all()  # every blendshape is exercised in training
    else:
        assert expr.abs().max() <= 2 and (expr[:, :20].abs().amax(0) > 0.3).all()
    yaw, pitch = torch.rad2deg(p.rotation[train, 1]), torch.rad2deg(p.rotation[train, 0])
    assert yaw.min() < -12 and yaw.max() > 12 and pitch.abs().max() > 6
    assert yaw.abs().max() <= 30 + 1e-3 and pitch.abs().max() <= 15 + 1e-3  # float32 radians round trip
    assert torch.rad2deg(p.rotation[:, 2]).abs().max() <= 8
    assert p.jaw[:, 0].min() >= 0 and p.jaw[:, 0].max() <= 0.3 and p.jaw[:, 1:].abs().max() == 0
    assert torch.rad2deg(p.eyes).abs().max() <= 15 and p.translation.abs().max() <= 0.01
    # Smooth: consecutive training frames move a small part of the range, never jump across it.
    assert (expr[1:] - expr[:-1]).abs().max() < 0.3 * (expr.max() - expr.min())
    assert torch.rad2deg(p.rotation[train][1:] - p.rotation[train][:-1]).abs().max() < 5


def test_same_seed_gives_identical_capture(tmp_path):
    _, a = small_capture(tmp_path, "a", seed=3, num_train=6, num_test=3)
    _, b = small_capture(tmp_path, "b", seed=3, num_train=6, num_test=3)
    _, c = small_capture(tmp_path, "c", seed=4, num_train=6, num_test=3)
    for key in ("expr", "jaw", "rotation", "eyes", "neck", "translation"):
        assert torch.equal(getattr(a.params, key), getattr(b.params, key))
    assert not torch.equal(a.params.expr, c.params.expr)
    for frame in range(len(a.frames)):
        assert (a.root / a.frames[frame].image).read_bytes() == (b.root / b.frames[frame].image).read_bytes()


def test_multiview_holds_out_one_camera(tmp_path):
    _, cap = small_capture(tmp_path, num_cameras=3, num_train=6, num_test=4)
    held = cap.extra["cameras"]["held_out_camera"]
    assert held == 1 and len(cap.cameras) == 3
    cams = lambda split: {cap.frames[i].camera for i in cap.splits[split]}  # noqa: E731
    times = lambda split: sorted({cap.frames[i].time for i in cap.splits[split]})  # noqa: E731
    assert cams("train") == {0, 2} and cams("test") == {0, 2} and cams("test_camera") == {1}
    assert times("train") == list(range(6)) and times("test") == list(range(6, 10))
    assert times("test_camera") == list(range(6))
    assert len(cap.splits["train"]) == 12 and len(cap.splits["test"]) == 8
    assert len(cap.splits["test_camera"]) == 6
    all_frames = sorted(sum(cap.splits.values(), []))
    assert all_frames == list(range(len(cap.frames)))  # every frame in exactly one split
    # Cameras on an arc: each looks straight at the head from the same distance.
    target = torch.tensor(cap.extra["cameras"]["target"] + [1.0], dtype=torch.float64)
    distance = cap.extra["cameras"]["distance"]
    yaws = []
    for c in cap.cameras:
        in_cam = torch.as_tensor(c.world_to_cam) @ target
        torch.testing.assert_close(in_cam[:3], torch.tensor([0.0, 0.0, distance], dtype=torch.float64),
                                   atol=1e-5, rtol=0)
        offset = torch.linalg.inv(torch.as_tensor(c.world_to_cam))[:3, 3] - target[:3]
        yaws.append(float(torch.rad2deg(torch.atan2(offset[0], offset[2]))))
    assert yaws == pytest.approx([-60.0, 0.0, 60.0], abs=1e-3)


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match="expressions"):
        make_synthetic_capture(make_tiny_rig(num_expr=1), tmp_path / "x", progress=False)
    with pytest.raises(ValueError, match="size"):
        make_synthetic_capture(make_tiny_rig(), tmp_path / "y", size=4, progress=False)
