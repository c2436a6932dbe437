"""Held-out evaluation: PSNR, SSIM and (when available offline) LPIPS over a capture split."""

from __future__ import annotations

import statistics

import torch

from avatar.data.capture import Capture
from avatar.gaussians import GaussianAvatar, blend
from avatar.render import splat
from avatar.train.image_metrics import LpipsMetric, psnr, ssim


def composite_target(capture: Capture, frame: int, background: torch.Tensor) -> torch.Tensor:
    """The frame's image over `background` wherever its mask says background. [H, W, 3]"""
    image = capture.load_image(frame)
    mask = capture.load_mask(frame)
    if mask is None:
        return image
    return image * mask + background * (1 - mask)


@torch.no_grad()
def evaluate(model: GaussianAvatar, capture: Capture, split: str = "test", backend: str = "auto",
             background: tuple[float, float, float] = (1.0, 1.0, 1.0), max_frames: int | None = None,
             lpips: LpipsMetric | None = None) -> dict:
    if split not in capture.splits:
        raise ValueError(f"capture {capture.root} has no split '{split}' (has: {', '.join(capture.splits)})")
    frames = capture.splits[split]
    if max_frames is not None and len(frames) > max_frames:
        step = len(frames) / max_frames
        frames = [frames[int(i * step)] for i in range(max_frames)]
    if not frames:
        raise ValueError(f"split '{split}' of {capture.root} is empty")
    bg = torch.tensor(background, dtype=torch.float32)
    lpips = lpips if lpips is not None else LpipsMetric()
    rows = []
    for f in frames:
        target = composite_target(capture, f, bg)
        out = splat(blend(model, capture.frame_params(f), backend), capture.camera(f), bg, backend)
        pred = out.rgb.clamp(0, 1)
        mask = capture.load_mask(f)
        rows.append({"frame": f, "psnr": psnr(pred, target), "ssim": float(ssim(pred, target)),
                     "lpips": lpips(pred, target),
                     "psnr_foreground": psnr(pred[mask[..., 0] > 0], target[mask[..., 0] > 0])
                     if mask is not None else None})
    lp = [r["lpips"] for r in rows if r["lpips"] is not None]
    fg = [r["psnr_foreground"] for r in rows if r["psnr_foreground"] is not None]
    return {
        "split": split,
        "frames": len(rows),
        "psnr": statistics.fmean(r["psnr"] for r in rows),
        "ssim": statistics.fmean(r["ssim"] for r in rows),
        # PSNR over the subject's pixels only: the full-image figure is inflated by background.
        "psnr_foreground": statistics.fmean(fg) if fg else None,
        "lpips": statistics.fmean(lp) if lp else None,
        "lpips_reason": None if lp else lpips.reason,
        "per_frame": rows,
    }
