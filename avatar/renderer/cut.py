"""The region an avatar's cut below the head keeps in a frame, fast: cuda_ext's head_cut_region op.

The same region as avatar.splat.cut_region.cut_region (the reference, which cuts a tracked video's
masks) but for a pixel here and there, in a millisecond at 512 x 512 on one core instead of tens
of milliseconds. It runs on the vertices' device: on a GPU the CUDA build's kernels compute it
there, and nothing is copied to the host. On the CPU, `apply_` cuts a render in place without
writing the region out, touching only the pixels the cut removes.
A cut that keeps hanging hair keeps the head's side of the neck line alone: a half-plane, computed
here in torch on the vertices' device (no raster, so no op).
"""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.splat.camera import Camera
from avatar.splat.output import RenderOutput
from avatar.rig.cut_vertices import HeadCut


class CutRegion:
    """The cut's vertex ids as tensors, made once per avatar."""

    def __init__(self, cut: HeadCut):
        self.cut = cut
        self._ids: dict[torch.device, tuple[Tensor, Tensor]] = {}  # device -> (ring [R], sides [2])
        self._faces: tuple[Tensor, torch.device, Tensor] | None = None  # (the rig's faces, device, coverage faces)

    def __call__(self, verts: Tensor, faces: Tensor, camera: Camera) -> Tensor:
        """[H, W, 1] float32 in {0, 1} on verts' device: what the cut keeps of the rig posed as
        verts [V, 3] (faces [F, 3], the rig's, same device) seen by camera."""
        if self.cut.hanging_hair:
            return self._above_neck_line(verts, camera).float()[..., None]
        from cuda_ext.head_cut import head_cut_region

        ring, sides = self._vertex_ids(verts.device)
        world_to_cam, k = _host_numbers(camera)
        covered = self._coverage(faces, verts.device)  # [F', 3]: without the rig's shoulders
        return head_cut_region(verts.detach().float(), covered, ring, sides, self.cut.top,
                               self.cut.neck_margin, world_to_cam, k, camera.width, camera.height, camera.near)

    def apply_(self, out: RenderOutput, background: Tensor, verts: Tensor, faces: Tensor, camera: Camera) -> None:
        """In place on a CPU float32 render out ([H, W, ...] for camera): what the cut removes
        becomes background [3], alpha and depth 0 (clip_to_region with this region)."""
        if self.cut.hanging_hair:
            cut = ~self._above_neck_line(verts, camera)  # [H, W]
            out.rgb[cut] = background.to(out.rgb)
            out.alpha[cut] = 0
            out.depth[cut] = 0
            return
        from cuda_ext.head_cut import head_cut_apply_

        ring, sides = self._vertex_ids(verts.device)
        world_to_cam, k = _host_numbers(camera)
        covered = self._coverage(faces, verts.device)  # [F', 3]: without the rig's shoulders
        head_cut_apply_(out.rgb, out.alpha, out.depth, background, verts.detach().float(), covered, ring, sides,
                        self.cut.top, self.cut.neck_margin, world_to_cam, k, camera.near)

    def _above_neck_line(self, verts: Tensor, camera: Camera) -> Tensor:
        """[H, W] bool on verts' device: the pixels whose centres lie on the head's side of the neck
        line (the reference's above_ring: through the projected ring's vertex nearest the camera,
        along the projection's longest extent, the skull's top on the kept side)."""
        ring, _ = self._vertex_ids(verts.device)
        posed = verts.detach().float()
        cam = camera.to(device=verts.device)
        points = cam.project(posed[ring])  # [R, 2]
        front = points[cam.to_camera(posed[ring])[:, 2].argmin()]  # [2]
        centred = points - points.mean(0)
        sxx, syy, sxy = (centred[:, 0] ** 2).sum(), (centred[:, 1] ** 2).sum(), (centred[:, 0] * centred[:, 1]).sum()
        angle = 0.5 * torch.atan2(2 * sxy, sxx - syy)  # the longest extent's direction
        normal = torch.stack([-torch.sin(angle), torch.cos(angle)])  # [2]
        towards_top = cam.project(posed[self.cut.top][None])[0] - front  # [2]
        normal = torch.where(towards_top @ normal >= 0, normal, -normal)
        xs = torch.arange(camera.width, device=verts.device, dtype=torch.float32) + 0.5  # [W]
        ys = torch.arange(camera.height, device=verts.device, dtype=torch.float32) + 0.5  # [H]
        return (ys[:, None] - front[1]) * normal[1] + (xs[None, :] - front[0]) * normal[0] >= 0

    def _coverage(self, faces: Tensor, device: torch.device) -> Tensor:
        """The cut's coverage faces of the rig's faces [F, 3] on device, made once for the same
        tensor and device (a rig whose faces sit on another device is not copied every frame)."""
        if self._faces is None or self._faces[0] is not faces or self._faces[1] != device:
            self._faces = (faces, device, self.cut.coverage_faces(faces.to(device)))
        return self._faces[2]

    def _vertex_ids(self, device: torch.device) -> tuple[Tensor, Tensor]:
        """ring [R] and sides [2] int64 on device."""
        if device not in self._ids:
            self._ids[device] = (torch.tensor(self.cut.ring, dtype=torch.long, device=device),
                                 torch.tensor(self.cut.sides, dtype=torch.long, device=device))
        return self._ids[device]


def _host_numbers(camera: Camera) -> tuple[list[float], list[float]]:
    """world_to_cam (16) and K (9) as plain numbers: the ops take the camera from the host."""
    cam = camera.to(device="cpu", dtype=torch.float64)
    return cam.world_to_cam.flatten().tolist(), cam.K.flatten().tolist()
