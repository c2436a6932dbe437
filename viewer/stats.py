"""`FrameStats`: timings and driven parameters of every new avatar frame displayed; rolling
numbers for the stats panel and the summary (medians) that `--stats` writes.

For an avatar whose offsets follow the head's pose, every frame shown is also checked against the
pose range it was trained on (`HeadPoseDrivers.excess`): a head turned further gets the offsets of
the nearest trained pose, and the panel and the summary say how often and by how much that happened.

Three rates, kept apart so none inflates another: `fps` counts avatar frames displayed with new
content (a new driven sample, or new settings), each once; `display_fps` counts window redraws
(panels included, whether or not the avatar changed); `render_fps` counts avatar images rendered
(some are replaced by newer ones before the window shows them). With a driver, all three are
taken over the driven period: from the first to the last displayed frame a sample drove, so
the calibration time before it (the rest pose, unchanged) does not dilute them.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar.data.atomic import atomic_path
from avatar.gaussians.pose_drivers import POSE_OUTSIDE_RAD, HeadPoseDrivers
from avatar.rig import RigParams
from viewer.thread_cpu import cpu_ms_per_frame, thread_cpu_seconds

ROLLING = 60  # frames behind the numbers the panel shows
CPU_READING_S = 0.5  # how often the threads' CPU times are read (each reading is ~0.3 ms)


@dataclass
class FrameRecord:
    displayed_at: float  # perf_counter after the swap
    blend_ms: float
    splat_ms: float
    frame_ms: float  # the window frame that first showed it: panels, upload, swap
    tracker_ms: float | None  # landmarks + fit of the frame shown (None: no tracker)
    latency_ms: float | None  # source frame captured -> displayed
    source_frame: int | None
    latency_parts: dict[str, float] | None = None  # latency_ms stage by stage (see latency_parts)
    tracked_expr: np.ndarray | None = None  # [E] the live fitter's weights before the retarget (live only)


# The stages of capture -> display, in order; they add up to latency_ms.
LATENCY_PARTS = ("before_tracking_ms", "tracking_ms", "before_render_ms", "render_ms", "before_display_ms")


def latency_parts(sample, frame, displayed_at: float) -> dict[str, float] | None:
    """Where a live frame's latency went: waiting for the tracker (the frame's age when tracking
    began), tracking, waiting for the render, rendering, waiting for the window's swap. sample:
    a DrivenSample with tracker times; frame: the RenderedFrame that showed it."""
    if sample.tracked_at is None or sample.tracker_ms is None:
        return None
    tracking_began = sample.tracked_at - 1e-3 * sample.tracker_ms
    stamps = (sample.captured_at, tracking_began, sample.tracked_at, frame.started_at, frame.rendered_at, displayed_at)
    return {name: 1e3 * (b - a) for name, a, b in zip(LATENCY_PARTS, stamps, stamps[1:])}


class FrameStats:
    def __init__(self, pose: HeadPoseDrivers | None = None):
        """pose: the avatar's head-pose drivers (None: its offsets do not follow the head)."""
        self.records: list[FrameRecord] = []
        self.params: list[RigParams] = []  # [1] each, as rendered
        self.pose = pose
        self.pose_excess: list[float] = []  # radians beyond the trained pose range, per frame shown
        self._recent: deque[FrameRecord] = deque(maxlen=ROLLING)
        self.display_times: list[float] = []  # perf_counter after every window swap
        self.render_times: list[float] = []  # perf_counter when each avatar image was ready
        self.cpu_readings: list[tuple[float, dict]] = []  # (perf_counter, thread_cpu_seconds())

    def displayed(self, at: float) -> None:
        self.display_times.append(at)
        if not self.cpu_readings or at - self.cpu_readings[-1][0] >= CPU_READING_S:
            self.read_cpu(at)

    def read_cpu(self, at: float) -> None:
        """Read the threads' CPU times now (the window calls it once more when it closes)."""
        self.cpu_readings.append((at, thread_cpu_seconds()))

    def rendered(self, at: float) -> None:
        self.render_times.append(at)

    def add(self, record: FrameRecord, params: RigParams) -> None:
        self.records.append(record)
        self.params.append(params)
        self._recent.append(record)
        if self.pose is not None:
            self.pose_excess.append(float(self.pose.excess(params)[0]))

    def pose_beyond_training(self) -> dict | None:
        """Of the frames shown, those whose head was turned beyond the trained pose range, and
        the largest excess in degrees (None: the avatar has no pose drivers)."""
        if self.pose is None:
            return None
        outside = sum(e > POSE_OUTSIDE_RAD for e in self.pose_excess)
        return {
            "frames": len(self.pose_excess),
            "frames_outside": outside,
            "fraction": outside / len(self.pose_excess) if self.pose_excess else 0.0,
            "largest_excess_deg": float(np.degrees(max(self.pose_excess, default=0.0))),
        }

    def rolling(self) -> dict[str, float | None]:
        """Medians over the last new frames, their rate, and the window's redraw rate."""
        recent = list(self._recent)
        out = {
            k: _median([getattr(r, k) for r in recent])
            for k in ("blend_ms", "splat_ms", "frame_ms", "tracker_ms", "latency_ms")
        }
        out["fps"] = _rate([r.displayed_at for r in recent])
        out["display_fps"] = _rate(self.display_times[-ROLLING:])
        return out

    def summary(self) -> dict:
        """Medians over the new frames, the three rates (over the driven period when a sample
        drove any frame), and how many distinct source frames were shown."""
        driven = [r for r in self.records if r.source_frame is not None]
        window = driven or self.records
        span = window[-1].displayed_at - window[0].displayed_at if len(window) > 1 else 0.0
        first, last = (window[0].displayed_at, window[-1].displayed_at) if window else (0.0, 0.0)

        def rate(count: int) -> float | None:
            return count / span if span > 0 else None

        shown = {r.source_frame for r in driven}
        return {
            "frames": len(self.records),
            "fps": rate(len(window) - 1),
            "display_fps": rate(sum(first < t <= last for t in self.display_times)),
            "render_fps": rate(sum(first < t <= last for t in self.render_times)),
            "driven_seconds": span,
            "tracker_ms": _median([r.tracker_ms for r in window]),
            "blend_ms": _median([r.blend_ms for r in window]),
            "splat_ms": _median([r.splat_ms for r in window]),
            "render_ms": _median([r.blend_ms + r.splat_ms for r in window]),
            "frame_ms": _median([r.frame_ms for r in window]),
            "latency_ms": _median([r.latency_ms for r in window]),
            "latency_parts_ms": {
                name: _median([r.latency_parts[name] for r in window if r.latency_parts]) for name in LATENCY_PARTS
            },
            "source_frames_shown": len(shown),
            "head_pose_beyond_training": self.pose_beyond_training(),
        }

    def summary_from(self, source_frame: int) -> dict:
        """Over the frames driven by source frames from `source_frame` on (the steady state after
        the live calibration, during which the tracker rests): new frames a second, the median
        latency and its parts, and the CPU milliseconds per frame of each thread between the
        first CPU reading of that period and the last reading of the run."""
        steady = [r for r in self.records if r.source_frame is not None and r.source_frame >= source_frame]
        doc = {
            "frames": len(steady),
            "fps": _rate([r.displayed_at for r in steady]),
            "latency_ms": _median([r.latency_ms for r in steady]),
            "latency_parts_ms": {
                name: _median([r.latency_parts[name] for r in steady if r.latency_parts]) for name in LATENCY_PARTS
            },
            "cpu_ms_per_frame": {},
        }
        readings = [(t, cpu) for t, cpu in self.cpu_readings if steady and t >= steady[0].displayed_at]
        if len(readings) > 1:
            start, end = readings[0][0], readings[-1][0]
            frames = sum(start < r.displayed_at <= end for r in steady)
            doc["cpu_ms_per_frame"] = cpu_ms_per_frame([cpu for _, cpu in readings], frames)
        return doc

    def save_params(self, path: Path, expr_names: list[str] | None) -> None:
        """Per displayed frame: the rig parameters rendered, the source frame they come from and,
        driven live, the live fitter's expression weights before the retarget (`tracked_expr`,
        NaN for frames without: what the tracker saw, against what the avatar was given)."""
        arrays = [p.to_numpy() for p in self.params]
        stacked = {
            k: np.stack([a[k] for a in arrays]) if k == "shape" else np.concatenate([a[k] for a in arrays])
            for k in (arrays[0] if arrays else {})
        }  # shape [T, S], the rest [T, ...]
        source = np.array([-1 if r.source_frame is None else r.source_frame for r in self.records])
        extra = {} if expr_names is None else {"expr_names": np.array(expr_names, dtype=str)}
        tracked = [r.tracked_expr for r in self.records]
        width = next((len(t) for t in tracked if t is not None), None)
        if width is not None:
            extra["tracked_expr"] = np.stack(
                [np.full(width, np.nan, np.float32) if t is None else t for t in tracked]
            ).astype(np.float32)  # [T, E]
        with atomic_path(path) as partial, open(partial, "wb") as f:
            np.savez(f, source_frame=source, **stacked, **extra)


def _rate(times: list[float]) -> float | None:
    """Events a second over `times` (seconds, in order): the gaps between the first and the last;
    None for fewer than two or no time between them."""
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return (len(times) - 1) / span if span > 0 else None


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None
