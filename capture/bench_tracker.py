"""Live-tracking timings on a real video: landmarks and the per-frame rig fit, as the viewer runs them."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from avatar.data.video import read_video_frames
from avatar.rig.loaders import load_rig
from avatar.runtime.errors import InputError
from capture.fit.live import CALIBRATION_FRAMES, LiveFitter
from capture.landmarks import FaceLandmarker


def bench_tracker(video: str | Path, rig_spec: str = "builtin", frames: int = 200) -> list[dict]:
    """Rows {op, rig, frames, ms_median, ms_p90} for `landmarks` and `live_fit` (after calibrating
    the identity on the first CALIBRATION_FRAMES frames with a face)."""
    rig = load_rig(rig_spec)
    landmarker = FaceLandmarker(video=True)
    points, detect_ms, size = [], [], None
    try:
        for rgb in read_video_frames(video, frames):
            size = (rgb.shape[1], rgb.shape[0])
            start = time.perf_counter()
            found = landmarker.detect(rgb)
            detect_ms.append(1000 * (time.perf_counter() - start))
            if found is not None:
                points.append(found)
    finally:
        landmarker.close()
    if len(points) <= CALIBRATION_FRAMES:
        raise InputError(f"{video}: only {len(points)} frames with a face; need more than {CALIBRATION_FRAMES}")
    fitter = LiveFitter(rig, size)
    fitter.calibrate(points[:CALIBRATION_FRAMES], size)
    fit_ms = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the fit's ops are tiny: intra-op threads only add overhead (4x here)
    try:
        for p in points[CALIBRATION_FRAMES:]:
            start = time.perf_counter()
            fitter.fit(p)
            fit_ms.append(1000 * (time.perf_counter() - start))
    finally:
        torch.set_num_threads(threads)
    return [_row("landmarks", rig_spec, detect_ms), _row("live_fit", rig_spec, fit_ms[1:])]  # [0]: cold start


def _row(op: str, rig: str, ms: list[float]) -> dict:
    return {"op": op, "rig": rig, "frames": len(ms), "ms_median": round(float(np.median(ms)), 3),
            "ms_p90": round(float(np.percentile(ms, 90)), 3)}


def format_tracker_rows(rows: list[dict]) -> str:
    lines = [f"{'op':<10} {'rig':<40} {'frames':>6} {'ms median':>10} {'ms p90':>8}"]
    lines += [f"{r['op']:<10} {r['rig']:<40} {r['frames']:>6} {r['ms_median']:>10.2f} {r['ms_p90']:>8.2f}" for r in rows]
    return "\n".join(lines)
