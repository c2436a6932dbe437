"""Training presets: every file in configs/ loads, and `avatar train` picks one per capture."""

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from avatar.cli.main import main
from avatar.data.capture import CameraInfo, Capture, FrameInfo
from avatar.data.errors import CaptureError
from avatar.data.synthetic import make_synthetic_capture
from avatar.gaussians.io import load_avatar
from avatar.rig.loaders import load_rig
from avatar.training.config import CONFIG_DIR, MONOCULAR_PRESET, MULTIVIEW_PRESET, choose_preset, load_config
from tiny_rig import make_tiny_rig

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module", autouse=True)
def _restore_global_rng():
    """Training seeds torch's global RNG: give later test modules back the state they had."""
    with torch.random.fork_rng():
        yield


def _capture(root: Path, frame_cameras: list[int], splits: dict[str, list[int]], extra: dict | None = None) -> Capture:
    """An in-memory capture: frame i is time step i seen by camera frame_cameras[i]."""
    num_cameras = max(frame_cameras) + 1
    cameras = [CameraInfo(f"cam{c}", np.eye(3), 8, 8, np.eye(4)) for c in range(num_cameras)]
    frames = [FrameInfo(t, c, f"images/{t:05d}_c{c:02d}.png", None) for t, c in enumerate(frame_cameras)]
    params = make_tiny_rig().zero_params(len(frames))
    return Capture(root, 25.0, "tiny", cameras, frames, params, splits, extra or {})


def test_every_preset_file_loads():
    names = sorted(p.stem for p in REPO_CONFIGS.glob("*.yaml"))
    assert {MONOCULAR_PRESET, MULTIVIEW_PRESET, "fast", "quality"} <= set(names)
    for name in names:
        load_config(name)  # unknown keys raise
    mono = load_config(MONOCULAR_PRESET)
    assert 0 < mono.num_blend_expr < 53 and 0 < mono.offsets_from_frac < 1  # chosen offsets, warm-up


def test_presets_are_read_from_the_checkout_or_an_identical_packaged_copy():
    assert sorted(p.name for p in CONFIG_DIR.glob("*.yaml")) == sorted(p.name for p in REPO_CONFIGS.glob("*.yaml"))
    for path in CONFIG_DIR.glob("*.yaml"):
        assert path.read_text() == (REPO_CONFIGS / path.name).read_text()


def test_preset_follows_the_training_cameras(tmp_path):
    mono = _capture(tmp_path, [0, 0, 0], {"train": [0, 1], "test": [2]})
    multi = _capture(tmp_path, [0, 1, 0, 1], {"train": [0, 1, 2], "test": [3]})
    # A second camera used only for evaluation adds no views to fit.
    eval_only = _capture(tmp_path, [0, 0, 1], {"train": [0, 1], "test_camera": [2]})
    assert choose_preset(mono)[0] == MONOCULAR_PRESET
    preset, why = choose_preset(multi)
    assert preset == MULTIVIEW_PRESET and "2 cameras" in why
    assert choose_preset(eval_only)[0] == MONOCULAR_PRESET


def test_capture_named_preset_wins_over_cameras_and_loses_to_the_command_line(tmp_path):
    named = _capture(tmp_path, [0, 1], {"train": [0, 1]}, {"preset": "fast"})
    assert choose_preset(named)[0] == "fast"
    assert choose_preset(named, "quality") == ("quality", "given with --preset")


def test_capture_named_yaml_is_relative_to_the_capture(tmp_path, monkeypatch):
    (tmp_path / "mine.yaml").write_text("iterations: 7\nsh_degree: 2\n")
    monkeypatch.chdir(tmp_path.parent)  # not the capture directory: the path must not depend on it
    preset, _ = choose_preset(_capture(tmp_path, [0], {"train": [0]}, {"preset": "mine.yaml"}))
    cfg = load_config(preset)
    assert (cfg.iterations, cfg.sh_degree) == (7, 2)


def test_a_monocular_capture_gets_mono_phone_whatever_its_per_frame_cameras(tmp_path):
    """A tracked video has a camera per frame (the crop follows the head): `extra.monocular` says
    they are one camera's, and an explicit `extra.preset` (older captures) still wins."""
    tracked = _capture(tmp_path, [0, 1, 2], {"train": [0, 1], "test": [2]}, {"monocular": True})
    preset, why = choose_preset(tracked)
    assert preset == MONOCULAR_PRESET and "extra.monocular" in why
    assert choose_preset(_capture(tmp_path, [0, 1], {"train": [0, 1]}, {"monocular": False}))[0] == MULTIVIEW_PRESET
    old = _capture(tmp_path, [0, 1, 2], {"train": [0, 1], "test": [2]}, {"preset": MONOCULAR_PRESET})
    assert choose_preset(old)[0] == MONOCULAR_PRESET
    both = _capture(tmp_path, [0, 1], {"train": [0, 1]}, {"preset": "quality", "monocular": True})
    assert choose_preset(both)[0] == "quality"


@pytest.mark.parametrize("bad", ["yes", 1, [True]])
def test_bad_monocular_flag_is_one_clear_error(tmp_path, bad):
    with pytest.raises(CaptureError, match=r"capture\.json: extra\.monocular must be true or false"):
        choose_preset(_capture(tmp_path, [0], {"train": [0]}, {"monocular": bad}))


@pytest.mark.parametrize("bad", ["", 3, ["fast"]])
def test_bad_capture_preset_is_one_clear_error(tmp_path, bad):
    with pytest.raises(CaptureError, match=r"capture\.json: extra\.preset must be"):
        choose_preset(_capture(tmp_path, [0], {"train": [0]}, {"preset": bad}))


def test_a_capture_names_only_shipped_presets_or_its_own_files(tmp_path):
    capture = tmp_path / "capture"
    capture.mkdir()
    (tmp_path / "elsewhere.yaml").write_text("iterations: 7\n")
    (capture / "linked.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    for named in ("../elsewhere.yaml", str(tmp_path / "elsewhere.yaml"), "linked.yaml"):
        with pytest.raises(CaptureError, match="must be a shipped preset or a file inside the capture"):
            choose_preset(_capture(capture, [0], {"train": [0]}, {"preset": named}))
    with pytest.raises(CaptureError, match="not a shipped preset"):
        choose_preset(_capture(capture, [0], {"train": [0]}, {"preset": "no-such-preset"}))


def test_train_cli_on_a_monocular_capture_picks_the_monocular_preset(tmp_path, caplog):
    root = tmp_path / "capture"
    make_synthetic_capture(load_rig("builtin"), root, num_train=2, num_test=1, size=32, progress=False)
    out = tmp_path / "m.avatar"
    with caplog.at_level(logging.INFO, logger="avatar"):
        assert main(["train", str(root), "--out", str(out), "--iterations", "2", "--backend", "torch"]) == 0
    assert f"training preset '{MONOCULAR_PRESET}'" in caplog.text
    _, config = load_avatar(out)
    assert config["sh_degree"] == load_config(MONOCULAR_PRESET).sh_degree


def test_any_setting_can_be_set_and_is_checked(tmp_path, capsys):
    root = tmp_path / "capture"
    make_synthetic_capture(load_rig("builtin"), root, num_train=2, num_test=1, size=32, progress=False)
    assert main(["train", str(root), "--print-config", "--set", "num_blend_expr=0", "--set", "lr_xyz=1e-3",
                 "--set", "background=[0, 0, 0]", "--iterations", "7"]) == 0
    import yaml
    printed = yaml.safe_load(capsys.readouterr().out)
    assert (printed["num_blend_expr"], printed["lr_xyz"], printed["iterations"]) == (0, 1e-3, 7)
    assert printed["background"] == [0.0, 0.0, 0.0] and printed["sh_degree"] == load_config(MONOCULAR_PRESET).sh_degree
    for bad, message in (("num_blend=3", "did you mean num_blend_expr"), ("iterations=abc", "expected int"),
                         ("pose_offsets=1", "expected bool"), ("background=[1, 1]", "expected tuple"),
                         ("lr_xyz=.nan", "expected float"), ("iterations", "key=value"), ("iterations=-5", "outside"),
                         ("sh_degree=4", "outside"), ("background=[2, 0, 0]", "RGB colour")):
        assert main(["train", str(root), "--print-config", "--set", bad]) == 2
        assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.avatar"))


@pytest.mark.parametrize("text, message", [("- 1\n- 2\n", "a mapping"), ("iterations: [\n", "not a valid YAML"),
                                           ("iterations: many\n", "expected int")])
def test_a_broken_preset_file_is_one_clear_error(tmp_path, text, message):
    preset = tmp_path / "bad.yaml"
    preset.write_text(text)
    with pytest.raises(ValueError, match=message) as caught:
        load_config(str(preset))
    assert str(preset) in str(caught.value)


def test_the_backend_setting_is_checked_and_not_overridden_by_the_flags_default(tmp_path, capsys):
    """`--set backend=torch` used to be replaced by --backend's default ("auto"), and an unknown
    backend was accepted (found by fuzzing the CLI)."""
    from avatar.runtime.backends import RENDER_BACKENDS
    from avatar.cli.main import build_parser, main
    from avatar.data.synthetic import make_synthetic_capture
    from avatar.rig.builtin import build_builtin_head
    from avatar.training.config import load_config

    train_parser = build_parser()._subparsers._group_actions[0].choices["train"]
    backend_flag = next(a for a in train_parser._actions if "--backend" in a.option_strings)
    assert tuple(backend_flag.choices) == RENDER_BACKENDS  # the flag offers what the setting accepts
    with pytest.raises(ValueError, match="config key backend: 'quantum' is not one of"):
        load_config("fast", backend="quantum")
    capture = tmp_path / "cap"
    make_synthetic_capture(build_builtin_head(), capture, num_train=2, num_test=1, size=16, progress=False)
    assert main(["train", str(capture), "--print-config", "--set", "backend=torch"]) == 0
    assert "backend: torch" in capsys.readouterr().out
    assert main(["train", str(capture), "--print-config", "--set", "backend=torch", "--backend", "cpu"]) == 0
    assert "backend: cpu" in capsys.readouterr().out  # the flag, when given, wins
    assert main(["train", str(capture), "--out", str(tmp_path / "m.avatar"), "--set", "backend=quantum"]) == 2
    assert "backend: 'quantum' is not one of" in capsys.readouterr().err


def test_an_empty_preset_file_is_refused(tmp_path):
    """An empty YAML file used to train with the defaults silently (found by fuzzing the CLI)."""
    from avatar.training.config import load_config

    empty = tmp_path / "mine.yaml"
    empty.write_text("")
    with pytest.raises(ValueError, match="mine.yaml: the preset is empty"):
        load_config(str(empty))
