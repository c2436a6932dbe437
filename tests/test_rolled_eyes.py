"""benchmarks/quality/rolled_eyes.py: the eyeballs' see-through and the held-out eye box per gaze."""

import json
import math
import subprocess
import sys
from pathlib import Path

import torch

from avatar.model import load_avatar
from avatar.rig.face_region import eyeball_triangles

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "quality" / "rolled_eyes.py"


def run_benchmark(model: Path, capture: Path, out: Path) -> dict:
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(model),
            "--captures",
            str(capture),
            "--json",
            str(out / "eyes.json"),
            "--sheet",
            str(out / "eyes.png"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert (out / "eyes.png").is_file()
    return json.loads((out / "eyes.json").read_text())[str(model)]


def test_see_through_is_what_the_eyeballs_let_pass(demo_dir, tmp_path):
    """The demo's eyeballs are opaque (see-through near 0 at every gaze); the same avatar with its
    eyeball Gaussians made nearly transparent lets nearly everything through."""
    model, capture = demo_dir / "model.avatar", demo_dir / "capture"
    opaque = run_benchmark(model, capture, tmp_path)
    assert set(opaque["gazes"]) == {"ahead", "up 20", "down 15", "left 25", "right 25"}
    assert all(g["pixels"] > 0 and g["see_through"] < 0.2 for g in opaque["gazes"].values()), opaque
    gaze = opaque["gaze"]
    assert gaze["held_out_frames"] > 0 and len(gaze["training_gaze_median"]) == 6
    assert all(math.isfinite(v) for v in gaze["eye_box_psnr"].values())

    avatar = load_avatar(model, None, torch.device("cpu"), "torch")
    on_eye = eyeball_triangles(avatar.rig)[avatar.model.parent]  # [N]
    with torch.no_grad():
        avatar.model.opacity_logit[on_eye] = -8.0  # opacity 3e-4 each
    clear = tmp_path / "clear"
    clear.mkdir()
    avatar.save(clear / "model.avatar")
    seen_through = run_benchmark(clear / "model.avatar", capture, clear)
    assert all(g["see_through"] > 0.8 for g in seen_through["gazes"].values()), seen_through
