"""Training configuration: defaults, named presets in configs/*.yaml, and overrides.

The repository's top-level configs/ is the source of truth for presets. Building a wheel copies
it into the package as avatar/training/presets/ (setup.py), so an installed package reads that
copy; a source checkout or editable install has no copy and reads configs/ itself.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from avatar.runtime.backends import RENDER_BACKENDS
from avatar.data.capture import Capture, is_inside
from avatar.data.errors import CaptureError
from avatar.runtime.errors import InputError

_PACKAGED_PRESETS = Path(__file__).resolve().parent / "presets"
CONFIG_DIR = _PACKAGED_PRESETS if _PACKAGED_PRESETS.is_dir() else Path(__file__).resolve().parents[2] / "configs"
MULTIVIEW_PRESET = "multiview"
MONOCULAR_PRESET = "mono-phone"


@dataclass
class TrainConfig:
    iterations: int | None = 3000  # None: from the clip's training frames (`clip_iterations`)
    steps_per_frame: float = 25.0  # with iterations None: steps per training frame, within the bounds below
    min_iterations: int = 1
    max_iterations: int = 1_000_000_000
    seed: int = 0
    per_face: int = 1  # Gaussians per rig triangle at initialisation
    sh_degree: int = 0
    colors_from_rig: bool = False  # start from the rig's vertex colours (where it has them), not grey
    num_blend_expr: int | None = (
        None  # expressions with learned offsets: those whose tracked weights vary most (None: all)
    )
    pose_offsets: bool = False  # the head's rotation from its mean training pose drives offsets too (HeadPoseDrivers)
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ssim_weight: float = 0.2
    alpha_weight: float = 0.1  # L1 between the rendered opacity and the capture's mask
    # Learning rates (Adam). Positions and scales are in parent-triangle units.
    lr_xyz: float = 5e-3
    lr_xyz_final: float = 5e-5
    lr_rot: float = 2e-3
    lr_scale: float = 1e-2
    lr_opacity: float = 5e-2
    lr_color: float = 1e-2
    lr_offset_scale: float = 0.05  # blendshape offsets use the base rate times this
    # Regularisers (GaussianAvatars-style: stay near the parent triangle, stay small).
    xyz_reg: float = 1e-2
    xyz_reg_threshold: float = 1.0
    scale_reg: float = 1.0
    scale_reg_threshold: float = 0.6
    offset_reg: float = 0.3  # on the squared offsets a frame applies (mean over Gaussians)
    # Gaussians that stay on the surface where the rig follows the person's own skin (the face
    # the landmarks enclose, `avatar.rig.face_region`): their distance off the triangle's plane
    # beyond face_offset_threshold (edge lengths), base and applied offsets together.
    face_offset_reg: float = 0.0
    face_offset_threshold: float = 0.25
    # Flat on their triangles (surfels): each Gaussian's extent along its triangle's normal beyond
    # flat_threshold (edge lengths), which also turns discs tilted off the surface back onto it.
    flat_reg: float = 0.0
    flat_threshold: float = 0.1
    # Discs, not needles, on the face: the log of a face Gaussian's largest scale over its middle
    # one beyond log(needle_ratio). Hair is left to be strands.
    needle_reg: float = 0.0
    needle_ratio: float = 4.0
    # Floaters: the opacity of Gaussians further from the rig than the person's matte reaches past
    # it (the capture's hair margin: avatar/training/floaters.py).
    floater_reg: float = 0.0
    # Nothing paints the rig's surface from behind it: the render's depth more than behind_margin
    # (metres) behind the posed rig's surface, on the rig's pixels of each training frame
    # (avatar/training/behind_surface.py): a face that goes transparent and lets the head's far
    # side paint it shows the head's inside when turned.
    behind_reg: float = 0.0
    behind_margin: float = 0.03
    # The scalp's Gaussians start on the hair's shell fitted to the training frames' mattes (its
    # thickness along each off-face triangle's normal), and xyz_reg and the floaters count from
    # there (avatar/training/hair_lift.py); without a registered shell or masks, on the skull.
    hair_shell: bool = False
    # The share of steps that also train on their frame mirrored left-right (at half resolution,
    # weighted by how little the video saw each surface: avatar/training/mirrored.py); 0: none.
    mirror_fraction: float = 0.0
    # Memory for the decoded training frames (targets, masks, cut regions, mirrored frames), in
    # GB: a clip that needs more keeps this much and decodes the rest each time a step draws it
    # (avatar/training/frame_memory.py). 512 px frames take 1.3 MB each, 1.9 MB mirrored too, and
    # 0.5 MB more with the rig's surface depth (behind_reg).
    frame_memory_gb: float = 3.0
    offsets_from_frac: float = 0.0  # warm-up: the blendshape offsets stay zero for this fraction of the steps
    # Binding-aware densification (3DGS rules, children keep their parent triangle).
    densify_from: int = 300
    densify_until_frac: float = 0.7
    densify_every: int = 100
    densify_grad_threshold: float = 2e-4
    densify_size_threshold: float = 0.5  # split above this local scale (triangle units), clone below
    prune_opacity: float = 0.005
    max_gaussians: int = 200_000
    # Per-camera colour correction when the training frames come from several cameras (white
    # balance and exposure differ): an affine colour transform per camera but the first, applied
    # to the render before the photometric loss (avatar/training/camera_colour.py).
    camera_colour: bool = False
    lr_camera_colour: float = 2e-3
    camera_colour_reg: float = 0.01  # on CameraColours.deviation: near the identity unless the pixels say otherwise
    # Warm-up: the transforms stay the identity for this fraction of the steps, while the avatar's
    # colours settle (learnt from the start, they drift with its first errors; see the module).
    camera_colour_from_frac: float = 0.3
    # Bookkeeping.
    log_every: int = 100  # steps between rows of the run's metrics.jsonl (reading losses syncs a GPU)
    eval_every: int = 500
    eval_frames: int = 8
    checkpoint_every: int = 500
    backend: str = "auto"

    def __post_init__(self) -> None:
        for key, (low, high) in _RANGES.items():
            value = getattr(self, key)
            if value is not None and not low <= value <= high:
                raise InputError(f"config key {key}: {value} is outside [{low:g}, {high:g}]")
        if not all(0.0 <= c <= 1.0 for c in self.background):
            raise InputError(f"config key background: {list(self.background)} is not an RGB colour in [0, 1]")
        if self.min_iterations > self.max_iterations:
            raise InputError(f"config keys min_iterations {self.min_iterations} > max_iterations {self.max_iterations}")
        if self.backend not in RENDER_BACKENDS:
            raise InputError(f"config key backend: {self.backend!r} is not one of {', '.join(RENDER_BACKENDS)}")

    def clip_iterations(self, num_frames: int) -> int:
        """The steps to train on num_frames training frames: `iterations`, or when that is None
        (left to the clip), steps_per_frame per frame within [min_iterations, max_iterations]:
        a longer video gets as many passes over each frame as a short one, up to a time budget."""
        if self.iterations is not None:
            return self.iterations
        return min(max(round(self.steps_per_frame * num_frames), self.min_iterations), self.max_iterations)

    def to_dict(self) -> dict:
        return asdict(self)

    def updated(self, **overrides) -> "TrainConfig":
        """A copy with `overrides` (None: keep); unknown keys and wrongly typed values raise."""
        return self.replaced({k: v for k, v in overrides.items() if v is not None})

    def replaced(self, settings: dict) -> "TrainConfig":
        """A copy with `settings`, None included (a preset's `iterations: null`); unknown keys and
        wrongly typed values raise."""
        types = {f.name: f.type for f in fields(self)}
        unknown = set(settings) - set(types)
        if unknown:
            raise InputError(f"unknown config keys: {', '.join(sorted(unknown))}")
        values = self.to_dict()
        for key, value in settings.items():
            values[key] = _checked(key, value, types[key])
        values["background"] = tuple(values["background"])
        return TrainConfig(**values)


_BIG = 1e9
# Bounds of the settings that have them (inclusive); the rest only need their type.
_RANGES = {
    "iterations": (1, _BIG),
    "per_face": (1, 64),
    "sh_degree": (0, 3),
    "num_blend_expr": (0, _BIG),
    "ssim_weight": (0, 1),
    "alpha_weight": (0, _BIG),
    "mirror_fraction": (0, 1),
    "needle_ratio": (1, _BIG),
    "offsets_from_frac": (0, 1),
    "camera_colour_from_frac": (0, 1),
    "steps_per_frame": (0, _BIG),
    "frame_memory_gb": (0, _BIG),
    "min_iterations": (1, _BIG),
    "max_iterations": (1, _BIG),
    **{
        k: (1e-12, 10)
        for k in (
            "lr_xyz",
            "lr_xyz_final",
            "lr_rot",
            "lr_scale",
            "lr_opacity",
            "lr_color",
            "lr_offset_scale",
            "lr_camera_colour",
        )
    },
    **{
        k: (0, _BIG)
        for k in (
            "xyz_reg",
            "xyz_reg_threshold",
            "scale_reg",
            "scale_reg_threshold",
            "offset_reg",
            "face_offset_reg",
            "face_offset_threshold",
            "flat_reg",
            "flat_threshold",
            "needle_reg",
            "floater_reg",
            "behind_reg",
            "behind_margin",
            "camera_colour_reg",
            "densify_from",
            "densify_grad_threshold",
            "densify_size_threshold",
            "eval_every",
            "checkpoint_every",
        )
    },
    "densify_until_frac": (0, 1),
    "densify_every": (1, _BIG),
    "prune_opacity": (0, 1),
    "max_gaussians": (1, _BIG),
    "eval_frames": (1, _BIG),
    "log_every": (1, _BIG),
}


def _checked(key: str, value, annotation: str):
    """value if it fits the field's annotation (as written above, e.g. "int | None"), else ValueError."""
    allowed = {t.strip() for t in annotation.split("|")}
    if isinstance(value, str) and "str" not in allowed:
        try:
            value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string
        except ValueError:
            pass
    if value is None and "None" in allowed:
        return None
    if isinstance(value, bool):
        if "bool" in allowed:
            return value
    elif isinstance(value, int) and ("int" in allowed or "float" in allowed):
        return value if "int" in allowed else float(value)
    elif isinstance(value, float) and "float" in allowed and math.isfinite(value):
        return value
    elif isinstance(value, str) and "str" in allowed:
        return value
    elif (
        isinstance(value, (list, tuple))
        and any(t.startswith("tuple") for t in allowed)
        and len(value) == 3
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    ):
        return tuple(float(v) for v in value)
    raise InputError(f"config key {key}: expected {annotation}, got {value!r}")


def parse_settings(items: list[str]) -> dict:
    """`--set key=value` strings -> {key: value}: values read as YAML (numbers, true/false, null,
    [r, g, b]); keys and types are checked against TrainConfig by `updated`."""
    types = {f.name: f.type for f in fields(TrainConfig)}
    settings = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--set expects key=value, got {item!r}")
        if key not in types:
            near = difflib.get_close_matches(key, types, n=3)
            raise InputError(
                f"--set {key}: not a training setting"
                + (f" (did you mean {', '.join(near)}?)" if near else "; see avatar train --print-config")
            )
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InputError(f"--set {key}: value {text!r} is not valid YAML ({e.problem})") from None
        settings[key] = _checked(key, value, types[key])
    return settings


def load_config(preset: str | None = None, **overrides) -> TrainConfig:
    """Defaults, then a preset (a name in configs/ or a YAML path), then explicit overrides."""
    cfg = TrainConfig()
    if preset:
        path = Path(preset)
        if not path.suffix:
            path = CONFIG_DIR / f"{preset}.yaml"
        if not path.is_file():
            names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
            raise InputError(
                f"config preset '{preset}' not found (looked at {path}); "
                f"presets: {', '.join(names) or f'none in {CONFIG_DIR}'}"
            )
        try:
            values = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: not a valid YAML preset ({e})") from None
        if values is None:
            raise InputError(f"{path}: the preset is empty (a preset is a mapping of setting: value)")
        if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
            raise InputError(f"{path}: a preset is a mapping of setting: value, got {type(values).__name__}")
        try:
            cfg = cfg.replaced(values)
        except ValueError as e:
            raise InputError(f"{path}: {e}") from None
    return cfg.updated(**overrides)


def choose_preset(capture: Capture, requested: str | None = None) -> tuple[str, str]:
    """(preset, why): `requested` (--preset), else the capture's own `extra["preset"]`, else
    mono-phone when the capture says it is one camera's video (`extra["monocular"]`: true, as
    `avatar track` and the monocular importers write, whose per-frame cameras are not several
    views), else by its cameras: multiview when the training frames come from several,
    mono-phone otherwise.

    Only training frames count: a camera kept for evaluation adds no views to fit. A preset the
    capture names as a YAML path is relative to the capture directory.
    """
    if requested:
        return requested, "given with --preset"
    named = capture.extra.get("preset")
    if named is not None:
        if not isinstance(named, str) or not named.strip():
            raise CaptureError(
                capture.root / "capture.json", f"extra.preset must be a preset name or a YAML path, got {named!r}"
            )
        path = Path(named)
        if path.suffix:  # a file of the capture's own, never one elsewhere on the machine
            if path.is_absolute() or not is_inside(capture.root / path, capture.root):
                raise CaptureError(
                    capture.root / "capture.json",
                    f"extra.preset {named!r} must be a shipped preset or a file inside the capture",
                )
            named = str(capture.root / path)
        elif not (CONFIG_DIR / f"{named}.yaml").is_file():
            raise CaptureError(
                capture.root / "capture.json",
                f"extra.preset {named!r} is not a shipped preset "
                f"({', '.join(sorted(p.stem for p in CONFIG_DIR.glob('*.yaml')))})",
            )
        return named, "named by the capture (capture.json extra.preset)"
    monocular = capture.extra.get("monocular")
    if monocular is not None and not isinstance(monocular, bool):
        raise CaptureError(capture.root / "capture.json", f"extra.monocular must be true or false, got {monocular!r}")
    if monocular:
        return MONOCULAR_PRESET, "the capture is one camera's video (capture.json extra.monocular)"
    cameras = {capture.frames[f].camera for f in capture.splits.get("train", [])}
    if len(cameras) > 1:
        return MULTIVIEW_PRESET, f"the training frames come from {len(cameras)} cameras"
    return MONOCULAR_PRESET, "the training frames come from one camera (monocular)"
