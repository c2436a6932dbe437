"""NeRSemble `camera_params.json`, the dataset's per-participant camera calibration (what
nersemble-data's `load_camera_calibration` reads)::

    {"world_2_cam": {"<serial>": [[4x4]], ...},   # world-to-camera per camera, OpenCV axes
     "intrinsics": [[3x3]]}                       # one K in pixels, shared by all cameras

Only those two fields are read; others are ignored. Cameras are named by serial and come in the
serials' sorted order as text (NeRSemble's serials all have 9 digits, so that is numeric order too).
K is taken as written. The file has no lens distortion (zeros) and does not say its image size
(width and height None): per the dataset's README the intrinsics are for its full-resolution
3208x2200 frames, so videos at another size need K scaled by the caller.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from capture.calibration.checks import MAX_CAMERAS, Checker, describe
from capture.calibration.view import ViewCalibration


def read_nersemble(path: Path, data: dict) -> list[ViewCalibration]:
    """The cameras of the parsed camera_params.json `data` read from `path`."""
    check = Checker(path)
    poses = data.get("world_2_cam")
    check.that(isinstance(poses, dict) and 0 < len(poses) <= MAX_CAMERAS,
               f"'world_2_cam' must be an object of 1 to {MAX_CAMERAS} serial: 4x4 matrix entries, "
               f"got {describe(poses)}")
    K = check.intrinsics(check.numbers(data.get("intrinsics"), (3, 3), "'intrinsics'"), "'intrinsics'")  # [3, 3]
    views = []
    for serial in sorted(poses):  # JSON keys are strings
        what = f"camera {describe(serial)} (world_2_cam)"
        pose = check.numbers(poses[serial], (4, 4), what)  # [4, 4]
        check.that(bool(np.allclose(pose[3], [0, 0, 0, 1], atol=1e-6)), f"{what}: the last row must be 0 0 0 1")
        R = check.rotation(pose[:3, :3], what)
        views.append(check.view(serial, K, None, R, pose[:3, 3], None, None))
    return views
