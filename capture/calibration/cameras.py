"""The one door to calibration files: `load_calibration` picks the format and checks the camera count.

The format is chosen by what `path` is: a folder, cameras.txt or images.txt is a COLMAP text model
(`colmap`); a .yml / .yaml file, or one whose text starts with `%YAML`, is OpenCV FileStorage YAML
(`opencv_storage`); a .json file, or one whose text starts with `{`, is NeRSemble's
camera_params.json when it has "world_2_cam" (`nersemble`) and OpenCV FileStorage JSON otherwise.
"""

from __future__ import annotations

from pathlib import Path

from avatar.data.errors import CalibrationError, JSONTextError, parse_json
from capture.calibration.checks import read_text
from capture.calibration.colmap import MODEL_FILES, read_colmap
from capture.calibration.nersemble import read_nersemble
from capture.calibration.opencv_storage import read_opencv_json, read_opencv_yaml
from capture.calibration.view import ViewCalibration

__all__ = ["ViewCalibration", "load_calibration"]

KNOWN = ("OpenCV FileStorage (.yml, .yaml, .json), NeRSemble camera_params.json, or a COLMAP text model "
         "(a folder with cameras.txt and images.txt)")


def load_calibration(path: str | Path, num_views: int) -> list[ViewCalibration]:
    """The cameras of `path` in view order (exactly num_views of them, else an error); the format is
    chosen by content and extension. Raises CalibrationError naming the file and the problem."""
    path = Path(path)
    if path.is_dir() or path.name in MODEL_FILES:  # COLMAP: a view per image of images.txt
        views, counted, thing = read_colmap(path), (path if path.is_dir() else path.parent) / "images.txt", "image"
    else:
        views, counted, thing = _read_file(path), path, "camera"
    if len(views) != num_views:
        raise CalibrationError(counted, f"has {_count(len(views), thing)}, {_count(num_views, 'video')} "
                               f"{'was' if num_views == 1 else 'were'} given")
    return views


def _read_file(path: Path) -> list[ViewCalibration]:
    if not path.exists():
        raise CalibrationError(path, "calibration file not found")
    suffix = path.suffix.lower()
    if suffix == ".xml":
        raise CalibrationError(path, "OpenCV XML is not read: write the calibration as YAML or JSON "
                               "(cv2.FileStorage with a .yml or .json name)")
    text = read_text(path)
    start = text.lstrip()[:5]
    if suffix in (".yml", ".yaml") or start == "%YAML":
        return read_opencv_yaml(path, text)
    if suffix == ".json" or start.startswith("{"):
        try:
            data = parse_json(text)  # guarded: deep nesting and 400-digit numbers are refused, not raised
        except JSONTextError as e:
            raise CalibrationError(path, f"not readable JSON ({e})") from None
        if isinstance(data, dict) and "world_2_cam" in data:
            return read_nersemble(path, data)
        return read_opencv_json(path, data)
    raise CalibrationError(path, f"not a calibration file this reader knows: {KNOWN}")


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"
