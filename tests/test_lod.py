"""The level of detail (avatar.renderer.lod) and the viewer's switch to it (viewer.detail)."""

import pytest
import torch

from avatar.gaussians.io import load_avatar
from avatar.splat.framing import camera_path
from avatar.renderer import AvatarRenderer
from avatar.renderer.lod import BuildStopped, contributions, level_of_detail, pruned


@pytest.fixture(scope="module")
def avatar(real_avatar, real_capture):
    from avatar.data.capture import load_capture

    model, config = load_avatar(real_avatar)
    capture = load_capture(real_capture)
    params = capture.params.to(dtype=torch.float32)
    params.shape = torch.as_tensor(config["identity_shape"], dtype=torch.float32)
    train = params.select([capture.frames[f].time for f in capture.splits["train"][::10]])
    test = params.select([capture.frames[f].time for f in capture.splits["test"][::3]])
    return model, train, test


def test_contributions_are_the_images_weight(avatar):
    """A Gaussian's contribution is its blending weight summed over the pixels: together they are
    the rendered alpha, summed over the pixels of every frame (the weights of a pixel sum to it)."""
    model, train, _ = avatar
    cameras = [camera_path(model.rig, "front", 64, 1)(0), camera_path(model.rig, "arc", 64, 4)(1)]
    weight = contributions(model, train.select([0, 1]), cameras)
    renderer = AvatarRenderer(model, (0.0, 0.0, 0.0), "cpu")
    alpha = 0.0
    model_cut, model.head_cut = model.head_cut, None  # the sum is over the splat's image, before the cut
    try:
        for t in (0, 1):
            for camera in cameras:
                alpha += float(renderer.render(train.frame(t), camera).alpha.sum())
    finally:
        model.head_cut = model_cut
    assert weight.shape == (model.num_gaussians,) and (weight >= 0).all()
    assert float(weight.sum()) == pytest.approx(alpha, rel=1e-3)
    assert float((weight == 0).float().mean()) > 0.01  # some Gaussians never show in these views


def test_the_level_of_detail_keeps_what_shows_and_says_what_it_costs(avatar):
    model, train, test = avatar
    views = [camera_path(model.rig, "front", 96, 1)(0)]
    lod = level_of_detail(model, train, views, test, views, keep_fraction=0.6)
    assert lod.kept == round(0.6 * model.num_gaussians) and lod.of == model.num_gaussians
    assert lod.model.num_gaussians == lod.kept and lod.model.head_cut == model.head_cut
    assert lod.psnr_min <= lod.psnr_mean and lod.psnr_min > 30  # the least visible 40% hardly show
    # Measured, not assumed: dropping the most visible Gaussians instead costs far more.
    worst = pruned(model, contributions(model, train, views).argsort()[:lod.kept])
    a = AvatarRenderer(model, backend="cpu").render(test.frame(0), views[0]).rgb
    b = AvatarRenderer(worst, backend="cpu").render(test.frame(0), views[0]).rgb
    assert 10 * torch.log10(1 / (a - b).pow(2).mean()) < lod.psnr_min - 10


def test_the_viewer_draws_the_level_of_detail_where_the_full_avatar_misses_the_budget_or_where_it_is_invisible(avatar):
    from viewer.detail import BUDGET_FRAMES, INVISIBLE_PSNR_DB, MIN_PSNR_DB, DetailSwitch

    model, _, _ = avatar
    switch = DetailSwitch(model, torch.zeros(model.rig.num_shape), (1.0, 1.0, 1.0), budget_s=0.02, capture=None)
    switch.lod = type("Lod", (), {"model": object(), "psnr_min": MIN_PSNR_DB})()  # as if built
    for _ in range(BUDGET_FRAMES):
        switch.rendered(model, 128, 10.0)  # fast at 128 px
        switch.rendered(model, 512, 30.0)  # over the 20 ms budget at 512 px
    assert switch.model_for(128) is model and switch.model_for(512) is switch.lod.model
    assert switch.drawn(512).startswith("level of detail") and switch.drawn(128).startswith("full avatar")
    # Where the level of detail is measured as the full avatar to within 8-bit rounding, it is
    # drawn at that size within the budget too, and only there.
    switch.lod.psnr_min, switch._measured_size = INVISIBLE_PSNR_DB + 1, 128
    assert switch.model_for(128) is switch.lod.model and "8-bit rounding" in switch.drawn(128)
    switch._measured_size = 256
    assert switch.model_for(128) is model
    switch.lod.psnr_min, switch._measured_size = INVISIBLE_PSNR_DB - 1, 128
    assert switch.model_for(128) is model and switch.model_for(512) is switch.lod.model
    off = DetailSwitch(model, torch.zeros(model.rig.num_shape), (1.0, 1.0, 1.0), budget_s=None, capture=None)
    for _ in range(BUDGET_FRAMES):
        off.rendered(model, 512, 300.0)
    assert off.model_for(512) is model


def test_a_build_still_running_stops_when_the_viewer_closes(avatar):
    """The viewer's close stops and joins the build: a thread left inside torch's kernels while
    the interpreter exits aborts the process ("terminate called without an active exception")."""
    from viewer.detail import DetailSwitch

    model = avatar[0]
    camera = camera_path(model.rig, "front", 64, 1)(0)
    switch = DetailSwitch(model, torch.zeros(model.rig.num_shape), (1.0, 1.0, 1.0), budget_s=0.02, capture=None)
    switch.start(camera)
    switch.stop()
    assert not switch._thread.is_alive()
    assert switch.lod is None and switch.status == "level of detail: its build was stopped"
    with pytest.raises(BuildStopped):
        level_of_detail(model, model.rig.zero_params(1), [camera], model.rig.zero_params(1), [camera], 0.5,
                        stop=lambda: True)
