"""Training pieces: config presets, SSIM/PSNR against known values, regularisers."""

import math

import pytest
import torch

from avatar.gaussians import GaussianAvatar
from avatar.training.config import TrainConfig, load_config
from avatar.training.image_metrics import psnr, ssim
from avatar.training.regularisers import normal_extent, regularisers
from tiny_rig import make_tiny_rig


def test_presets_and_overrides():
    cfg = load_config("fast", iterations=7)
    assert cfg.iterations == 7 and cfg.per_face == 1
    assert load_config("quality").sh_degree == 3
    with pytest.raises(ValueError, match="presets:"):
        load_config("no-such-preset")
    with pytest.raises(ValueError, match="unknown config keys: bogus"):
        load_config(None, bogus=1)


def test_psnr_and_ssim_on_known_cases():
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(32, 32, 3, generator=gen)
    assert psnr(a, a) == math.inf
    assert abs(psnr(a, (a + 0.1).clamp(max=10)) - 20.0) < 1e-6  # MSE 0.01 -> 20 dB
    assert abs(float(ssim(a, a)) - 1.0) < 1e-6
    assert float(ssim(a, torch.rand(32, 32, 3, generator=gen))) < 0.2


def test_binding_regulariser_pulls_back_only_gaussians_past_its_threshold():
    """xyz_reg x the mean distance past xyz_reg_threshold (triangle units): a Gaussian inside the
    threshold feels nothing, one past it is pulled towards its triangle."""
    model = GaussianAvatar.on_mesh(make_tiny_rig())
    n = model.xyz.shape[0]
    with torch.no_grad():
        model.log_scale.fill_(math.log(0.1))  # below scale_reg_threshold: the scale term is zero
        model.xyz[0] = torch.tensor([0.0, 0.0, 2.5])  # 1.5 past the threshold
        model.xyz[1] = torch.tensor([0.3, 0.4, 0.0])  # inside it
    cfg = TrainConfig(xyz_reg=0.1, xyz_reg_threshold=1.0, offset_reg=0.0)
    loss = regularisers(model, cfg, torch.zeros(n, 14), torch.zeros(model.rig.num_faces, dtype=torch.bool))
    assert loss.item() == pytest.approx(0.1 * 1.5 / n)
    loss.backward()
    assert model.xyz.grad[0, 2] > 0 and model.xyz.grad[0, :2].abs().sum() == 0  # descent moves it back along z
    assert model.xyz.grad[1:].abs().sum() == 0
    tighter = regularisers(
        model,
        TrainConfig(xyz_reg=0.1, xyz_reg_threshold=0.4, offset_reg=0.0),
        torch.zeros(n, 14),
        torch.zeros(model.rig.num_faces, dtype=torch.bool),
    )
    assert tighter.item() == pytest.approx(0.1 * (2.1 + 0.1) / n)


def test_face_offset_regulariser_pulls_only_face_gaussians_back_onto_their_plane():
    """face_offset_reg x the mean distance off the triangle's plane past face_offset_threshold,
    counted on the face's triangles only; the frame's applied offsets count too."""
    model = GaussianAvatar.on_mesh(make_tiny_rig())
    n, faces = model.num_gaussians, model.rig.num_faces
    face = torch.zeros(faces, dtype=torch.bool)
    face[model.parent[0]] = True
    with torch.no_grad():
        model.log_scale.fill_(math.log(0.1))
        model.xyz[0] = torch.tensor([0.0, 0.0, 0.45])  # on the face, 0.2 past 0.25
        model.xyz[1] = torch.tensor([0.0, 0.0, 0.9])  # as far off, but not on the face
    base = TrainConfig(offset_reg=0.0, xyz_reg=0.0)
    cfg = TrainConfig(offset_reg=0.0, xyz_reg=0.0, face_offset_reg=2.0, face_offset_threshold=0.25)
    zero = torch.zeros(n, 14)
    assert regularisers(model, base, zero, face).item() == 0
    loss = regularisers(model, cfg, zero, face)
    assert loss.item() == pytest.approx(2.0 * 0.2 / n)
    loss.backward()
    assert model.xyz.grad[0, 2] > 0 and model.xyz.grad[1:].abs().sum() == 0
    applied = zero.clone()
    applied[0, 2] = -0.3  # this frame's offsets bring it back within the threshold
    assert regularisers(model, cfg, applied, face).item() == pytest.approx(0.0)


def test_flat_regulariser_measures_the_extent_along_the_normal_and_turns_tilted_discs_flat():
    model = GaussianAvatar.on_mesh(make_tiny_rig())
    n = model.num_gaussians
    with torch.no_grad():
        model.log_scale.copy_(torch.log(torch.tensor([0.3, 0.3, 0.02])).expand(n, 3))  # flat discs in the plane
        tilt = math.radians(30)  # the first disc tilted 30 degrees about its x axis
        model.rot[0] = torch.tensor([math.cos(tilt / 2), math.sin(tilt / 2), 0.0, 0.0])
    extent = normal_extent(model, torch.zeros(n, 14))
    assert extent[1:].allclose(torch.tensor(0.02), atol=1e-6)
    assert extent[0].item() == pytest.approx(
        math.sqrt((0.3 * math.sin(tilt)) ** 2 + (0.02 * math.cos(tilt)) ** 2), rel=1e-5
    )
    cfg = TrainConfig(offset_reg=0.0, xyz_reg=0.0, flat_reg=1.0, flat_threshold=0.05)
    loss = regularisers(model, cfg, torch.zeros(n, 14), torch.zeros(model.rig.num_faces, dtype=torch.bool))
    assert loss.item() == pytest.approx((extent[0].item() - 0.05) / n, rel=1e-5)
    loss.backward()
    assert model.rot.grad[0].abs().sum() > 0 and model.rot.grad[1:].abs().sum() == 0


def test_needle_regulariser_shortens_only_face_needles_past_the_ratio():
    model = GaussianAvatar.on_mesh(make_tiny_rig())
    n, faces = model.num_gaussians, model.rig.num_faces
    face = torch.zeros(faces, dtype=torch.bool)
    face[model.parent[0]] = True
    with torch.no_grad():
        model.log_scale.copy_(torch.log(torch.tensor([0.1, 0.1, 0.02])).expand(n, 3))  # discs
        model.log_scale[0] = torch.log(torch.tensor([0.8, 0.1, 0.02]))  # a needle on the face: 8 x its width
        model.log_scale[1] = torch.log(torch.tensor([0.8, 0.1, 0.02]))  # the same elsewhere (hair may be strands)
    cfg = TrainConfig(offset_reg=0.0, xyz_reg=0.0, scale_reg=0.0, needle_reg=1.0, needle_ratio=4.0)
    loss = regularisers(model, cfg, torch.zeros(n, 14), face)
    assert loss.item() == pytest.approx(math.log(8.0 / 4.0) / n, rel=1e-5)
    loss.backward()
    assert model.log_scale.grad[0, 0] > 0 and model.log_scale.grad[0, 1] < 0  # longer axis shrinks, the middle grows
    assert model.log_scale.grad[1:].abs().sum() == 0


def test_floater_regulariser_fades_only_the_gaussians_marked_floating():
    model = GaussianAvatar.on_mesh(make_tiny_rig())
    n, faces = model.num_gaussians, model.rig.num_faces
    with torch.no_grad():
        model.log_scale.fill_(math.log(0.1))
        model.opacity_logit.fill_(0.0)  # 0.5 each
    floating = torch.zeros(n, dtype=torch.bool)
    floating[0] = True
    cfg = TrainConfig(offset_reg=0.0, xyz_reg=0.0, floater_reg=2.0)
    face = torch.zeros(faces, dtype=torch.bool)
    assert regularisers(model, cfg, torch.zeros(n, 14), face).item() == 0  # nothing marked: nothing
    loss = regularisers(model, cfg, torch.zeros(n, 14), face, floating)
    assert loss.item() == pytest.approx(2.0 * 0.5 / n)
    loss.backward()
    assert model.opacity_logit.grad[0] > 0 and model.opacity_logit.grad[1:].abs().sum() == 0
