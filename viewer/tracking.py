"""`TrackerThread`: newest camera frame -> landmarks -> live rig fit -> avatar parameters.

Runs beside the render loop and publishes into a `LatestSlot`, so a slow tracker lowers the
rate at which the expression updates, never the window's frame rate. The first
`CALIBRATION_FRAMES` frames with a face calibrate the driver's identity and the camera's focal
length (LiveFitter.calibrate); the median head rotation over them becomes the neutral rotation.
The calibration runs on a thread of its own (`Calibrator`: 1.8 s of one idle core; 3.2-3.5 s
beside the live view on two cores, the tracker resting meanwhile) while the tracker goes on driving
the avatar with the rig's mean identity and the prior focal, so the avatar follows the face from
the first frames instead of freezing for those seconds (the head turns at once; a mouth unlike
the mean face's may hardly move until the calibrated fitter takes over on the first frame after
the calibration is done).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from avatar.rig import HeadRig, RigParams
from avatar.rig.torso import SlowTorso
from capture.fit.live import CALIBRATION_FRAMES, LiveFitter
from viewer.latest import LatestSlot
from viewer.one_euro import OneEuroFilter
from viewer.pacing import RenderPace
from viewer.retarget_live import LiveRetarget
from viewer.sources import Frame, FrameSource
from viewer.worker import Worker

# Stopping waits this long for the tracker, which waits for a running calibration: a thread left
# in torch's kernels while the interpreter exits aborts the process (a calibration takes 2-6 s).
CALIBRATION_JOIN_S = 30.0
# While the calibration runs, the tracker rests this many times each frame's tracking time, so
# the calibration gets most of a core even where the live view keeps two cores busy.
CALIBRATION_YIELD = 2.0


@dataclass
class TrackedFrame:
    params: RigParams  # [1] avatar parameters (retargeted, smoothed)
    frame: Frame  # the camera frame they come from (preview, capture time)
    landmarks: np.ndarray  # [478, 3] pixels
    landmark_ms: float
    fit_ms: float
    tracked_at: float  # perf_counter when the parameters were ready
    tracked_expr: np.ndarray  # [E] the live fitter's expression weights, before the retarget

    @property
    def tracker_ms(self) -> float:
        return self.landmark_ms + self.fit_ms


class TrackerThread(Worker):
    def __init__(self, source: FrameSource, rig: HeadRig, retarget: LiveRetarget, smoothing: float = 0.3,
                 pace: RenderPace | None = None):
        """pace: when given, each frame is tracked just in time for the render that will show it."""
        super().__init__("tracker", join_timeout=CALIBRATION_JOIN_S)
        self.source, self.rig, self.retarget, self.pace = source, rig, retarget, pace
        self.filter = OneEuroFilter(smoothing)
        self.torso = SlowTorso()
        self.output: LatestSlot[TrackedFrame] = LatestSlot()
        self.status = "starting"
        self.calibration: dict = {"frames": CALIBRATION_FRAMES, "done": False}
        self._neutral_requested = threading.Event()

    def request_neutral(self) -> None:
        """Take the next tracked frame as the driver's neutral expression and rotation."""
        self._neutral_requested.set()

    def _failed(self) -> None:
        self.status = "failed"

    def _finished(self) -> None:
        self.output.close()

    def _run(self) -> None:
        from capture.landmarks import FaceLandmarker  # mediapipe loads in this thread, not the window's

        torch.set_num_threads(1)  # the fit's tensors are tiny: intra-op threads only slow it down here
        landmarker = FaceLandmarker(video=True)
        calibrator = Calibrator(self.rig, self.source.size)  # runs once the calibration frames are in
        fitter = LiveFitter(self.rig, self.source.size)  # until calibrated: the rig's mean identity, prior focal
        calibration: list[np.ndarray] = []
        tracking_s: deque[float] = deque(maxlen=15)  # the last frames' landmarks + fit
        seen = 0
        try:
            while not self._stop.is_set():
                if self.pace is not None and tracking_s:
                    self.pace.wait_to_track(statistics.median(tracking_s), self._stop)
                seen, frame = self.source.frames.wait_newer(seen, timeout=0.2)
                if frame is None:
                    if self.source.ended.is_set():
                        self.status = "source ended"
                        return
                    continue
                started = time.perf_counter()
                points = landmarker.detect(frame.rgb)
                landmark_ms = 1e3 * (time.perf_counter() - started)
                if points is None:
                    self.status = "no face"
                    fitter.reset()
                    continue
                if len(calibration) < CALIBRATION_FRAMES:
                    calibration.append(points)
                    if len(calibration) == CALIBRATION_FRAMES:
                        calibrator.calibrate(calibration, frame.index)
                elif not self.calibration["done"] and calibrator.done.is_set():
                    fitter = self._calibrated(calibrator, frame.index)
                tracked = self._fit(fitter, frame, points, landmark_ms)
                self.output.put(tracked)
                tracking_s.append(1e-3 * tracked.tracker_ms)
                if len(calibration) == CALIBRATION_FRAMES and not calibrator.done.is_set():
                    self._stop.wait(CALIBRATION_YIELD * 1e-3 * tracked.tracker_ms)  # the calibration's turn
                self.status = "tracking" if self.calibration["done"] else (
                    f"tracking, calibrating {len(calibration)}/{CALIBRATION_FRAMES}"
                    if len(calibration) < CALIBRATION_FRAMES else "tracking, calibrating identity and focal")
        finally:
            landmarker.close()
            calibrator.stop()  # (not started: nothing to stop)
            if not self.calibration["done"] and calibrator.result is not None:  # done after the last frame
                self._calibrated(calibrator, None)

    def _calibrated(self, calibrator: Calibrator, index: int | None) -> LiveFitter:
        """The calibrated fitter, its neutral rotation taken by the retarget (this thread's);
        index: the source frame it drives from, for the stats (None: none, it came too late)."""
        if calibrator.error is not None:
            raise RuntimeError(f"the live calibration failed: {calibrator.error}")
        fitter, neutral, report = calibrator.result
        self.retarget.set_neutral(neutral, expression=False)
        self.torso.reset()  # the head's rotation is now relative to another neutral
        self.calibration.update(report, last_source_frame=calibrator.last_index, calibrated_from_source_frame=index)
        return fitter

    def _fit(self, fitter: LiveFitter, frame: Frame, points: np.ndarray, landmark_ms: float) -> TrackedFrame:
        started = time.perf_counter()
        driver = fitter.fit(points)
        if self._neutral_requested.is_set():
            self._neutral_requested.clear()
            self.retarget.set_neutral(driver)
            self.torso.reset()
        params = live_params(self.retarget, self.filter, self.torso, driver, frame.captured_at)
        done = time.perf_counter()
        return TrackedFrame(params, frame, points, landmark_ms, 1e3 * (done - started), done,
                            driver.expr[0].numpy().copy())


# The tracker's per-frame steps without the thread, shared by TrackerThread and `avatar eval-live`
# (viewer/live_eval.py), which runs them over a capture's video to score what the viewer shows.

def calibrate_fitter(fitter: LiveFitter, rig: HeadRig, landmarks: list[np.ndarray],
                     size: tuple[int, int]) -> tuple[RigParams, dict]:
    """Calibrate the fitter's identity and focal on the landmarks [478, 2+] of the calibration
    frames; returns the neutral (their median head rotation) [1], for the retarget's
    `set_neutral(neutral, expression=False)`, and what the stats report."""
    started = time.perf_counter()
    fitter.calibrate(landmarks, size)
    rotations = torch.cat([fitter.fit(points).rotation for points in landmarks])  # [T, 3]
    fitter.reset()
    neutral = rig.zero_params(1)
    neutral.rotation = rotations.median(dim=0).values[None]
    return neutral, {"done": True, "seconds": time.perf_counter() - started, "focal_px": float(fitter.focal[0]),
                     "neutral_rotation": neutral.rotation[0].tolist()}


def ready_optimisers() -> None:
    """Make the process's first torch.optim optimiser, which imports torch._dynamo: about 0.9 s
    that holds the interpreter. Made while a source plays (by the calibration, say), it freezes the
    tracker and the renders for 0.5-1.2 s of the source; made before (`LiveDriver.start`), it adds
    that much to the start-up instead."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


class Calibrator(Worker):
    """`calibrate_fitter` on a fitter of its own, on its own thread, which `calibrate` starts with
    the calibration frames' landmarks. `done` is set when it has finished: `result` (fitter,
    neutral [1], report) or `error`."""

    def __init__(self, rig: HeadRig, size: tuple[int, int]):
        super().__init__("calibration", join_timeout=CALIBRATION_JOIN_S)
        self.rig, self.size = rig, size
        self.landmarks: list[np.ndarray] = []
        self.last_index: int | None = None  # the source frame of the last calibration landmarks
        self.result: tuple[LiveFitter, RigParams, dict] | None = None
        self.done = threading.Event()

    def calibrate(self, landmarks: list[np.ndarray], last_index: int) -> None:
        """Calibrate on these landmarks [478, 2+] of the calibration frames, the last of them
        source frame last_index (for the stats)."""
        self.landmarks, self.last_index = list(landmarks), last_index
        self.start()

    def _run(self) -> None:
        torch.set_num_threads(1)  # beside the tracker, the renders and the level of detail's build
        fitter = LiveFitter(self.rig, self.size)
        neutral, report = calibrate_fitter(fitter, self.rig, self.landmarks, self.size)
        self.result = (fitter, neutral, report)

    def _finished(self) -> None:
        self.done.set()


def live_params(retarget: LiveRetarget, smoothing: OneEuroFilter, torso: SlowTorso, driver: RigParams,
                t: float) -> RigParams:
    """Avatar params [1] of one fitted driver frame [1] at time t (seconds): retargeted, smoothed,
    the head's rotation shared between a slow torso and the neck (as `avatar track` shares it)."""
    return torso(_smoothed(smoothing, retarget(driver), t), t)


def _smoothed(smoothing: OneEuroFilter, p: RigParams, t: float) -> RigParams:
    sizes = [p.expr.shape[1], 3, 3, 6]
    vector = torch.cat([p.expr[0], p.jaw[0], p.rotation[0], p.eyes[0]]).numpy()  # [E + 12]
    parts = torch.from_numpy(smoothing(vector, t)).float().split(sizes)
    return RigParams(p.shape, parts[0][None], parts[1][None], p.neck, parts[2][None], parts[3][None],
                     p.translation)
