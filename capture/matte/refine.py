"""Turn a segmentation network's person confidence into an alpha matte that follows the frame.

MediaPipe's selfie segmenter (its landscape model, 144 x 256) says how sure it is that a pixel is
person, not how much of the pixel the person covers: along hair its map is a ragged, speckled band
that changes from frame to frame, keeping or dropping whole pixels of wall between strands. A
guided filter (He et al., "Guided Image Filtering", 2010) makes the matte a local linear function
of the frame's brightness: where the confidence leans towards the dark strands, the matte follows
them (strands partly opaque, the wall between them clear), and speckle that the image does not show
averages out. Trained avatars copy their targets, and a ragged edge that differs in every frame is
something no model can predict (what it gained: docs/results.md, "Mattes").
"""

from __future__ import annotations

import cv2
import numpy as np

RADIUS_AT_256 = 2  # pixels of a 256-pixel crop: about the width of the band the segmenter gets wrong
EPSILON = 1e-3  # on brightness in [0, 1]: edges weaker than about 0.03 do not steer the matte


def refine_matte(rgb: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """rgb [H, W, 3] uint8, confidence [H, W] in [0, 1] -> alpha [H, W] float32 in [0, 1]."""
    if rgb.shape[:2] != confidence.shape:
        raise ValueError(f"matte of shape {confidence.shape} for an image of shape {rgb.shape[:2]}")
    radius = max(1, round(RADIUS_AT_256 * max(confidence.shape) / 256))
    brightness = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    alpha = cv2.ximgproc.guidedFilter(brightness, confidence.astype(np.float32), radius, EPSILON)
    return np.clip(alpha, 0.0, 1.0)
