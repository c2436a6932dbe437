"""What the importers share: reading source files with one clear error each, camera-axis
conversions, the default split, the `extra` notes, and writing through `CaptureWriter`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from avatar.data.capture import CameraInfo, Capture, CaptureWriter
from avatar.data.errors import DataFileError, JSONTextError, parse_json
from avatar.data.npz import read_npz as read_bounded_npz
from avatar.rig.params import RigParams

RIG_SPEC = "flame"  # the user trains with `--rig flame:FILE` on the FLAME file the source used
DEFAULT_FPS = 25.0
TEST_FRACTION = 0.15  # when the source has no split: the last 15% of time steps are "test"
# OpenGL/Blender camera axes (x right, y up, z backward) <-> OpenCV (x right, y down, z forward).
GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


class ImportSourceError(DataFileError):
    """Another tracker's output that is missing, malformed, or not in the layout we import."""


@dataclass
class SourceFrame:
    time: int  # index into the imported RigParams
    camera: int  # index into the imported camera list
    image: Path
    mask: Path | None  # a separate 8-bit mask; None = use the image's alpha if it has one


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise ImportSourceError(path, "file not found")
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, JSONTextError) as e:
        raise ImportSourceError(path, f"not readable JSON ({e})") from None
    if not isinstance(data, dict):
        raise ImportSourceError(path, "expected a JSON object at the top level")
    return data


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Plain arrays only, sizes bounded before reading (avatar.data.npz)."""
    return read_bounded_npz(path, ImportSourceError)


def numbers(value, shape: tuple[int | None, ...], what: str, path: Path) -> np.ndarray:
    """`value` as a finite float64 array of `shape` (None = any length there), else one error."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        a = None
    fits = a is not None and a.ndim == len(shape) and all(
        want is None or want == got for want, got in zip(shape, a.shape))
    if fits and np.isfinite(a).all():
        return a
    if a is None:
        got = "something not numeric"
    elif not fits:
        got = f"shape {list(a.shape)}"
    else:
        got = "non-finite values"
    want = ", ".join("N" if s is None else str(s) for s in shape)
    raise ImportSourceError(path, f"{what} must be finite numbers of shape [{want}], got {got}")


def pixel_count(value, what: str, path: Path) -> int:
    """An image width or height: a positive whole number (JSON may spell it 512.0)."""
    v = float(numbers(value, (), what, path))
    if v <= 0 or v != int(v):
        raise ImportSourceError(path, f"{what} must be a positive whole number of pixels, got {v}")
    return int(v)


def check_rotation(r: np.ndarray, what: str, path: Path) -> None:
    """Refuse scaled, sheared or mirrored matrices: our cameras are rigid world-to-camera maps."""
    if not (np.allclose(r @ r.T, np.eye(3), atol=1e-4) and np.linalg.det(r) > 0):
        raise ImportSourceError(path, f"{what} is not a rotation (orthonormal, determinant +1)")


def opengl_c2w_to_opencv_w2c(c2w: np.ndarray) -> np.ndarray:
    """OpenCV world_to_cam [4, 4] from a camera_to_world [4, 4] with OpenGL camera axes: a point
    in OpenCV camera axes is GL_TO_CV times the same point in OpenGL camera axes."""
    return GL_TO_CV @ np.linalg.inv(c2w)


def rotation_6d_to_matrix(d6: np.ndarray, what: str, path: Path) -> np.ndarray:
    """[6] -> [3, 3] in PyTorch3D's 6D layout: the first two ROWS of the matrix, re-made
    orthonormal by Gram-Schmidt; the third row is their cross product."""
    a1, a2 = d6[:3], d6[3:]
    degenerate = ImportSourceError(path, f"{what} is a degenerate 6D rotation {d6.tolist()}")
    if np.linalg.norm(a1) < 1e-9:
        raise degenerate
    b1 = a1 / np.linalg.norm(a1)
    b2 = a2 - (b1 @ a2) * b1
    if np.linalg.norm(b2) < 1e-9:
        raise degenerate
    b2 = b2 / np.linalg.norm(b2)
    return np.stack([b1, b2, np.cross(b1, b2)])


class CameraTable:
    """Distinct cameras in first-seen order; frames with equal size, K and pose share one."""

    def __init__(self):
        self.cameras: list[CameraInfo] = []
        self._index: dict[tuple, int] = {}

    def index(self, name: str, K: np.ndarray, width: int, height: int,
              world_to_cam: np.ndarray) -> int:
        key = (width, height, *np.round(K, 9).ravel(), *np.round(world_to_cam, 9).ravel())
        if key not in self._index:
            self._index[key] = len(self.cameras)
            self.cameras.append(CameraInfo(name, np.asarray(K, np.float64), width, height,
                                           np.asarray(world_to_cam, np.float64)))
        return self._index[key]


def default_splits(frames: list[SourceFrame], num_times: int) -> dict[str, list[int]]:
    """The last TEST_FRACTION of time steps (at least one when there are two or more) -> test."""
    num_test = math.ceil(TEST_FRACTION * num_times) if num_times >= 2 else 0
    first_test = num_times - num_test
    return {"train": [i for i, f in enumerate(frames) if f.time < first_test], "val": [],
            "test": [i for i, f in enumerate(frames) if f.time >= first_test]}


def resolve_fps(fps: float | None) -> tuple[float, str]:
    if fps is None:
        return DEFAULT_FPS, f"the source stores no frame rate; {DEFAULT_FPS:g} assumed"
    return float(fps), "given by the caller"


def import_notes(kind: str, src: Path, params: RigParams, flame_version: str, fps_note: str,
                 mapping: list[str], dropped: list[str]) -> dict:
    """capture.json `extra`: where it came from and how it was mapped, counts as the source has."""
    return {"imported_from": kind, "source": str(src), "flame_version": flame_version,
            "shape_count": int(params.shape.shape[0]), "expr_count": int(params.expr.shape[1]),
            "fps_source": fps_note, "mapping": mapping, "dropped": dropped}


def read_image(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB uint8 [H, W, 3] and, when the file has an alpha channel, alpha uint8 [H, W]."""
    try:
        with Image.open(path) as img:
            alpha = np.array(img.getchannel("A")) if "A" in img.getbands() else None
            rgb = np.array(img.convert("RGB"))
    except (OSError, ValueError) as e:
        raise ImportSourceError(path, f"not a readable image ({e})") from None
    return rgb, alpha


def read_mask(path: Path) -> np.ndarray:
    """uint8 [H, W]; colour masks become their luminance."""
    try:
        with Image.open(path) as img:
            return np.array(img.convert("L"))
    except (OSError, ValueError) as e:
        raise ImportSourceError(path, f"not a readable mask image ({e})") from None


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header."""
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError) as e:
        raise ImportSourceError(path, f"not a readable image ({e})") from None


def write_capture(out: Path, fps: float, cameras: list[CameraInfo], frames: list[SourceFrame],
                  params: RigParams, splits: dict[str, list[int]], extra: dict,
                  overwrite: bool, progress: bool) -> Capture:
    """Copy every frame through `CaptureWriter` (frame i of `frames` becomes capture frame i).

    A bad image stops the import and removes the unfinished `<out>.partial`; a killed process
    leaves only `<out>.partial`, which `load_capture` never takes for a capture.
    """
    for f in frames:
        for what, path in (("image", f.image), ("mask", f.mask)):
            if path is not None and not path.is_file():
                raise ImportSourceError(path, f"{what} listed by the source is missing")
    with CaptureWriter(out, fps, RIG_SPEC, cameras, overwrite=overwrite) as writer:
        for f in tqdm(frames, desc=f"import {Path(out).name}", unit="frame", disable=not progress):
            info = cameras[f.camera]
            rgb, alpha = read_image(f.image)
            mask = read_mask(f.mask) if f.mask is not None else alpha
            for what, path, pixels in (("image", f.image, rgb), ("mask", f.mask or f.image, mask)):
                if pixels is not None and pixels.shape[:2] != (info.height, info.width):
                    raise ImportSourceError(path, f"{what} is {pixels.shape[1]}x{pixels.shape[0]},"
                                            f" the source's camera is {info.width}x{info.height}")
            writer.add_frame(f.time, f.camera, rgb, mask)
        return writer.finish(params, splits, extra)
