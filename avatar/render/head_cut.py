"""The image region a posed head keeps (`HeadCut`), and a render clipped to it.

The same function cuts a tracked video's masks (capture.track) and every render of the avatar
trained on them, so the two agree to the pixel. The region is the head's side of the straight
line through the projected neck ring, and, below a second line through the head's sides at the
bottom of the nose, only the rig's own pixels grown by the neck margin (its jaw, chin and neck:
collars, shoulders and hanging hair beside them go). Which side of a line is the head's is
decided by the projected top of the skull, never by a point of the face (see capture.head_mask).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from avatar.render.camera import Camera
from avatar.render.mesh_raster import rasterize_mesh
from avatar.render.output import RenderOutput
from avatar.rig.head_cut import HeadCut


def head_region(coverage: np.ndarray, ring: np.ndarray, sides: np.ndarray, head: np.ndarray,
                neck_margin: float) -> np.ndarray:
    """[H, W] float32 in {0, 1}: what of a frame the avatar models. coverage [H, W]: the posed
    rig's pixels (> 0.5); ring [R, 2]: the projected neck ring (pixels); sides [2, 2]: the
    projected sides of the head; head [2]: a pixel well on the head's side of both lines;
    neck_margin: of the image size."""
    height, width = coverage.shape
    ys, xs = np.mgrid[0:height, 0:width]
    centre = ring.mean(0)
    _, _, vt = np.linalg.svd(ring - centre, full_matrices=False)
    above_ring = _side_of_line(xs, ys, centre, vt[0], head) >= 0  # vt[0]: the ring's longest extent
    across = sides[1] - sides[0]
    above_sides = _side_of_line(xs, ys, sides.mean(0), across / max(float(np.linalg.norm(across)), 1e-6), head) >= 0
    radius = max(1, int(round(neck_margin * max(height, width))))
    neck = ndimage.binary_dilation(coverage > 0.5, structure=ellipse_kernel(radius))
    return (above_ring & (above_sides | neck)).astype(np.float32)


def ellipse_kernel(radius: int) -> np.ndarray:
    """[2r+1, 2r+1] bool disc, row by row as OpenCV's MORPH_ELLIPSE draws it (each row's half-width
    rounded to the nearest pixel), so masks made with either agree."""
    size = 2 * radius + 1
    kernel = np.zeros((size, size), bool)
    for row in range(size):
        dy = row - radius
        half = int(np.floor(radius * np.sqrt(max(0.0, 1.0 - (dy / radius) ** 2)) + 0.5))
        kernel[row, max(radius - half, 0):min(radius + half + 1, size)] = True
    return kernel


def cut_region(cut: HeadCut, verts: Tensor, faces: Tensor, camera: Camera) -> Tensor:
    """[H, W, 1] float32 in {0, 1} on verts' device: the region `cut` keeps of the rig posed as
    verts [V, 3], seen by camera."""
    verts_cpu, camera_cpu = verts.detach().float().cpu(), camera.to(device="cpu")
    colours = torch.ones_like(verts_cpu)
    coverage = rasterize_mesh(verts_cpu, faces.cpu(), camera_cpu, colours, shading=False).mask[..., 0].numpy()
    project = lambda ids: camera_cpu.project(verts_cpu[list(ids)]).numpy()  # noqa: E731
    region = head_region(coverage, project(cut.ring), project(cut.sides), project([cut.top])[0], cut.neck_margin)
    return torch.from_numpy(region)[..., None].to(verts.device)


def clip_to_region(out: RenderOutput, region: Tensor, background: Tensor) -> RenderOutput:
    """The render with everything outside region [H, W, 1] made background (colour and alpha)."""
    return dataclasses.replace(out, rgb=out.rgb * region + background * (1 - region), alpha=out.alpha * region,
                               depth=out.depth * region)


def _side_of_line(xs: np.ndarray, ys: np.ndarray, point: np.ndarray, direction: np.ndarray,
                  head: np.ndarray) -> np.ndarray:
    """[H, W] signed distance (pixels) of each pixel centre from the line through `point` along
    the unit `direction`, positive on the side of `head`."""
    normal = np.array([-direction[1], direction[0]])
    if (head - point) @ normal < 0:
        normal = -normal
    return (xs + 0.5 - point[0]) * normal[0] + (ys + 0.5 - point[1]) * normal[1]
