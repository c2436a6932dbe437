"""Cameras that frame an avatar's head: a fixed front view, an orbit, an arc."""

from __future__ import annotations

import math
from typing import Callable

import torch

from avatar.splat.camera import Camera
from avatar.rig.head_rig import HeadRig
from avatar.runtime.errors import InputError


def head_target(rig: HeadRig) -> tuple[torch.Tensor, float]:
    """Centre [3] and height (m) of the rest head: what cameras frame."""
    v = rig.v_template
    lo, hi = v.min(0).values, v.max(0).values
    return (lo + hi) / 2, float((hi - lo).max())


FRAMING_FOV_Y_DEG = 20.0  # the vertical field of view of every camera that frames the head
FRAMING = 1.15  # head height over the visible height


def framing_distance(extent: float, fov_y_deg: float = FRAMING_FOV_Y_DEG) -> float:
    """Distance at which a head `extent` metres tall fills 1 / FRAMING of the view's height."""
    return FRAMING * extent / (2 * math.tan(math.radians(fov_y_deg / 2)))


def camera_path(rig: HeadRig, kind: str, size: int, num_frames: int,
                fov_y_deg: float = FRAMING_FOV_Y_DEG) -> Callable[[int], Camera]:
    """`front`: a fixed frontal camera; `orbit`: one turn around the head over the sequence;
    `arc`: a swing from -60° to +60° yaw and back (what a frontal video capture has seen)."""
    centre, extent = head_target(rig)
    distance = framing_distance(extent, fov_y_deg)
    if kind == "front":
        cam = Camera.orbit(0.0, 0.0, distance, centre, size, size, fov_y_deg)
        return lambda i: cam
    if kind == "orbit":
        return lambda i: Camera.orbit(360.0 * i / max(1, num_frames), 10.0, distance, centre, size, size, fov_y_deg)
    if kind == "arc":
        return lambda i: Camera.orbit(60.0 * math.sin(2 * math.pi * i / max(1, num_frames)), 5.0, distance, centre,
                                      size, size, fov_y_deg)
    raise InputError(f"unknown camera '{kind}' (front | orbit | arc)")
