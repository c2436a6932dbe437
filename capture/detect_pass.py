"""First pass over the videos: landmarks per kept frame, skipped frames counted with a reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from avatar.data.errors import VideoError
from avatar.data.video import probe_video, read_video_frames
from capture.ibug68 import inter_ocular
from capture.landmarks import FaceLandmarker

MIN_INTER_OCULAR_PX = 12.0  # smaller faces give landmarks too coarse to fit a rig to


@dataclass
class Detections:
    landmarks: list[np.ndarray] = field(default_factory=list)  # [478, 3] per tracked frame
    video: list[int] = field(default_factory=list)  # which video
    frame: list[int] = field(default_factory=list)  # decoded frame number in that video
    # Its place among the video's kept frames (after the frame-rate cap): neighbours in time differ
    # by 1 here, while their decoded numbers differ by the cap's step.
    kept: list[int] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"video", "frame", "reason"}
    considered: int = 0  # frames kept after the frame-rate cap
    fps: list[float] = field(default_factory=list)  # output frame rate per video
    source_fps: list[float] = field(default_factory=list)  # decoded frame rate per video (of `frame`)
    sizes: list[tuple[int, int]] = field(default_factory=list)  # (width, height) as displayed

    def skip_counts(self) -> dict[str, int]:
        return dict(Counter(s["reason"] for s in self.skipped))


def kept_frames(fps: float, max_fps: float | None):
    """Predicate on frame numbers that thins a video to at most max_fps; and the resulting fps."""
    if not max_fps or fps <= max_fps:
        return (lambda i: True), fps
    step = fps / max_fps
    return (lambda i: int(i / step) != int((i - 1) / step) if i else True), fps / step


def detect_videos(
    videos: list[Path],
    max_fps: float | None,
    max_frames: int | None = None,
    progress: bool = True,
    keep: Callable[[int], bool] | None = None,
) -> Detections:
    """Landmarks of every kept frame of each video (at most `max_frames` decoded per video); keep:
    which frame numbers to look at instead of those max_fps keeps (the same for every video)."""
    det = Detections()
    chosen = keep
    for v, path in enumerate(videos):
        info = probe_video(path)
        if info["fps"] <= 0:
            raise VideoError(path, "the video has no frame rate")
        keep, fps = kept_frames(info["fps"], max_fps)
        keep = chosen or keep
        det.fps.append(fps)
        det.source_fps.append(info["fps"])
        det.sizes.append((info["width"], info["height"]))
        landmarker = FaceLandmarker(video=True)
        try:
            frames = read_video_frames(path, max_frames)
            kept = -1
            for i, rgb in enumerate(
                tqdm(
                    frames,
                    total=info["frames"] or None,
                    desc=f"landmarks {path.name}",
                    disable=not progress,
                    leave=False,
                )
            ):
                if not keep(i):
                    continue
                det.considered += 1
                kept += 1
                points = landmarker.detect(rgb)
                reason = _unusable(points)
                if reason:
                    det.skipped.append({"video": v, "frame": i, "reason": reason})
                    continue
                det.landmarks.append(points)
                det.video.append(v)
                det.frame.append(i)
                det.kept.append(kept)
        finally:
            landmarker.close()
    return det


def _unusable(points: np.ndarray | None) -> str | None:
    if points is None:
        return "no face found"
    if inter_ocular(points) < MIN_INTER_OCULAR_PX:
        return "face too small"
    return None
