"""`OrbitCamera`: the viewer's camera, orbiting the head; mouse drags orbit and pan, the wheel
zooms. At rest it is exactly `avatar.splat.framing.camera_path(rig, "front", ...)`'s camera."""

from __future__ import annotations

import torch

from avatar.splat.framing import FRAMING_FOV_Y_DEG, framing_distance, head_target
from avatar.splat.camera import Camera
from avatar.rig import HeadRig

FOV_Y_DEG = FRAMING_FOV_Y_DEG
DEGREES_PER_PIXEL = 0.4
ZOOM_PER_NOTCH = 0.9


class OrbitCamera:
    def __init__(self, rig: HeadRig):
        centre, extent = head_target(rig)
        self.centre = centre  # [3]
        self.home_distance = framing_distance(extent)
        self.reset()

    def reset(self) -> None:
        self.yaw_deg, self.pitch_deg = 0.0, 0.0
        self.distance = self.home_distance
        self.pan = torch.zeros(3)  # [3] world-space offset of the orbit target
        self._last: tuple[tuple, Camera] | None = None

    def camera(self, width: int, height: int) -> Camera:
        """The camera now; the window asks every frame, so it is made again only when something
        moved. Treat it as read-only."""
        key = (self.yaw_deg, self.pitch_deg, self.distance, tuple(self.pan.tolist()), width, height)
        if self._last is None or self._last[0] != key:
            self._last = (key, Camera.orbit(self.yaw_deg, self.pitch_deg, self.distance, self.centre + self.pan,
                                            width, height, FOV_Y_DEG))
        return self._last[1]

    def orbit(self, dx_px: float, dy_px: float) -> None:
        self.yaw_deg -= DEGREES_PER_PIXEL * dx_px
        self.pitch_deg = min(89.0, max(-89.0, self.pitch_deg + DEGREES_PER_PIXEL * dy_px))

    def pan_by(self, dx_px: float, dy_px: float, viewport_height: int) -> None:
        """Move the target so the head follows the mouse (in the image plane)."""
        cam = self.camera(viewport_height, viewport_height)
        metres_per_px = self.distance / float(cam.K[1, 1])
        rows = cam.world_to_cam[:3, :3]  # camera axes in world coordinates: x right, y down
        self.pan = self.pan - metres_per_px * (dx_px * rows[0] + dy_px * rows[1])

    def zoom(self, wheel_notches: float) -> None:
        self.distance = max(0.05 * self.home_distance, self.distance * ZOOM_PER_NOTCH ** wheel_notches)
