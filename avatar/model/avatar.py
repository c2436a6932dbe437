"""`Avatar`: a trained model with what it was trained with, and its renderer.

Expression sources drive expression and pose, never who it is: the avatar's own identity shape
is put into every set of parameters by `Avatar.params` (render, export, the viewer and the
benchmark use the same call).
"""

from __future__ import annotations

from pathlib import Path

import logging

import torch
from torch import Tensor

from avatar.data.capture import load_capture
from avatar.data.expressions import load_expression_file
from avatar.data.retarget import driving_params
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import AvatarFileError, load_avatar as read_avatar_file, save_avatar as write_avatar_file
from avatar.model.expression_range import ExpressionRange
from avatar.model.live_map import LiveMap
from avatar.splat import Camera
from avatar.splat.framing import camera_path
from avatar.renderer import AvatarRenderer
from avatar.rig import HeadRig, RigParams
from avatar.rig.loaders import load_rig
from avatar.runtime.devices import resolve_device
from avatar.runtime.errors import InputError

log = logging.getLogger("avatar")

Source = RigParams | str | Path | None
Colour = tuple[float, float, float]
WHITE: Colour = (1.0, 1.0, 1.0)
# Settings the Avatar holds as attributes, not as entries of `settings`.
_OWN_KEYS = ("identity_shape", "background", "head_cut", "view_cone", "expression_range", "live_map")


class Avatar:
    """Gaussians (`model`: GaussianAvatar, with its rig, offsets and cut), the person's identity
    shape [S] (None: the rig's mean shape), the background colour it was trained over, the range
    of expressions its training frames showed (None for avatars trained before it was recorded),
    the map from the live tracker's parameters to its own (`LiveMap`; None: not fitted, e.g. a
    capture without landmarks), and the training settings and provenance (`settings`: preset values, capture, device, timings)."""

    def __init__(
        self,
        model: GaussianAvatar,
        identity_shape: Tensor | None = None,
        background: Colour = WHITE,
        settings: dict | None = None,
        backend: str = "auto",
        expression_range: ExpressionRange | None = None,
        live_map: LiveMap | None = None,
    ):
        self.model = model
        self.expression_range = expression_range
        self.live_map = live_map
        self.identity_shape = (
            None if identity_shape is None else torch.as_tensor(identity_shape, dtype=torch.float32).cpu()
        )
        self.settings = {k: v for k, v in (settings or {}).items() if k not in _OWN_KEYS}
        self.renderer = AvatarRenderer(model, tuple(float(c) for c in background), backend)

    @property
    def rig(self) -> HeadRig:
        return self.model.rig

    @property
    def background(self) -> Colour:
        return self.renderer.background

    @property
    def backend(self) -> str:
        return self.renderer.backend

    @backend.setter
    def backend(self, name: str) -> None:
        self.renderer.backend = name

    @property
    def device(self) -> torch.device:
        return self.renderer.device

    @property
    def capture(self) -> Path | None:
        """The capture directory it was trained on, as recorded (it may not exist here)."""
        recorded = self.settings.get("capture")
        return Path(str(recorded)) if recorded else None

    def identity(self) -> Tensor:
        """[S] the identity shape on the CPU (zeros where none was recorded)."""
        if self.identity_shape is not None:
            return self.identity_shape.clone()
        return torch.zeros(self.rig.num_shape)

    def to(self, device: str | torch.device) -> "Avatar":
        self.model.to(device)
        return self

    def params(
        self, source: Source = None, arkit_map: str | Path | None = None, clamp: bool = True
    ) -> tuple[RigParams, float]:
        """(rig parameters [T], fps) of a source with this avatar's identity: None (neutral, one
        frame), RigParams, an expression file (.npz / .json / Live Link .csv) or a capture
        directory. Another person's expressions (a capture directory, a Live Link .csv) are put
        on the avatar's resting face and kept inside what it learned (`ExpressionRange.onto`; how
        many frames it moved is logged) unless `clamp` is False or the avatar has no range;
        .npz / .json files hold the avatar's own parameters and are used as they are."""
        fps, another_person = 25.0, False
        if arkit_map is not None and (
            source is None or isinstance(source, RigParams) or Path(source).suffix.lower() != ".csv"
        ):
            # Given and silently unused would hide a mistake (the map would be a wrong path, or a
            # map meant for another source).
            raise InputError(f"--arkit-map {arkit_map}: applies only to a Live Link Face .csv source, not {source}")
        if source is None:
            params = self.rig.zero_params(1)
        elif isinstance(source, RigParams):
            params = source.detach()  # a copy: the identity below must not change the caller's
        elif Path(source).is_dir():
            capture = load_capture(source)
            params, fps, another_person = driving_params(capture, self.rig), capture.fps, True
        else:
            params, fps = load_expression_file(Path(source), self.rig, arkit_map=arkit_map)
            another_person = Path(source).suffix.lower() == ".csv"  # ARKit weights: relative to a rest pose
        if clamp and another_person and self.expression_range is not None:
            params, report = self.expression_range.onto(params)
            if report.frames_clamped:
                log.info(
                    "%s: %d of %d frames kept inside the avatar's training range (largest move %.2f)",
                    source,
                    report.frames_clamped,
                    report.frames,
                    report.largest_excess,
                )
        if self.identity_shape is not None:
            params.shape = self.identity_shape.to(device=params.shape.device, dtype=params.shape.dtype)
        return params, fps

    @torch.no_grad()
    def render(
        self,
        source: Source = None,
        frame: int = 0,
        camera: Camera | str = "front",
        size: int = 256,
        arkit_map: str | Path | None = None,
        alpha: bool = False,
    ) -> Tensor:
        """[H, W, 3] in [0, 1]: frame `frame` of `source` (see `params`) seen by `camera`
        (a Camera, or front | orbit | arc framed on the head at `size` pixels) over the avatar's
        background; with alpha, [H, W, 4]: straight colour and coverage (`RenderOutput.rgba`)."""
        params, _ = self.params(source, arkit_map)
        if not 0 <= frame < params.num_frames:
            raise InputError(f"{source}: frame {frame} is outside 0..{params.num_frames - 1}")
        cam = camera if isinstance(camera, Camera) else camera_path(self.rig, camera, size, params.num_frames)(frame)
        params = params.frame(frame).to(device=self.device)
        out = self.renderer.render(params, cam)
        return out.rgba(self.renderer.background) if alpha else out.rgb.clamp(0, 1)

    def save(self, path: str | Path) -> None:
        """Write the .avatar file atomically (a crash never leaves a half-written file)."""
        own = {"background": list(self.background)}
        if self.identity_shape is not None:
            own["identity_shape"] = self.identity_shape.tolist()
        if self.expression_range is not None:
            own["expression_range"] = self.expression_range.to_dict()
        if self.live_map is not None:
            own["live_map"] = self.live_map.to_dict()
        write_avatar_file(self.model, path, self.settings | own)


def load_avatar(
    path: str | Path, rig: HeadRig | str | None = None, device: str | torch.device = "cpu", backend: str = "auto"
) -> Avatar:
    """An .avatar file as an Avatar on `device` (cpu | cuda[:N] | auto). `rig` (a HeadRig, or a
    --rig spec) is needed when the file's rig is not embedded (FLAME)."""
    if isinstance(rig, str):
        rig = load_rig(rig)
    model, config = read_avatar_file(path, rig)
    identity = config.get("identity_shape")
    recorded, mapped = config.get("expression_range"), config.get("live_map")
    try:
        expression_range = None if recorded is None else ExpressionRange.from_dict(recorded, model.rig.num_expr)
        live_map = None if mapped is None else LiveMap.from_dict(mapped, model.rig.num_expr)
    except ValueError as e:
        raise AvatarFileError(f"{path}: inconsistent contents: {e}") from None
    avatar = Avatar(
        model,
        None if identity is None else torch.tensor(identity, dtype=torch.float32),
        tuple(config.get("background", WHITE)),
        config,
        backend,
        expression_range,
        live_map,
    )
    return avatar.to(resolve_device(device))
