"""Render an avatar over a sequence of rig parameters to an H.264 mp4."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from avatar.cpu_threads import ThreadBudget
from avatar.data.video import VideoWriter
from avatar.gaussians import GaussianAvatar
from avatar.render import Camera
from avatar.render_avatar import render_avatar
from avatar.rig import HeadRig, RigParams


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
    raise ValueError(f"unknown camera '{kind}' (front | orbit | arc)")


@torch.no_grad()
def render_sequence(model: GaussianAvatar, params: RigParams, cameras: Callable[[int], Camera], out: str | Path,
                    fps: float, background=(1.0, 1.0, 1.0), backend: str = "auto", progress: bool = True) -> int:
    """Write one frame per time step of `params`, rendered on the model's device; returns the
    number of frames written."""
    device = model.xyz.device
    bg = torch.tensor(background, dtype=torch.float32, device=device)
    params = params.to(device=device, dtype=torch.float32)
    cam0 = cameras(0)
    threads = ThreadBudget()
    with VideoWriter(out, fps, cam0.width, cam0.height) as video:
        for i in tqdm(range(params.num_frames), desc=f"rendering {Path(out).name}", disable=not progress):
            threads.update()
            rendered = render_avatar(model, params.frame(i), cameras(i), bg, backend)
            video.write(rendered.rgb.clamp(0, 1).cpu())
    return params.num_frames
