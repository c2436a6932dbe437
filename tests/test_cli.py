"""The `avatar` command end to end: demo, render, export, eval, and its errors on bad input."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from avatar.cli.main import main
from avatar.data.arkit import ARKIT_NAMES
from avatar.data.livelink import REQUIRED_COLUMNS

ROTATION_COLUMNS = [c for c in REQUIRED_COLUMNS if c.startswith(("Head", "LeftEye", "RightEye"))]


def _write_livelink(path: Path, jaw_open: list[float], drop: str | None = None, bad_cell: tuple | None = None):
    columns = ["Timecode", "BlendshapeCount"] + [n[0].upper() + n[1:] for n in ARKIT_NAMES] + ROTATION_COLUMNS
    if drop:
        columns.remove(drop)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for i, j in enumerate(jaw_open):
            row = {c: "0" for c in columns}
            row["Timecode"] = f"00:00:00:{i:02d}.000"
            row["BlendshapeCount"] = "61"
            if "JawOpen" in row:
                row["JawOpen"] = f"{j:.3f}"
            if bad_cell and bad_cell[0] == i:
                row[bad_cell[1]] = "abc"
            w.writerow([row[c] for c in columns])


def test_demo_writes_model_video_and_metrics(demo_dir):
    metrics = json.loads((demo_dir / "metrics.json").read_text())
    for key in ("psnr", "ssim", "lpips", "seconds", "num_gaussians", "backend"):
        assert key in metrics
    assert metrics["psnr"] > 10  # 30 iterations: far from converged, but not noise
    assert metrics["lpips"] is not None or metrics["lpips_reason"]
    import av  # here, not at the top: `pytest -m cuda` collects this module on machines without PyAV

    with av.open(str(demo_dir / "demo.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in c.decode(video=0)) == 4 + 60
    assert not (demo_dir / "model.avatar.ckpt").exists()


def test_render_follows_jaw_open(demo_dir, tmp_path):
    csv_path = tmp_path / "take.csv"
    jaw = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    _write_livelink(csv_path, jaw)
    out = tmp_path / "take.mp4"
    assert (
        main(["render", str(demo_dir / "model.avatar"), "--expr", str(csv_path), "--out", str(out), "--size", "64"])
        == 0
    )
    import av

    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24").astype(np.float32) for f in c.decode(video=0)]
    assert len(frames) == len(jaw)
    # Closed-mouth frames are identical to each other; opening the jaw changes the picture.
    assert np.abs(frames[0] - frames[2]).mean() < 1.0
    assert np.abs(frames[0] - frames[4]).mean() > np.abs(frames[0] - frames[2]).mean() + 0.05


@pytest.mark.parametrize("problem", ["missing_column", "not_a_number", "too_few_rows"])
def test_bad_csv_is_one_clear_error_and_no_output(demo_dir, tmp_path, capsys, problem):
    csv_path = tmp_path / "bad.csv"
    if problem == "missing_column":
        _write_livelink(csv_path, [0.1] * 5, drop="JawOpen")
        expected = "JawOpen"
    elif problem == "not_a_number":
        _write_livelink(csv_path, [0.1] * 5, bad_cell=(3, "MouthSmileLeft"))
        expected = "row 5"
    else:
        _write_livelink(csv_path, [0.1])
        expected = "too few"
    out = tmp_path / "bad.mp4"
    assert main(["render", str(demo_dir / "model.avatar"), "--expr", str(csv_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and expected in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob("bad.mp4*"))


def test_export_ply_and_eval_json(demo_dir, tmp_path):
    assert main(["export", str(demo_dir / "model.avatar"), "--ply", str(tmp_path / "a.ply")]) == 0
    from plyfile import PlyData

    assert PlyData.read(str(tmp_path / "a.ply"))["vertex"].count > 1000
    assert (
        main(
            [
                "eval",
                str(demo_dir / "model.avatar"),
                str(demo_dir / "capture"),
                "--json",
                str(tmp_path / "m.json"),
                "--save-images",
                str(tmp_path / "images"),
            ]
        )
        == 0
    )
    m = json.loads((tmp_path / "m.json").read_text())
    assert set(m) == {"train", "test"}  # both splits by default
    assert m["test"]["frames"] == 4 and m["test"]["psnr"] > 10
    assert m["test"]["psnr_black"] > m["test"]["psnr_foreground"]  # the black background is matched exactly
    saved = sorted((tmp_path / "images" / "test").glob("*.png"))
    assert len(saved) == 4
    from PIL import Image

    width, height = Image.open(saved[0]).size
    assert width == 3 * height  # target | render | error


def test_eval_reports_a_val_split_when_the_capture_has_one(demo_dir, tmp_path):
    capture = tmp_path / "capture"
    shutil.copytree(demo_dir / "capture", capture)
    meta = json.loads((capture / "capture.json").read_text())
    train = meta["splits"]["train"]
    meta["splits"] |= {"train": train[:-3], "val": train[-3:]}
    (capture / "capture.json").write_text(json.dumps(meta))
    assert main(["eval", str(demo_dir / "model.avatar"), str(capture), "--json", str(tmp_path / "m.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert set(m) == {"train", "val", "test"}
    assert [r["frame"] for r in m["val"]["per_frame"]] == train[-3:]


def test_truncated_model_is_rejected_by_the_cli(demo_dir, tmp_path, capsys):
    data = (demo_dir / "model.avatar").read_bytes()
    bad = tmp_path / "cut.avatar"
    bad.write_bytes(data[: len(data) - 100])
    assert main(["export", str(bad), "--ply", str(tmp_path / "x.ply")]) == 2
    assert "cut.avatar" in capsys.readouterr().err
    assert not (tmp_path / "x.ply").exists()


def _interrupted_training(monkeypatch, step: int, capture, rig, cfg, out: Path) -> None:
    """Run `train` and kill it (KeyboardInterrupt) at its `step`-th loss evaluation."""
    from avatar.training import trainer

    real_loss, calls = trainer.photometric_loss, []

    def crash(*a, **k):
        calls.append(1)
        if len(calls) == step:
            raise KeyboardInterrupt
        return real_loss(*a, **k)

    with monkeypatch.context() as m:
        m.setattr(trainer, "photometric_loss", crash)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(capture, rig, cfg, out, progress=False)


def test_interrupted_training_resumes_to_the_same_model(demo_dir, tmp_path, monkeypatch):
    from avatar.data.capture import load_capture
    from avatar.gaussians.io import load_avatar
    from avatar.rig.builtin import build_builtin_head
    from avatar.training import trainer
    from avatar.training.config import load_config

    capture, rig = load_capture(demo_dir / "capture"), build_builtin_head()
    cfg = load_config("fast", iterations=20, checkpoint_every=10, densify_from=4, densify_every=8)
    trainer.train(capture, rig, cfg, tmp_path / "straight.avatar", progress=False)

    _interrupted_training(monkeypatch, 15, capture, rig, cfg, tmp_path / "resumed.avatar")
    assert trainer.checkpoint_path(tmp_path / "resumed.avatar").exists()
    assert not (tmp_path / "resumed.avatar").exists()
    trainer.train(capture, rig, cfg, tmp_path / "resumed.avatar", resume=True, progress=False)
    straight, _ = load_avatar(tmp_path / "straight.avatar")
    resumed, _ = load_avatar(tmp_path / "resumed.avatar")
    assert torch.equal(straight.parent, resumed.parent)
    for name, t in straight.attribute_tensors().items():
        assert torch.allclose(t, getattr(resumed, name), atol=1e-6), name


def test_resume_refuses_a_checkpoint_from_other_settings(demo_dir, tmp_path, monkeypatch):
    from avatar.data.capture import load_capture
    from avatar.rig.builtin import build_builtin_head
    from avatar.training import trainer
    from avatar.training.config import load_config

    capture, rig = load_capture(demo_dir / "capture"), build_builtin_head()
    cfg = load_config("fast", iterations=12, checkpoint_every=5)
    _interrupted_training(monkeypatch, 8, capture, rig, cfg, tmp_path / "m.avatar")
    with pytest.raises(ValueError, match="different training settings"):
        trainer.train(capture, rig, cfg.updated(lr_xyz=1e-2), tmp_path / "m.avatar", resume=True, progress=False)


@pytest.mark.parametrize("damage", ["a list", "no tensors", "parent out of range", "NaN attribute", "bad step"])
def test_resume_refuses_a_checkpoint_of_the_wrong_structure(demo_dir, tmp_path, monkeypatch, damage):
    from avatar.data.capture import load_capture
    from avatar.rig.builtin import build_builtin_head
    from avatar.training import trainer
    from avatar.training.config import load_config

    capture, rig = load_capture(demo_dir / "capture"), build_builtin_head()
    cfg = load_config("fast", iterations=12, checkpoint_every=5)
    _interrupted_training(monkeypatch, 8, capture, rig, cfg, tmp_path / "m.avatar")
    ckpt = trainer.checkpoint_path(tmp_path / "m.avatar")
    state = torch.load(ckpt, weights_only=True)
    if damage == "a list":
        state = [state["config"]]
    elif damage == "no tensors":
        del state["tensors"]
    elif damage == "parent out of range":
        state["parent"][0] = 10**6
    elif damage == "NaN attribute":
        state["tensors"]["xyz"][0, 0] = float("nan")
    else:
        state["step"] = 10**6
    torch.save(state, ckpt)
    expected = "different training settings" if damage == "a list" else "not a usable checkpoint"
    with pytest.raises(ValueError, match=expected):
        trainer.train(capture, rig, cfg, tmp_path / "m.avatar", resume=True, progress=False)


def test_the_avatar_keeps_the_expression_range_of_its_training_frames(demo_dir, tmp_path):
    from avatar.data.capture import load_capture
    from avatar.model import ExpressionRange
    from avatar.model import load_avatar as load_full_avatar

    out = tmp_path / "r.avatar"
    assert main(["train", str(demo_dir / "capture"), "--out", str(out), "--preset", "fast", "--iterations", "15"]) == 0
    capture = load_capture(demo_dir / "capture")
    train_times = sorted({capture.frames[f].time for f in capture.splits["train"]})
    learned = load_full_avatar(out).expression_range
    tracked = ExpressionRange.of(capture.params.select(train_times))
    torch.testing.assert_close(learned.expr_low, tracked.expr_low)
    torch.testing.assert_close(learned.expr_high, tracked.expr_high)


def test_export_drives_the_avatar_from_an_expression_file_or_a_capture(demo_dir, tmp_path):
    from plyfile import PlyData

    from avatar.data.expressions import save_expression_file
    from avatar.rig.loaders import load_rig

    rig = load_rig("builtin")
    params = rig.zero_params(2)
    params.jaw[1, 0] = 0.3
    save_expression_file(tmp_path / "e.npz", params, 25.0, rig.expr_names)
    xyz = {}
    for name, source, frame in (("rest", "e.npz", 0), ("open", "e.npz", 1), ("capture", None, 1)):
        expr = str(tmp_path / source) if source else str(demo_dir / "capture")  # a capture: cross-identity
        assert (
            main(
                [
                    "export",
                    str(demo_dir / "model.avatar"),
                    "--ply",
                    str(tmp_path / f"{name}.ply"),
                    "--expr",
                    expr,
                    "--frame",
                    str(frame),
                ]
            )
            == 0
        )
        v = PlyData.read(str(tmp_path / f"{name}.ply"))["vertex"]
        xyz[name] = np.stack([v["x"], v["y"], v["z"]], -1)
    assert np.abs(xyz["open"] - xyz["rest"]).max() > 1e-3  # the jaw moved Gaussians
