"""`avatar eval-live`: score the avatar as the live viewer drives it, beside `avatar eval`'s offline score.

The capture's source video is played through the viewer's tracking steps, every frame in time
order as `video:PATH` plays it: MediaPipe landmarks on the full frame (FaceLandmarker, video
mode), the first CALIBRATION_FRAMES frames with a face calibrating the fitter's identity and focal
and the neutral head rotation (`calibrate_fitter`; the viewer drives with the uncalibrated fitter
while that runs on its own thread, eval-live scores only the calibrated path that follows), then
per frame the live rig fit (LiveFitter),
LiveRetarget with the avatar's identity and expression range, and the One-Euro smoothing
(`live_params`), the functions TrackerThread runs. Each evaluated frame is then rendered and
scored by `avatar eval`'s own `evaluate` (PSNR/SSIM full frame over the background,
psnr_foreground, ...), once per variant:

- `offline`: the capture's tracked parameters and camera (what `avatar eval` reports);
- `live_expression`: the viewer's expression, jaw and eyes with the offline head pose, identity
  and camera: the live path's expression fidelity alone (the viewer frames the head with its own
  camera, so its pose is not compared with the capture's);
- `live_raw_expression`: as live_expression with the fitter's expression, jaw and eyes before
  retargeting and smoothing: splits the gap between the fitter and what follows it;
- `live_pose`: the offline expression, jaw and eyes with live_full's head pose and camera: the
  live pose's part of live_full's gap;
- `live_full`: everything live: the viewer's expression and smoothed rotation made absolute again
  (relative rotation x calibrated neutral), the fitter's translation, the avatar's identity, seen
  through the capture's crop window with the live focal length (the crop camera's K with its
  focal scaled by live / offline focal), so pose and camera are the live fitter's own pair.

Every video frame is tracked (no frames dropped as a slow tracker in the viewer would), so the
numbers are what the live path gives at its best pace. Parameter differences live - offline on
the evaluated frames (mean absolute, per expression) say where a gap comes from.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from avatar.data.capture import Capture, load_capture
from avatar.data.video import probe_video, read_video_frames
from avatar.model import load_avatar
from avatar.splat.camera import Camera
from avatar.rig import RigParams
from avatar.rig.lbs import axis_angle_to_matrix, matrix_to_axis_angle
from avatar.rig.torso import SlowTorso
from avatar.runtime.errors import InputError
from avatar.training.evaluate import evaluate
from avatar.training.image_metrics import LpipsMetric
from capture.fit.live import CALIBRATION_FRAMES, LiveFitter
from viewer.one_euro import OneEuroFilter
from viewer.retarget_live import LiveRetarget
from viewer.tracking import calibrate_fitter, live_params

VARIANTS = ("offline", "live_expression", "live_raw_expression", "live_pose", "live_full")
TOP_EXPRESSIONS = 12  # the expressions listed in the summary, largest difference first


def source_video(capture: Capture, video: str | Path | None = None) -> Path:
    """The capture's (single) source video: `video` when given, else the path `avatar track`
    recorded, as given (relative to the working directory then) or relative to the capture."""
    if video is not None:
        path = Path(video)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: video not found")
        return path
    videos = capture.extra.get("videos") or []
    if len(videos) != 1 or "source_frames" not in capture.extra:
        raise InputError(f"{capture.root}: eval-live needs a capture tracked by `avatar track` from one video "
                         f"(it records {len(videos)}); pass --video for another capture")
    path = capture.recorded_video()
    if path is None:
        raise FileNotFoundError(f"{capture.root}: its source video {videos[0]} is not found; pass --video PATH")
    return path


def track_live(video: Path, avatar, wanted: set[int], smoothing: float = 0.3) -> dict:
    """Run the viewer's tracking steps over `video`'s frames in order up to the last of `wanted`
    (video frame indices). Returns {frame: (driver params [1], avatar params [1], neutral
    rotation [3])} for the wanted frames with a tracked face (a frame without one shows the last
    tracked parameters, as in the viewer), plus counts, calibration and timings."""
    from capture.landmarks import FaceLandmarker

    info = probe_video(video)
    fps = info["fps"] or 30.0
    size = (info["width"], info["height"])
    rig = avatar.rig
    retarget = LiveRetarget(rig, avatar.identity(), avatar.expression_range, avatar.live_map)
    fitter = LiveFitter(rig, size)
    smoother = OneEuroFilter(smoothing)
    torso = SlowTorso()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as TrackerThread: the fit's tensors are tiny
    landmarker = FaceLandmarker(video=True)
    calibration_points: list[np.ndarray] = []
    calibration: dict = {"frames": CALIBRATION_FRAMES, "done": False}
    tracked: dict[int, tuple] = {}
    last = None
    no_face = 0
    landmark_s = fit_s = 0.0
    last_wanted = max(wanted)
    try:
        for index, rgb in enumerate(read_video_frames(video, last_wanted + 1)):
            started = time.perf_counter()
            points = landmarker.detect(rgb)
            landmark_s += time.perf_counter() - started
            if points is None:
                no_face += 1
                fitter.reset()
            elif not calibration["done"]:
                calibration_points.append(points)
                if len(calibration_points) == CALIBRATION_FRAMES:
                    neutral, report = calibrate_fitter(fitter, rig, calibration_points, size)
                    retarget.set_neutral(neutral, expression=False)
                    calibration.update(report, last_source_frame=index)
            else:
                started = time.perf_counter()
                driver = fitter.fit(points)
                params = live_params(retarget, smoother, torso, driver, index / fps)
                fit_s += time.perf_counter() - started
                last = (driver, params, retarget.neutral_rotation.clone())
            if index in wanted and last is not None:
                tracked[index] = last
    finally:
        landmarker.close()
        torch.set_num_threads(threads)
    return {"tracked": tracked, "no_face_frames": no_face, "calibration": calibration, "video_fps": fps,
            "frame_size": list(size), "seconds_landmarks": landmark_s, "seconds_fit": fit_s,
            "kept_in_training_range": retarget.clamp_stats(),
            "live_focal": float(fitter.focal[0])}


class _Driven:
    """The capture as `evaluate` reads it, with other parameters (and cameras) per frame."""

    def __init__(self, capture: Capture, params: dict[int, RigParams], cameras: dict[int, Camera] | None = None):
        self._capture, self._params, self._cameras = capture, params, cameras or {}

    def __getattr__(self, name):
        return getattr(self._capture, name)

    def frame_params(self, frame: int) -> RigParams:
        return self._params[frame]

    def camera(self, frame: int) -> Camera:
        return self._cameras.get(frame) or self._capture.camera(frame)


def _with(base: RigParams, **parts) -> RigParams:
    values = {k: getattr(base, k) for k in ("shape", "expr", "jaw", "neck", "rotation", "eyes", "translation")}
    values.update({k: v.to(values[k]) for k, v in parts.items()})
    return RigParams(**values)


def _absolute_rotation(relative: torch.Tensor, neutral: torch.Tensor) -> torch.Tensor:
    """[1, 3] axis-angle R_rel R_neutral from the retargeted rotation [1, 3] and the neutral [3]."""
    r = axis_angle_to_matrix(relative.double()) @ axis_angle_to_matrix(neutral.double()[None])
    return matrix_to_axis_angle(r).float()


def _live_camera(camera: Camera, live_focal: float, offline_focal: float) -> Camera:
    """The crop window of `camera` on a source camera of focal `live_focal` instead of `offline_focal`."""
    k = camera.K.clone()
    k[0, 0] *= live_focal / offline_focal
    k[1, 1] *= live_focal / offline_focal
    return dataclasses.replace(camera, K=k)


def parameter_differences(rig, offline: dict[int, RigParams], live: dict[int, RigParams]) -> dict:
    """Mean absolute difference live - offline over the frames, per expression (by name) and for
    jaw (rad), eyes (rad), the head's rotation (deg, of H_live H_offline^T, each H root then neck:
    both sources share it between a slow torso and the neck) and translation (rig units); also
    each expression's mean offline and live value."""
    frames = sorted(live)
    stack = {k: (torch.cat([getattr(offline[f], k) for f in frames]).double(),
                 torch.cat([getattr(live[f], k) for f in frames]).double())
             for k in ("expr", "jaw", "eyes", "rotation", "neck", "translation")}
    off_e, live_e = stack["expr"]
    names = list(rig.expr_names) or [f"expr{i}" for i in range(off_e.shape[1])]
    per_expr = {n: {"mad": float((live_e[:, i] - off_e[:, i]).abs().mean()), "offline_mean": float(off_e[:, i].mean()),
                    "live_mean": float(live_e[:, i].mean())} for i, n in enumerate(names)}
    per_expr = dict(sorted(per_expr.items(), key=lambda kv: -kv[1]["mad"]))
    off_head, live_head = (axis_angle_to_matrix(r) @ axis_angle_to_matrix(n)
                           for r, n in zip(stack["rotation"], stack["neck"]))  # [F, 3, 3] each
    rel = live_head @ off_head.transpose(-1, -2)
    angle = torch.rad2deg(matrix_to_axis_angle(rel).norm(dim=-1))
    return {"frames": len(frames), "expr_mad_mean": float((live_e - off_e).abs().mean()),
            "jaw_mad_rad": float((stack["jaw"][1] - stack["jaw"][0]).abs().mean()),
            "eyes_mad_rad": float((stack["eyes"][1] - stack["eyes"][0]).abs().mean()),
            "rotation_deg_mean": float(angle.mean()),
            "translation_mad_xyz": (stack["translation"][1] - stack["translation"][0]).abs().mean(0).tolist(),
            "per_expression": per_expr}


def evaluate_live(model: str | Path, capture_path: str | Path, split: str = "test", video: str | Path | None = None,
                  smoothing: float = 0.3, save_images: str | Path | None = None, device: str = "cpu",
                  variants: tuple[str, ...] = VARIANTS) -> dict:
    """{variant: `evaluate` metrics} of the avatar on `split`, offline and as the live path drives
    it, with the PSNR gaps, the live and offline parameters' differences and the tracking's counts."""
    started = time.perf_counter()
    avatar = load_avatar(model, device=device)
    capture = load_capture(capture_path)
    if split not in capture.splits or not capture.splits[split]:
        raise InputError(f"capture {capture.root} has no frames in split '{split}' (has: {', '.join(capture.splits)})")
    path = source_video(capture, video)
    frames = capture.splits[split]
    sources = capture.extra["source_frames"]
    video_frame = {f: int(sources[capture.frames[f].time]["frame"]) for f in frames}
    run = track_live(path, avatar, set(video_frame.values()), smoothing)
    missing = [f for f in frames if video_frame[f] not in run["tracked"]]
    if missing:
        raise InputError(f"{len(missing)} {split} frames have no live parameters (no face before them, or they "
                         f"fall in the first {CALIBRATION_FRAMES} calibration frames): {missing[:5]}")
    offline_focal = float(capture.extra.get("focal_px", [0.0])[0] or 0.0)
    live_focal = run["live_focal"]
    offline, live, raw, pose, full, live_cams = {}, {}, {}, {}, {}, {}
    for f in frames:
        driver, params, neutral = run["tracked"][video_frame[f]]
        base = capture.frame_params(f)
        offline[f] = base
        live[f] = _with(base, expr=params.expr, jaw=params.jaw, eyes=params.eyes)
        raw[f] = _with(base, expr=driver.expr, jaw=driver.jaw, eyes=driver.eyes)
        full[f] = RigParams(params.shape.float(), params.expr.float(), params.jaw.float(), torch.zeros(1, 3),
                            _absolute_rotation(params.rotation, neutral), params.eyes.float(),
                            driver.translation.float())
        pose[f] = _with(base, neck=full[f].neck, rotation=full[f].rotation, translation=full[f].translation)
        if offline_focal > 0:
            live_cams[f] = _live_camera(capture.camera(f), live_focal, offline_focal)
    driven = {"offline": _Driven(capture, offline), "live_expression": _Driven(capture, live),
              "live_raw_expression": _Driven(capture, raw), "live_pose": _Driven(capture, pose, live_cams),
              "live_full": _Driven(capture, full, live_cams)}
    lpips = LpipsMetric()
    results = {}
    for name in variants:
        folder = None if save_images is None else Path(save_images) / name
        results[name] = evaluate(avatar.renderer, driven[name], split, lpips=lpips, save_images=folder)
    gaps = {name: results["offline"]["psnr"] - results[name]["psnr"] for name in results if name != "offline"} \
        if "offline" in results else {}
    run.pop("tracked")
    run["offline_focal"] = offline_focal
    return {"model": str(model), "capture": str(capture.root), "video": str(path), "split": split,
            "smoothing": smoothing, "frames": len(frames), "variants": results, "psnr_gap_db": gaps,
            "param_diff": {"live_expression": parameter_differences(avatar.rig, offline, live),
                           "live_raw_expression": parameter_differences(avatar.rig, offline, raw),
                           "live_pose": parameter_differences(avatar.rig, offline, pose),
                           "live_full": parameter_differences(avatar.rig, offline, full)},
            "tracking": run, "seconds": time.perf_counter() - started}


def format_live_eval(report: dict) -> str:
    """The variants' table, the gaps and the expressions that differ most."""
    lines = [f"{report['split']}: {report['frames']} frames of {Path(report['capture']).name}, live focal "
             f"{report['tracking']['live_focal']:.0f} px (offline {report['tracking']['offline_focal']:.0f})",
             f"{'variant':<22} {'psnr':>7} {'ssim':>7} {'psnr fg':>8} {'gap dB':>7}"]
    for name, m in report["variants"].items():
        fg = m.get("psnr_foreground")
        lines.append(f"{name:<22} {m['psnr']:>7.3f} {m['ssim']:>7.4f} {'-' if fg is None else f'{fg:.3f}':>8} "
                     f"{report['psnr_gap_db'].get(name, 0.0):>7.3f}")
    diff = report["param_diff"]["live_expression"]
    lines.append(f"live - offline (mean abs): expr {diff['expr_mad_mean']:.4f}, jaw {diff['jaw_mad_rad']:.4f} rad, "
                 f"eyes {diff['eyes_mad_rad']:.4f} rad; full pose: rotation "
                 f"{report['param_diff']['live_full']['rotation_deg_mean']:.2f} deg, translation x/y/z "
                 + "/".join(f"{1e3 * v:.1f}" for v in report["param_diff"]["live_full"]["translation_mad_xyz"]) + " mm")
    raw = report["param_diff"]["live_raw_expression"]["per_expression"]
    lines.append(f"{'expression':<22} {'|live-off|':>10} {'|raw-off|':>10} {'offline':>8} {'live':>8} {'raw':>8}")
    for name, d in list(diff["per_expression"].items())[:TOP_EXPRESSIONS]:
        lines.append(f"{name:<22} {d['mad']:>10.4f} {raw[name]['mad']:>10.4f} {d['offline_mean']:>8.4f} "
                     f"{d['live_mean']:>8.4f} {raw[name]['live_mean']:>8.4f}")
    return "\n".join(lines)


def psnr_summary(report: dict) -> dict:
    """{variant: psnr} for logs."""
    return {name: round(m["psnr"], 3) for name, m in report["variants"].items()}


__all__ = ["VARIANTS", "evaluate_live", "format_live_eval", "parameter_differences", "psnr_summary", "source_video",
           "track_live"]
