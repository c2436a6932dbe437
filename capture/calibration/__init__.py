"""Per-camera calibration files for multiview tracking: OpenCV FileStorage (YAML or JSON), NeRSemble
`camera_params.json` and COLMAP text models, read into one list of `ViewCalibration` in view order.

Every problem with a file raises `avatar.data.errors.CalibrationError` naming the file and the camera,
key or line; no other exception escapes for any file content (docs/formats.md#calibration-files).
"""

from __future__ import annotations

from capture.calibration.cameras import ViewCalibration, load_calibration

__all__ = ["ViewCalibration", "load_calibration"]
