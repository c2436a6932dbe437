"""What a trained model is, for `avatar info`: its rig, Gaussians, expressions with offsets,
the cameras it trained on, settings, training time and the last metrics its run recorded."""

from __future__ import annotations

import math
from pathlib import Path

from avatar.model import Avatar

# Provenance with keys of its own in the summary, not among the settings.
OWN_KEYS = ("train_seconds", "capture", "train_cameras", "camera_colours")
# Settings worth a line of their own in the text summary (all of them are in the JSON).
KEY_SETTINGS = ("iterations", "per_face", "sh_degree", "num_blend_expr", "pose_offsets", "offsets_from_frac",
                "mirror_fraction", "max_gaussians", "backend")


def model_info(avatar: Avatar, metrics: list[dict]) -> dict:
    """A JSON-able summary; metrics: the run's metrics.jsonl rows (may be empty)."""
    model, rig = avatar.model, avatar.rig
    config = avatar.settings | {"background": list(avatar.background)}
    names = rig.expr_names or [f"expr{i}" for i in range(rig.num_expr)]
    last_eval = next((r for r in reversed(metrics) if any(k.endswith("_psnr") for k in r)), None)
    last_step = metrics[-1] if metrics else None
    return {
        "rig": {"name": rig.name, "vertices": rig.num_vertices, "faces": int(rig.faces.shape[0]),
                "expressions": rig.num_expr, "identity_components": rig.num_shape},
        "gaussians": model.num_gaussians,
        "sh_degree": model.sh_degree,
        "expressions_with_offsets": [names[i] for i in model.blend_expr.tolist()],
        "head_pose_offsets": model.pose_drivers is not None,
        # the directions its view-dependent colour was trained from (None: seen from any camera)
        "view_cone_half_angle_deg": None if model.view_cone is None else math.degrees(model.view_cone.half_angle),
        "train_seconds": config.get("train_seconds"),
        "capture": config.get("capture"),
        # the cameras whose frames trained it (None: one camera's video, or a file from before it was recorded)
        "train_cameras": config.get("train_cameras"),
        "camera_colours": config.get("camera_colours"),  # per-camera colour transforms learned (None: none)
        "config": {k: v for k, v in config.items() if k not in OWN_KEYS},
        "last_evaluation": last_eval,
        "last_logged_step": last_step,
    }


def _offsets_line(drivers: list[str], head_pose: bool) -> str:
    pose = "head pose + " if head_pose else ""
    return f"  offsets      {pose}jaw + {len(drivers)} expressions" + (f": {', '.join(drivers)}" if drivers else "")


def _cameras_line(names: list[str], colours: dict | None) -> str:
    """The training cameras, and whether their colours were corrected (to which camera's)."""
    corrected = f"; colours corrected per camera, to {colours.get('reference')}'s" if isinstance(colours, dict) else ""
    return f"{len(names)}: {', '.join(names)}{corrected}"


def format_info(path: Path, info: dict) -> str:
    rig = info["rig"]
    lines = [f"{path}",
             f"  rig          {rig['name']}: {rig['vertices']} vertices, {rig['faces']} faces, "
             f"{rig['expressions']} expressions, {rig['identity_components']} identity components",
             f"  gaussians    {info['gaussians']} (SH degree {info['sh_degree']})",
             _offsets_line(info["expressions_with_offsets"], info["head_pose_offsets"])]
    cone = info["view_cone_half_angle_deg"]
    if cone is not None:
        lines.append(f"  view cone    colours seen from within {cone:.1f}° of the training cameras' direction")
    if info["capture"]:
        lines.append(f"  trained on   {info['capture']}")
    if info["train_cameras"]:
        lines.append(f"  cameras      {_cameras_line(info['train_cameras'], info['camera_colours'])}")
    if info["train_seconds"] is not None:
        ran = info["config"].get("backends_ran")
        where = f" on {info['config']['device']}" if "device" in info["config"] else ""
        where += f" (blend {ran['blend']}, splat {ran['splat']})" if isinstance(ran, dict) else ""
        lines.append(f"  training     {info['train_seconds'] / 60:.1f} min{where}")
    settings = ", ".join(f"{k}={info['config'][k]}" for k in KEY_SETTINGS if k in info["config"])
    lines.append(f"  settings     {settings}")
    last = info["last_evaluation"]
    if last:
        scores = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "step")
        lines.append(f"  last eval    step {last['step']}: {scores}")
    else:
        lines.append("  last eval    none recorded (no run record beside the model)")
    return "\n".join(lines)
