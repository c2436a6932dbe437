"""Training configuration: defaults, named presets in configs/*.yaml, and overrides.

The repository's top-level configs/ is the source of truth for presets. Building a wheel copies
it into the package as avatar/train/presets/ (setup.py), so an installed package reads that
copy; a source checkout or editable install has no copy and reads configs/ itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from avatar.data.capture import Capture
from avatar.data.errors import CaptureError

_PACKAGED_PRESETS = Path(__file__).resolve().parent / "presets"
CONFIG_DIR = _PACKAGED_PRESETS if _PACKAGED_PRESETS.is_dir() else Path(__file__).resolve().parents[2] / "configs"
MULTIVIEW_PRESET = "multiview"
MONOCULAR_PRESET = "mono-phone"


@dataclass
class TrainConfig:
    iterations: int = 3000
    seed: int = 0
    per_face: int = 1  # Gaussians per rig triangle at initialisation
    sh_degree: int = 0
    num_blend_expr: int | None = None  # expressions with learned offsets (None: all of the rig's)
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ssim_weight: float = 0.2
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
    # Binding-aware densification (3DGS rules, children keep their parent triangle).
    densify_from: int = 300
    densify_until_frac: float = 0.7
    densify_every: int = 100
    densify_grad_threshold: float = 2e-4
    densify_size_threshold: float = 0.5  # split above this local scale (triangle units), clone below
    prune_opacity: float = 0.005
    max_gaussians: int = 200_000
    # Per-frame rig-parameter refinement through the renderer (monocular captures).
    refine_params: bool = False
    lr_params: float = 1e-4  # Adam: about 0.1 mm / 1e-4 rad / 1e-4 weight per step at most
    params_reg: float = 1e-3  # on ParamRefiner.deviation: refinement corrects the tracking, not replaces it
    # Bookkeeping.
    eval_every: int = 500
    eval_frames: int = 8
    checkpoint_every: int = 500
    backend: str = "auto"

    def to_dict(self) -> dict:
        return asdict(self)

    def updated(self, **overrides) -> "TrainConfig":
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(sorted(unknown))}")
        values = self.to_dict()
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["background"] = tuple(values["background"])
        return TrainConfig(**values)


def load_config(preset: str | None = None, **overrides) -> TrainConfig:
    """Defaults, then a preset (a name in configs/ or a YAML path), then explicit overrides."""
    cfg = TrainConfig()
    if preset:
        path = Path(preset)
        if not path.suffix:
            path = CONFIG_DIR / f"{preset}.yaml"
        if not path.is_file():
            names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
            raise ValueError(f"config preset '{preset}' not found (looked at {path}); "
                             f"presets: {', '.join(names) or f'none in {CONFIG_DIR}'}")
        cfg = cfg.updated(**(yaml.safe_load(path.read_text()) or {}))
    return cfg.updated(**overrides)


def choose_preset(capture: Capture, requested: str | None = None) -> tuple[str, str]:
    """(preset, why): `requested` (--preset), else the capture's own `extra["preset"]`, else by
    its cameras: multiview when the training frames come from several, mono-phone otherwise.

    Only training frames count: a camera kept for evaluation adds no views to fit. A preset the
    capture names as a YAML path is relative to the capture directory.
    """
    if requested:
        return requested, "given with --preset"
    named = capture.extra.get("preset")
    if named is not None:
        if not isinstance(named, str) or not named.strip():
            raise CaptureError(capture.root / "capture.json",
                               f"extra.preset must be a preset name or a YAML path, got {named!r}")
        path = Path(named)
        if path.suffix and not path.is_absolute():
            named = str(capture.root / path)
        return named, "named by the capture (capture.json extra.preset)"
    cameras = {capture.frames[f].camera for f in capture.splits.get("train", [])}
    if len(cameras) > 1:
        return MULTIVIEW_PRESET, f"the training frames come from {len(cameras)} cameras"
    return MONOCULAR_PRESET, "the training frames come from one camera (monocular)"
