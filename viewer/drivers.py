"""What drives the avatar: live tracking of a frame source, or an expression file played in
real time. Both answer `latest()` with the newest `DrivenSample` (None before the first)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from avatar.rig import RigParams
from viewer.sources import FrameSource
from viewer.tracking import TrackerThread, ready_optimisers


@dataclass
class DrivenSample:
    params: RigParams  # [1] avatar parameters
    source_frame: int  # index of the camera / video / file frame they come from
    captured_at: float  # time.perf_counter() when that frame became available
    tracker_ms: float | None = None  # landmarks + fit (live only)
    tracked_at: float | None = None  # perf_counter when the tracker had them (live only)
    landmarks: np.ndarray | None = None  # [478, 3] pixels (live only)
    rgb: np.ndarray | None = None  # [H, W, 3] the camera frame (live only)
    tracked_expr: np.ndarray | None = None  # [E] the live fitter's weights before the retarget (live only)


class LiveDriver:
    """A frame source and the tracker thread fitting its newest frame."""

    def __init__(self, source: FrameSource, tracker: TrackerThread):
        self.source, self.tracker = source, tracker
        self.name = source.name
        self.pace = tracker.pace  # the render worker reports its renders to it

    def start(self) -> None:
        ready_optimisers()  # before the source plays: the import would freeze the live view
        self.source.start()
        self.tracker.start()

    def stop(self) -> None:
        self.source.stop()
        self.tracker.stop()

    @property
    def ended(self) -> bool:
        """True once the source has ended and the tracker has fitted all it will."""
        return self.source.ended.is_set() and self.tracker.output.closed

    @property
    def status(self) -> str:
        error = self.source.error or self.tracker.error
        return f"error: {error}" if error else self.tracker.status

    def clamp_stats(self) -> dict | None:
        """How often the avatar's training range moved a tracked frame's expressions (None: the
        avatar has no range)."""
        return self.tracker.retarget.clamp_stats()

    def notify(self, event: threading.Event) -> None:
        """Set `event` whenever a new sample is ready."""
        self.tracker.output.notify(event)

    def latest(self) -> DrivenSample | None:
        _, tracked = self.tracker.output.newest()
        if tracked is None:
            return None
        return DrivenSample(
            tracked.params,
            tracked.frame.index,
            tracked.frame.captured_at,
            tracked.tracker_ms,
            tracked.tracked_at,
            tracked.landmarks,
            tracked.frame.rgb,
            tracked.tracked_expr,
        )


class ExpressionPlayer:
    """Rig parameters [T] from a file, played at their fps in real time, looping."""

    def __init__(self, params: RigParams, fps: float, name: str):
        self.params, self.fps, self.name = params, fps, name
        self.ended = False
        self.status = f"playing {params.num_frames} frames at {fps:g} fps"
        self._started = time.perf_counter()

    def start(self) -> None:
        self._started = time.perf_counter()

    def stop(self) -> None:
        pass

    def clamp_stats(self) -> None:
        """None: the file was kept inside the avatar's range when it was loaded (`Avatar.params`)."""
        return None

    def latest(self) -> DrivenSample:
        elapsed = time.perf_counter() - self._started
        step = int(elapsed * self.fps)
        return DrivenSample(self.params.frame(step % self.params.num_frames), step, self._started + step / self.fps)
