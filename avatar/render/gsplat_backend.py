"""`splat_gsplat`: gsplat's CUDA rasterizer behind the `RenderOutput` interface, for comparison.

gsplat's own rules differ slightly from the reference (avatar.render.reference): alpha is capped
at 0.999 instead of 0.99, a pixel stops at T_next <= 1e-4 instead of < 1e-4, and its radii are
per-axis bounds. Images agree closely, not bitwise. The pipeline is spelled out (rather than
`gsplat.rasterization`) so that `RenderOutput.means2d` is an [N, 2] tensor in the graph.
"""

from __future__ import annotations

import math

import torch
from gsplat.cuda._wrapper import (fully_fused_projection, isect_offset_encode, isect_tiles, rasterize_to_pixels,
                                  spherical_harmonics)
from torch import Tensor

from avatar.gaussians.world import Gaussians
from avatar.render.camera import Camera
from avatar.render.output import RenderOutput
from avatar.render.projection import LOW_PASS_PX2

TILE_SIZE = 16


def splat_gsplat(gaussians: Gaussians, camera: Camera, background: Tensor | None = None) -> RenderOutput:
    """Render with gsplat on the CUDA device holding `gaussians` (float32). background: [3] or None."""
    g = gaussians.to(dtype=torch.float32)
    if not g.means.is_cuda:
        raise ValueError(f"splat_gsplat needs the Gaussians on a CUDA device, got {g.means.device}")
    device, width, height = g.means.device, camera.width, camera.height
    cam = camera.to(device=device, dtype=torch.float32)
    radii_xy, screen, depths, conics, _ = fully_fused_projection(
        g.means, None, g.quats, g.scales, cam.world_to_cam[None], cam.K[None], width, height,
        eps2d=LOW_PASS_PX2, near_plane=camera.near, far_plane=camera.far, opacities=g.opacities)  # [1, N, ...]
    means2d = screen[0]  # [N, 2]: everything below reads this view, so its grad is the screen-space grad
    visible = (radii_xy[0] > 0).all(-1)  # [N]
    colours = spherical_harmonics(g.sh_degree, g.means - cam.position, g.sh, masks=visible)  # [N, 3]
    features = torch.cat([(colours + 0.5).clamp(min=0.0), depths[0, :, None]], -1)  # [N, 4] rgb, depth

    tiles_w, tiles_h = math.ceil(width / TILE_SIZE), math.ceil(height / TILE_SIZE)
    _, isect_ids, flatten_ids = isect_tiles(means2d[None], radii_xy, depths, TILE_SIZE, tiles_w, tiles_h)
    offsets = isect_offset_encode(isect_ids, 1, tiles_w, tiles_h).reshape(1, tiles_h, tiles_w)
    backgrounds = None
    if background is not None:
        backgrounds = torch.cat([background.to(device=device, dtype=torch.float32), features.new_zeros(1)])[None]
    image, alpha = rasterize_to_pixels(means2d[None], conics, features[None], g.opacities[None], width, height,
                                       TILE_SIZE, offsets, flatten_ids, backgrounds=backgrounds)  # [1, H, W, 4]
    return RenderOutput(rgb=image[0, ..., :3], alpha=alpha[0], depth=image[0, ..., 3:], means2d=means2d,
                        radii=radii_xy[0].amax(-1))
