"""A calibrated camera's lens distortion, taken out of what tracking sees.

The fitter and the engine take pinhole cameras. A calibration file may give a camera OpenCV's
distortion coefficients (k1 k2 p1 p2 [k3 [k4 k5 k6 [s1 s2 s3 s4 [tx ty]]]]); that view is then
tracked as the pinhole camera of the same intrinsics would have filmed it: its landmarks are
undistorted where the detector found them in the frame (`undistort_points`), and its crops are
sampled from the frame through the distortion (`LensCrop`: one map per view, since a view keeps
one crop box for the clip). Coordinates are the engine's, pixel centres at +0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from capture.crop import CropBox

UNDISTORT_ITERATIONS = 40  # OpenCV's iterative inversion of the distortion: its default of 5 leaves
# pixels of error at a frame's corners under strong barrel distortion


@dataclass(frozen=True)
class Lens:
    K: np.ndarray  # [3, 3] intrinsics at the video's pixels, pixel centres at +0.5
    distortion: np.ndarray  # OpenCV's coefficients (4, 5, 8, 12 or 14)

    def distort_points(self, points: np.ndarray) -> np.ndarray:
        """Where pinhole pixel coordinates [..., 2] lie in the distorted frame [..., 2]."""
        flat = points.reshape(-1, 2).astype(np.float64)
        normalised = (flat - self.K[:2, 2]) / self.K[[0, 1], [0, 1]]  # [N, 2]
        rays = np.c_[normalised, np.ones(len(flat))]  # [N, 3]
        zero = np.zeros(3)
        pixels, _ = cv2.projectPoints(rays, zero, zero, self.K, self.distortion)
        return pixels.reshape(points.shape).astype(points.dtype)

    def undistort_points(self, points: np.ndarray) -> np.ndarray:
        """Where the distorted frame's pixel coordinates [..., 2] lie in the pinhole image [..., 2]."""
        flat = points.reshape(-1, 1, 2).astype(np.float64)
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, UNDISTORT_ITERATIONS, 1e-9)
        pinhole = cv2.undistortPointsIter(flat, self.K, self.distortion, None, self.K, criteria)
        return pinhole.reshape(points.shape).astype(points.dtype)


class LensCrop:
    """The size x size crop `box` (in pinhole pixels) of a view's frames, sampled through its lens."""

    def __init__(self, lens: Lens, box: CropBox, size: int, frame_size: tuple[int, int]):
        centres = np.stack(np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5), -1)  # [S, S, 2] crop pixels
        pinhole = centres * (box.side / size) + [box.x0, box.y0]  # [S, S, 2] frame pixels, no distortion
        source = lens.distort_points(pinhole.astype(np.float64)) - 0.5  # OpenCV samples at integer centres
        self.map_x, self.map_y = source[..., 0].astype(np.float32), source[..., 1].astype(np.float32)
        width, height = frame_size
        self.inside = self._sample(np.full((height, width), 255, np.uint8), cv2.INTER_NEAREST) > 0  # [S, S]

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The crop [S, S, 3] uint8 of a frame and the part of it inside the frame [S, S] bool, as
        `capture.crop.crop_frame` returns them."""
        return self._sample(frame, cv2.INTER_LINEAR), self.inside

    def _sample(self, image: np.ndarray, interpolation: int) -> np.ndarray:
        return cv2.remap(image, self.map_x, self.map_y, interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
