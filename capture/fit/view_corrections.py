"""Cameras estimated from the face, corrected against the pixels.

A multiview capture without a calibration file gets its cameras from the landmarks of every view
(`capture.fit.views`). MediaPipe's points carry a bias that changes with the view (the jaw line of a
face seen near profile is not where it is seen from the front), and each camera inherits its
views' bias; the head's pose, shared by the views at each moment, can only split such an error
between them. The photometric refinement measures what the landmarks cannot: one albedo seen by
every view at the same moment. `ViewCorrections` is what it moves to make the views agree: per
camera a small rigid motion in the camera's own frame and a focal-length scale, fixed over the
clip. Camera 0 stays as it is: the head's pose per time step already carries the rigid motion all
cameras could share."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from avatar.rig.lbs import axis_angle_to_matrix
from avatar.splat.camera import Camera

FOCAL_ENTRIES = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])  # of K that scale with focal
FOCAL_PRIOR = 0.1  # on the squared log of each camera's focal scale: depth and focal trade off weakly


@dataclass
class CameraCorrection:
    """What the refinement changed, per camera: `rigid` [C, 4, 4] applied in the camera's OpenCV
    frame after its world-to-camera, `focal_scale` [C] multiplying fx and fy."""

    rigid: np.ndarray
    focal_scale: np.ndarray

    def world_to_cam(self, world_to_cam: np.ndarray) -> np.ndarray:
        """[C, 4, 4] OpenCV world-to-camera matrices, corrected."""
        return self.rigid @ world_to_cam

    def camera(self, camera: Camera, view: int) -> Camera:
        """`camera` (any pixels) as camera `view` is corrected."""
        k = _focal_scaled(camera.K.double().numpy(), self.focal_scale[view])
        w2c = self.rigid[view] @ camera.world_to_cam.double().numpy()
        return replace(
            camera, K=torch.as_tensor(k, dtype=torch.float32), world_to_cam=torch.as_tensor(w2c, dtype=torch.float32)
        )

    def intrinsics(self, k_mats: np.ndarray) -> np.ndarray:
        """[C, 3, 3] intrinsics (any pixels: a crop's or the video's), with fx and fy scaled."""
        return _focal_scaled(np.asarray(k_mats, dtype=np.float64), self.focal_scale[:, None, None])


class ViewCorrections:
    """The optimised corrections of C cameras, for images that each show camera view[f]."""

    def __init__(self, view: np.ndarray, num_views: int) -> None:
        self.view = torch.as_tensor(view, dtype=torch.long)  # [F] each image's camera
        self.rotation = torch.zeros(num_views, 3, requires_grad=True)  # [C, 3] axis-angle, radians
        self.translation = torch.zeros(num_views, 3, requires_grad=True)  # [C, 3] metres, camera frame
        self.log_focal = torch.zeros(num_views, requires_grad=True)  # [C]
        self.free = torch.ones(num_views, 1)  # [C, 1] camera 0 is held
        self.free[0] = 0.0

    def parameters(self) -> list[Tensor]:
        """What the optimiser moves (camera 0's entries get no gradient)."""
        return [self.rotation, self.translation, self.log_focal]

    def rigid(self) -> Tensor:
        """[C, 4, 4] each camera's correction in its own frame (identity for camera 0)."""
        rotation = axis_angle_to_matrix(self.rotation * self.free)  # [C, 3, 3]
        top = torch.cat([rotation, (self.translation * self.free)[..., None]], -1)  # [C, 3, 4]
        bottom = torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(len(top), 1, 4)
        return torch.cat([top, bottom], 1)

    def focal_scale(self) -> Tensor:
        """[C] each camera's focal scale (1 for camera 0)."""
        return torch.exp(self.log_focal * self.free[:, 0])

    def apply(self, k_mats: Tensor, w2c: Tensor) -> tuple[Tensor, Tensor]:
        """Per-image k_mats [F, 3, 3] and w2c [F, 4, 4] with their camera's correction."""
        scale = self.focal_scale()[self.view][:, None, None]  # [F, 1, 1]
        k = k_mats * (1 + FOCAL_ENTRIES * (scale - 1))  # fx, fy (and the zero skew) scaled
        return k, self.rigid()[self.view] @ w2c

    def prior(self) -> Tensor:
        """Keeps the focal lengths near the landmark fit's, where depth would do as well."""
        return FOCAL_PRIOR * self.log_focal.pow(2).sum()

    @torch.no_grad()
    def result(self) -> CameraCorrection:
        """The corrections as they stand, for the capture's cameras."""
        return CameraCorrection(self.rigid().double().numpy(), self.focal_scale().double().numpy())


def _focal_scaled(k: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
    """Intrinsics k [..., 3, 3] with fx and fy (and the skew) times scale, as `ViewCorrections.apply`."""
    return k * (1 + FOCAL_ENTRIES.double().numpy() * (scale - 1))
