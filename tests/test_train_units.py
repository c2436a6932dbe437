"""Training pieces: config presets, per-frame rig refinement, SSIM/PSNR against known values."""

import math

import pytest
import torch

from avatar.gaussians import GaussianAvatar, blend
from avatar.render import Camera, splat
from avatar.training.config import TrainConfig, load_config
from avatar.training.image_metrics import psnr, ssim
from avatar.training.optim import make_optimizer
from avatar.training.param_refiner import ParamRefiner
from avatar.training.trainer import _regularisers
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


def test_refiner_receives_gradients_through_the_renderer():
    rig = make_tiny_rig()
    model = GaussianAvatar.on_mesh(rig)
    params = rig.zero_params(4)
    refiner = ParamRefiner(params)
    cam = Camera.look_at([0, 0, 0.6], [0, 0, 0], 32, 32)
    out = splat(blend(model, refiner.frame(2), "torch"), cam, None, "torch")
    out.rgb.sum().backward()
    assert refiner.delta("translation", 2).grad.abs().sum() > 0  # the frame that was rendered
    assert all(refiner.delta("translation", t).grad is None for t in (0, 1, 3))  # the others untouched
    assert refiner.delta("rotation", 2).grad.abs().sum() > 0
    torch.testing.assert_close(refiner.refined().translation, params.translation)


def test_a_refined_frame_stays_where_its_last_step_left_it():
    """Training steps on other frames do not move a frame's refined parameters (Adam's momentum
    alone moved every row of a [T, K] tensor for dozens of steps after its frame was rendered)."""
    rig = make_tiny_rig()
    model = GaussianAvatar.on_mesh(rig)
    refiner = ParamRefiner(rig.zero_params(3))
    optimizer = make_optimizer(model, TrainConfig(), refiner)
    cam = Camera.look_at([0, 0, 0.6], [0, 0, 0], 32, 32)

    def step(time: int) -> None:
        optimizer.zero_grad(set_to_none=True)
        splat(blend(model, refiner.frame(time), "torch"), cam, None, "torch").rgb.sum().backward()
        optimizer.step()

    step(0)
    after_its_step = refiner.refined()
    assert after_its_step.translation[0].abs().sum() > 0  # it was refined
    for _ in range(10):
        step(1)
    torch.testing.assert_close(refiner.refined().translation[0], after_its_step.translation[0], rtol=0, atol=0)
    torch.testing.assert_close(refiner.refined().expr[0], after_its_step.expr[0], rtol=0, atol=0)
    assert not torch.equal(refiner.refined().translation[1], after_its_step.translation[1])


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
    loss = _regularisers(model, cfg, torch.zeros(n, 14))
    assert loss.item() == pytest.approx(0.1 * 1.5 / n)
    loss.backward()
    assert model.xyz.grad[0, 2] > 0 and model.xyz.grad[0, :2].abs().sum() == 0  # descent moves it back along z
    assert model.xyz.grad[1:].abs().sum() == 0
    tighter = _regularisers(model, TrainConfig(xyz_reg=0.1, xyz_reg_threshold=0.4, offset_reg=0.0), torch.zeros(n, 14))
    assert tighter.item() == pytest.approx(0.1 * (2.1 + 0.1) / n)
