"""The region an avatar's cut below the head keeps in a frame, fast: cuda_ext's head_cut_region op.

The same region as avatar.render.head_cut.cut_region (the reference, which cuts a tracked video's
masks) but for a pixel here and there, in a millisecond at 512 x 512 on one core instead of tens
of milliseconds. It runs on the vertices' device: on a GPU the CUDA build's kernels compute it
there, and nothing is copied to the host.
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
        self._ids: dict[torch.device, tuple[Tensor, Tensor]] = {}  # device -> (ring [R], sides [2])

    def __call__(self, verts: Tensor, faces: Tensor, camera: Camera) -> Tensor:
        """[H, W, 1] float32 in {0, 1} on verts' device: what the cut keeps of the rig posed as
        verts [V, 3] (faces [F, 3], same device) seen by camera."""
        from cuda_ext.head_cut import head_cut_region

        if verts.device not in self._ids:
            self._ids[verts.device] = (torch.tensor(self.cut.ring, dtype=torch.long, device=verts.device),
                                       torch.tensor(self.cut.sides, dtype=torch.long, device=verts.device))
        ring, sides = self._ids[verts.device]
        cam = camera.to(device="cpu", dtype=torch.float64)  # plain numbers: the camera lives on the host
        return head_cut_region(verts.detach().float(), faces.to(verts.device), ring, sides, self.cut.top,
                               self.cut.neck_margin, cam.world_to_cam.flatten().tolist(), cam.K.flatten().tolist(),
                               camera.width, camera.height, camera.near)
