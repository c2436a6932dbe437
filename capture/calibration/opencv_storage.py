"""OpenCV FileStorage calibrations: the YAML that `cv2.FileStorage` writes (`%YAML:1.0` header,
`!!opencv-matrix` nodes) and its JSON form (each matrix an object with "type_id": "opencv-matrix").

The accepted layout is one top-level map with, for each camera i = 0, 1, ...::

    num_cameras: 2            # optional; without it, cameras 0, 1, ... for as long as K_{i} exists
    K_0: !!opencv-matrix      # 3x3 intrinsics in pixels (also spelt camera_matrix_0)
       rows: 3
       cols: 3
       dt: d
       data: [ fx, 0., cx, 0., fy, cy, 0., 0., 1. ]
    dist_0: ...               # optional 1xk or kx1, k in 4, 5, 8, 12, 14 (also distortion_coefficients_0)
    R_0: ...                  # world-to-camera rotation: 3x3 matrix, or 3x1 / 1x3 Rodrigues vector
    t_0: ...                  # world-to-camera translation, 3x1 or 1x3: x_cam = R x_world + t
    image_width_0: 1920       # optional plain integers, both or neither: the image size K is for
    image_height_0: 1080

A matrix is read from `rows`, `cols` and `data` (rows x cols numbers, row-major); `dt` must name one
channel (u c w s i f d). Other keys are ignored. Cameras are named "0", "1", ... and come in index
order. OpenCV puts pixel centres at integer coordinates, the engine at +0.5: cx and cy are read
+ 0.5.

The YAML is parsed by PyYAML's pure-Python safe loader, not cv2.FileStorage: that segfaults on
deeply nested input (4.11), which no `except` can catch. The loader takes about 5 s a megabyte, so
YAML files are limited to MAX_YAML_CHARS.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from capture.calibration.checks import MAX_CAMERAS, MAX_IMAGE_SIDE, Checker, describe
from capture.calibration.view import ViewCalibration

MAX_YAML_CHARS = 1 << 20  # a 100-camera calibration is about 100 kB
CHANNEL_TYPES = ("u", "c", "w", "s", "i", "f", "d")  # FileStorage's one-channel element types
K_KEYS, DIST_KEYS = ("K", "camera_matrix"), ("dist", "distortion_coefficients")


class _Matrix(dict):
    """The fields of one `!!opencv-matrix` YAML node."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that also takes OpenCV's `!!opencv-matrix` mappings."""


def _construct_matrix(loader: _Loader, node: yaml.Node) -> _Matrix:
    return _Matrix(loader.construct_mapping(node, deep=True))  # a tag on a non-map is a ConstructorError


_Loader.add_constructor("tag:yaml.org,2002:opencv-matrix", _construct_matrix)


def read_opencv_yaml(path: Path, text: str) -> list[ViewCalibration]:
    """The cameras of an OpenCV FileStorage YAML text read from `path`."""
    check = Checker(path)
    check.that(len(text) <= MAX_YAML_CHARS, f"is {len(text) / 2**20:.1f} MB of YAML, more than the "
               f"{MAX_YAML_CHARS / 2**20:g} MB an OpenCV calibration may be")
    header = text.startswith("%YAML:")  # OpenCV's directive; PyYAML reads only '%YAML 1.x'
    body = text.partition("\n")[2] if header else text
    try:
        root = yaml.load(body, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1 + int(header)}" if mark is not None else ""
        check.fail(f"not YAML this reader takes ({e.problem or e.context or 'syntax error'}{where})")
    except RecursionError:
        check.fail("not YAML this reader takes (nested too deeply)")
    except (yaml.YAMLError, ValueError, OverflowError, TypeError) as e:  # e.g. an int of 5000 digits
        check.fail(f"not YAML this reader takes ({(str(e) or type(e).__name__).splitlines()[0].split('; ')[0]})")
    return read_opencv_storage(check, root)


def read_opencv_json(path: Path, root: object) -> list[ViewCalibration]:
    """The cameras of the JSON value `root` of an OpenCV FileStorage JSON file at `path`."""
    return read_opencv_storage(Checker(path), root)


def read_opencv_storage(check: Checker, root: object) -> list[ViewCalibration]:
    check.that(root is not None, "holds no calibration (an empty YAML or JSON document)")
    check.that(isinstance(root, dict), f"expected a map of keys K_0, R_0, t_0, ... at the top, got {describe(root)}")
    if "num_cameras" in root:
        count = check.integer(root["num_cameras"], "'num_cameras'", 1, MAX_CAMERAS)
    else:
        count = 0
        while count < MAX_CAMERAS and _key(check, root, count, K_KEYS) is not None:
            count += 1
        check.that(count > 0, "no cameras: expected keys K_0 (or camera_matrix_0), R_0, t_0, ...")
    return [_camera(check, root, i) for i in range(count)]


def _camera(check: Checker, root: dict, i: int) -> ViewCalibration:
    k_key = _key(check, root, i, K_KEYS)
    check.that(k_key is not None, f"camera {i}: missing key K_{i} (or camera_matrix_{i})")
    K = check.intrinsics(_matrix(check, root[k_key], f"camera {i} ({k_key})", ((3, 3),)), f"camera {i} ({k_key})")
    K[:2, 2] += 0.5  # [2] OpenCV's pixel centres sit at integers, the engine's at +0.5
    dist_key = _key(check, root, i, DIST_KEYS)
    dist = None
    if dist_key is not None:
        what = f"camera {i} ({dist_key})"
        d = _matrix(check, root[dist_key], what, None)
        check.that(1 in d.shape, f"{what}: distortion must be 1xk or kx1, got {d.shape[0]}x{d.shape[1]}")
        dist = check.distortion(d, what)
    for key in (f"R_{i}", f"t_{i}"):
        check.that(key in root, f"camera {i}: missing key {key}")
    r = _matrix(check, root[f"R_{i}"], f"camera {i} (R_{i})", ((3, 3), (3, 1), (1, 3)))
    R = check.rotation(r, f"camera {i} (R_{i})") if r.shape == (3, 3) else check.rotation_vector(r.reshape(3))
    t = _matrix(check, root[f"t_{i}"], f"camera {i} (t_{i})", ((3, 1), (1, 3))).reshape(3)
    width, height = root.get(f"image_width_{i}"), root.get(f"image_height_{i}")
    check.that((width is None) == (height is None),
               f"camera {i}: give both image_width_{i} and image_height_{i}, or neither")
    if width is not None:
        width = check.integer(width, f"camera {i}: image_width_{i}", 1, MAX_IMAGE_SIDE)
        height = check.integer(height, f"camera {i}: image_height_{i}", 1, MAX_IMAGE_SIDE)
    return check.view(str(i), K, dist, R, t, width, height)


def _key(check: Checker, root: dict, i: int, names: tuple[str, ...]) -> str | None:
    """The one of the spellings `names` (suffixed _i) that `root` has, or None."""
    present = [f"{name}_{i}" for name in names if f"{name}_{i}" in root]
    check.that(len(present) <= 1, f"camera {i}: both {' and '.join(present)} are given")
    return present[0] if present else None


def _matrix(check: Checker, node: object, what: str, shapes: tuple[tuple[int, int], ...] | None) -> np.ndarray:
    """An opencv-matrix node as a float64 array [rows, cols], of one of `shapes` (any size when None)."""
    is_matrix = isinstance(node, _Matrix) or (isinstance(node, dict) and node.get("type_id") == "opencv-matrix")
    check.that(is_matrix, f"{what} must be an opencv-matrix (rows, cols, dt, data), got {describe(node)}")
    rows = check.integer(node.get("rows"), f"{what}: 'rows'", 1, 64)
    cols = check.integer(node.get("cols"), f"{what}: 'cols'", 1, 64)
    dt = node.get("dt")
    check.that(shapes is None or (rows, cols) in shapes, f"{what} must be "
               f"{' or '.join(f'{r}x{c}' for r, c in shapes or ())}, got {rows}x{cols}")
    check.that(dt in CHANNEL_TYPES, f"{what}: 'dt' must be one of {' '.join(CHANNEL_TYPES)}, got {describe(dt)}")
    return check.numbers(node.get("data"), (rows * cols,), f"{what}: 'data'").reshape(rows, cols)
