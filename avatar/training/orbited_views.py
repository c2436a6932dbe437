"""Views from orbited cameras, held to the rig: the head stays solid where no camera looked.

A surface one camera saw edge-on (the far cheek of a near-profile video, an ear, the side of the
forehead) sits on the person's outline in every training frame, where half a pixel is the
background's: fading it is the cheapest fit, and it fades for every view. Seen squarely from
another camera it is a hole, showing the head's far side through it (a dark blotch), or shards.
No training frame can say otherwise, so each training frame also gets one view of its posed rig
from a camera orbited about the head (`TURN_DEG` of yaw either way, `PITCH_DEG` of pitch), drawn
once per frame; its render, at half the frame's size (the mirrored frames' `shrunk`), is held to
the rig without ground truth:
- solid (`hollow`): the mean of 1 - alpha over the rig's pixels the frame's cut keeps (less the
  outline's, where the pixel is partly background);
- painted from its surface (`behind_surface`): nothing more than the margin behind it.
It teaches coverage and depth only, never colour: the colour of what no frame saw comes from the
mirrored frames and the rig's vertex colours (`avatar.training.mirrored`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from avatar.data.capture import Capture
from avatar.rig import HeadRig, RigParams
from avatar.rig.lbs import axis_angle_to_matrix
from avatar.renderer import AvatarRenderer
from avatar.splat import Camera
from avatar.training.behind_surface import surface_depth
from avatar.training.frame_memory import FrameMemory, KeptOrMade, tensor_bytes
from avatar.training.mirrored import shrunk

TURN_DEG = (15.0, 60.0)  # the orbit's yaw, drawn uniformly in this range, either way
PITCH_DEG = 20.0  # and its pitch, uniformly within +-this


def orbited(camera: Camera, centre: Tensor, yaw: float, pitch: float) -> Camera:
    """The camera moved on a sphere about centre [3] (world), by yaw about its own vertical axis
    and pitch about its horizontal one (radians), still looking at centre as before."""
    rotation = camera.world_to_cam[:3, :3]  # [3, 3] rows: the camera's x, y, z in the world
    # [3, 3] world rotation: yaw about the camera's y axis, pitch about its x axis (unit rows)
    turn = axis_angle_to_matrix(rotation[1] * yaw) @ axis_angle_to_matrix(rotation[0] * pitch)
    # A world point p is seen by the orbited camera as the old camera sees centre + turn^-1 (p - centre).
    moved = torch.eye(4, dtype=camera.world_to_cam.dtype, device=camera.world_to_cam.device)
    moved[:3, :3] = turn.T
    moved[:3, 3] = centre - turn.T @ centre
    return Camera(camera.K, camera.world_to_cam @ moved, camera.width, camera.height, camera.near, camera.far)


@dataclass
class OrbitedView:
    camera: Camera  # the orbited camera, at the mirrored frames' size (`shrunk`)
    surface: Tensor  # [h, w, 1] float16 metres: the rig's depth there (`surface_depth`), 0 off it
    region: Tensor | None  # [h, w, 1] uint8: what the frame's cut keeps there, or None

    def nbytes(self) -> int:
        return tensor_bytes(self.surface, self.region)


class OrbitedViews:
    """Per training frame its `OrbitedView`, drawn from `seed` and the frame's index (the same on a
    resumed run), kept as far as `memory` allows."""

    def __init__(
        self,
        capture: Capture,
        frames: list[int],
        rig: HeadRig,
        params: RigParams,
        renderer: AvatarRenderer,
        seed: int,
        memory: FrameMemory,
    ):
        """params [T]: every time step's tracking, on the renderer's device."""

        def make(f: int) -> OrbitedView:
            generator = torch.Generator().manual_seed(seed * 1_000_003 + f)
            u = torch.rand(3, generator=generator).tolist()
            yaw = math.radians(TURN_DEG[0] + (TURN_DEG[1] - TURN_DEG[0]) * u[0]) * (1 if u[1] < 0.5 else -1)
            pitch = math.radians(PITCH_DEG * (2 * u[2] - 1))
            frame_params = params.frame(capture.frames[f].time)
            verts = renderer.poser()(frame_params)  # [V, 3]
            source = shrunk(capture.camera(f))
            centre = verts.detach().float().cpu().mean(0).to(source.world_to_cam)
            camera = orbited(source, centre, yaw, pitch)
            surface = surface_depth(rig, verts, camera).to(torch.float16)
            region = renderer.cut_region(frame_params, camera, verts)
            return OrbitedView(camera, surface, None if region is None else region.to(torch.uint8))

        self.views = KeptOrMade(frames, make, OrbitedView.nbytes, memory, "orbited views")

    def __getitem__(self, frame: int) -> OrbitedView:
        return self.views[frame]


def hollow(alpha: Tensor, surface: Tensor, region: Tensor | None) -> Tensor:
    """The mean of 1 - alpha [h, w, 1] over the rig's pixels (surface [h, w, 1] > 0) that the
    cut's region keeps (None: all); 0 where the rig shows nowhere."""
    on_rig = (surface > 0).to(alpha)
    if region is not None:
        on_rig = on_rig * region.to(alpha)
    return ((1 - alpha) * on_rig).sum() / on_rig.sum().clamp_min(1)
