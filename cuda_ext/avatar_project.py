"""One frame of an avatar straight to screen space, for inference: `torch.ops.avatar_ext.avatar_project`
(csrc/avatar_project_cpu.cpp), the blend op fused with the splat's projection and colours.

Its outputs are those of the splat's projection (`splat_project_forward`) of the blended
Gaussians and their opacities, ready for `splat_rasterize_forward`; no gradient flows through it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from cuda_ext import load
from cuda_ext.splat import CameraParams


def avatar_project(verts: Tensor, faces: Tensor, parent: Tensor, drivers: Tensor, base: Tensor, offsets: Tensor,
                   offset_scales: Tensor, sh_rest: Tensor, num_gaussians: int,
                   camera: CameraParams) -> tuple[Tensor, ...]:
    """verts [V, 3] posed rig vertices (float32, CPU), faces [F, 3] int64, drivers [D]; N =
    num_gaussians Gaussians grouped by 8 (G = ceil(N / 8), the last group padded): parent [8 G]
    int32, base [G, 14, 8] and offsets [D, G, 14, 8] (int8, offset d's attribute k scaled by
    offset_scales [D, 14] float32) in the order of GaussianAvatar.applied_offsets with the colour's
    offsets divided by SH_C0, sh_rest [G, (K-1) 3, 8].
    Returns means2d [N, 2], conics [N, 3], depths [N], colours [N, 3], opacities [N], radii [N] int32.
    Raises cuda_ext.ExtensionUnavailable when the CPU module cannot load."""
    load("cpu")
    return torch.ops.avatar_ext.avatar_project(
        verts.contiguous(), faces.contiguous(), parent.contiguous(), drivers.contiguous(), base.contiguous(),
        offsets.contiguous(), offset_scales.contiguous(), sh_rest.contiguous(), int(num_gaussians),
        camera.world_to_cam, camera.K, camera.position, camera.width, camera.height, camera.near, camera.far)
