"""The image region a posed head keeps (`HeadCut`), and a render clipped to it.

The same pieces cut a tracked video's masks (capture.track) and every render of the avatar
trained on them, so the two agree to the pixel. The region is the head's side of a straight
line along the projected neck ring, through its vertex nearest the camera, and, below a second
line through the head's sides at the bottom of the nose, only the rig's own pixels grown by the
neck margin (its jaw, chin and neck: collars, shoulders and hanging hair beside them go). Which
side of a line is the head's is decided by the projected top of the skull, never by a point of
the face (see capture.matte.head_mask).
A cut with `hanging_hair` keeps, in the masks, the hair that hangs between the two lines too
(capture.matte.hanging_hair), and the render's region is the head's side of the neck line alone: the
masks then show the avatar where hair is and where background is in that band, and its Gaussians
end the hair where the video's matte does.
The neck line runs through the ring's front, not its middle: the cut is where the plane of the
ring meets the visible neck, its near arc. A head bent forward tips the ring so that the camera
sees it from above, as an ellipse whose middle lies up on the chin; a line through the middle then
cuts the chin and lower lip off (rigs whose ring sits low and tips with the head, such as ICT's;
see docs/results.md, "The cut below the head").
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from avatar.splat.camera import Camera
from avatar.splat.mesh_raster import rasterize_mesh
from avatar.splat.output import RenderOutput
from avatar.rig.cut_vertices import HeadCut


@dataclasses.dataclass(frozen=True)
class CutParts:
    """The pieces a frame's cut is made of, [H, W] bool each."""

    above_ring: np.ndarray  # the head's side of the neck line
    above_sides: np.ndarray  # the head's side of the line through the head's sides
    neck: np.ndarray  # between the two lines: the rig's own pixels grown by the neck margin

    @property
    def band(self) -> np.ndarray:
        """[H, W] bool: between the two lines, where only the rig's own pixels are kept."""
        return self.above_ring & ~self.above_sides

    def region(self) -> np.ndarray:
        """[H, W] float32 in {0, 1}: what the cut keeps."""
        return (self.above_ring & (self.above_sides | self.neck)).astype(np.float32)


def head_parts(
    coverage: np.ndarray, ring: np.ndarray, front: np.ndarray, sides: np.ndarray, head: np.ndarray, neck_margin: float
) -> CutParts:
    """The cut's pieces in a frame. coverage [H, W]: the posed rig's pixels (> 0.5; only those
    near the band between the two lines matter); ring [R, 2]: the projected neck ring (pixels);
    front [2]: its projected vertex nearest the camera; sides [2, 2]: the projected sides of the
    head; head [2]: a pixel well on the head's side of both lines; neck_margin: of the image size."""
    height, width = coverage.shape
    centres = _pixel_centres(height, width)  # [H, W, 2]
    ring_line, sides_line = _cut_lines(ring, front, sides, head)
    above_ring, above_sides = _signed(centres, ring_line) >= 0, _signed(centres, sides_line) >= 0
    band = above_ring & ~above_sides  # where only the rig's own pixels (and the margin) stay
    neck = np.zeros_like(band)
    if band.any():
        # Dilate only around the band: the margin's disc reaches `radius` pixels, no further.
        radius = neck_radius(neck_margin, height, width)
        rows, cols = np.nonzero(band.any(1))[0], np.nonzero(band.any(0))[0]
        top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        y0, x0 = max(top - radius, 0), max(left - radius, 0)  # the band's box grown by the disc
        y1, x1 = min(bottom + radius, height), min(right + radius, width)
        grown = ndimage.binary_dilation(coverage[y0:y1, x0:x1] > 0.5, structure=ellipse_kernel(radius))
        neck[top:bottom, left:right] = grown[top - y0 : bottom - y0, left - x0 : right - x0]
    return CutParts(above_ring, above_sides, neck & band)


def head_region(
    coverage: np.ndarray, ring: np.ndarray, front: np.ndarray, sides: np.ndarray, head: np.ndarray, neck_margin: float
) -> np.ndarray:
    """[H, W] float32 in {0, 1}: what of a frame the avatar models (the arguments as head_parts')."""
    return head_parts(coverage, ring, front, sides, head, neck_margin).region()


def neck_radius(neck_margin: float, height: int, width: int) -> int:
    """Pixels the neck may reach beyond the rig's own pixels in an image of that size."""
    return max(1, int(round(neck_margin * max(height, width))))


def ellipse_kernel(radius: int) -> np.ndarray:
    """[2r+1, 2r+1] bool disc, row by row as OpenCV's MORPH_ELLIPSE draws it (each row's half-width
    rounded to the nearest pixel), so masks made with either agree."""
    size = 2 * radius + 1
    kernel = np.zeros((size, size), bool)
    for row in range(size):
        dy = row - radius
        half = int(np.floor(radius * np.sqrt(max(0.0, 1.0 - (dy / radius) ** 2)) + 0.5))
        kernel[row, max(radius - half, 0) : min(radius + half + 1, size)] = True
    return kernel


def cut_region(cut: HeadCut, verts: Tensor, faces: Tensor, camera: Camera) -> Tensor:
    """[H, W, 1] float32 in {0, 1} on verts' device: the region `cut` keeps of a render of the rig
    posed as verts [V, 3] (faces [F, 3], the rig's), seen by camera. A cut that keeps hanging hair
    keeps the head's side of the neck line whole: the avatar's Gaussians, taught where the masks
    show hair and where background, end its hair."""
    if cut.hanging_hair:
        verts_cpu, camera_cpu = verts.detach().float().cpu(), camera.to(device="cpu")
        ring_line, _ = _posed_lines(cut, verts_cpu, camera_cpu)
        centres = _pixel_centres(camera_cpu.height, camera_cpu.width)  # [H, W, 2]
        region = (_signed(centres, ring_line) >= 0).astype(np.float32)
    else:
        region = cut_parts(cut, verts, faces, camera).region()
    return torch.from_numpy(region)[..., None].to(verts.device)


def cut_parts(cut: HeadCut, verts: Tensor, faces: Tensor, camera: Camera) -> CutParts:
    """The pieces of `cut` in the frame of the rig posed as verts [V, 3] (faces [F, 3], the rig's)
    seen by camera: the region a tracked video's masks keep is made of them."""
    verts_cpu, camera_cpu = verts.detach().float().cpu(), camera.to(device="cpu")
    faces_cpu = cut.coverage_faces(faces.cpu())  # [F', 3]: without the rig's shoulders
    points = camera_cpu.project(verts_cpu).numpy()  # [V, 2]
    ring, sides, head = points[list(cut.ring)], points[list(cut.sides)], points[cut.top]
    front = ring[ring_front(cut, verts_cpu, camera_cpu)]
    # Only triangles that reach near the band between the two lines can change the region: one
    # wholly on the head's side of the upper line (by more than the margin) or wholly beyond the
    # neck cut is left out of the raster (most of the head, at a fraction of the cost).
    ring_line, sides_line = _cut_lines(ring, front, sides, head)
    reach = neck_radius(cut.neck_margin, camera_cpu.height, camera_cpu.width) + 1
    corners = faces_cpu.numpy()  # [F, 3]
    far = (_signed(points, sides_line)[corners] > reach).all(1) | (_signed(points, ring_line)[corners] < -reach).all(1)
    near = faces_cpu[torch.from_numpy(~far)]
    coverage = rasterize_mesh(verts_cpu, near, camera_cpu, torch.ones_like(verts_cpu), shading=False).mask[..., 0]
    return head_parts(coverage.numpy(), ring, front, sides, head, cut.neck_margin)


def ring_front(cut: HeadCut, verts: Tensor, camera: Camera) -> int:
    """Index into cut.ring of the neck ring's vertex nearest the camera (verts [V, 3] posed, world)."""
    return int(camera.to_camera(verts[list(cut.ring)])[:, 2].argmin())


def known_region(region: Tensor | None, known: Tensor | None) -> Tensor | None:
    """What a render of a frame is clipped to: its cut's region [H, W, 1] (None: no cut) and the
    pixels the frame knows [H, W, 1] (`Capture.load_known`; None: all), on the region's device if any;
    None when neither limits it. Past the edge of the video a frame shows neither person nor
    background, so renders there are made background, as the target is."""
    if known is None or region is None:
        return region if known is None else known
    return region * known.to(region)


def clip_to_region(out: RenderOutput, region: Tensor, background: Tensor) -> RenderOutput:
    """The render with everything outside region [H, W, 1] made background (colour and alpha)."""
    return dataclasses.replace(
        out, rgb=out.rgb * region + background * (1 - region), alpha=out.alpha * region, depth=out.depth * region
    )


def _posed_lines(cut: HeadCut, verts: Tensor, camera: Camera) -> tuple[tuple, tuple]:
    """The cut's two lines (as _cut_lines) for the rig posed as verts [V, 3] (CPU) seen by camera."""
    points = camera.project(verts).numpy()  # [V, 2]
    ring = points[list(cut.ring)]
    return _cut_lines(ring, ring[ring_front(cut, verts, camera)], points[list(cut.sides)], points[cut.top])


def _pixel_centres(height: int, width: int) -> np.ndarray:
    """[H, W, 2] (x, y) of every pixel's centre."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs + 0.5, ys + 0.5], -1)


def _cut_lines(ring: np.ndarray, front: np.ndarray, sides: np.ndarray, head: np.ndarray) -> tuple[tuple, tuple]:
    """(point [2], unit normal [2]) of the neck cut's line (through the ring's front, along the
    longest extent of its projection) and of the upper line (through the two sides), normals
    towards `head`."""
    _, _, vt = np.linalg.svd(ring - ring.mean(0), full_matrices=False)
    across = sides[1] - sides[0]
    lines = []
    for point, direction in ((front, vt[0]), (sides.mean(0), across / max(float(np.linalg.norm(across)), 1e-6))):
        normal = np.array([-direction[1], direction[0]])
        lines.append((point, normal if (head - point) @ normal >= 0 else -normal))
    return lines[0], lines[1]


def _signed(points: np.ndarray, line: tuple) -> np.ndarray:
    """[...] signed distance (pixels) of points [..., 2] from the line, positive on the head's side."""
    point, normal = line
    return (points - point) @ normal
