"""The region an avatar's cut below the head keeps in a frame, fast: cuda_ext's head_cut_region op.

The same region as avatar.render.head_cut.cut_region (the reference, which cuts a tracked video's
masks) to the pixel, but a fraction of a millisecond at 512 x 512 on one core instead of tens of
milliseconds. The op runs on the CPU: vertices on a GPU are copied to the host (V x 3 floats)
and the region back.
"""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.render.camera import Camera
from avatar.rig.head_cut import HeadCut


class CutRegion:
    """The cut's vertex ids as tensors, made once per avatar."""

    def __init__(self, cut: HeadCut):
        self.cut = cut
        self._ring = torch.tensor(cut.ring, dtype=torch.long)
        self._sides = torch.tensor(cut.sides, dtype=torch.long)

    def __call__(self, verts: Tensor, faces: Tensor, camera: Camera) -> Tensor:
        """[H, W, 1] float32 in {0, 1} on verts' device: what the cut keeps of the rig posed as
        verts [V, 3] (faces [F, 3]) seen by camera."""
        from cuda_ext.head_cut import head_cut_region

        cam = camera.to(device="cpu", dtype=torch.float64)
        region = head_cut_region(verts.detach().float().cpu(), faces.cpu(), self._ring, self._sides, self.cut.top,
                                 self.cut.neck_margin, cam.world_to_cam.flatten().tolist(), cam.K.flatten().tolist(),
                                 camera.width, camera.height, camera.near)
        return region.to(verts.device)
