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
from avatar.data.synthetic import make_synthetic_capture
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import load_avatar
from avatar.render import splat_registry
from avatar.rig.loaders import load_rig
from avatar.training import trainer
from avatar.training.config import MULTIVIEW_PRESET, load_config
from avatar.renderer import AvatarRenderer
from avatar.training.evaluate import evaluate

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
    assert (config["per_face"], config["sh_degree"], config["refine_params"]) == (
        preset.per_face, preset.sh_degree, preset.refine_params)
    assert Path(config["capture"]) == capture.root
