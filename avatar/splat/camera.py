"""OpenCV pinhole cameras (x right, y down, z forward; pixel centres at integer + 0.5)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor


@dataclass
class Camera:
    K: Tensor  # [3, 3] intrinsics in pixels
    world_to_cam: Tensor  # [4, 4]
    width: int
    height: int
    near: float = 0.01
    far: float = 100.0
    # [3] where the Gaussians' view-dependent colour is seen from, when not the camera's centre:
    # an avatar keeps it inside the directions its training saw (`avatar.splat.view_cone`).
    sh_origin: Tensor | None = None

    @property
    def cam_to_world(self) -> Tensor:
        return torch.linalg.inv(self.world_to_cam)

    @property
    def position(self) -> Tensor:
        return self.cam_to_world[:3, 3]  # [3]

    @property
    def view_origin(self) -> Tensor:
        """[3] the point SH colours are evaluated from: `sh_origin`, else the camera's centre."""
        return self.position if self.sh_origin is None else self.sh_origin.to(self.world_to_cam)

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "Camera":
        origin = None if self.sh_origin is None else self.sh_origin.to(device=device, dtype=dtype)
        return Camera(self.K.to(device=device, dtype=dtype), self.world_to_cam.to(device=device, dtype=dtype),
                      self.width, self.height, self.near, self.far, origin)

    def with_sh_origin(self, origin: Tensor | None) -> "Camera":
        """The same camera with its view-dependent colour seen from `origin` [3] (None: its centre)."""
        return replace(self, sh_origin=None if origin is None else origin.detach().to("cpu", torch.float32))

    def to_camera(self, points: Tensor) -> Tensor:
        """World points [..., 3] -> camera space [..., 3] (z: depth in front of the camera)."""
        return points @ self.world_to_cam[:3, :3].T.to(points) + self.world_to_cam[:3, 3].to(points)

    def project(self, points: Tensor) -> Tensor:
        """World points [..., 3] -> pixel coordinates [..., 2] (continuous, centres at i + 0.5)."""
        pix = self.to_camera(points) @ self.K.T.to(points)
        return pix[..., :2] / pix[..., 2:].clamp_min(1e-9)

    @staticmethod
    def intrinsics(width: int, height: int, fov_y_deg: float) -> Tensor:
        """K [3, 3] for a vertical field of view, principal point at the image centre."""
        f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
        return torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=torch.float32)

    @classmethod
    def look_at(cls, eye, target, width: int, height: int, fov_y_deg: float = 20.0,
                up=(0.0, 1.0, 0.0)) -> "Camera":
        """A camera at `eye` looking at `target`, with rig space's +y as image up. Cameras live on the
        host (the kernels read them there), whatever device `eye` and `target` come from."""
        eye, target, up = (torch.as_tensor(v, dtype=torch.float32, device="cpu") for v in (eye, target, up))
        z = target - eye
        z = z / z.norm()
        x = torch.linalg.cross(z, up)  # image right = forward x up; then y = forward x right points down
        x = x / x.norm()
        y = torch.linalg.cross(z, x)
        r = torch.stack([x, y, z])  # rows: camera axes in world coordinates
        w2c = torch.eye(4)
        w2c[:3, :3] = r
        w2c[:3, 3] = -r @ eye
        return cls(cls.intrinsics(width, height, fov_y_deg), w2c, width, height)

    @classmethod
    def orbit(cls, angle_deg: float, elevation_deg: float, distance: float, target,
              width: int, height: int, fov_y_deg: float = 20.0) -> "Camera":
        """On a sphere around `target`; angle 0 looks at the face (from +z)."""
        a, e = math.radians(angle_deg), math.radians(elevation_deg)
        t = torch.as_tensor(target, dtype=torch.float32, device="cpu")  # a model's centre may be on the GPU
        eye = t + distance * torch.tensor([math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)])
        return cls.look_at(eye, t, width, height, fov_y_deg)

    def mirrored(self) -> "Camera":
        """The camera that sees the world mirrored in rig space's x = 0 (`avatar.rig.mirror`) as
        this one sees the world, left and right swapped in its image: it shows a mirrored head
        as this camera's image flipped left-right (pixel u -> width - u)."""
        flip = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=self.world_to_cam.dtype))
        k = self.K.clone()
        k[0, 2] = self.width - k[0, 2]
        origin = None if self.sh_origin is None else self.sh_origin * flip[:3, :3].diagonal().to(self.sh_origin)
        return Camera(k, flip @ self.world_to_cam @ flip.to(self.world_to_cam.device), self.width, self.height,
                      self.near, self.far, origin)
