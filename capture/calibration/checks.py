"""What every calibration reader shares: reading a file's text safely and checking its numbers.

Each check raises CalibrationError about one file with a problem that starts with where it is
(`camera 2 (K_2)`, `line 7`), so a message reads `<file>: camera 2 (K_2): focal lengths must be
positive, got fx -5, fy 800`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import numpy as np
from scipy.spatial.transform import Rotation

from avatar.data.errors import CalibrationError
from capture.calibration.view import ViewCalibration

MAX_FILE_BYTES = 16 << 20  # refused before reading: a rig's calibration is kilobytes
MAX_CAMERAS = 1000
MAX_MAGNITUDE = 1e9  # larger numbers are refused: no calibration holds them, and they overflow later maths
MAX_IMAGE_SIDE = 1 << 16  # pixels
ROTATION_TOLERANCE = 1e-3  # |R R^T - I| and |quaternion| - 1: files write rotations to a few decimals
DISTORTION_COUNTS = (4, 5, 8, 12, 14)  # the lengths OpenCV's distortion models take
NO_DISTORTION = 5  # k1 k2 p1 p2 k3 all zero


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of `path` (a byte-order mark dropped); CalibrationError when it is missing,
    too large (checked before reading), binary or not UTF-8."""
    try:
        size = path.stat().st_size
        data = b""
        if size <= max_bytes:
            with path.open("rb") as f:
                data = f.read(max_bytes + 1)  # +1: a file that grew since stat() is still refused
    except OSError as e:
        raise CalibrationError(path, f"cannot be read ({e.strerror or e})") from None
    if size > max_bytes or len(data) > max_bytes:
        raise CalibrationError(path, f"is {max(size, len(data)) / 2**20:.1f} MB, larger than the "
                               f"{max_bytes / 2**20:g} MB a calibration file may be")
    if b"\0" in data:
        raise CalibrationError(path, "is a binary file, not a text calibration")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CalibrationError(path, f"is not UTF-8 text ({e.reason} at byte {e.start})") from None


def describe(value: object) -> str:
    """A short, printable account of a value from a file, for messages (never a whole structure)."""
    if isinstance(value, (bool, int, float)) or value is None:
        text = repr(value) if not isinstance(value, int) or abs(value) < 10**20 else "a huge integer"
    elif isinstance(value, str):
        text = repr(value[:40] + ("..." if len(value) > 40 else ""))
    else:
        text = "a map" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__
    return text


class Checker:
    """Validation helpers that raise CalibrationError about one file."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def fail(self, problem: str) -> NoReturn:
        raise CalibrationError(self.path, problem)

    def that(self, ok: bool, problem: str) -> None:
        if not ok:
            self.fail(problem)

    def numbers(self, value: object, shape: tuple[int, ...], what: str) -> np.ndarray:
        """`value`, nested lists of real numbers of exactly `shape`, as a float64 array; finite and
        at most MAX_MAGNITUDE. Strings, booleans and ragged lists are refused (numpy would take some)."""
        flat = _flatten(value, shape)
        if flat is None:
            self.fail(f"{what} must be {_shape_text(shape)} of numbers, got {describe(value)}")
        try:
            array = np.array([float(v) for v in flat], dtype=np.float64).reshape(shape)
        except OverflowError:  # an integer beyond float range (YAML integers have no digit limit)
            array = np.full(shape, np.inf)
        self.that(bool(np.isfinite(array).all()) and float(np.abs(array).max(initial=0.0)) <= MAX_MAGNITUDE,
                  f"{what} must hold finite numbers of magnitude at most {MAX_MAGNITUDE:g}")
        return array

    def integer(self, value: object, what: str, low: int, high: int) -> int:
        self.that(isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
                  f"{what} must be an integer in [{low}, {high}], got {describe(value)}")
        return int(value)  # type: ignore[arg-type]

    def intrinsics(self, K: np.ndarray, what: str) -> np.ndarray:
        """K [3, 3] as it is, when it is a pinhole matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]]."""
        self.that(K[0, 0] > 0 and K[1, 1] > 0,
                  f"{what}: focal lengths must be positive, got fx {K[0, 0]:g}, fy {K[1, 1]:g}")
        self.that(bool(np.allclose(K[2], [0, 0, 1], atol=1e-6)) and abs(K[1, 0]) <= 1e-6 * K[1, 1],
                  f"{what}: must be a pinhole matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]]")
        return K

    def rotation(self, R: np.ndarray, what: str) -> np.ndarray:
        """R [3, 3] made exactly orthonormal (the nearest rotation), when it is one within ROTATION_TOLERANCE."""
        error = float(np.abs(R @ R.T - np.eye(3)).max())
        det = float(np.linalg.det(R))
        self.that(error <= ROTATION_TOLERANCE and det > 0,
                  f"{what}: not a rotation (R R^T differs from the identity by {error:.2g}, det {det:.3g})")
        u, _, vt = np.linalg.svd(R)
        return u @ vt  # [3, 3] det +1: R is already within 1e-3 of a rotation

    def rotation_vector(self, r: np.ndarray) -> np.ndarray:
        """R [3, 3] of a Rodrigues (axis times angle in radians) vector r [3]."""
        return Rotation.from_rotvec(r).as_matrix()

    def quaternion(self, q: np.ndarray, what: str) -> np.ndarray:
        """R [3, 3] of a unit quaternion q [4] = (w, x, y, z)."""
        norm = float(np.linalg.norm(q))
        self.that(abs(norm - 1) <= ROTATION_TOLERANCE, f"{what}: the quaternion has length {norm:.4g}, not 1")
        return Rotation.from_quat(np.roll(q / norm, -1)).as_matrix()  # scipy takes (x, y, z, w)

    def distortion(self, d: np.ndarray, what: str) -> np.ndarray:
        self.that(d.size in DISTORTION_COUNTS, f"{what}: OpenCV distortion has "
                  f"{', '.join(map(str, DISTORTION_COUNTS))} coefficients, got {d.size}")
        return d.reshape(-1)

    def view(self, name: str, K: np.ndarray, distortion: np.ndarray | None, R: np.ndarray, t: np.ndarray,
             width: int | None, height: int | None) -> ViewCalibration:
        """The camera x_cam = R x_world + t (R [3, 3] a rotation, t [3]) with intrinsics K [3, 3]."""
        world_to_cam = np.eye(4)  # [4, 4]
        world_to_cam[:3, :3], world_to_cam[:3, 3] = R, t
        none = np.zeros(NO_DISTORTION)
        return ViewCalibration(name, np.array(K, dtype=np.float64),
                               none if distortion is None else np.array(distortion, dtype=np.float64),
                               world_to_cam, width, height)


def _flatten(value: object, shape: tuple[int, ...]) -> list | None:
    """The leaves of `value` in row-major order when it is nested lists (or tuples) of exactly `shape`
    with real numbers as leaves; None otherwise. Recurses len(shape) deep only."""
    if not shape:
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
        return [value] if ok else None
    if not isinstance(value, (list, tuple)) or len(value) != shape[0]:
        return None
    flat: list = []
    for item in value:
        leaves = _flatten(item, shape[1:])
        if leaves is None:
            return None
        flat += leaves
    return flat


def _shape_text(shape: tuple[int, ...]) -> str:
    return f"a list of {shape[0]}" if len(shape) == 1 else f"a {'x'.join(map(str, shape))} matrix"
