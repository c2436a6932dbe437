"""Frame sources for live driving: a webcam, or a video file played as if it were one.

Each runs a capture thread that puts only the newest frame into a `LatestSlot` (a consumer that
falls behind skips frames instead of queueing them), stamped with the time it was captured.
A video is delivered at its own frame rate in real time, so dropped frames and latency are what
a webcam would give.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar.data.livelink_packet import DEFAULT_PORT
from avatar.data.video import probe_video, read_video_frames
from avatar.runtime.errors import InputError
from viewer.latest import LatestSlot
from viewer.worker import Worker


class SourceError(InputError):
    """A --source that cannot be used; the message says which and why."""


class WebcamUnavailable(SourceError):
    pass


@dataclass
class SourceSpec:
    kind: str  # "webcam" | "video" | "expr" | "livelink"
    webcam: int = 0
    path: Path | None = None
    port: int = DEFAULT_PORT  # livelink: the UDP port to listen on (0: any free one)


@dataclass
class Frame:
    rgb: np.ndarray  # [H, W, 3] uint8
    index: int  # frame number since the source started
    captured_at: float  # time.perf_counter() when it became available


def parse_source(text: str) -> SourceSpec:
    """'webcam:N' | 'video:PATH' | 'expr:FILE' | 'livelink[:PORT]' -> SourceSpec (files checked to
    exist)."""
    kind, colon, rest = text.partition(":")
    if kind == "webcam":
        if not rest.isdigit():
            raise SourceError(f"--source '{text}': expected webcam:N with N a camera number, e.g. webcam:0")
        return SourceSpec("webcam", webcam=int(rest))
    if kind in ("video", "expr") and rest:
        path = Path(rest)
        if not path.is_file():
            raise SourceError(f"--source '{text}': {path} is not a file")
        return SourceSpec(kind, path=path)
    if kind == "livelink":
        if not colon:
            return SourceSpec("livelink")
        # ASCII digits, 5 at most, before int(): isdigit() alone passes '²' and 5000-digit text, both ValueErrors there
        if not (rest.isascii() and rest.isdigit() and len(rest) <= 5 and int(rest) <= 65535):
            raise SourceError(
                f"--source '{text}': expected livelink:PORT with PORT a UDP port in 0..65535, "
                f"e.g. livelink:{DEFAULT_PORT} (Live Link Face's default)"
            )
        return SourceSpec("livelink", port=int(rest))
    raise SourceError(f"--source '{text}': expected webcam:N, video:PATH, expr:FILE or livelink[:PORT]")


class FrameSource(Worker):
    """Base: a daemon capture thread feeding `frames`; `ended` is set when no more will come."""

    name = "source"

    def __init__(self, fps: float, size: tuple[int, int]):
        super().__init__(f"capture {self.name}", join_timeout=2.0)
        self.fps, self.size = fps, size  # size = (width, height)
        self.frames: LatestSlot[Frame] = LatestSlot()
        self.ended = threading.Event()

    def _finished(self) -> None:
        self.ended.set()
        self.frames.close()


class VideoAsWebcam(FrameSource):
    """A video file delivered in real time at its frame rate (frames that are due while the
    consumer is busy replace each other, as with a camera)."""

    def __init__(self, path: Path):
        info = probe_video(path)
        if info["fps"] <= 0:
            raise SourceError(f"{path}: the video has no frame rate")
        self.path = path
        self.name = f"video {path.name}"
        super().__init__(info["fps"], (info["width"], info["height"]))

    def _run(self) -> None:
        started = time.perf_counter()
        for i, rgb in enumerate(read_video_frames(self.path)):
            due = started + i / self.fps
            wait = due - time.perf_counter()
            if wait > 0 and self._stop.wait(wait):
                return
            if self._stop.is_set():
                return
            self.frames.put(Frame(rgb, i, time.perf_counter()))


class WebcamSource(FrameSource):
    """Camera N through OpenCV: V4L2 on Linux, AVFoundation on macOS, OpenCV's own pick on Windows
    (Media Foundation, else DirectShow)."""

    def __init__(self, index: int):
        device = Path(f"/dev/video{index}")
        if sys.platform.startswith("linux") and not device.exists():  # only Linux names its cameras so
            raise WebcamUnavailable(
                f"no webcam {index}: {device} does not exist (try --source video:PATH to drive from a file)"
            )
        import cv2  # installed with mediapipe

        # macOS: AVFoundation by name, the backend of its cameras (and of the permission named below).
        backend = cv2.CAP_AVFOUNDATION if sys.platform == "darwin" else cv2.CAP_ANY
        self._capture = cv2.VideoCapture(index, backend)
        if not self._capture.isOpened():
            self._capture.release()
            raise WebcamUnavailable(f"webcam {index} could not be opened ({_why_closed()})")
        fps = self._capture.get(cv2.CAP_PROP_FPS) or 30.0
        size = (int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.name = f"webcam {index}"
        super().__init__(fps, size)

    def _run(self) -> None:
        import cv2

        i = 0
        try:
            while not self._stop.is_set():
                ok, bgr = self._capture.read()  # blocks until the camera delivers
                if not ok:
                    raise SourceError(f"{self.name} stopped delivering frames")
                self.frames.put(Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), i, time.perf_counter()))
                i += 1
        finally:
            self._capture.release()


def _why_closed() -> str:
    """What most often keeps a camera closed on this system, for the error."""
    if sys.platform == "darwin":
        return (
            "macOS opens the camera only for an app allowed to use it: in System Settings > Privacy & "
            "Security > Camera, turn on the terminal (or the app) that runs avatar and start it again; "
            "else the camera is in use or there is no camera with that number"
        )
    return "in use, no such camera, or no permission?"


def open_frame_source(spec: SourceSpec) -> FrameSource:
    if spec.kind == "webcam":
        return WebcamSource(spec.webcam)
    if spec.kind == "video":
        return VideoAsWebcam(spec.path)
    raise SourceError(f"a '{spec.kind}' source delivers rig parameters, not frames")
