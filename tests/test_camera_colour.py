"""Per-camera colour correction: a synthetic multiview capture in which one camera sees the colours
shifted (white balance) is trained with and without it.

The capture is test_multiview's (five cameras on a ±60° arc, the middle one held out), with
camera 1's images multiplied by GAIN; camera 0 is the reference whose colours the avatar takes.
"""

import json
import statistics

import numpy as np
import pytest
import torch
from PIL import Image

from avatar.cli.main import main
from avatar.data.capture import load_capture
from avatar.data.splits import train_on_cameras
from avatar.data.synthetic import make_synthetic_capture
from avatar.model import load_avatar
from avatar.training import trainer
from avatar.training.camera_colour import CameraColours
from avatar.training.config import load_config
from avatar.training.evaluate import evaluate_avatar
from test_cli import _interrupted_training
from test_multiview import BACKEND, NUM_CAMERAS, SIZE, _restore_global_rng, rig  # noqa: F401 (fixtures)

GAIN = (1.1, 0.9, 1.0)  # camera 1's white balance: redder, less green
SHIFTED = 1
ITERATIONS = 400


@pytest.fixture(scope="module")
def shifted(rig, tmp_path_factory):  # noqa: F811 (the fixture imported above)
    """The capture with camera SHIFTED's images multiplied by GAIN (the masks composite the
    background back to white in training and evaluation)."""
    root = tmp_path_factory.mktemp("colour") / "capture"
    capture = make_synthetic_capture(rig, root, num_train=2, num_test=1, size=SIZE, num_cameras=NUM_CAMERAS,
                                     progress=False)
    for frame in capture.frames:
        if frame.camera == SHIFTED:
            pixels = np.asarray(Image.open(root / frame.image)).astype(np.float64) * np.array(GAIN)
            Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8)).save(root / frame.image)
    return load_capture(root)


@pytest.fixture(scope="module")
def models(rig, shifted):  # noqa: F811
    """{corrected: the .avatar path} trained with and without per-camera colour correction."""
    paths = {}
    for corrected in (True, False):
        paths[corrected] = shifted.root.parent / f"colour_{corrected}.avatar"
        cfg = load_config("fast", iterations=ITERATIONS, backend=BACKEND, camera_colour=corrected)
        trainer.train(shifted, rig, cfg, paths[corrected], progress=False)
    return paths


def _foreground_psnr(metrics: dict, camera: str) -> float:
    return metrics["per_camera"][camera]["train"]["psnr_foreground"]


def test_the_learned_transform_recovers_the_shift(shifted, models):
    recorded = load_avatar(models[True]).settings["camera_colours"]
    assert recorded["reference"] == "cam00"
    # Every training camera has one (the reference's the identity); the held-out camera none.
    assert set(recorded["cameras"]) == {"cam00", "cam01", "cam03", "cam04"}
    colours = CameraColours.from_dict(recorded)
    # The gain the transform gives the avatar's mean skin colour (the reference camera's view).
    frame = next(f for f, info in enumerate(shifted.frames) if info.camera == 0)
    skin = shifted.load_image(frame)[shifted.load_mask(frame)[..., 0] > 0.5].mean(0)  # [3]
    k = colours.slots["cam01"]
    gain = ((colours.matrix[k] @ skin + colours.bias[k]) / skin).detach()  # [3]
    # Measured 1.076 / 0.865 / 0.956 after 400 steps: most of the shift, the right way in each channel.
    assert float(gain[0]) > 1.05 and float(gain[1]) < 0.93, gain
    assert abs(float(gain[2]) - 1.0) < 0.07, gain


def test_correction_raises_the_psnr_of_the_shifted_camera(shifted, models):
    corrected = load_avatar(models[True], backend=BACKEND)
    with_correction = evaluate_avatar(corrected, shifted, ["train"])
    corrected.settings.pop("camera_colours")
    same_without = evaluate_avatar(corrected, shifted, ["train"])
    uncorrected = evaluate_avatar(load_avatar(models[False], backend=BACKEND), shifted, ["train"])
    # Measured (foreground PSNR, dB): 23.6 with the correction, 22.3 for the same avatar without
    # it, 23.3 for an avatar trained without correction.
    assert _foreground_psnr(with_correction, "cam01") > _foreground_psnr(same_without, "cam01") + 0.5
    assert _foreground_psnr(with_correction, "cam01") > _foreground_psnr(uncorrected, "cam01")
    # The avatar's own colours no longer compromise with the shifted camera: every training
    # camera gains (mean foreground PSNR measured 24.7 against 24.3 dB).
    mean = {name: statistics.fmean(row["psnr_foreground"] for row in m["train"]["per_frame"])
            for name, m in (("with", with_correction), ("trained without", uncorrected))}
    assert mean["with"] > mean["trained without"] + 0.2, mean


def test_eval_says_which_cameras_are_corrected(shifted, models, tmp_path):
    out = tmp_path / "m.json"
    assert main(["eval", str(models[True]), str(shifted.root), "--json", str(out), "--backend", BACKEND]) == 0
    per_camera = json.loads(out.read_text())["per_camera"]
    assert {name: {s: row["colour_correction"] for s, row in splits.items()} for name, splits in per_camera.items()} \
        == {"cam00": {"train": "learned", "test": "learned"}, "cam01": {"train": "learned", "test": "learned"},
            "cam02": {"test_camera": "none"},  # never trained on: rendered as the reference camera sees it
            "cam03": {"train": "learned", "test": "learned"}, "cam04": {"train": "learned", "test": "learned"}}
    assert main(["eval", str(models[False]), str(shifted.root), "--json", str(out), "--split", "train",
                 "--backend", BACKEND]) == 0
    assert {row["train"]["colour_correction"] for row in json.loads(out.read_text())["per_camera"].values()} == {"none"}


def test_info_names_the_training_cameras_and_the_correction(models, capsys):
    assert main(["info", str(models[True])]) == 0
    assert "cameras      4: cam00, cam01, cam03, cam04; colours corrected per camera, to cam00's" \
        in capsys.readouterr().out


def _render(alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 2x2 render: rgb [2, 2, 3] (a colour over a white background at opacity alpha), alpha [2, 2, 1],
    background [3]."""
    background = torch.ones(3)
    colour = torch.tensor([0.6, 0.4, 0.3])
    alpha_map = torch.full((2, 2, 1), alpha)
    return colour * alpha_map + (1 - alpha_map) * background, alpha_map, background


def test_transforms_change_the_avatars_colour_never_the_background():
    colours = CameraColours("ref", ["other"], torch.diag(torch.tensor(GAIN))[None], torch.full((1, 3), 0.05))
    rgb, alpha, background = _render(1.0)
    assert torch.equal(colours(rgb, alpha, background, "ref"), rgb)  # the reference: the identity
    assert torch.equal(colours(rgb, alpha, background, "never seen"), rgb)  # a camera without one
    expected = torch.tensor([0.6, 0.4, 0.3]) * torch.tensor(GAIN) + 0.05
    assert torch.allclose(colours(rgb, alpha, background, "other"), expected.expand(2, 2, 3))
    empty = _render(0.0)
    assert torch.equal(colours(*empty, "other"), empty[0])  # pure background stays the background
    half = _render(0.5)
    assert torch.allclose(colours(*half, "other"), 0.5 * expected + 0.5 * background)
    assert float(colours.deviation("other").detach()) == pytest.approx(0.01 + 0.01 + 3 * 0.05 ** 2)
    assert colours.deviation("ref") is None


def test_transforms_go_through_the_models_settings_and_are_checked():
    colours = CameraColours("a", ["b"], torch.eye(3)[None] * 1.1, torch.full((1, 3), 0.02))
    again = CameraColours.from_dict(json.loads(json.dumps(colours.to_dict())))
    assert again.reference == "a" and "a" in again and "b" in again and "c" not in again
    assert torch.allclose(again.matrix[again.slots["b"]], torch.eye(3) * 1.1)
    eye = torch.eye(3).tolist()
    for bad in ({"reference": "a"}, {"reference": "x", "cameras": {"a": {"matrix": eye, "bias": [0, 0, 0]}}},
                {"reference": "a", "cameras": {"a": {"matrix": [[1, 0], [0, 1]], "bias": [0, 0, 0]}}},
                {"reference": "a", "cameras": {"a": {"matrix": eye, "bias": [0, float("nan"), 0]}}},
                {"reference": "a", "cameras": {"a": "identity"}}):
        with pytest.raises(ValueError, match="camera_colours"):
            CameraColours.from_dict(bad)


def test_one_camera_or_one_cameras_video_has_no_transforms(shifted):
    one = [f for f in shifted.splits["train"] if shifted.frames[f].camera == 0]
    assert CameraColours.for_training(shifted, one) is None
    assert CameraColours.for_training(shifted, shifted.splits["train"]) is not None
    video = load_capture(shifted.root)
    video.extra["monocular"] = True  # per-frame crops of one camera, whatever their number
    assert CameraColours.for_training(video, video.splits["train"]) is None


def test_an_interrupted_run_resumes_its_transforms_and_only_on_its_cameras(rig, shifted, tmp_path, monkeypatch):  # noqa: F811
    cfg = load_config("fast", iterations=20, checkpoint_every=10, backend=BACKEND, camera_colour=True,
                      camera_colour_from_frac=0.0)  # transforms moving before the checkpoint
    trainer.train(shifted, rig, cfg, tmp_path / "straight.avatar", progress=False)
    _interrupted_training(monkeypatch, 15, shifted, rig, cfg, tmp_path / "resumed.avatar")
    with pytest.raises(ValueError, match="different training settings or cameras"):
        trainer.train(train_on_cameras(shifted, [0, 1]), rig, cfg, tmp_path / "resumed.avatar", resume=True,
                      progress=False)
    trainer.train(shifted, rig, cfg, tmp_path / "resumed.avatar", resume=True, progress=False)
    straight, resumed = (load_avatar(tmp_path / f"{name}.avatar").settings["camera_colours"]["cameras"]
                         for name in ("straight", "resumed"))
    assert straight["cam01"]["bias"] != [0.0, 0.0, 0.0]
    for name, transform in straight.items():
        assert np.allclose(transform["matrix"], resumed[name]["matrix"], atol=1e-6), name
        assert np.allclose(transform["bias"], resumed[name]["bias"], atol=1e-6), name
