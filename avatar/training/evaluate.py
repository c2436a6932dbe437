"""Evaluation over a capture split, as the literature reports it.

Per frame, with the tracked rig parameters of that frame:
- `psnr`, `ssim`: full frame, render and target over the model's background (white by default);
- `psnr_black`, `ssim_black`: INSTA's protocol: full frame over black, the capture's matte applied
  to both target and render (what 3D Gaussian Blendshapes, FlashAvatar, SplattingAvatar report);
- `psnr_foreground`: over the matte's pixels only (the full-frame figures count background too);
- where a frame's crop ran past the edge of its video (`Capture.load_known`), the render is made
  background there, as the target is: neither can know what was there;
- `lpips` when its weights are available offline.
Optionally each frame is written as a PNG: target | render | error (mean absolute error x4).
An avatar trained on several cameras renders each camera's frames in that camera's colours when it
learned them (`avatar.training.camera_colour`); cameras it never trained on get no correction.
`evaluate_avatar` also marks the frames that lie beyond what the avatar was trained on
(`avatar.model.beyond_training`) and scores them apart from the rest, and for captures with
several cameras scores each camera apart (`per_camera`).
Renders run on the renderer's device (the model's); the frames are moved there.
"""

from __future__ import annotations

import logging
import statistics
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from avatar.data.capture import Capture
from avatar.model import Avatar
from avatar.model.beyond_training import beyond_training
from avatar.renderer import AvatarRenderer
from avatar.splat.cut_region import clip_to_region
from avatar.training.camera_colour import CameraColours
from avatar.training.image_metrics import LpipsMetric, psnr, ssim
from avatar.runtime.errors import InputError

log = logging.getLogger("avatar")

ERROR_GAIN = 4.0  # error images show 4 x the mean absolute difference
SUMMARY_KEYS = ("psnr", "ssim", "psnr_black", "ssim_black", "psnr_foreground", "lpips")
REPORTED_SPLITS = ("train", "val", "test", "test_camera")  # in this order, before any other split
PER_CAMERA = "per_camera"  # the key of `evaluate_avatar`'s result beside the splits
PER_CAMERA_KEYS = ("psnr", "ssim", "psnr_foreground")


def composite_target(image: torch.Tensor, mask: torch.Tensor | None, background: torch.Tensor) -> torch.Tensor:
    """A frame's image [H, W, 3] over `background` [3] wherever its mask [H, W, 1] says background
    (no mask: the image as it is). [H, W, 3]"""
    if mask is None:
        return image
    return image * mask + background * (1 - mask)


@torch.no_grad()
def evaluate(
    renderer: AvatarRenderer,
    capture: Capture,
    split: str = "test",
    max_frames: int | None = None,
    lpips: LpipsMetric | None = None,
    save_images: str | Path | None = None,
    colours: CameraColours | None = None,
) -> dict:
    """Metrics of `split` (at most `max_frames`, evenly spaced) of the avatar `renderer` renders
    (over its background), in each camera's colours where `colours` has them: per frame and their
    means."""
    if split not in capture.splits:
        raise InputError(f"capture {capture.root} has no split '{split}' (has: {', '.join(capture.splits)})")
    capture.check_rig(renderer.model.rig)
    frames = capture.splits[split]
    if max_frames is not None and len(frames) > max_frames:
        step = len(frames) / max_frames
        frames = [frames[int(i * step)] for i in range(max_frames)]
    if not frames:
        raise InputError(f"split '{split}' of {capture.root} is empty")
    device = renderer.device
    bg = torch.tensor(renderer.background, dtype=torch.float32, device=device)
    lpips = lpips if lpips is not None else LpipsMetric()
    folder = Path(save_images) / split if save_images is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for f in frames:
        image, (mask, known) = capture.load_image(f).to(device), capture.load_mask_and_known(f)
        mask = None if mask is None else mask.to(device)
        params = capture.frame_params(f).to(device=device, dtype=torch.float32)
        out = renderer.render(params, capture.camera(f))
        if known is not None:  # past the edge of the video the frame knows nothing: scored as background
            out = clip_to_region(out, known.to(device), bg)
        camera = capture.cameras[capture.frames[f].camera].name
        rgb = out.rgb if colours is None else colours(out.rgb, out.alpha, bg, camera)  # [H, W, 3] in its colours
        pred = rgb.clamp(0, 1)
        target = composite_target(image, mask, bg)
        row = {"frame": f, "psnr": psnr(pred, target), "ssim": float(ssim(pred, target)), "lpips": lpips(pred, target)}
        if mask is not None:
            # Over black: the render's own background removed through its alpha, then both matted.
            pred_black = (rgb - (1 - out.alpha) * bg).clamp(0, 1) * mask
            target_black = image * mask
            inside = mask[..., 0] > 0
            row |= {
                "psnr_black": psnr(pred_black, target_black),
                "ssim_black": float(ssim(pred_black, target_black)),
                "psnr_foreground": psnr(pred[inside], target[inside]),
            }
        rows.append(row)
        if folder is not None:
            _save_comparison(folder / f"{f:05d}.png", target, pred)
    summary = {key: _mean(rows, key) for key in SUMMARY_KEYS}
    return {
        "split": split,
        "frames": len(rows),
        **summary,
        "lpips_reason": None if summary["lpips"] is not None else lpips.reason,
        "per_frame": rows,
    }


def reported_splits(capture: Capture) -> list[str]:
    """The splits `avatar eval` reports when none are named: every split the capture has frames in,
    REPORTED_SPLITS first (test_camera: a camera never trained on), then the others in its order."""
    others = [s for s in capture.splits if s not in REPORTED_SPLITS]
    return [s for s in (*REPORTED_SPLITS, *others) if capture.splits.get(s)]


def _mean(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.fmean(values) if values else None


def _save_comparison(path: Path, target: torch.Tensor, pred: torch.Tensor) -> None:
    """target | render | error, side by side, 8-bit PNG."""
    error = ((pred - target).abs().mean(-1, keepdim=True) * ERROR_GAIN).clamp(0, 1).expand_as(pred)
    strip = torch.cat([target, pred, error], dim=1).cpu()
    Image.fromarray((strip.numpy() * 255 + 0.5).astype(np.uint8)).save(path)


def evaluate_avatar(
    avatar: Avatar,
    capture: Capture,
    splits: list[str] | None = None,
    lpips: LpipsMetric | None = None,
    save_images: str | Path | None = None,
) -> dict[str, dict]:
    """{split: metrics} of the avatar on `splits` of the capture (default: those it reports,
    `reported_splits`), one LPIPS network for all: what `avatar eval`, the API and the demo report.
    Each camera's frames in the colours the avatar learned for it (`camera_colours` of its
    settings), if any. Beside the splits, PER_CAMERA (`per_camera`) when the frames come from
    several cameras."""
    lpips = lpips if lpips is not None else LpipsMetric()
    recorded = avatar.settings.get("camera_colours")
    colours = None if recorded is None else CameraColours.from_dict(recorded).to(avatar.device)
    results = {}
    for split in splits or reported_splits(capture):
        results[split] = evaluate(
            avatar.renderer, capture, split, lpips=lpips, save_images=save_images, colours=colours
        )
        _count_beyond_training(results[split], avatar, capture)
    cameras = per_camera(results, capture, colours)
    if cameras is not None:
        results[PER_CAMERA] = cameras
    if colours is not None:
        learned = [c.name for c in capture.cameras if c.name in colours]
        others = [c.name for c in capture.cameras if c.name not in colours]
        log.info("colour correction: learned for %s; none for %s", _names(learned), _names(others))
    return results


def _names(names: list[str], most: int = 8) -> str:
    if len(names) > most:
        return f"{', '.join(names[:most])} and {len(names) - most} more"
    return ", ".join(names) or "no camera"


def per_camera(results: dict[str, dict], capture: Capture, colours: CameraColours | None) -> dict | None:
    """{camera name: {split: {psnr, ssim, psnr_foreground, frames, colour_correction}}} of `results`
    ({split: evaluate's metrics}); colour_correction: "learned" for a camera the avatar has colours
    for, "none" otherwise. None when the frames come from one camera, or from one camera's video
    (`Capture.monocular`: its per-frame cameras are crops)."""
    camera_of = {row["frame"]: capture.frames[row["frame"]].camera for m in results.values() for row in m["per_frame"]}
    used = sorted(set(camera_of.values()))
    if capture.monocular or len(used) < 2:
        return None
    table = {}
    for c in used:
        name = capture.cameras[c].name
        correction = "learned" if colours is not None and name in colours else "none"
        key = name if sum(other.name == name for other in capture.cameras) == 1 else f"{name} ({c})"
        for split, m in results.items():
            rows = [row for row in m["per_frame"] if camera_of[row["frame"]] == c]
            if rows:
                table.setdefault(key, {})[split] = {
                    **{k: _mean(rows, k) for k in PER_CAMERA_KEYS},
                    "frames": len(rows),
                    "colour_correction": correction,
                }
    return table


def _count_beyond_training(result: dict, avatar: Avatar, capture: Capture) -> None:
    """Mark each of `result`'s frames beyond what the avatar was trained on (`beyond_expression`,
    `beyond_head_pose`: True / False, None when the avatar records no such range) and add
    `beyond_training`: the fraction of frames beyond each way and beyond either, and the mean PSNR
    of the frames inside both and of those beyond either (None where no frame or no range counts)."""
    rows = result["per_frame"]
    params = capture.params.select([capture.frames[row["frame"]].time for row in rows])
    beyond = beyond_training(avatar, params)
    for key, flags in (("beyond_expression", beyond.expression), ("beyond_head_pose", beyond.head_pose)):
        for i, row in enumerate(rows):
            row[key] = None if flags is None else bool(flags[i])
    either = beyond.any()
    if either is None:
        result["beyond_training"] = None
        return
    flags = either.tolist()
    result["beyond_training"] = {
        "expression": None if beyond.expression is None else int(beyond.expression.sum()) / len(rows),
        "head_pose": None if beyond.head_pose is None else int(beyond.head_pose.sum()) / len(rows),
        "either": int(either.sum()) / len(rows),
        "psnr_inside": _mean([row for row, out in zip(rows, flags) if not out], "psnr"),
        "psnr_beyond": _mean([row for row, out in zip(rows, flags) if out], "psnr"),
    }
