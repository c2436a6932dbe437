"""`RenderPace`: the tracker starts a frame when its result will be rendered next, not before.

The render worker takes the newest tracked sample each time it finishes an image. A tracker
that runs as fast as frames come hands it samples that then wait, on average, half a render,
and tracks frames nobody renders, taking CPU from the render on a machine with two cores. With
the pace, the tracker waits until the render in progress is about one tracking time from done,
then tracks the newest camera frame: its sample is ready as the render frees up. The render
worker reports each render's start and end; the expected duration is the median of the last
ones. Without a render in progress (the first frames, a paused avatar, the gl backend, which
draws on the window's thread), the tracker does not wait.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque

HISTORY = 15  # renders behind the expected duration
MARGIN_S = 0.002  # start tracking this much early: the tracker's own time varies too


class RenderPace:
    def __init__(self):
        self._lock = threading.Condition()
        self._durations: deque[float] = deque(maxlen=HISTORY)
        self._started: float | None = None  # perf_counter of the render in progress, or None

    def started(self) -> None:
        with self._lock:
            self._started = time.perf_counter()

    def finished(self) -> None:
        with self._lock:
            if self._started is not None:
                self._durations.append(time.perf_counter() - self._started)
            self._started = None
            self._lock.notify_all()

    def wait_to_track(self, tracking_s: float, stop: threading.Event) -> None:
        """Block until a sample tracked now (taking `tracking_s`) would not wait for the render
        in progress, or until that render ends, or `stop` is set."""
        with self._lock:
            while not stop.is_set() and self._started is not None and self._durations:
                expected_end = self._started + statistics.median(self._durations)
                wait = expected_end - tracking_s - MARGIN_S - time.perf_counter()
                if wait <= 0:
                    return
                self._lock.wait(timeout=min(wait, 0.05))
