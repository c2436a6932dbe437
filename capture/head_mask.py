"""Restrict the person matte to what the avatar models: the whole head with its hair, and the
neck down to a cut that follows the fitted rig, not the torso.

The rig ends at the neck, so shoulders and clothes move with nothing the avatar can bind to; left
in the targets, they are smeared over whichever neck Gaussians are nearest. The cut is a ring of
the rig's neck a fixed distance below its chin (`neck_ring`), posed with each frame's fitted
parameters and projected: the matte is kept on the head's side of the straight line through the
ring's projection. Between that line and a second one, through the sides of the head at the
height of the bottom of the nose (`head_sides`), only the rig itself is kept (its jaw, chin and
neck: its own coverage, grown by a small margin): collars and shoulders beside the neck go.
Above the second line nothing is clipped, so hair, ears and glasses keep their full outline.
It runs at nose height, not at the chin, because a head bent forward brings the chin down to the
collar, and the shoulders beside it then rise above a chin line (wojtek_512's held-out frames
kept a band of shirt 40% of the head wide). It runs through the sides of the head, not through
the nose, because the hair it cuts hangs there: the nose sits far in front of the neck's pivot,
so nodding moved a line through it up and down the hair (by about 10 px at 256 px when
talking_woman_512 looks up), and the same strands were kept in some frames and cut in others.
Hair that hangs beside the jaw, below the line and beyond the margin, is cut. Both lines move
only as the fitted head and neck move, so the cut is the same part of the head in every frame.
Which side of a line is the head's is decided by the top of the skull (`skull_top`), never by a
point of the face: on a head bent forward the sides project up to the eyes' height, and a point
between the eyes then lies on the line (wojtek_512's frames 365-371: within 1 px), so a small
change of pose kept the shirt and cut the hair instead.
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
SIDE_BAND = 0.005  # metres: half-height of the band of vertices searched for the head's sides


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


def head_sides(rig: HeadRig, height: float) -> Tensor:
    """Vertex ids [2] of the rig's outermost points to the subject's left and right at `height`
    (rest pose, rig space, metres): the depth at which hair hangs beside the face."""
    rest = rig.v_template
    band = torch.nonzero((rest[:, 1] - height).abs() < SIDE_BAND).flatten()
    if len(band) < 2:
        raise ValueError(f"rig '{rig.name}' has no vertices at height {height:.3f} m to place the mask's cut")
    return torch.stack([band[rest[band, 0].argmax()], band[rest[band, 0].argmin()]])


def skull_top(rig: HeadRig) -> int:
    """Vertex id of the rig's highest point (rest pose): far on the head's side of both cuts in
    any pose a tracker follows."""
    return int(rig.v_template[:, 1].argmax())


def head_region(coverage: np.ndarray, ring: np.ndarray, sides: np.ndarray, head: np.ndarray) -> np.ndarray:
    """[H, W] float32 in {0, 1}: what of a frame the avatar models. coverage [H, W]: the posed
    rig's pixels (> 0.5); ring [R, 2]: the projected neck ring (pixels); sides [2, 2]: the
    projected sides of the head at nose height (`head_sides`); head [2]: a pixel well on the
    head's side of both lines, the projected top of the skull (`skull_top`)."""
    height, width = coverage.shape
    ys, xs = np.mgrid[0:height, 0:width]
    centre = ring.mean(0)
    _, _, vt = np.linalg.svd(ring - centre, full_matrices=False)
    above_ring = _side_of_line(xs, ys, centre, vt[0], head) >= 0  # vt[0]: the ring's longest extent
    across = sides[1] - sides[0]
    above_sides = _side_of_line(xs, ys, sides.mean(0), across / max(float(np.linalg.norm(across)), 1e-6), head) >= 0
    radius = max(1, int(round(NECK_MARGIN * max(height, width))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    neck = cv2.dilate((coverage > 0.5).astype(np.uint8), kernel) > 0
    return (above_ring & (above_sides | neck)).astype(np.float32)


def _side_of_line(xs: np.ndarray, ys: np.ndarray, point: np.ndarray, direction: np.ndarray,
                  head: np.ndarray) -> np.ndarray:
    """[H, W] signed distance (pixels) of each pixel centre from the line through `point` along
    the unit `direction`, positive on the side of `head`."""
    normal = np.array([-direction[1], direction[0]])
    if (head - point) @ normal < 0:
        normal = -normal
    return (xs + 0.5 - point[0]) * normal[0] + (ys + 0.5 - point[1]) * normal[1]
