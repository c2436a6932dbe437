"""A capture's MediaPipe landmarks in each frame's crop pixels, whatever tracked it.

`avatar track` (one camera) stores them in the crops' pixels (`landmarks.npz` `mediapipe_crop`
[T, 478, 2]); `avatar track --views` stores each view's in its video's pixels (`mediapipe`
[C, T, 478, 3], `seen` [C, T]) beside `report.json`'s crop box of each view. Diagnostics that
compare a frame with its landmarks read them through `crop_landmarks`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from avatar.data.capture import Capture
from capture.crop import CropBox


def crop_landmarks(capture_dir: Path, capture: Capture) -> Callable[[int], np.ndarray | None] | None:
    """frame -> its 478 MediaPipe points [478, 2] in the frame's crop pixels (None where its view
    lost the face at that moment), or None when the capture has no `landmarks.npz`."""
    path = Path(capture_dir) / "landmarks.npz"
    if not path.is_file():
        return None
    stored = np.load(path)
    if "mediapipe_crop" in stored:
        points = stored["mediapipe_crop"]  # [T, 478, 2]
        return lambda frame: points[frame]
    views = json.loads((Path(capture_dir) / "report.json").read_text())["views"]
    boxes = [CropBox(**view["crop_box"]) for view in views]
    mediapipe, seen = stored["mediapipe"], stored["seen"]  # [C, T, 478, 3], [C, T]

    def of_frame(frame: int) -> np.ndarray | None:
        info = capture.frames[frame]
        if not seen[info.camera, info.time]:
            return None
        return boxes[info.camera].apply(mediapipe[info.camera, info.time], capture.cameras[info.camera].width)

    return of_frame
