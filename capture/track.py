"""`avatar track`: videos -> tracked capture directory, report.json and overlay.mp4.

Pass 1 finds landmarks (`detect_pass`); the rig is fitted to all tracked frames at once
(`fit_video`); pass 2 decodes again and writes each tracked frame's crop, matte and camera
(per-frame intrinsics: the crop follows the head, the camera itself is static) plus the overlay.
Masks keep the head and neck only (`head_mask`).
Everything is written into `<out>.partial` and moved into place only at the end.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from avatar.cli import dump_json
from avatar.data.capture import CameraInfo, CaptureWriter
from avatar.data.errors import CaptureError, VideoError
from avatar.data.video import VideoWriter, read_video_frames
from avatar.rig.loaders import load_rig
from avatar.train.config import MONOCULAR_PRESET
from capture.crop import crop_frame, smooth_crops
from capture.detect_pass import Detections, detect_videos
from capture.embedding import embedding_for_rig
from capture.fit_setup import WORLD_TO_CAM
from capture.fit_video import VideoFit, fit_videos
from capture.ibug68 import MP_TO_IBUG68, inter_ocular
from capture.landmarks import SelfieMatte
from capture.head_mask import head_region
from capture.overlay import draw_overlay, render_rig

log = logging.getLogger("avatar")
TEST_FRACTION = 0.15  # the last 15% of each video's tracked frames are held out in time
MIN_TRACKED = 2
CHIN = 8  # iBUG index of the chin


def track(videos: list[str | Path], out: str | Path, rig_spec: str = "builtin", size: int = 512,
          max_fps: float | None = None, landmark_embedding: str | Path | None = None,
          overwrite: bool = False, progress: bool = True, max_frames: int | None = None) -> dict:
    """Track `videos` (one person) into the capture directory `out`; returns the report."""
    started = time.perf_counter()
    videos = [Path(v) for v in videos]
    out = Path(out)
    if out.exists() and not overwrite:
        raise CaptureError(out, "already exists (use --overwrite to replace it)")
    for v in videos:
        if not v.is_file():
            raise VideoError(v, "video not found")
    rig = load_rig(rig_spec)  # a missing rig file fails here, before any work or output
    embedding = embedding_for_rig(rig, landmark_embedding)
    det = detect_videos(videos, max_fps, max_frames, progress)
    for v, path in enumerate(videos):
        if v not in det.video:
            raise VideoError(path, f"no usable face in any of its {det.considered} frames "
                             f"({det.skip_counts()})")
    if len(det.video) < MIN_TRACKED:
        raise VideoError(videos[0], f"only {len(det.video)} frame(s) with a usable face")
    detect_s = time.perf_counter() - started
    landmarks = np.stack(det.landmarks)  # [T, 478, 3]
    video, frame = np.array(det.video), np.array(det.frame)
    fit = fit_videos(rig, embedding, landmarks[..., :2], video, frame, det.sizes, progress=progress)
    fit_s = time.perf_counter() - started - detect_s
    boxes = smooth_crops(landmarks[..., :2], video, float(np.mean(det.fps)), det.sizes)
    cameras = [_crop_camera(fit.focal[v], det.sizes[v], box, size, i)
               for i, (v, box) in enumerate(zip(video, boxes))]
    with CaptureWriter(out, det.fps[0], rig_spec, cameras, overwrite=overwrite) as writer:
        crop_points = np.stack([box.apply(p, size) for box, p in zip(boxes, landmarks)])  # [T, 478, 2]
        _write_frames(writer, videos, det, fit, boxes, crop_points, rig, size, progress, max_frames)
        splits = _time_splits(video)
        report = _report(videos, det, fit, rig_spec, detect_s, fit_s, time.perf_counter() - started)
        np.savez(writer.partial / "landmarks.npz", mediapipe=landmarks.astype(np.float32),
                 mediapipe_crop=crop_points, video=video, frame=frame)
        dump_json(report, writer.partial / "report.json")
        extra = {"generator": "capture.track", "videos": [str(v) for v in videos], "preset": MONOCULAR_PRESET,
                 "focal_px": [float(f) for f in fit.focal], "crop_size": size,
                 "source_frames": [{"video": int(v), "frame": int(f)} for v, f in zip(video, frame)]}
        writer.finish(fit.params, splits, extra)
    report["seconds"] = round(time.perf_counter() - started, 2)
    dump_json(report, out / "report.json")
    return report


def _crop_camera(focal: float, frame_size: tuple[int, int], box, size: int, index: int) -> CameraInfo:
    k = np.array([[focal, 0, frame_size[0] / 2], [0, focal, frame_size[1] / 2], [0, 0, 1]])
    return CameraInfo(f"frame{index:05d}", box.matrix(size) @ k, size, size, WORLD_TO_CAM.copy())


def _write_frames(writer: CaptureWriter, videos: list[Path], det: Detections, fit: VideoFit, boxes,
                  crop_points: np.ndarray, rig, size: int, progress: bool, max_frames: int | None) -> None:
    """Pass 2: crops, mattes and the overlay video, in tracked-frame order. crop_points
    [T, 478, 2]: the landmarks in crop pixels."""
    wanted = {(v, f): t for t, (v, f) in enumerate(zip(det.video, det.frame))}
    matte = SelfieMatte()
    colors = rig.vertex_colors if rig.vertex_colors is not None else torch.full((rig.num_vertices, 3), 0.7)
    bar = tqdm(total=len(wanted), desc="writing capture", disable=not progress, leave=False)
    try:
        with VideoWriter(writer.partial / "overlay.mp4", det.fps[0], size, size) as overlay:
            for v, path in enumerate(videos):
                for i, rgb in enumerate(read_video_frames(path, max_frames)):
                    t = wanted.get((v, i))
                    if t is None:
                        continue
                    image, inside = crop_frame(rgb, boxes[t], size)
                    with torch.no_grad():
                        verts = rig.forward(fit.params.frame(t))[0]
                    mesh = render_rig(verts, rig.faces, colors, writer.cameras[t].to_camera())
                    detected = crop_points[t][MP_TO_IBUG68]  # [68, 2]
                    jaw_x = (float(detected[:17, 0].min()), float(detected[:17, 0].max()))
                    head = head_region(mesh.mask[..., 0].numpy(), float(detected[CHIN, 1]),
                                       float(inter_ocular(crop_points[t])), jaw_x)
                    alpha = matte.alpha(image) * inside * head
                    writer.add_frame(t, t, image, (alpha * 255 + 0.5).astype(np.uint8))
                    fitted = boxes[t].apply(fit.projected[t], size) if fit.projected is not None else None
                    overlay.write(draw_overlay(image, mesh, detected, fitted))
                    bar.update(1)
    finally:
        matte.close()
        bar.close()


def _time_splits(video: np.ndarray) -> dict[str, list[int]]:
    train, test = [], []
    for v in np.unique(video):
        idx = np.flatnonzero(video == v)
        cut = len(idx) - max(1, int(round(TEST_FRACTION * len(idx))))
        train += idx[:cut].tolist()
        test += idx[cut:].tolist()
    return {"train": train, "test": test}


def _report(videos, det: Detections, fit: VideoFit, rig_spec: str, detect_s: float, fit_s: float,
            seconds: float) -> dict:
    tracked = len(det.video)
    return {"videos": [str(v) for v in videos], "rig": rig_spec, "frames": det.considered, "tracked": tracked,
            "tracked_fraction": round(tracked / max(1, det.considered), 4),
            "skipped": {"count": len(det.skipped), "reasons": det.skip_counts(), "frames": det.skipped},
            "nme_mean": float(np.nanmean(fit.nme)), "nme_median": float(np.nanmedian(fit.nme)),
            "nme_definition": "mean 2-D distance between the fitted rig's 68 iBUG landmarks and MediaPipe's "
                              "(capture.ibug68), over the detected outer-eye-corner distance",
            "nme": [round(float(x), 5) for x in fit.nme], "focal_px": [float(f) for f in fit.focal],
            "seconds_landmarks": round(detect_s, 2), "seconds_fit": round(fit_s, 2),
            "ms_per_frame_landmarks_and_fit": round(1000 * (detect_s + fit_s) / max(1, tracked), 2),
            "seconds": round(seconds, 2)}
