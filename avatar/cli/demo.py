"""`avatar demo`: the whole pipeline on the built-in head, offline, in minutes on a CPU.

synthetic capture (known parameters, held-out expressions and poses) -> train -> evaluate on
the held-out frames -> demo.mp4 (held-out frames, then a ±60° camera swing) -> metrics.json.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from avatar.data.atomic import dump_json
from avatar.data.capture import CaptureError, load_capture
from avatar.data.synthetic import make_synthetic_capture
from avatar.splat import splat_registry
from avatar.splat.framing import camera_path
from avatar.renderer.sequence import render_sequence
from avatar.rig import RigParams
from avatar.rig.params import FRAME_KEYS
from avatar.rig.builtin import build_builtin_head
from avatar.training.config import load_config
from avatar.training.evaluate import evaluate_avatar
from avatar.training.trainer import train

log = logging.getLogger("avatar")


def _capture(rig, root: Path, size: int, num_train: int, num_test: int):
    """Reuse a complete capture from an earlier (interrupted) run with the same settings."""
    try:
        capture = load_capture(root)
        if (capture.cameras[0].width == size and len(capture.splits.get("train", [])) == num_train
                and len(capture.splits.get("test", [])) == num_test):
            return capture
    except CaptureError:
        pass
    return make_synthetic_capture(rig, root, num_train=num_train, num_test=num_test, size=size, overwrite=True)


def run_demo(out: str | Path, size: int = 128, num_train: int = 150, num_test: int = 30, preset: str = "fast",
             iterations: int | None = None, backend: str = "auto", device: str | torch.device = "cpu") -> dict:
    out = Path(out)
    device = torch.device(device)
    splat_registry.get(backend, device)  # a backend for another device fails here, before any output
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rig = build_builtin_head()
    capture = _capture(rig, out / "capture", size, num_train, num_test)
    cfg = load_config(preset, iterations=iterations, backend=backend)
    avatar = train(capture, rig, cfg, out / "model.avatar", resume=True, device=device)
    renderer = avatar.renderer
    metrics = evaluate_avatar(avatar, capture, ["test"])["test"]
    test = capture.splits["test"]
    held_out = capture.params.select([capture.frames[f].time for f in test])
    swing = _swing_params(held_out, 60)
    fps = capture.fps
    arc = camera_path(rig, "arc", size, swing.num_frames)
    cameras = lambda i: capture.camera(test[i]) if i < len(test) else arc(i - len(test))  # noqa: E731
    render_sequence(renderer, _concat(held_out, swing), cameras, out / "demo.mp4", fps)
    result = {
        "psnr": metrics["psnr"], "psnr_foreground": metrics["psnr_foreground"], "ssim": metrics["ssim"],
        "lpips": metrics["lpips"],
        "lpips_reason": metrics["lpips_reason"], "eval_split": "test", "eval_frames": metrics["frames"],
        "image_size": size, "seconds": time.perf_counter() - started,
        "num_gaussians": avatar.model.num_gaussians, "iterations": cfg.iterations,
        "device": str(device),
        "backend": renderer.backends(),
        "per_frame": metrics["per_frame"],
    }
    dump_json(result, out / "metrics.json")
    return {k: v for k, v in result.items() if k != "per_frame"}


def _swing_params(held_out: RigParams, n: int) -> RigParams:
    """A held-out expression, head straight, for the camera swing."""
    one = held_out.frame(held_out.num_frames // 2)
    params = RigParams(one.shape, *(getattr(one, k).repeat(n, 1) for k in FRAME_KEYS))
    params.rotation.zero_()
    return params


def _concat(a: RigParams, b: RigParams) -> RigParams:
    return RigParams(a.shape, *(torch.cat([getattr(a, k), getattr(b, k)]) for k in FRAME_KEYS))
