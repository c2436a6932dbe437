"""A stable square crop around the head, per frame, smoothed over time.

The crop's centre follows the face's landmarks through a Gaussian filter over time (no frame-to-
frame jitter, slow drifts followed); its size is one value per video (the median face size times
a margin that keeps hair, ears and chin), so the head's scale in the crops changes only when the
person moves. The crop stays inside the frame when the frame allows (a selfie's face fills most
of it: a wider crop would only add black borders); otherwise the outside is filled with black
and masked out.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

HEAD_MARGIN = 2.3  # crop side / landmark box side: the landmarks span brows to chin
CENTRE_SMOOTHING_S = 0.2  # Gaussian sigma in seconds for the centre path
UPWARD_SHIFT = 0.12  # the landmarks sit low on the head (no forehead points): shift up by this x side


@dataclass
class CropBox:
    x0: float  # left edge in frame pixels
    y0: float  # top edge
    side: float  # square side in frame pixels

    def matrix(self, size: int) -> np.ndarray:
        """[3, 3] from continuous frame pixel coordinates (pixel centres at i + 0.5, as camera
        intrinsics and landmarks use them) to those of a size x size crop."""
        s = size / self.side
        return np.array([[s, 0.0, -self.x0 * s], [0.0, s, -self.y0 * s], [0.0, 0.0, 1.0]])

    def apply(self, points: np.ndarray, size: int) -> np.ndarray:
        """Frame pixel coordinates [..., 2] -> those of the size x size crop."""
        return ((points[..., :2] - [self.x0, self.y0]) * (size / self.side)).astype(np.float32)


def smooth_crops(landmarks: np.ndarray, segments: np.ndarray, fps: float,
                 frame_sizes: list[tuple[int, int]]) -> list[CropBox]:
    """One CropBox per frame from landmarks [T, 478, 2]; `segments` [T] ids of continuous runs
    (videos) that are smoothed separately; frame_sizes[segment] = (width, height)."""
    lo, hi = landmarks.min(1), landmarks.max(1)  # [T, 2]
    centre = (lo + hi) / 2
    extent = (hi - lo).max(1)  # [T]
    boxes: list[CropBox | None] = [None] * len(landmarks)
    for seg in np.unique(segments):
        idx = np.flatnonzero(segments == seg)
        width, height = frame_sizes[int(seg)]
        side = min(float(np.median(extent[idx])) * HEAD_MARGIN, float(min(width, height)))
        path = gaussian_filter1d(centre[idx], sigma=max(CENTRE_SMOOTHING_S * fps, 1e-3), axis=0, mode="nearest")
        for i, (cx, cy) in zip(idx, path):
            x0 = _inside(cx - side / 2, side, width)
            y0 = _inside(cy - side / 2 - UPWARD_SHIFT * side, side, height)
            boxes[i] = CropBox(x0, y0, side)
    return boxes


def _inside(start: float, side: float, limit: int) -> float:
    """Shift a span [start, start + side) into [0, limit) when it fits."""
    return float(np.clip(start, 0.0, limit - side)) if side <= limit else start


def crop_frame(frame: np.ndarray, box: CropBox, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The crop [size, size, 3] uint8 and the part of it inside the frame [size, size] bool."""
    # OpenCV samples at integer pixel centres: shift by half a pixel on both sides.
    half = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    m = (np.linalg.inv(half) @ box.matrix(size) @ half)[:2]
    image = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inside = cv2.warpAffine(np.full(frame.shape[:2], 255, np.uint8), m, (size, size), flags=cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return image, inside > 0
