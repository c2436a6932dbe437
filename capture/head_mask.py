"""Restrict the person matte to what the avatar models: the whole head with its hair, and the
neck down to a cut that follows the fitted rig, not the torso.

The rig ends at the neck, so shoulders and clothes move with nothing the avatar can bind to; left
in the targets, they are smeared over whichever neck Gaussians are nearest. The cut is a ring of
the rig's neck a fixed distance below its chin (`neck_ring`), posed with each frame's fitted
parameters and projected: the matte is kept on the head's side of the straight line through the
ring's projection. Between that line and a parallel one through the bottom of the nose, only the
rig itself is kept (its jaw, chin and neck: its own coverage, grown by a small margin): collars
and shoulders beside the neck go. Above the nose nothing is clipped, so hair, ears and glasses
keep their full outline. The upper line runs through the nose, not the chin, because a head
bent forward brings the chin down to the collar, and the shoulders beside it then rise above
a chin line (wojtek_512's held-out frames kept a band of shirt 40% of the head wide). Hair that
hangs beside the jaw, beyond the margin, is cut. Both lines move only as the fitted head and
neck move, so the cut is the same from frame to frame.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

from avatar.rig import HeadRig

NECK_DROP = 0.04  # metres below the chin (rig space, neutral) where the cut runs
RING_BAND = 0.004  # half-height of the band of neck vertices that make the ring
NECK_MARGIN = 0.02  # of the image size: how far the matte may reach beyond the rig's neck


def neck_ring(rig: HeadRig, chin: Tensor) -> Tensor:
    """Vertex ids [R] around the neck NECK_DROP below the chin [3] (rest pose, rig space), or just
    above the rig's lowest point, for a rig with a shorter neck."""
    rest = rig.v_template
    cut_y = max(float(chin[1]) - NECK_DROP, float(rest[:, 1].min()) + 2 * RING_BAND)
    near = (rest[:, 1] - cut_y).abs() < RING_BAND
    ring = torch.nonzero(near & (rest[:, 2] < chin[2])).flatten()  # the neck, not the chin's front
    if len(ring) < 3:
        raise ValueError(f"rig '{rig.name}' has no neck {NECK_DROP} m below its chin to cut the matte at")
    return ring


def head_region(coverage: np.ndarray, ring: np.ndarray, nose: np.ndarray, head: np.ndarray) -> np.ndarray:
    """[H, W] float32 in {0, 1}: what of a frame the avatar models. coverage [H, W]: the posed
    rig's pixels (> 0.5); ring [R, 2]: the projected neck ring (pixels); nose [2] (the bottom of
    the nose) and head [2] (a pixel inside the head, e.g. between the eyes): projected points of
    the rig."""
    height, width = coverage.shape
    centre = ring.mean(0)
    _, _, vt = np.linalg.svd(ring - centre, full_matrices=False)
    normal = np.array([-vt[0, 1], vt[0, 0]])  # across the ring's longest extent
    if (head - centre) @ normal < 0:
        normal = -normal
    ys, xs = np.mgrid[0:height, 0:width]
    height_along = (xs + 0.5 - centre[0]) * normal[0] + (ys + 0.5 - centre[1]) * normal[1]  # [H, W]
    nose_along = float((nose - centre) @ normal)
    radius = max(1, int(round(NECK_MARGIN * max(height, width))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    neck = cv2.dilate((coverage > 0.5).astype(np.uint8), kernel) > 0
    keep = (height_along >= 0) & ((height_along >= nose_along) | neck)
    return keep.astype(np.float32)
