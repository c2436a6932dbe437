"""The library's front door, the one the CLI uses: load a model and render it, train, evaluate.

    import avatar
    me = avatar.load("me.avatar")
    image = me.render()                                  # [H, W, 3] neutral face, front camera
    image = me.render("take.csv", frame=40, size=512)    # a Live Link Face recording
    image = me.render("other_capture", frame=10)         # another person's tracked video

Expression sources drive expression and pose, never who it is: the avatar's own identity shape
is put in by `Avatar.params` (the CLI's render and export use the same call). Tracking a video
is `capture.track.track` (the capture package sits above this one).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from avatar.data.capture import load_capture
from avatar.data.expressions import load_expression_file
from avatar.data.retarget import driving_params
from avatar.devices import resolve_device
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import load_avatar
from avatar.render import Camera
from avatar.render.framing import camera_path
from avatar.renderer import AvatarRenderer
from avatar.rig import RigParams
from avatar.rig.loaders import load_rig
from avatar.training.config import choose_preset, load_config
from avatar.training.evaluate import evaluate as _evaluate, reported_splits
from avatar.training.trainer import train as _train

Source = RigParams | str | Path | None


class Avatar:
    """A trained model with what it was trained with (config, identity), and its renderer."""

    def __init__(self, model: GaussianAvatar, config: dict, backend: str = "auto"):
        self.model = model
        self.config = config
        self.renderer = AvatarRenderer(model, tuple(config.get("background", (1.0, 1.0, 1.0))), backend)

    @property
    def backend(self) -> str:
        return self.renderer.backend

    @backend.setter
    def backend(self, name: str) -> None:
        self.renderer.backend = name

    @property
    def rig(self):
        return self.model.rig

    @property
    def background(self) -> tuple[float, float, float]:
        return self.renderer.background

    def to(self, device: str | torch.device) -> "Avatar":
        self.model.to(device)
        return self

    def params(self, source: Source = None, arkit_map: str | Path | None = None) -> tuple[RigParams, float]:
        """(rig parameters [T], fps) of a source with this avatar's identity: None (neutral, one
        frame), RigParams, an expression file (.npz / .json / Live Link .csv) or a capture directory."""
        fps = 25.0
        if arkit_map is not None and (source is None or isinstance(source, RigParams)
                                      or Path(source).suffix.lower() != ".csv"):
            # Given and silently unused would hide a mistake (the map would be a wrong path, or a
            # map meant for another source).
            raise ValueError(f"--arkit-map {arkit_map}: applies only to a Live Link Face .csv source, not {source}")
        if source is None:
            params = self.rig.zero_params(1)
        elif isinstance(source, RigParams):
            params = source.detach()  # a copy: the identity below must not change the caller's
        elif Path(source).is_dir():
            capture = load_capture(source)
            params, fps = driving_params(capture, self.rig), capture.fps
        else:
            params, fps = load_expression_file(Path(source), self.rig, arkit_map=arkit_map)
        identity = self.config.get("identity_shape")
        if identity is not None:
            params.shape = torch.as_tensor(identity, dtype=params.shape.dtype)
        return params, fps

    @torch.no_grad()
    def render(self, source: Source = None, frame: int = 0, camera: Camera | str = "front", size: int = 256,
               arkit_map: str | Path | None = None) -> Tensor:
        """[H, W, 3] in [0, 1]: frame `frame` of `source` (see `params`) seen by `camera`
        (a Camera, or front | orbit | arc framed on the head at `size` pixels)."""
        params, _ = self.params(source, arkit_map)
        if not 0 <= frame < params.num_frames:
            raise ValueError(f"{source}: frame {frame} is outside 0..{params.num_frames - 1}")
        cam = camera if isinstance(camera, Camera) else camera_path(self.rig, camera, size, params.num_frames)(frame)
        params = params.frame(frame).to(device=self.renderer.device)
        return self.renderer.render(params, cam).rgb.clamp(0, 1)


def load(path: str | Path, device: str | torch.device = "cpu", rig: str | None = None,
         backend: str = "auto") -> Avatar:
    """An .avatar file, on `device` (cpu | cuda[:N] | auto); `rig` (a --rig spec) when its rig is
    not embedded (FLAME)."""
    model, config = load_avatar(path, load_rig(rig) if rig else None)
    return Avatar(model, config, backend).to(resolve_device(device))


def train(capture: str | Path, out: str | Path, preset: str | None = None, rig: str | None = None,
          resume: bool = False, progress: bool = True, device: str | torch.device = "auto", **settings) -> Avatar:
    """`avatar train` as a call: the capture's preset unless `preset`, then any `settings`, on
    `device` (auto: the first CUDA device, else cpu); the model comes back on that device."""
    cap = load_capture(capture)
    chosen, _ = choose_preset(cap, preset)
    cfg = load_config(chosen, **settings)
    run_device = resolve_device(device)
    _train(cap, load_rig(rig or cap.rig), cfg, out, resume=resume, progress=progress, device=run_device)
    return load(out, device=run_device, rig=rig or cap.rig)


def evaluate(model: Avatar | str | Path, capture: str | Path, splits: list[str] | None = None,
             save_images: str | Path | None = None, device: str | torch.device | None = None) -> dict:
    """`avatar eval` as a call: {split: metrics} for `splits` (default: train, val and test), rendered
    on the model's device (a path loads on `device`, default cpu)."""
    avatar = model if isinstance(model, Avatar) else load(model, device=device or "cpu")
    cap = load_capture(capture)
    splits = splits or reported_splits(cap)
    return {s: _evaluate(avatar.renderer, cap, s, save_images=save_images) for s in splits}
