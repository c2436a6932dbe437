"""Fit an avatar's `LiveMap` from its capture: the live fitter run over the capture's own landmarks
as the viewer runs it, against the parameters the avatar was trained on.

The viewer calibrates the live fitter's identity and focal on the first CALIBRATION_FRAMES frames
with a face and then fits each frame warm-started from the last (`viewer.tracking`); here the
same happens over the landmarks `avatar track` stored (landmarks.npz: MediaPipe's, on the full
frames, in video order), so no video is decoded. The map is fitted on the training frames only:
held-out frames stay held out for `avatar eval-live`.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from avatar.data.capture import Capture
from avatar.data.retarget import resting_expression
from avatar.data.video import probe_video
from avatar.model import Avatar, LiveMap
from avatar.training.finishers import Finisher
from capture.fit.live import CALIBRATION_FRAMES, LiveFitter

log = logging.getLogger("avatar")


class NoLiveMap(Exception):
    """Why a capture cannot give a live map; `damaged`: a side file is there but unreadable."""

    def __init__(self, reason: str, damaged: bool = False):
        super().__init__(reason)
        self.damaged = damaged


def fit_live_map(avatar: Avatar, capture: Capture) -> LiveMap | None:
    """The avatar's live map from its capture onto the tracking it was trained on (the capture's
    own); None (and why, logged) when the capture cannot give one: not tracked by `avatar track`
    (from one video, or from synchronized views: then on the landmarks of one training view,
    `_live_view`), or its landmarks or frame size are missing
    or unreadable (a training run is not lost to a damaged side file: the avatar is written
    without a map)."""
    try:
        live = live_fits(avatar, capture)
    except NoLiveMap as e:
        (log.warning if e.damaged else log.info)("no live map: %s", e)
        return None
    train = [f for f in capture.splits.get("train", []) if capture.frames[f].time in live]
    if len(train) < 2:
        log.info("no live map: %s has too few training frames with landmarks", capture.root)
        return None
    x = torch.stack([live[capture.frames[f].time] for f in train])  # [T, P]
    y = LiveMap.vector(capture.params.select([capture.frames[f].time for f in train])).double()  # [T, P]
    e = avatar.rig.num_expr
    rest = torch.cat([resting_expression(x[:, :e]).double(), x[:, e:].median(0).values])
    return LiveMap.fit(x, y, rest)


def live_fits(avatar: Avatar, capture: Capture) -> dict[int, torch.Tensor]:
    """{tracked frame (time step): [P] the live fitter's expressions, jaw and eyes} over the
    capture's landmarks in video order, calibrated on the first CALIBRATION_FRAMES as the viewer
    does. NoLiveMap says why when the capture cannot give them."""
    generator = capture.extra.get("generator")
    if generator == "capture.track_views":  # one view's landmarks: a webcam is one camera too
        view = _live_view(capture)
        points, times = _view_landmarks(capture, view)  # [N, 478, 3], [N] the time steps it saw the face at
        order = np.arange(len(times))  # already in time order
    elif generator == "capture.track":
        if len(capture.extra.get("videos") or []) != 1:
            raise NoLiveMap(f"{capture.root} was tracked from {len(capture.extra.get('videos') or [])} videos, "
                            "not one")
        view = 0
        points, frames = _landmarks(capture, len(capture.params.expr))  # [T, 478, 3], [T] video frame indices
        times, order = np.arange(len(points)), np.argsort(frames, kind="stable")
    else:
        raise NoLiveMap(f"{capture.root} was not made by `avatar track`")
    size = frame_size(capture, view)
    if size is None:
        raise NoLiveMap(f"{capture.root} records neither its frame size nor a video that can be read")
    fitter = LiveFitter(avatar.rig.to(device="cpu"), size)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the viewer's tracker: the fit's tensors are tiny
    try:
        fitter.calibrate([points[i] for i in order[:CALIBRATION_FRAMES]], size)
        return {int(times[i]): LiveMap.vector(fitter.fit(points[i]))[0].double() for i in order}
    finally:
        torch.set_num_threads(threads)


def attach_live_map(capture: Capture) -> Finisher:
    """For `train(..., finish=)`: the trained avatar gets its live map, onto the tracking it was
    trained on, before it is written."""
    def attach(avatar: Avatar) -> None:
        avatar.live_map = fit_live_map(avatar, capture)
        if avatar.live_map is not None:
            log.info("live map fitted on %d training frames' live fits", len(capture.splits.get("train", [])))
    return attach


def frame_size(capture: Capture, video: int = 0) -> tuple[int, int] | None:
    """(width, height) of the frames of the capture's video `video`: recorded by `avatar track`,
    else read from its recorded video when that is found."""
    sizes = capture.extra.get("frame_sizes")
    if sizes and len(sizes) > video:
        return int(sizes[video][0]), int(sizes[video][1])
    path = capture.recorded_video()
    if path is None:
        return None
    info = probe_video(path)
    return int(info["width"]), int(info["height"])


def _live_view(capture: Capture) -> int:
    """The view of a multiview capture whose landmarks the live map is fitted on: the training
    camera that saw the face in the most moments (a webcam is one camera too)."""
    trained = sorted({capture.frames[f].camera for f in capture.splits.get("train", [])})
    if not trained:
        raise NoLiveMap(f"{capture.root} has no training frames")
    seen = _read(capture.root / "landmarks.npz", ("seen",))[0]
    if seen.ndim != 2 or seen.shape[0] <= max(trained):
        raise NoLiveMap(f"{capture.root / 'landmarks.npz'} does not say which views saw the face", damaged=True)
    return max(trained, key=lambda c: (int(seen[c].sum()), -c))


def _view_landmarks(capture: Capture, view: int) -> tuple[np.ndarray, np.ndarray]:
    """(points [N, 478, 3], time step [N]) of `view` of a multiview capture, at the moments it saw
    the face (the others get no live fit)."""
    points, seen = _read(capture.root / "landmarks.npz", ("mediapipe", "seen"))
    if points.ndim != 4 or points.shape[2:] != (478, 3) or points.shape[:2] != seen.shape:
        raise NoLiveMap(f"{capture.root / 'landmarks.npz'} does not hold MediaPipe's 478 landmarks per view and "
                        "moment", damaged=True)
    if seen.shape[1] != len(capture.params.expr):
        raise NoLiveMap(f"{capture.root / 'landmarks.npz'} has {seen.shape[1]} moments, the capture "
                        f"{len(capture.params.expr)}", damaged=True)
    times = np.flatnonzero(seen[view])
    return points[view, times].astype(np.float64), times


def _read(path, keys: tuple[str, ...]) -> list[np.ndarray]:
    """The arrays `keys` of the .npz `path`; NoLiveMap when it is missing or unreadable."""
    if not path.is_file():
        raise NoLiveMap(f"{path.parent} has no landmarks.npz")
    try:
        with np.load(path) as data:
            return [np.asarray(data[k]) for k in keys]
    except (OSError, KeyError, ValueError) as e:
        raise NoLiveMap(f"{path}: {e}", damaged=True) from None


def _landmarks(capture: Capture, num_times: int) -> tuple[np.ndarray, np.ndarray]:
    """(points [T, 478, 3], video frame [T]) of landmarks.npz, read once and checked against the
    capture's T time steps; NoLiveMap when it is missing or does not hold them."""
    path = capture.root / "landmarks.npz"
    points, frames = _read(path, ("mediapipe", "frame"))
    points = points.astype(np.float64)
    if points.ndim != 3 or points.shape[1:] != (478, 3) or frames.shape != points.shape[:1]:
        raise NoLiveMap(f"{path} does not hold MediaPipe's 478 landmarks per tracked frame", damaged=True)
    if len(points) != num_times:
        raise NoLiveMap(f"{path} has {len(points)} frames, the capture {num_times}", damaged=True)
    return points, frames
