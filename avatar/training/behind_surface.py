"""Nothing shows through the head: a training pixel on the rig's surface is painted from near it.

A rig's head is hollow, and its Gaussians have no back faces. Training can reach a pixel of the
cheek two ways: with the cheek's own Gaussians, or by letting them fade and showing, through the
hole, Gaussians on the far side of the head (the back of the neck, the inside of the skull) that
have taken the cheek's colour. From the training camera both look right; turned 20°, the far side
moves away and the hole shows a dark blotch of the head's inside (docs/experiments/
2026-11-27-novel-views.md, "Painted from behind").

`surface_depth` rasterises the posed rig once per training frame (its camera-space depth, 0 where
the rig is not); `behind_surface` is the depth the render puts behind that surface by more than a
margin, sum(w_i z_i) - alpha (depth + margin) where positive, averaged over the rig's pixels.
Its gradient fades what paints from behind and makes the surface's own Gaussians opaque again
(moving the far ones forward is what `xyz_reg` resists). The margin leaves what lies near the
surface alone: eyeballs behind tracked lids, the mouth's inside behind tracked lips, hair over
the skull (which lies in front of it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from avatar.rig import HeadRig
from avatar.splat import Camera
from avatar.splat.output import RenderOutput
from avatar.splat.mesh_raster import faces_at_pixels


@torch.no_grad()
def surface_depth(rig: HeadRig, verts: Tensor, camera: Camera) -> Tensor:
    """[H, W, 1] the camera-space depth (metres) of the rig posed as verts [V, 3], seen by camera;
    0 where the rig is not, and on its outline's pixels (their depth is the edge's, not what the
    pixel shows)."""
    depth = faces_at_pixels(verts, rig.faces, camera).depth.to(verts.device)  # [H, W, 1]
    off = (depth <= 0).float().permute(2, 0, 1)[None]  # [1, 1, H, W]
    near_outline = F.max_pool2d(off, 3, stride=1, padding=1)[0].permute(1, 2, 0) > 0  # [H, W, 1]
    return torch.where(near_outline, torch.zeros_like(depth), depth)


def behind_surface(rendered: RenderOutput, surface: Tensor, margin_m: float) -> Tensor:
    """Metres: the render's depth behind `surface` [H, W, 1] (`surface_depth`) by more than
    margin_m, summed over the render's weights and averaged over the rig's pixels; 0 where the
    render is painted from within the margin or in front."""
    on_rig = surface > 0  # [H, W, 1]
    pixels = on_rig.sum().clamp_min(1)
    surface = surface.to(rendered.depth)
    excess = torch.relu(rendered.depth - rendered.alpha * (surface + margin_m))  # [H, W, 1]
    return (excess * on_rig).sum() / pixels
