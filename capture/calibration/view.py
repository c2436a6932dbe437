"""One camera of a calibration file, in the engine's conventions whatever the file's format."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ViewCalibration:
    name: str  # the camera's name or serial in the file ("0", "222200037", "cam_03.png", ...)
    # [3, 3] float64 intrinsics in pixels of the file's image size, pixel centres at +0.5 (the engine's
    # convention, avatar/splat/camera.py): readers of formats with centres at integers shift cx, cy
    K: np.ndarray
    # [k] float64 OpenCV distortion coefficients (k1 k2 p1 p2 [k3 ...]); zeros when the file has none
    distortion: np.ndarray
    # [4, 4] float64 OpenCV convention (x right, y down, z forward); rigid: R orthonormal, det +1
    world_to_cam: np.ndarray
    width: int | None  # the image size the intrinsics are for, when the file says
    height: int | None
