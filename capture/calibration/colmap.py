"""COLMAP text models (`colmap model_converter --output_type TXT`): a folder holding cameras.txt and
images.txt, or the path of either file (the other is read beside it).

cameras.txt, one camera a line: `CAMERA_ID MODEL WIDTH HEIGHT PARAMS...` with MODEL and PARAMS one of

    SIMPLE_PINHOLE f cx cy          PINHOLE fx fy cx cy         SIMPLE_RADIAL f cx cy k
    RADIAL f cx cy k1 k2            OPENCV fx fy cx cy k1 k2 p1 p2
    FULL_OPENCV fx fy cx cy k1 k2 p1 p2 k3 k4 k5 k6

Other models (OPENCV_FISHEYE, ...) are refused by name. Distortion becomes OpenCV's (k1, k2, p1,
p2[, k3, k4, k5, k6]): SIMPLE_RADIAL (k, 0, 0, 0), RADIAL (k1, k2, 0, 0), OPENCV and FULL_OPENCV
(OpenCV's rational model) as written; zeros for the pinhole models.

images.txt, two lines an image: `IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`, then its 2-D points
(`X Y POINT3D_ID` triples, skipped; the line may be empty, as COLMAP writes it for images without
points). (QW, QX, QY, QZ) is the unit quaternion of the world-to-camera rotation and (TX, TY, TZ) its
translation, in COLMAP's camera axes, which are OpenCV's (x right, y down, z forward). Lines starting
with '#' and blank lines between images are skipped.

Views are the images sorted by NAME and named by it; each takes the intrinsics and image size of its
CAMERA_ID. COLMAP puts pixel centres at +0.5, as the engine does: K is taken as written. Binary
models (cameras.bin, images.bin) are refused with the command that converts them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from capture.calibration.checks import MAX_CAMERAS, MAX_IMAGE_SIDE, Checker, describe, read_text
from capture.calibration.view import ViewCalibration

MODEL_FILES = ("cameras.txt", "images.txt")
MODELS = {
    "SIMPLE_PINHOLE": 3,
    "PINHOLE": 4,
    "SIMPLE_RADIAL": 4,
    "RADIAL": 5,
    "OPENCV": 8,
    "FULL_OPENCV": 12,
}  # -> PARAMS
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


def read_colmap(path: Path) -> list[ViewCalibration]:
    """The views of the COLMAP text model at `path` (its folder, cameras.txt or images.txt)."""
    folder = path if path.is_dir() else path.parent
    cameras_txt, images_txt = (folder / name for name in MODEL_FILES)
    if not cameras_txt.is_file() or not images_txt.is_file():
        binary = (folder / "cameras.bin").is_file()
        Checker(folder).fail(
            f"a binary COLMAP model: convert it with `colmap model_converter --input_path {folder} --output_path "
            f"{folder} --output_type TXT`"
            if binary
            else "is not a COLMAP text model: cameras.txt and images.txt are not both there"
        )
    return _images(images_txt, _cameras(cameras_txt), cameras_txt.name)


def _cameras(path: Path) -> dict[int, tuple[np.ndarray, np.ndarray, int, int]]:
    """CAMERA_ID -> (K [3, 3], distortion [4], width, height) of cameras.txt."""
    check = Checker(path)
    cameras: dict[int, tuple[np.ndarray, np.ndarray, int, int]] = {}
    for number, line in enumerate(read_text(path).splitlines(), 1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        where = f"line {number}"
        check.that(len(tokens) >= 4, f"{where}: expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS...")
        camera = _integer(check, tokens[0], f"{where}: CAMERA_ID")
        check.that(camera not in cameras, f"{where}: camera {camera} is listed twice")
        check.that(len(cameras) < MAX_CAMERAS, f"{where}: more than {MAX_CAMERAS} cameras")
        model = tokens[1]
        check.that(
            model in MODELS,
            f"{where}: camera model {describe(model)} is not read (only "
            f"{', '.join(MODELS)}: undistort the images with `colmap image_undistorter` first)",
        )
        width, height = (
            check.integer(_integer(check, token, f"{where}: {side}"), f"{where}: {side}", 1, MAX_IMAGE_SIDE)
            for token, side in ((tokens[2], "WIDTH"), (tokens[3], "HEIGHT"))
        )
        check.that(
            len(tokens) == 4 + MODELS[model],
            f"{where}: a {model} camera has {MODELS[model]} parameters, got {len(tokens) - 4}",
        )
        params = check.numbers(_floats(check, tokens[4:], where), (MODELS[model],), f"{where}: PARAMS")
        K, distortion = _intrinsics(model, params)
        cameras[camera] = (check.intrinsics(K, f"{where} (camera {camera})"), distortion, width, height)
    check.that(bool(cameras), "lists no cameras")
    return cameras


def _intrinsics(model: str, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """K [3, 3] and OpenCV distortion (k1, k2, p1, p2) [4], or [8] for FULL_OPENCV, of a camera's
    model and parameters."""
    fx, fy, cx, cy = (p[0], p[0], p[1], p[2]) if model.startswith(("SIMPLE", "RADIAL")) else p[:4]
    distortion = np.zeros(4)
    if model == "SIMPLE_RADIAL":
        distortion[0] = p[3]
    elif model == "RADIAL":
        distortion[:2] = p[3:5]
    elif model == "OPENCV":
        distortion[:] = p[4:8]
    elif model == "FULL_OPENCV":
        distortion = np.array(p[4:12], dtype=np.float64)
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]), distortion


def _images(
    path: Path, cameras: dict[int, tuple[np.ndarray, np.ndarray, int, int]], cameras_name: str
) -> list[ViewCalibration]:
    check = Checker(path)
    views: dict[str, ViewCalibration] = {}
    points_of = None  # the line number of the image whose 2-D points line comes next
    for number, line in enumerate(read_text(path).splitlines(), 1):
        if points_of is not None:  # read over, but a missing points line would shift every image after it
            check.that(
                len(line.split()) % 3 == 0,
                f"line {number}: expected the 2-D points of the image on "
                f"line {points_of} (X Y POINT3D_ID triples, or an empty line)",
            )
            points_of = None
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"line {number}"
        tokens = line.split(maxsplit=9)
        check.that(len(tokens) == 10, f"{where}: expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME")
        _integer(check, tokens[0], f"{where}: IMAGE_ID")
        pose = check.numbers(_floats(check, tokens[1:8], where), (7,), f"{where}: QW QX QY QZ TX TY TZ")  # [7]
        camera = _integer(check, tokens[8], f"{where}: CAMERA_ID")
        name = tokens[9].strip()
        check.that(
            camera in cameras,
            f"{where}: image {describe(name)} has camera {camera}, which {cameras_name} does not list",
        )
        check.that(name not in views, f"{where}: image {describe(name)} is listed twice")
        check.that(len(views) < MAX_CAMERAS, f"{where}: more than {MAX_CAMERAS} images")
        K, distortion, width, height = cameras[camera]
        R = check.quaternion(pose[:4], f"{where} (image {describe(name)})")
        views[name] = check.view(name, K, distortion, R, pose[4:], width, height)
        points_of = number
    check.that(bool(views), "lists no images")
    return [views[name] for name in sorted(views)]


def _integer(check: Checker, token: str, what: str) -> int:
    check.that(_INTEGER.fullmatch(token) is not None, f"{what} must be an integer, got {describe(token)}")
    return int(token)


def _floats(check: Checker, tokens: list[str], where: str) -> list[float]:
    try:
        return [float(token) for token in tokens]  # 'nan', 'inf' and 400-digit numbers pass: numbers() refuses them
    except ValueError:
        check.fail(f"{where}: expected numbers, got {describe(' '.join(tokens))}")
