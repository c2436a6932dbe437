"""The rig's left-right mirror, the mirrored camera, and the weights of mirrored training frames."""

import numpy as np
import pytest
import torch

from avatar.data.capture import load_capture
from avatar.data.synthetic import make_synthetic_capture
from avatar.splat import Camera
from avatar.rig.loaders import load_rig
from avatar.rig.mirror import RigMirror
from avatar.splat.mesh_raster import faces_at_pixels
from avatar.training.mirrored import pixel_weights, seen_fraction, weighted
from avatar.training.turned_views import turned_camera
from conftest import DATA

REFLECT = torch.tensor([-1.0, 1.0, 1.0])


def random_params(rig, frames=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = rig.zero_params(frames)
    p.expr = torch.rand(p.expr.shape, generator=g) * 0.5
    for key, spread in (("jaw", 0.1), ("neck", 0.2), ("rotation", 0.3), ("eyes", 0.2), ("translation", 0.05)):
        setattr(p, key, torch.randn(getattr(p, key).shape, generator=g) * spread)
    p.shape = torch.randn(rig.num_shape, generator=g)
    return p


def test_the_mirrored_parameters_pose_the_mirror_image_of_the_head():
    rig = load_rig("builtin")
    mirror = RigMirror.of(rig)
    params = random_params(rig)
    verts, mirrored = rig.forward(params), rig.forward(mirror.params(params))
    assert (mirrored - verts[:, mirror.vertex] * REFLECT).norm(dim=-1).max() < 1e-6  # metres
    twice = mirror.params(mirror.params(params))
    for key in ("expr", "jaw", "neck", "rotation", "eyes", "translation", "shape"):
        torch.testing.assert_close(getattr(twice, key), getattr(params, key), atol=1e-5, rtol=0)
    # lips and lids closed at rest share positions: each is matched to its own mirror, not the other lip's
    assert torch.equal(mirror.vertex[mirror.vertex], torch.arange(rig.num_vertices))
    smile_l, smile_r = rig.expr_names.index("mouthSmile_L"), rig.expr_names.index("mouthSmile_R")
    assert mirror.expr[smile_r, smile_l] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.skipif(not (DATA / "rigs/ict-facekit").is_dir(), reason="the ICT rig is not in ../shared/data")
def test_ict_mirrors_within_its_sculpted_asymmetry():
    rig = load_rig(f"ict:{DATA / 'rigs/ict-facekit'}")
    mirror = RigMirror.of(rig)
    params = random_params(rig)
    gap = (rig.forward(mirror.params(params)) - rig.forward(params)[:, mirror.vertex] * REFLECT).norm(dim=-1)
    assert gap.max() < 5e-3 and gap.flatten().quantile(0.99) < 1.5e-3


def test_a_rig_that_is_not_symmetric_is_refused():
    rig = load_rig("builtin")
    rig.v_template = rig.v_template.clone()
    rig.v_template[rig.v_template[:, 0] > 0.05, 0] += 0.01  # one side of the head 1 cm wider
    with pytest.raises(ValueError, match="not left-right symmetric"):
        RigMirror.of(rig)


def test_the_mirrored_camera_shows_the_mirrored_head_as_the_image_flipped():
    rig = load_rig("builtin")
    mirror = RigMirror.of(rig)
    params = random_params(rig, frames=1, seed=3)
    camera = Camera.look_at((0.1, 0.05, 0.6), (0.0, 0.0, 0.0), 90, 70, fov_y_deg=30)
    camera.K[0, 2] += 4.0  # an off-centre principal point flips too
    pixels = camera.project(rig.forward(params)[0])
    mirrored = camera.mirrored().project(rig.forward(mirror.params(params))[0])
    flipped = torch.stack([camera.width - pixels[:, 0], pixels[:, 1]], -1)
    assert (mirrored[mirror.vertex] - flipped).abs().max() < 1e-3  # pixels
    assert torch.det(camera.mirrored().world_to_cam[:3, :3]) > 0  # a proper camera, not a reflection


def test_seen_fraction_counts_triangles_by_how_squarely_the_camera_saw_them():
    rig = load_rig("builtin")
    verts = rig.v_template
    front = turned_camera(rig, 0.0, 128)
    seen = seen_fraction(rig, verts, front, faces_at_pixels(verts, rig.faces, front))
    centroids = verts[rig.faces].mean(1)
    nose_tip = int(torch.argmax(centroids[:, 2]))
    back = int(torch.argmin(centroids[:, 2]))
    assert seen[nose_tip] > 0.9 and seen[back] == 0  # facing the camera; hidden behind the head
    assert ((seen > 0) & (seen < 1)).any()  # and the sides in between


def test_pixels_off_the_mesh_take_the_weight_of_the_nearest_pixel_on_it():
    faces = np.full((5, 6), -1)
    faces[1:4, 1:3] = 0
    faces[1:4, 3] = 1
    weights = pixel_weights(faces, torch.tensor([0.2, 0.9]))
    assert weights[2, 1] == pytest.approx(0.2) and weights[2, 3] == pytest.approx(0.9)
    assert weights[2, 5] == pytest.approx(0.9) and weights[2, 0] == pytest.approx(0.2)


def test_weighted_keeps_the_value_and_scales_the_gradient_per_pixel():
    image = torch.rand(2, 3, 3, requires_grad=True)
    w = torch.tensor([[0.0, 0.5, 1.0], [1.0, 0.25, 0.0]])[..., None]
    out = weighted(image, w)
    assert torch.equal(out.detach(), image.detach())
    out.sum().backward()
    torch.testing.assert_close(image.grad, w.expand(2, 3, 3))


def test_mirrored_frames_train_at_half_size_without_the_pose_offsets_and_leave_runs_without_them_alone(tmp_path):
    from avatar.training.config import load_config
    from avatar.training.mirrored import SCALE
    from avatar.training.trainer import Trainer

    make_synthetic_capture(load_rig("builtin"), tmp_path / "cap", num_train=4, num_test=1, size=40, progress=False)
    capture = load_capture(tmp_path / "cap")
    cfg = load_config("fast", iterations=4, eval_every=0, checkpoint_every=0, backend="torch", pose_offsets=True)
    device = torch.device("cpu")
    plain = Trainer(capture, load_rig("builtin"), cfg, tmp_path / "a.avatar", False, None, False, device)
    assert plain.mirrored is None
    on = Trainer(
        capture,
        load_rig("builtin"),
        cfg.updated(mirror_fraction=1.0),
        tmp_path / "b.avatar",
        False,
        None,
        False,
        device,
    )
    frame = capture.splits["train"][0]
    camera, full = on.mirrored[frame].camera, capture.camera(frame)
    assert (camera.width, camera.height) == (full.width // SCALE, full.height // SCALE)
    assert camera.K[0, 2] == pytest.approx((full.width - full.K[0, 2]) / SCALE)  # mirrored, then shrunk
    assert on.mirrored[frame].image().shape == (full.height // SCALE, full.width // SCALE, 3)
    drivers = on.mirrored[frame].drivers
    assert drivers.shape == (on.model.num_drivers,) and torch.equal(drivers[-3:], torch.zeros(3))  # no pose offsets
    weights = on.mirrored[frame].weights
    assert weights.shape == (camera.height, camera.width, 1) and 0 <= float(weights.min()) <= float(weights.max()) <= 1
    loss = on.mirrored_loss(frame)
    loss.backward()  # the mirrored term trains
    assert on.model.sh_dc.grad.abs().sum() > 0


def test_a_rig_without_a_mirror_trains_without_mirrored_frames_and_says_so(tmp_path, monkeypatch, caplog):
    from avatar.training import mirrored
    from avatar.training.config import load_config
    from avatar.training.trainer import Trainer

    def refuse(rig):
        raise ValueError(f"rig '{rig.name}' is not left-right symmetric: (a test)")

    monkeypatch.setattr(mirrored.RigMirror, "of", staticmethod(refuse))
    make_synthetic_capture(load_rig("builtin"), tmp_path / "cap", num_train=3, num_test=1, size=32, progress=False)
    cfg = load_config("fast", iterations=2, eval_every=0, checkpoint_every=0, backend="torch", mirror_fraction=0.5)
    trainer = Trainer(
        load_capture(tmp_path / "cap"),
        load_rig("builtin"),
        cfg,
        tmp_path / "a.avatar",
        False,
        None,
        False,
        torch.device("cpu"),
    )
    assert trainer.mirrored is None
    assert any("training without mirrored frames" in r.getMessage() for r in caplog.records)


def test_the_mirrored_camera_mirrors_its_colour_viewpoint():
    camera = Camera.look_at((0.1, 0.0, 0.6), (0.0, 0.0, 0.0), 32, 32).with_sh_origin(torch.tensor([0.05, 0.02, 0.6]))
    assert torch.allclose(camera.mirrored().view_origin, torch.tensor([-0.05, 0.02, 0.6]))


def test_what_the_video_saw_comes_from_at_most_seen_frames_evenly_spaced():
    from avatar.data.splits import spread

    frames = list(range(10, 5010, 2))  # a long clip's training frames
    picked = spread(frames, 600)
    assert len(picked) == 600 and picked[0] == frames[0] and picked[-1] in frames[-(len(frames) // 600 + 1) :]
    assert picked == sorted(set(picked)) and set(picked) <= set(frames)
    gaps = np.diff(picked)
    assert gaps.max() - gaps.min() <= 2  # evenly: one frame of the list either way
    assert spread(frames[:600], 600) == frames[:600]  # a short clip: all of them
