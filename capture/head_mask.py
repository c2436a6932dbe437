"""Restrict the person matte to what the avatar models: the head and neck, not the torso.

The rig ends at the neck, so shoulders and clothes move with nothing the avatar can bind to;
left in the targets, they are smeared over whichever neck Gaussians are nearest. Kept: above the
chin, a band around the head a little wider than the jaw (hair, ears, glasses; shoulders come up
beside the chin when the head tilts down, so not the full rows); below the chin only what the
fitted rig covers (the neck), grown by a margin for the silhouette's uncertainty, down to a cut a
little below the chin (rigs' necks run on into the collar, where the torso starts).
"""

from __future__ import annotations

import cv2
import numpy as np

NECK_MARGIN = 0.04  # of the image size: dilation of the rig's coverage below the chin
NECK_LENGTH = 0.7  # the cut below the chin, in inter-ocular distances
HEAD_WIDTH = 1.35  # the band above the chin, in jaw widths (centred on the jaw)


def head_region(rig_coverage: np.ndarray, chin_y: float, inter_ocular: float,
                jaw_x: tuple[float, float]) -> np.ndarray:
    """[H, W] float32 in {0, 1}: above `chin_y` (pixels), the columns within HEAD_WIDTH of the
    jaw's span `jaw_x` (its leftmost and rightmost x); below it the dilated rig coverage [H, W]
    (in [0, 1]) down to NECK_LENGTH inter-ocular distances below the chin."""
    height, width = rig_coverage.shape
    radius = max(1, int(round(NECK_MARGIN * max(height, width))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    grown = cv2.dilate((rig_coverage > 0.5).astype(np.uint8), kernel) > 0
    rows, cols = np.arange(height)[:, None], np.arange(width)[None, :]
    centre, half = (jaw_x[0] + jaw_x[1]) / 2, HEAD_WIDTH * abs(jaw_x[1] - jaw_x[0]) / 2
    head = (rows < chin_y) & (np.abs(cols - centre) < half)
    neck = grown & (rows < chin_y + NECK_LENGTH * inter_ocular)
    return (head | neck).astype(np.float32)
