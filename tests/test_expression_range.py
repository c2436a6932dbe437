"""The range of expressions an avatar learned, and the clamp that keeps driving sources inside it."""

import pytest
import torch

from avatar.model import Avatar, ExpressionRange, load_avatar
from avatar.gaussians import GaussianAvatar
from avatar.rig import RigParams
from avatar.rig.loaders import load_rig
from viewer.retarget_live import LiveRetarget


def _params(expr: list[list[float]], jaw: list[list[float]]) -> RigParams:
    p = RigParams.zeros(2, len(expr[0]), len(expr))
    p.expr, p.jaw = torch.tensor(expr), torch.tensor(jaw)
    return p


def test_the_range_is_the_training_spread_widened_by_the_margin():
    learned = ExpressionRange.of(_params([[0.0, 0.2], [1.0, 0.4]], [[0.0, 0, 0], [0.2, 0, 0]]), margin=0.1)
    torch.testing.assert_close(learned.expr_low, torch.tensor([-0.1, 0.18]))
    torch.testing.assert_close(learned.expr_high, torch.tensor([1.1, 0.42]))
    torch.testing.assert_close(learned.jaw_high, torch.tensor([0.22, 0.0, 0.0]))


def test_clamp_moves_only_what_leaves_the_range_and_counts_it():
    learned = ExpressionRange.of(_params([[0.0, 0.2], [1.0, 0.4]], [[0.0, 0, 0], [0.2, 0, 0]]), margin=0.0)
    driving = _params([[0.5, 0.3], [1.5, 0.3], [0.5, 0.1]], [[0.1, 0, 0], [0.1, 0, 0], [0.5, 0, 0]])
    kept, report = learned.clamp(driving)
    torch.testing.assert_close(kept.expr, torch.tensor([[0.5, 0.3], [1.0, 0.3], [0.5, 0.2]]))
    assert kept.jaw[:, 0].tolist() == pytest.approx([0.1, 0.1, 0.2])
    assert (report.frames, report.frames_clamped) == (3, 2) and report.largest_excess == pytest.approx(0.5)
    assert driving.expr[1, 0] == 1.5  # the caller's parameters are untouched
    assert learned.outside(driving).tolist() == [False, True, True]  # the frames the clamp moves
    inside, report = learned.clamp(learned_params := _params([[0.5, 0.3]], [[0.1, 0, 0]]))
    assert report.frames_clamped == 0 and torch.equal(inside.expr, learned_params.expr)


def test_a_recorded_range_is_checked_against_the_rig():
    learned = ExpressionRange.of(_params([[0.0, 0.2], [1.0, 0.4]], [[0.0, 0, 0], [0.2, 0, 0]]))
    assert ExpressionRange.from_dict(learned.to_dict(), 2).to_dict() == learned.to_dict()
    with pytest.raises(ValueError, match="expr_low must be 3 finite numbers"):
        ExpressionRange.from_dict(learned.to_dict(), 3)
    swapped = learned.to_dict() | {"expr_low": learned.to_dict()["expr_high"], "expr_high": learned.to_dict()["expr_low"]}
    with pytest.raises(ValueError, match="low end above"):
        ExpressionRange.from_dict(swapped, 2)
    with pytest.raises(ValueError, match="is not 5 lists of numbers"):
        ExpressionRange.from_dict({"expr_low": [0, 1]}, 2)
    with pytest.raises(ValueError, match="is not 7 lists of numbers"):  # eyes: both ends or neither
        ExpressionRange.from_dict({k: v for k, v in learned.to_dict().items() if k != "eyes_high"}, 2)
    with pytest.raises(ValueError, match="eyes_low must be 6 finite numbers"):
        ExpressionRange.from_dict(learned.to_dict() | {"eyes_low": [0.0] * 5}, 2)


def test_eye_angles_are_kept_in_the_range_and_older_ranges_leave_them_alone():
    training = _params([[0.0, 0.2], [1.0, 0.4]], [[0.0, 0, 0], [0.2, 0, 0]])
    training.eyes = torch.tensor([[-0.2, 0.1, 0, -0.2, 0.1, 0], [0.3, -0.1, 0, 0.3, -0.1, 0]])
    learned = ExpressionRange.of(training, margin=0.0)
    torch.testing.assert_close(learned.eyes_low, torch.tensor([-0.2, -0.1, 0, -0.2, -0.1, 0]))
    driving = _params([[0.5, 0.3]], [[0.1, 0, 0]])
    driving.eyes = torch.tensor([[-0.6, 0.05, 0, 0.1, 0.4, 0]])  # looking further down and aside than ever trained
    kept, report = learned.clamp(driving)
    torch.testing.assert_close(kept.eyes, torch.tensor([[-0.2, 0.05, 0, 0.1, 0.1, 0]]))
    assert report.frames_clamped == 1 and report.largest_excess == pytest.approx(0.4)
    older = {k: v for k, v in learned.to_dict().items() if not k.startswith("eyes")}  # files before eyes were recorded
    kept, report = ExpressionRange.from_dict(older, 2).clamp(driving)
    assert torch.equal(kept.eyes, driving.eyes) and report.frames_clamped == 0


def test_the_avatar_file_keeps_the_range_and_another_persons_expressions_are_clamped(tmp_path):
    from test_cli import _write_livelink

    from avatar.data.expressions import save_expression_file

    rig = load_rig("builtin")
    jaw_open = rig.expr_names.index("jawOpen")
    training = rig.zero_params(20)
    training.expr[:, jaw_open] = torch.linspace(0.1, 0.3, 20)  # the resting face's jaw is a little open
    learned = ExpressionRange.of(training, margin=0.0)
    Avatar(GaussianAvatar.on_mesh(rig), expression_range=learned).save(tmp_path / "m.avatar")
    me = load_avatar(tmp_path / "m.avatar")
    assert me.expression_range.to_dict() == learned.to_dict()
    resting = float(learned.expr_neutral[jaw_open])
    assert resting == pytest.approx(0.1 + 0.05 * 0.2, abs=1e-6)  # the 5th percentile

    _write_livelink(tmp_path / "take.csv", [0.0, 0.1, 0.9])  # ARKit weights: 0 is the phone user's rest
    params, _ = me.params(tmp_path / "take.csv")
    assert params.expr[:, jaw_open].tolist() == pytest.approx([resting, resting + 0.1, 0.3])
    params, _ = me.params(tmp_path / "take.csv", clamp=False)
    assert params.expr[:, jaw_open].tolist() == pytest.approx([0.0, 0.1, 0.9])

    own = rig.zero_params(2)  # an .npz holds the avatar's own parameters: used as they are
    own.expr[:, jaw_open] = torch.tensor([0.0, 0.9])
    save_expression_file(tmp_path / "own.npz", own, 25.0, rig.expr_names)
    params, _ = me.params(tmp_path / "own.npz")
    assert params.expr[:, jaw_open].tolist() == pytest.approx([0.0, 0.9])


def test_the_live_retarget_clamps_and_counts():
    rig = load_rig("builtin")
    training = rig.zero_params(2)
    training.expr[1, 0] = 0.5
    live = LiveRetarget(rig, torch.zeros(rig.num_shape), ExpressionRange.of(training, margin=0.0))
    resting = float(live.learned.expr_neutral[0])  # 0: the 5th percentile of (0, 0.5)
    driver = rig.zero_params(1)
    driver.expr[0, 0] = 0.25
    assert float(live(driver).expr[0, 0]) == pytest.approx(resting + 0.25)
    driver.expr[0, 0] = 0.8
    assert float(live(driver).expr[0, 0]) == pytest.approx(0.5)
    assert live.clamp_stats() == {"frames": 2, "frames_clamped": 1, "fraction": 0.5,
                                  "largest_excess": pytest.approx(resting + 0.3)}
    assert LiveRetarget(rig, torch.zeros(rig.num_shape)).clamp_stats() is None
