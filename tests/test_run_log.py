"""Every training leaves a record beside the model, and `avatar info` says what a model is."""

import json

import pytest
import yaml

from avatar.cli.main import main
from avatar.data.synthetic import make_synthetic_capture
from avatar.rig.loaders import load_rig
from avatar.training.run_log import read_metrics


@pytest.fixture(scope="module")
def capture_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("run") / "capture"
    make_synthetic_capture(load_rig("builtin"), root, num_train=3, num_test=2, size=32, progress=False)
    return root


def _train(capture_dir, out, *extra):
    return main(["train", str(capture_dir), "--out", str(out), "--preset", "fast", "--backend", "torch",
                 "--iterations", "6", "--set", "log_every=2", "--set", "eval_every=3", "--set", "eval_frames=2",
                 *extra])


def test_training_leaves_config_metrics_and_images(capture_dir, tmp_path):
    out = tmp_path / "m.avatar"
    assert _train(capture_dir, out, "--set", "num_blend_expr=2") == 0
    run = tmp_path / "m.avatar.run"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["iterations"] == 6 and config["num_blend_expr"] == 2 and config["log_every"] == 2
    rows = read_metrics(run)
    steps = [r["step"] for r in rows if "loss_total" in r]
    assert steps == [2, 4, 6]
    assert all(r["loss_total"] >= r["loss_photo"] > 0 and r["gaussians"] > 0 for r in rows if "loss_total" in r)
    evals = [r for r in rows if "test_psnr" in r]
    assert [r["step"] for r in evals] == [3, 6] and all(5 < r["test_psnr"] < 60 for r in evals)
    assert len(list((run / "images" / "000006" / "test").glob("*.png"))) == 2


def test_a_resumed_run_keeps_its_record_up_to_the_resumed_step(tmp_path):
    from avatar.training.config import load_config
    from avatar.training.run_log import RunLog

    first = RunLog(tmp_path, load_config("fast"))
    for step in (2, 4, 6):
        first.scalars(step, {"loss_total": 1.0 / step})
    # Killed after step 6 was logged but with its last checkpoint at step 4: resume from there.
    RunLog(tmp_path, load_config("fast"), start_step=4).scalars(6, {"loss_total": 0.5})
    assert [(r["step"], r["loss_total"]) for r in read_metrics(tmp_path)] == [(2, 0.5), (4, 0.25), (6, 0.5)]


def test_info_describes_a_model(capture_dir, tmp_path, capsys):
    out = tmp_path / "i.avatar"
    assert _train(capture_dir, out, "--set", "num_blend_expr=1") == 0
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rig"]["name"] == "builtin" and info["gaussians"] > 0
    assert len(info["expressions_with_offsets"]) == 1 and info["config"]["iterations"] == 6
    assert info["last_evaluation"]["step"] == 6
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "builtin" in text and "last eval" in text and "test_psnr" in text
    assert "on cpu (blend torch, splat torch)" in text  # where it ran and what ran


def test_tensorboard_without_the_package_is_one_clear_error_or_writes_events(capture_dir, tmp_path, capsys):
    out = tmp_path / "t.avatar"
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        assert _train(capture_dir, out, "--log", "tensorboard") == 2
        assert "tensorboard" in capsys.readouterr().err and not out.exists()
        return
    assert _train(capture_dir, out, "--log", "tensorboard") == 0
    assert list((tmp_path / "t.avatar.run" / "tb").glob("events.out.tfevents.*"))
