"""The level of detail (avatar.renderer.lod) and the viewer's switch to it (viewer.detail)."""

import pytest
import torch

from avatar.gaussians.io import load_avatar
from avatar.splat.framing import camera_path
from avatar.renderer import AvatarRenderer
from avatar.renderer.lod import BuildStopped, contributions, levels_of_detail, pruned


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


def test_the_levels_of_detail_keep_what_shows_and_say_what_they_cost(avatar):
    model, train, test = avatar
    views = [camera_path(model.rig, "front", 96, 1)(0)]
    fine, coarse = levels_of_detail(model, train, views, test, views, keep_fractions=(0.6, 0.4))
    for lod, fraction in ((fine, 0.6), (coarse, 0.4)):
        assert lod.kept == round(fraction * model.num_gaussians) and lod.of == model.num_gaussians
        assert lod.model.num_gaussians == lod.kept and lod.model.head_cut == model.head_cut
        assert lod.psnr_min <= lod.psnr_mean and lod.psnr_min > 30  # the least visible Gaussians hardly show
        assert 0 < lod.render_cost < 10  # timed, so only its sense is checked: a ratio of two render times
    assert coarse.psnr_mean < fine.psnr_mean  # fewer Gaussians, further from the full avatar
    # The coarse level is the fine one's most contributing Gaussians: one ranking for all levels.
    assert set(coarse.model.xyz.flatten().tolist()) <= set(fine.model.xyz.flatten().tolist())
    # Measured, not assumed: dropping the most visible Gaussians instead costs far more.
    worst = pruned(model, contributions(model, train, views).argsort()[: fine.kept])
    a = AvatarRenderer(model, backend="cpu").render(test.frame(0), views[0]).rgb
    b = AvatarRenderer(worst, backend="cpu").render(test.frame(0), views[0]).rgb
    assert 10 * torch.log10(1 / (a - b).pow(2).mean()) < fine.psnr_min - 10


def _built(psnr_min: float, render_cost: float = 0.5):
    """A stand-in for a built level: what the switch reads of one."""
    return type(
        "Level",
        (),
        {"model": object(), "psnr_min": psnr_min, "render_cost": render_cost, "describe": lambda self: "a level"},
    )()


def test_the_viewer_steps_down_a_level_each_time_the_drawn_one_misses_the_budget(avatar):
    from viewer.detail import BUDGET_FRAMES, MIN_PSNR_DB, DetailSwitch

    model, _, _ = avatar
    switch = DetailSwitch(model, torch.zeros(model.rig.num_shape), (1.0, 1.0, 1.0), budget_s=0.02, capture=None)
    fine, coarse = _built(MIN_PSNR_DB + 5, render_cost=0.6), _built(MIN_PSNR_DB, render_cost=0.4)
    for _ in range(BUDGET_FRAMES):
        switch.rendered(model, 128, 10.0)  # fast at 128 px
        switch.rendered(model, 512, 30.0)  # over the 20 ms budget at 512 px, before the levels are built
    switch.levels = [fine, coarse]  # as if built
    # 30 ms x 0.6: the fine level is predicted to fit.
    assert switch.model_for(128) is model and switch.model_for(512) is fine.model
    assert switch.drawn(512).startswith("level of detail 1 of 2 (the full avatar missed the 20 ms budget (30 ms))")
    assert switch.drawn(128).startswith("full avatar")
    for _ in range(BUDGET_FRAMES - 1):
        switch.rendered(fine.model, 512, 25.0)  # the fine level misses it too...
        switch.rendered(model, 512, 30.0)  # (a render of the full avatar still in flight counts for nothing)
    assert switch.model_for(512) is fine.model  # ... but not yet over BUDGET_FRAMES renders
    switch.rendered(fine.model, 512, 25.0)
    assert switch.model_for(
        512
    ) is coarse.model and "level of detail 1 missed the 20 ms budget (25 ms)" in switch.drawn(512)
    for _ in range(BUDGET_FRAMES):
        switch.rendered(coarse.model, 512, 25.0)  # the coarsest level stays, within budget or not
    assert switch.model_for(512) is coarse.model and switch.drawn_level(512) is coarse


def test_the_viewer_skips_the_levels_predicted_to_miss_the_budget(avatar):
    """From the full avatar's missed renders and each level's render cost, the first level that
    fits: no BUDGET_FRAMES renders spent on a level that was bound to miss."""
    from viewer.detail import BUDGET_FRAMES, MIN_PSNR_DB, DetailSwitch

    model, _, _ = avatar
    switch = DetailSwitch(model, torch.zeros(model.rig.num_shape), (1.0, 1.0, 1.0), budget_s=0.02, capture=None)
    fine, middle, coarse = (_built(MIN_PSNR_DB + 5, 0.8), _built(MIN_PSNR_DB + 3, 0.6), _built(MIN_PSNR_DB, 0.3))
    switch.levels = [fine, middle, coarse]
    for _ in range(BUDGET_FRAMES):
        switch.rendered(model, 512, 40.0)  # x 0.8 = 32 and x 0.6 = 24 ms: both over 20; x 0.3 = 12
    assert switch.model_for(512) is coarse.model
    assert "level of detail 1 and level of detail 2 predicted to miss it" in switch.drawn(512)
    # From a level's own renders: the middle level missed with 30 ms; the coarse one costs half as much.
    switch = DetailSwitch(model, torch.zeros(model.rig.num_shape), (1.0, 1.0, 1.0), budget_s=0.02, capture=None)
    switch.levels = [fine, middle, coarse]
    for _ in range(BUDGET_FRAMES):
        switch.rendered(model, 512, 28.0)  # x 0.6 = 16.8 ms: the middle level is predicted to fit
    assert switch.model_for(512) is middle.model
    for _ in range(BUDGET_FRAMES):
        switch.rendered(middle.model, 512, 45.0)  # it did not: 45 x 0.3 / 0.6 = 22.5 ms, still over
    assert switch.model_for(512) is coarse.model  # the coarsest, predicted or not


def test_the_viewer_draws_a_level_within_8_bit_rounding_where_it_was_measured(avatar):
    from viewer.detail import BUDGET_FRAMES, INVISIBLE_PSNR_DB, DetailSwitch

    model, _, _ = avatar
    switch = DetailSwitch(model, torch.zeros(model.rig.num_shape), (1.0, 1.0, 1.0), budget_s=0.02, capture=None)
    fine, coarse = _built(INVISIBLE_PSNR_DB + 1), _built(INVISIBLE_PSNR_DB - 1)
    switch.levels, switch._measured_size = [fine, coarse], 128
    assert switch.model_for(128) is fine.model and "8-bit rounding" in switch.drawn(128)
    assert switch.model_for(256) is model  # only at the size it was measured at
    coarse.psnr_min = INVISIBLE_PSNR_DB + 0.5  # the coarsest invisible level saves the most
    assert switch.model_for(128) is coarse.model
    fine.psnr_min = coarse.psnr_min = INVISIBLE_PSNR_DB - 1
    assert switch.model_for(128) is model
    fine.psnr_min = INVISIBLE_PSNR_DB + 1
    assert switch.model_for(128) is fine.model
    for _ in range(BUDGET_FRAMES):  # the invisible level drawn anyway misses the budget: the next one
        switch.rendered(fine.model, 128, 30.0)
    assert switch.model_for(128) is coarse.model


def test_without_a_budget_the_full_avatar_is_always_drawn(avatar):
    from viewer.detail import BUDGET_FRAMES, DetailSwitch

    model, _, _ = avatar
    off = DetailSwitch(model, torch.zeros(model.rig.num_shape), (1.0, 1.0, 1.0), budget_s=None, capture=None)
    off.levels = [_built(50.0)]
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
    assert switch.levels == [] and switch.status == "level of detail: its build was stopped"
    with pytest.raises(BuildStopped):
        levels_of_detail(
            model, model.rig.zero_params(1), [camera], model.rig.zero_params(1), [camera], [0.5], stop=lambda: True
        )
