"""`WebcamSource` opens a camera the way each system names it: /dev/videoN checked on Linux only,
OpenCV's AVFoundation backend on macOS (with the camera permission named when it stays closed),
OpenCV's own pick on Windows. A fake `cv2` records what it was asked, so this runs anywhere."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from viewer.sources import WebcamSource, WebcamUnavailable

CAP_ANY, CAP_AVFOUNDATION = 0, 1200  # OpenCV's values (cv2.videoio_registry)
CAP_PROP_FRAME_WIDTH, CAP_PROP_FRAME_HEIGHT, CAP_PROP_FPS = 3, 4, 5
ABSENT = 97  # a camera number with no /dev/video97 here


class FakeCapture:
    """cv2.VideoCapture's surface that WebcamSource uses; every instance is recorded."""

    opens = True  # what isOpened() answers
    made: list["FakeCapture"] = []

    def __init__(self, index: int, backend: int | None = None):
        self.index, self.backend, self.released = index, backend, False
        FakeCapture.made.append(self)

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.opens

    def get(self, prop: int) -> float:
        return {CAP_PROP_FPS: 24.0, CAP_PROP_FRAME_WIDTH: 1280.0, CAP_PROP_FRAME_HEIGHT: 720.0}[prop]

    def release(self) -> None:
        self.released = True


@pytest.fixture
def cv2(monkeypatch):
    """A fake `cv2` module in place of OpenCV for `import cv2` inside WebcamSource."""
    module = types.SimpleNamespace(
        VideoCapture=FakeCapture,
        CAP_ANY=CAP_ANY,
        CAP_AVFOUNDATION=CAP_AVFOUNDATION,
        CAP_PROP_FPS=CAP_PROP_FPS,
        CAP_PROP_FRAME_WIDTH=CAP_PROP_FRAME_WIDTH,
        CAP_PROP_FRAME_HEIGHT=CAP_PROP_FRAME_HEIGHT,
    )
    monkeypatch.setitem(sys.modules, "cv2", module)
    monkeypatch.setattr(FakeCapture, "made", [])
    monkeypatch.setattr(FakeCapture, "opens", True)
    assert not Path(f"/dev/video{ABSENT}").exists()
    return module


def test_macos_opens_through_avfoundation_without_a_dev_check(cv2, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    source = WebcamSource(ABSENT)
    (capture,) = FakeCapture.made
    assert (capture.index, capture.backend) == (ABSENT, CAP_AVFOUNDATION)
    assert source.fps == 24.0 and source.size == (1280, 720) and source.name == f"webcam {ABSENT}"


def test_macos_names_the_camera_permission_when_the_camera_stays_closed(cv2, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(FakeCapture, "opens", False)
    with pytest.raises(
        WebcamUnavailable,
        match=r"webcam 0 could not be opened \(macOS .* System Settings > "
        r"Privacy & Security > Camera, turn on the terminal",
    ):
        WebcamSource(0)
    assert FakeCapture.made[0].released


def test_windows_leaves_the_backend_to_opencv_without_a_dev_check(cv2, monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    WebcamSource(ABSENT)
    (capture,) = FakeCapture.made
    assert (capture.index, capture.backend) == (ABSENT, CAP_ANY)
    monkeypatch.setattr(FakeCapture, "opens", False)
    with pytest.raises(WebcamUnavailable, match="could not be opened") as closed:
        WebcamSource(1)
    assert "macOS" not in str(closed.value)


def test_linux_checks_dev_video_before_asking_opencv(cv2, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(WebcamUnavailable, match=f"no webcam {ABSENT}: /dev/video{ABSENT} does not exist"):
        WebcamSource(ABSENT)
    assert FakeCapture.made == []
    exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self: str(self) == f"/dev/video{ABSENT}" or exists(self))
    WebcamSource(ABSENT)
    (capture,) = FakeCapture.made
    assert (capture.index, capture.backend) == (ABSENT, CAP_ANY)
