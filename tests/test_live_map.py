"""LiveMap (avatar/model/live_map.py): the live tracker's parameters carried into the avatar's own;
fitted from a capture (capture/live_map_fit.py), stored in the .avatar file, applied by the viewer's
LiveRetarget, and attached to every avatar `avatar train` writes."""

from __future__ import annotations

import pytest
import torch

from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import AvatarFileError
from avatar.model import Avatar, ExpressionRange, LiveMap, load_avatar
from avatar.rig.builtin import build_builtin_head
from viewer.retarget_live import LiveRetarget


def _vectors(rig, frames: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(frames, rig.num_expr + 9, generator=g, dtype=torch.float64)


def _random_map(p: int, seed: int = 0) -> LiveMap:
    g = torch.Generator().manual_seed(seed)
    return LiveMap(torch.rand(p, generator=g), torch.rand(p, generator=g), 0.1 * torch.randn(p, p, generator=g),
                   torch.rand(p, generator=g))


def test_the_fit_recovers_an_affine_map():
    rig = build_builtin_head()
    x = _vectors(rig, 400, 0)  # [T, P]
    g = torch.Generator().manual_seed(1)
    a = 0.3 * torch.randn(x.shape[1], x.shape[1], generator=g, dtype=torch.float64)
    b = torch.rand(x.shape[1], generator=g, dtype=torch.float64)
    fitted = LiveMap.fit(x, x @ a + b, x[0], to_identity=1e-9)
    params = rig.zero_params(1)
    params.expr, params.jaw, params.eyes = x[:1, :rig.num_expr].float(), x[:1, -9:-6].float(), x[:1, -6:].float()
    expected = (x[:1] @ a + b).float()
    torch.testing.assert_close(LiveMap.vector(fitted.apply(params)), expected, atol=1e-4, rtol=1e-4)


def test_few_frames_keep_the_map_near_the_live_fit_shifted_by_the_mean_difference():
    """Three frames cannot say how 52 parameters couple: the weights stay near the identity."""
    rig = build_builtin_head()
    x = _vectors(rig, 3, 2)
    fitted = LiveMap.fit(x, 0.5 * x + 0.2, x[0])
    assert (fitted.weights - torch.eye(x.shape[1])).abs().max() < 0.2


def test_apply_moves_only_expressions_jaw_and_eyes():
    rig = build_builtin_head()
    live_map = _random_map(rig.num_expr + 9)
    params = rig.zero_params(2)
    params.rotation += 0.1
    params.translation += 0.2
    params.neck += 0.05
    params.shape += 0.3
    out = live_map.apply(params)
    for key in ("shape", "rotation", "translation", "neck"):
        assert torch.equal(getattr(out, key), getattr(params, key))
    assert not torch.equal(out.expr, params.expr) and out.expr.shape == params.expr.shape
    assert out.jaw.shape == (2, 3) and out.eyes.shape == (2, 6)


def test_a_map_round_trips_through_the_avatar_file(tmp_path):
    rig = build_builtin_head()
    live_map = _random_map(rig.num_expr + 9)
    avatar = Avatar(GaussianAvatar.on_mesh(rig), backend="cpu", live_map=live_map)
    avatar.save(tmp_path / "a.avatar")
    read = load_avatar(tmp_path / "a.avatar").live_map
    for key in ("input_mean", "output_mean", "weights", "input_rest"):
        assert torch.equal(getattr(read, key), getattr(live_map, key))
    avatar.live_map = None
    avatar.save(tmp_path / "b.avatar")
    assert load_avatar(tmp_path / "b.avatar").live_map is None


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("weights"), "input_mean, output_mean, weights, input_rest"),
    (lambda d: d.update(weights=d["weights"][:-1]), "weights must be"),
    (lambda d: d.update(input_rest=[float("nan")] * len(d["input_rest"])), "input_rest must be"),
    (lambda d: d.update(output_mean="zeros"), "output_mean is not a list of numbers"),
])
def test_a_bad_map_in_a_file_is_one_clear_error(tmp_path, change, message):
    rig = build_builtin_head()
    data = _random_map(rig.num_expr + 9).to_dict()
    change(data)
    with pytest.raises(ValueError, match=message):
        LiveMap.from_dict(data, rig.num_expr)


def test_a_file_with_a_map_for_another_rig_names_the_file(tmp_path):
    rig = build_builtin_head()
    avatar = Avatar(GaussianAvatar.on_mesh(rig), backend="cpu", live_map=_random_map(rig.num_expr + 5))
    avatar.save(tmp_path / "a.avatar")
    with pytest.raises(AvatarFileError, match="a.avatar.*live_map"):
        load_avatar(tmp_path / "a.avatar")


def test_the_live_retarget_maps_then_clamps_and_a_hand_set_neutral_rests_on_the_map_input_rest():
    rig = build_builtin_head()
    e, p = rig.num_expr, rig.num_expr + 9
    shift = torch.zeros(p)
    shift[:e] = 0.25
    # output = input + 0.25 on every expression weight, jaw and eyes as they are
    live_map = LiveMap(torch.zeros(p), shift, torch.eye(p), torch.full((p,), 0.1))
    learned = ExpressionRange(torch.zeros(e), torch.full((e,), 0.6), torch.full((3,), -1.0), torch.ones(3),
                              torch.full((e,), 0.3))
    retarget = LiveRetarget(rig, torch.zeros(rig.num_shape), learned, live_map)
    driver = rig.zero_params(1)
    driver.expr[0, :3] = torch.tensor([0.1, 0.5, 0.0])
    driver.jaw[0] = torch.tensor([0.2, 0.0, 0.0])
    out = retarget(driver)
    # mapped (+0.25), then clamped to [0, 0.6]; the range's resting face (0.3) is not added
    torch.testing.assert_close(out.expr[0, :3], torch.tensor([0.35, 0.6, 0.25]))
    torch.testing.assert_close(out.jaw[0], driver.jaw[0])
    assert retarget.clamp_stats()["frames_clamped"] == 1
    retarget.set_neutral(driver)  # this face is the driver's rest: it maps as the avatar's person's rest does
    out = retarget(driver)
    torch.testing.assert_close(out.expr[0, :3], torch.full((3,), 0.35))  # 0 relative + 0.1 rest + 0.25
    # without a map: the resting face of the range, as before
    plain = LiveRetarget(rig, torch.zeros(rig.num_shape), learned)(driver)
    torch.testing.assert_close(plain.expr[0, :3], torch.tensor([0.4, 0.6, 0.3]))


def test_training_attaches_the_live_map_through_the_registered_finisher():
    from importlib.metadata import entry_points

    from avatar.training.finishers import GROUP

    names = {e.name: e.value for e in entry_points(group=GROUP)}
    assert names.get("live_map") == "capture.live_map_fit:attach_live_map"  # pip install . registers it


def test_a_damaged_landmarks_file_gives_no_map_and_says_why(real_capture, real_avatar, tmp_path, caplog):
    import shutil

    from avatar.data.capture import load_capture
    from capture.live_map_fit import fit_live_map

    damaged = tmp_path / "capture"
    shutil.copytree(real_capture, damaged)
    (damaged / "landmarks.npz").write_bytes(b"not a zip file")
    assert fit_live_map(load_avatar(real_avatar), load_capture(damaged)) is None
    assert "landmarks.npz" in caplog.text


# ---- on a real capture (wojtek_512 tracked in the session fixture) ----------------------------------

def test_the_map_brings_held_out_live_fits_closer_to_the_tracked_parameters(real_capture, real_avatar):
    """The avatar trained by `avatar train` carries a map fitted on its training frames; on the
    held-out frames the mapped live fits are nearer the offline tracker's parameters than the
    live fits as they come."""
    from avatar.data.capture import load_capture
    from capture.live_map_fit import live_fits

    avatar = load_avatar(real_avatar)
    assert avatar.live_map is not None
    capture = load_capture(real_capture)
    live = live_fits(avatar, capture)
    test = capture.splits["test"]
    x = torch.stack([live[capture.frames[f].time] for f in test]).float()  # [T, P]
    own = torch.cat([LiveMap.vector(capture.frame_params(f)) for f in test])  # [T, P]
    params = capture.params.select([capture.frames[f].time for f in test])
    e = avatar.rig.num_expr
    params.expr, params.jaw, params.eyes = x[:, :e], x[:, e:e + 3], x[:, e + 3:]
    mapped = LiveMap.vector(avatar.live_map.apply(params))
    raw_error, mapped_error = (x - own).abs().mean(), (mapped - own).abs().mean()
    assert mapped_error < 0.8 * raw_error, (float(mapped_error), float(raw_error))
