"""A Trainer on test_photometric's synthetic scene (the builtin head under one camera), for tests
of one training term: `scene_trainer(scene, tmp_path, behind_reg=1.0)`."""

from __future__ import annotations

from pathlib import Path

import torch

from avatar.data.capture import CameraInfo, CaptureWriter, load_capture
from avatar.training.config import load_config
from avatar.training.trainer import Trainer
from test_photometric import FRAMES


def scene_trainer(scene, tmp_path: Path, **settings) -> Trainer:
    """A 'fast' trainer (torch backend, no mirror) on every frame of the scene, with `settings`."""
    rig, _, truth, camera, images, _, _ = scene
    root = tmp_path / "cap"
    if not root.is_dir():
        info = CameraInfo("cam", camera.K.numpy(), camera.width, camera.height, camera.world_to_cam.numpy())
        writer = CaptureWriter(root, 25.0, "builtin", [info])
        for t in range(FRAMES):
            writer.add_frame(t, 0, images[t], None)
        writer.finish(truth, {"train": list(range(FRAMES)), "test": []})
    cfg = load_config("fast", iterations=2, eval_every=0, checkpoint_every=0, backend="torch", mirror_fraction=0.0)
    name = "_".join(f"{k}={v}" for k, v in settings.items()) or "plain"
    return Trainer(
        load_capture(root),
        rig,
        cfg.updated(**settings),
        tmp_path / f"{name}.avatar",
        False,
        None,
        False,
        torch.device("cpu"),
    )
