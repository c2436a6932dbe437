"""The library's front door, the one the CLI uses: load a model and render it, train, evaluate.

    import avatar
    me = avatar.load("me.avatar")
    image = me.render()                                  # [H, W, 3] neutral face, front camera
    image = me.render("take.csv", frame=40, size=512)    # a Live Link Face recording
    image = me.render("other_capture", frame=10)         # another person's tracked video

`avatar.load` gives an `Avatar` (avatar.model), which owns what renders it. Tracking a video is
`capture.track.track` (the capture package sits above this one).
"""

from __future__ import annotations

from pathlib import Path

import torch

from avatar.data.capture import load_capture
from avatar.data.splits import train_on_cameras
from avatar.model import Avatar, Source, load_avatar
from avatar.rig.loaders import load_rig
from avatar.runtime.devices import resolve_device
from avatar.training.config import choose_preset, load_config
from avatar.training.evaluate import evaluate_avatar
from avatar.training.trainer import train as _train

__all__ = ["Avatar", "Source", "evaluate", "load", "train"]


def load(path: str | Path, device: str | torch.device = "cpu", rig: str | None = None,
         backend: str = "auto") -> Avatar:
    """An .avatar file, on `device` (cpu | cuda[:N] | auto); `rig` (a --rig spec) when its rig is
    not embedded (FLAME)."""
    return load_avatar(path, rig, device, backend)


def train(capture: str | Path, out: str | Path, preset: str | None = None, rig: str | None = None,
          resume: bool = False, progress: bool = True, device: str | torch.device = "auto",
          cameras: list[int] | None = None, **settings) -> Avatar:
    """`avatar train` as a call: the capture's preset unless `preset`, then any `settings`, on
    `device` (auto: the first CUDA device, else cpu); the model comes back on that device.
    `cameras` (--cameras): train only on those cameras' training frames (default: all)."""
    cap = load_capture(capture)
    if cameras is not None:
        cap = train_on_cameras(cap, cameras)
    chosen, _ = choose_preset(cap, preset)
    cfg = load_config(chosen, **settings)
    run_device = resolve_device(device)
    _train(cap, load_rig(rig or cap.rig), cfg, out, resume=resume, progress=progress, device=run_device)
    return load(out, device=run_device, rig=rig or cap.rig)


def evaluate(model: Avatar | str | Path, capture: str | Path, splits: list[str] | None = None,
             save_images: str | Path | None = None, device: str | torch.device | None = None) -> dict:
    """`avatar eval` as a call: {split: metrics} for `splits` (default: every split the capture has),
    and "per_camera" for captures with several cameras, rendered on the model's device (a path loads
    on `device`, default cpu)."""
    avatar = model if isinstance(model, Avatar) else load(model, device=device or "cpu")
    return evaluate_avatar(avatar, load_capture(capture), splits, save_images=save_images)
