"""Multiview training on a synthetic capture of the built-in head, one camera held out.

The synthetic cameras sit on a ±60° arc around the head and the middle (front) one is held out
in split "test_camera": it shows the training time steps from a viewpoint training never sees.
Five cameras, not three: the built-in face is narrow, so cameras at ±60° see its midline only
edge-on, and a front view held out between them shows a strip no training camera saw.
"""

import json
import logging
import statistics
from pathlib import Path

import pytest
import torch

from avatar.runtime.backends import BackendUnavailable
from avatar.cli.main import main
from avatar.data.capture import load_capture
from avatar.data.splits import train_on_cameras
from avatar.data.synthetic import make_synthetic_capture
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import load_avatar
from avatar.splat import splat_registry
from avatar.rig.loaders import load_rig
from avatar.training import trainer
from avatar.training.config import MULTIVIEW_PRESET, load_config
from avatar.renderer import AvatarRenderer
from avatar.training.evaluate import evaluate, evaluate_avatar
from avatar.model import load_avatar as load_model

NUM_CAMERAS = 5
SIZE = 64
ITERATIONS = 150


def _fastest_cpu_backend() -> str:
    try:
        splat_registry.get("cpu")
        return "cpu"
    except BackendUnavailable:
        return "torch"


BACKEND = _fastest_cpu_backend()


@pytest.fixture(scope="module", autouse=True)
def _restore_global_rng():
    """Training seeds torch's global RNG: give later test modules back the state they had."""
    with torch.random.fork_rng():
        yield


@pytest.fixture(scope="module")
def rig():
    return load_rig("builtin")


@pytest.fixture(scope="module")
def capture(rig, tmp_path_factory):
    root = tmp_path_factory.mktemp("multiview") / "capture"
    return make_synthetic_capture(rig, root, num_train=2, num_test=1, size=SIZE, num_cameras=NUM_CAMERAS,
                                  progress=False)


@pytest.fixture(scope="module")
def trained(rig, capture):
    """(model path, model, world-to-camera [4, 4] of every view training rendered)."""
    rendered_views = []

    def recording_render(renderer, params, camera, *args, **kwargs):
        rendered_views.append(camera.world_to_cam.clone())
        return original_render(renderer, params, camera, *args, **kwargs)

    original_render = AvatarRenderer.render_differentiable  # what a training step renders with
    out = capture.root.parent / "model.avatar"
    cfg = load_config("fast", iterations=ITERATIONS, backend=BACKEND)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AvatarRenderer, "render_differentiable", recording_render)
        model = trainer.train(capture, rig, cfg, out, progress=False).model
    return out, model, rendered_views


def _camera_of(world_to_cam: torch.Tensor, capture) -> int:
    """Index of the capture camera with this pose (the cameras are metres apart: no near ties)."""
    poses = torch.stack([torch.as_tensor(c.world_to_cam, dtype=torch.float32) for c in capture.cameras])
    return int((poses - world_to_cam).abs().flatten(1).amax(1).argmin())


def test_capture_holds_out_the_middle_camera(capture):
    held_out = {capture.frames[f].camera for f in capture.splits["test_camera"]}
    seen = {capture.frames[f].camera for f in capture.splits["train"] + capture.splits["test"]}
    assert held_out == {NUM_CAMERAS // 2}
    assert seen == set(range(NUM_CAMERAS)) - held_out


def test_training_renders_every_training_camera_and_never_the_held_out_one(capture, trained):
    _, _, rendered_views = trained
    assert len(rendered_views) == ITERATIONS
    drawn = [_camera_of(w, capture) for w in rendered_views]
    training_cameras = {capture.frames[f].camera for f in capture.splits["train"]}
    assert set(drawn) == training_cameras
    # Uniform over training frames, and every camera has the same number of them here.
    expected = ITERATIONS / len(training_cameras)
    assert all(drawn.count(c) > expected / 2 for c in training_cameras)


def _foreground_psnr_per_camera(model, capture, split: str) -> dict[int, float]:
    rows = evaluate(AvatarRenderer(model, backend=BACKEND), capture, split)["per_frame"]
    cameras = sorted({capture.frames[r["frame"]].camera for r in rows})
    return {c: statistics.fmean(r["psnr_foreground"] for r in rows if capture.frames[r["frame"]].camera == c)
            for c in cameras}


def test_every_training_camera_is_fitted(rig, capture, trained):
    _, model, _ = trained
    # Foreground PSNR: the white background is right from the start and would hide the change.
    before = _foreground_psnr_per_camera(GaussianAvatar.on_mesh(rig), capture, "train")
    after = _foreground_psnr_per_camera(model, capture, "train")
    # Measured about 12 -> 20 dB on each camera; a frame shown with another camera's pose
    # could not be fitted by one consistent avatar.
    for camera in before:
        assert after[camera] > before[camera] + 5.0, camera


def test_held_out_camera_improves(rig, capture, trained):
    _, model, _ = trained
    untrained = AvatarRenderer(GaussianAvatar.on_mesh(rig), backend=BACKEND)
    before = evaluate(untrained, capture, "test_camera")["per_frame"]
    after = evaluate(AvatarRenderer(model, backend=BACKEND), capture, "test_camera")["per_frame"]
    # The gain is real but small after this short run: +0.9 dB for this capture, +0.6 to +4.4 dB
    # over capture seeds 0-3 (and it does not grow by 300 steps while the training views reach
    # 23-25 dB). The front view sees surface that the side cameras see only near their
    # silhouettes, where Gaussians learn the background colour and show as pale seams.
    for b, a in zip(before, after):
        assert a["psnr_foreground"] > b["psnr_foreground"] + 0.5, a["frame"]


def test_eval_cli_on_the_held_out_camera(capture, trained, tmp_path):
    path, model, _ = trained
    out = tmp_path / "metrics.json"
    assert main(["eval", str(path), str(capture.root), "--split", "test_camera", "--json", str(out),
                 "--backend", BACKEND]) == 0
    written = json.loads(out.read_text())["test_camera"]
    direct = evaluate(AvatarRenderer(model, backend=BACKEND), capture, "test_camera")
    assert written["split"] == "test_camera" and written["frames"] == len(capture.splits["test_camera"])
    assert written["psnr"] == pytest.approx(direct["psnr"], abs=1e-4)


def test_train_cli_picks_the_multiview_preset(capture, tmp_path, caplog):
    out = tmp_path / "cli.avatar"
    with caplog.at_level(logging.INFO, logger="avatar"):
        assert main(["train", str(capture.root), "--out", str(out), "--iterations", "2",
                     "--backend", BACKEND]) == 0
    assert f"training preset '{MULTIVIEW_PRESET}'" in caplog.text
    _, config = load_avatar(out)
    preset = load_config(MULTIVIEW_PRESET)
    assert (config["per_face"], config["sh_degree"], config["camera_colour"]) == (
        preset.per_face, preset.sh_degree, preset.camera_colour)
    assert Path(config["capture"]) == capture.root


# ---- --cameras ---------------------------------------------------------------------------------


def test_training_cameras_restrict_only_the_training_splits(capture):
    chosen = train_on_cameras(capture, [3, 0, 3])
    assert {capture.frames[f].camera for f in chosen.splits["train"]} == {0, 3}
    assert len(chosen.splits["train"]) == 2 * len(capture.splits["train"]) // (NUM_CAMERAS - 1)
    assert chosen.splits["test"] == capture.splits["test"]  # held out: scored on every camera
    assert chosen.splits["test_camera"] == capture.splits["test_camera"]
    assert capture.splits["train"] != chosen.splits["train"]  # the capture itself is left as it was


@pytest.mark.parametrize("cameras, problem", [
    ([0, 7], r"training cameras 0 7: the capture has no camera 7 \(it has 5: 0 cam00, 1 cam01, 2 cam02"),
    ([2], r"camera 2 'cam02' has no training frames \(its frames are in split test_camera\)"),
    ([1, 2], r"camera 2 'cam02' has no training frames"),  # one chosen camera that would train nothing
])
def test_training_cameras_that_train_nothing_are_one_clear_error(capture, cameras, problem):
    with pytest.raises(ValueError, match=problem):
        train_on_cameras(capture, cameras)


def test_training_cameras_of_one_cameras_video_are_refused(capture):
    video = load_capture(capture.root)
    video.extra["monocular"] = True
    with pytest.raises(ValueError, match="one camera's video"):
        train_on_cameras(video, [0])


def test_train_cli_on_one_camera_is_monocular_and_says_which(capture, tmp_path, caplog, capsys):
    out = tmp_path / "one.avatar"
    with caplog.at_level(logging.INFO, logger="avatar"):
        assert main(["train", str(capture.root), "--out", str(out), "--cameras", "1", "--iterations", "2",
                     "--set", "eval_every=0", "--backend", BACKEND]) == 0
    assert "training preset 'mono-phone': the training frames come from one camera" in caplog.text
    settings = load_model(out).settings
    assert settings["train_cameras"] == ["cam01"] and "camera_colours" not in settings  # one camera: no transforms
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "cameras      1: cam01\n" in capsys.readouterr().out
    assert main(["train", str(capture.root), "--out", str(tmp_path / "x.avatar"), "--cameras", "2"]) == 2
    err = capsys.readouterr().err
    assert "camera 2 'cam02' has no training frames" in err and "Traceback" not in err
    assert not (tmp_path / "x.avatar").exists()


# ---- avatar eval: every split, and per camera ---------------------------------------------------


def test_eval_reports_every_split_and_each_camera(capture, trained, tmp_path, capsys):
    path, _, _ = trained
    out = tmp_path / "m.json"
    assert main(["eval", str(path), str(capture.root), "--json", str(out), "--backend", BACKEND]) == 0
    printed = capsys.readouterr().out
    written = json.loads(out.read_text())
    assert list(written) == ["train", "test", "test_camera", "per_camera"]
    assert written["test_camera"]["frames"] == len(capture.splits["test_camera"])
    per_camera = written["per_camera"]
    assert list(per_camera) == [f"cam{c:02d}" for c in range(NUM_CAMERAS)]
    assert list(per_camera["cam02"]) == ["test_camera"] and list(per_camera["cam01"]) == ["train", "test"]
    for split in ("train", "test", "test_camera"):
        rows = written[split]["per_frame"]
        assert sum(c[split]["frames"] for c in per_camera.values() if split in c) == len(rows)
        for name, splits in per_camera.items():
            mine = [r for r in rows if capture.cameras[capture.frames[r["frame"]].camera].name == name]
            if mine:
                assert splits[split]["psnr"] == pytest.approx(statistics.fmean(r["psnr"] for r in mine))
                assert splits[split]["colour_correction"] == "none"  # the fast preset learns none
    # The printed summary is JSON without the per-frame rows, one line per camera and split.
    summary = json.loads(printed)
    assert "per_frame" not in summary["train"] and summary["per_camera"]["cam02"]["test_camera"]["frames"] == 2
    lines = [line for line in printed.splitlines() if '"colour_correction"' in line]
    assert len(lines) == sum(len(splits) for splits in per_camera.values())


def test_eval_of_one_cameras_video_has_no_per_camera_table(capture, trained, tmp_path):
    path, _, _ = trained
    video = load_capture(capture.root)
    video.extra["monocular"] = True  # the cameras are per-frame crops: no camera to score apart
    metrics = evaluate_avatar(load_model(path, backend=BACKEND), video, ["test"])
    assert list(metrics) == ["test"]


# ---- a multiview avatar is an avatar like any other --------------------------------------------


def test_a_multiview_avatar_renders_and_exports(capture, tmp_path):
    from plyfile import PlyData

    from gltf_reference import Glb

    model = tmp_path / "multiview.avatar"
    assert main(["train", str(capture.root), "--out", str(model), "--iterations", "20", "--set", "eval_every=0",
                 "--backend", BACKEND]) == 0  # the multiview preset: colour correction, degree-3 colours
    assert set(load_model(model).settings["camera_colours"]["cameras"]) == {"cam00", "cam01", "cam03", "cam04"}
    gaussians = load_model(model).model.num_gaussians
    assert main(["render", str(model), "--expr", str(capture.root), "--out", str(tmp_path / "take.mp4"),
                 "--size", "32", "--backend", BACKEND]) == 0
    assert (tmp_path / "take.mp4").stat().st_size > 0
    assert main(["export", str(model), "--ply", str(tmp_path / "a.ply"), "--no-cut"]) == 0
    assert PlyData.read(str(tmp_path / "a.ply"))["vertex"].count == gaussians
    assert main(["export", str(model), "--web", str(tmp_path / "site")]) == 0
    assert json.loads((tmp_path / "site" / "manifest.json").read_text())["num_gaussians"] == gaussians
    assert main(["export", str(model), "--gltf", str(tmp_path / "a.glb")]) == 0
    assert Glb.load(tmp_path / "a.glb").gltf.meshes
