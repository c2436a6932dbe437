"""Per-expression offsets for a chosen set of expressions: which ones, how they drive the model,
that the choice survives a save, and the warm-up that keeps them off at first."""

from types import SimpleNamespace

import pytest
import torch

from avatar.data.synthetic import make_synthetic_capture
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import load_avatar, save_avatar
from avatar.rig.loaders import load_rig
from avatar.training.config import TrainConfig, load_config
from avatar.training.trainer import train, varying_expressions
from tiny_rig import make_tiny_rig


def test_the_most_varying_expressions_are_chosen():
    gen = torch.Generator().manual_seed(0)
    expr = 0.01 * torch.randn(20, 6, generator=gen)
    expr[:, 4] += torch.linspace(0, 1, 20)  # moves most
    expr[:, 1] += torch.linspace(0, 0.5, 20)  # then this one
    expr[:, 2] += 0.9  # large but constant: nothing to learn from
    capture = SimpleNamespace(params=SimpleNamespace(expr=expr), frames=[SimpleNamespace(time=t) for t in range(20)])
    assert varying_expressions(capture, list(range(20)), 2).tolist() == [1, 4]
    assert varying_expressions(capture, list(range(20)), None) is None
    assert varying_expressions(capture, list(range(20)), 6) is None


def test_chosen_expressions_drive_the_offsets_and_survive_a_save(tmp_path):
    rig = make_tiny_rig()
    chosen = torch.tensor([1, 0])
    model = GaussianAvatar.on_mesh(rig, blend_expr=chosen)
    params = rig.zero_params(1)
    params.expr[0] = torch.arange(rig.num_expr, dtype=torch.float32) + 1
    assert model.drivers(params)[0, :2].tolist() == [2.0, 1.0]
    assert model.num_drivers == 2 + 3  # and the jaw
    save_avatar(model, tmp_path / "m.avatar", {})
    loaded, _ = load_avatar(tmp_path / "m.avatar")
    assert loaded.blend_expr.tolist() == [1, 0]
    with pytest.raises(ValueError, match="distinct expression indices"):
        GaussianAvatar.on_mesh(rig, blend_expr=torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="distinct expression indices"):
        GaussianAvatar.on_mesh(rig, blend_expr=torch.tensor([rig.num_expr]))


def test_offsets_stay_zero_during_the_warm_up(tmp_path):
    root = tmp_path / "capture"
    capture = make_synthetic_capture(load_rig("builtin"), root, num_train=3, num_test=1, size=32, progress=False)
    rig = load_rig("builtin")
    for warm_up, expect_zero in (1.0, True), (0.0, False):
        cfg = load_config("fast", iterations=4, offsets_from_frac=warm_up, num_blend_expr=4, backend="torch",
                          eval_every=0, checkpoint_every=0)
        model = train(capture, rig, cfg, tmp_path / f"w{warm_up}.avatar", progress=False).model
        moved = max(float(getattr(model, name).detach().abs().max()) for name in GaussianAvatar.OFFSETS)
        assert (moved == 0.0) == expect_zero


def test_steps_follow_the_number_of_training_frames_when_left_to_the_clip(tmp_path):
    cfg = TrainConfig().replaced({"iterations": None, "steps_per_frame": 20, "min_iterations": 100,
                                  "max_iterations": 1000})
    assert (cfg.clip_iterations(3), cfg.clip_iterations(30), cfg.clip_iterations(300)) == (100, 600, 1000)
    assert load_config(None, iterations=7, steps_per_frame=20).clip_iterations(300) == 7  # a count given wins
    with pytest.raises(ValueError, match="min_iterations"):
        load_config(None, min_iterations=10, max_iterations=5)
    capture = make_synthetic_capture(load_rig("builtin"), tmp_path / "capture", num_train=3, num_test=1, size=32,
                                     progress=False)
    cfg = load_config("fast", steps_per_frame=2, backend="torch", eval_every=0, checkpoint_every=0).replaced(
        {"iterations": None})
    avatar = train(capture, load_rig("builtin"), cfg, tmp_path / "m.avatar", progress=False)
    assert avatar.settings["iterations"] == 6  # 2 steps for each of the 3 training frames, recorded as run
