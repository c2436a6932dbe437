"""Exact z-buffer rasterization of triangle meshes on the CPU (ground truth for synthetic captures).

Vectorised in torch: triangles are processed in chunks; for each chunk every (triangle, pixel)
pair inside the triangle's pixel bounding box is enumerated, tested against the three edge
functions and reduced to the nearest hit per pixel with a scatter-min. Not differentiable.

Conventions: OpenCV camera (see `avatar.splat.camera`), pixel centres at (u + 0.5, v + 0.5),
`depth` is camera-space z (0 where nothing was hit). Triangles with any vertex in front of the
near plane (z < camera.near) are dropped whole rather than clipped: rigs are always well in front
of the camera, and dropping keeps the maths exact. Hits beyond camera.far are discarded.
A pixel centre exactly on an edge counts as inside, so meshes have no cracks (shared edges are
evaluated with exactly negated edge functions).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from avatar.splat.camera import Camera

AMBIENT = 0.35
DIFFUSE = 0.65
# Headlight slightly from above, fixed in camera space (OpenCV: -y is up, -z points at the viewer).
LIGHT_DIR_CAM = (0.0, -0.4, -1.0)
# Candidate (triangle, pixel) pairs per chunk: bounds peak memory to a few hundred MB.
CANDIDATES_PER_CHUNK = 1 << 21


@dataclass
class MeshRender:
    rgb: Tensor  # [H, W, 3] in [0, 1], composited over the background
    mask: Tensor  # [H, W, 1] coverage in [0, 1] (fractional at edges when supersampled)
    depth: Tensor  # [H, W, 1] camera-space z, mean over covered subsamples; 0 where uncovered
    face_id: Tensor  # [H, W] long, nearest triangle at the pixel's nearest subsample; -1 = none


def rasterize_mesh(
    verts: Tensor,
    faces: Tensor,
    camera: Camera,
    vertex_colors: Tensor,
    background: Tensor | tuple[float, float, float] | None = None,
    shading: bool = True,
    supersample: int = 1,
    light_dir: Tensor | None = None,
) -> MeshRender:
    """Render a mesh with per-vertex colours.

    verts [V, 3] world space, faces [F, 3] indices, vertex_colors [V, 3] in [0, 1].
    background: RGB triple (default black). shading: multiply colours by
    AMBIENT + DIFFUSE * max(0, n.l) with smooth vertex normals; l is `light_dir` [3] (towards the
    light, world space) or, when None, a headlight fixed to the camera (LIGHT_DIR_CAM).
    supersample: render at s x the resolution and box-filter down (anti-aliasing).
    Computes in verts' dtype (float32 or float64).
    """
    _check_inputs(verts, faces, vertex_colors, supersample)
    with torch.no_grad():
        dtype = verts.dtype
        cam = camera.to(device=verts.device, dtype=dtype)
        s = supersample
        width, height = cam.width * s, cam.height * s
        k = cam.K.clone()
        k[:2] *= s  # pixel (i + 0.5) at scale s samples original u = (i + 0.5) / s
        cam_pts = verts @ cam.world_to_cam[:3, :3].T + cam.world_to_cam[:3, 3]  # [V, 3]
        z = cam_pts[:, 2]
        proj = cam_pts @ k.T  # [V, 3]
        screen = proj[:, :2] / z.clamp_min(1e-12)[:, None]  # [V, 2]
        faces = faces.long()

        face_z = z[faces]  # [F, 3]
        keep = (face_z >= cam.near).all(dim=1)
        tri = screen[faces]  # [F, 3, 2]
        area = _edge(tri[:, 1], tri[:, 2], tri[:, 0])  # [F] twice the signed screen area
        keep &= area.abs() > 1e-12
        zbuf, fbuf = _nearest_faces(tri, area, face_z, keep, width, height, cam.far)

        hit = fbuf >= 0  # [P]
        pix = hit.nonzero().squeeze(1)
        fid = fbuf.index_select(0, pix)  # [n]
        px, py = _pixel_centres(pix, width, dtype)
        bary, depth = _perspective_bary(
            tri.index_select(0, fid), area.index_select(0, fid), face_z.index_select(0, fid), px, py
        )  # [n, 3], [n]
        # Interpolate every per-vertex attribute with one gather: colour, then normal and position.
        attrs = [vertex_colors.to(dtype)]
        if shading:
            attrs += [_vertex_normals(cam_pts, faces), cam_pts]
        table = torch.cat(attrs, 1)  # [V, 3 or 9]
        corners = table.index_select(0, faces.index_select(0, fid).reshape(-1))
        interp = (corners.view(-1, 3, table.shape[1]) * bary[..., None]).sum(1)  # [n, 3 or 9]
        colors = interp[:, :3]
        if shading:
            light = (
                torch.tensor(LIGHT_DIR_CAM, dtype=dtype, device=verts.device)
                if light_dir is None
                else cam.world_to_cam[:3, :3] @ light_dir.to(dtype=dtype, device=verts.device)
            )
            colors = colors * _lambert(interp[:, 3:6], -interp[:, 6:9], light)[:, None]
        colors = colors.clamp(0, 1)

        bg = _background(background, dtype, verts.device)
        rgb = bg.expand(height * width, 3).clone()
        rgb[pix] = colors
        depth_full = torch.zeros(height * width, dtype=dtype, device=verts.device)
        depth_full[pix] = depth
        return _downsample(
            rgb.view(height, width, 3),
            hit.view(height, width),
            depth_full.view(height, width),
            fbuf.view(height, width),
            s,
        )


def faces_at_pixels(verts: Tensor, faces: Tensor, camera: Camera) -> MeshRender:
    """The mesh (verts [V, 3], faces [F, 3]) rasterised on the CPU without shading, for what each
    pixel shows: `face_id` [H, W] its triangle (-1 where none), `depth` [H, W, 1] its depth."""
    verts = verts.detach().float().cpu()
    return rasterize_mesh(verts, faces.cpu(), camera, torch.zeros_like(verts), shading=False)


def _check_inputs(verts: Tensor, faces: Tensor, vertex_colors: Tensor, supersample: int) -> None:
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise ValueError(f"verts must be [V, 3], got {tuple(verts.shape)}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must be [F, 3], got {tuple(faces.shape)}")
    if vertex_colors.shape != verts.shape:
        raise ValueError(
            f"vertex_colors must be [V, 3] like verts {tuple(verts.shape)}, got {tuple(vertex_colors.shape)}"
        )
    if faces.numel() and (int(faces.min()) < 0 or int(faces.max()) >= verts.shape[0]):
        raise ValueError(f"faces index outside [0, {verts.shape[0]})")
    if supersample < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")


def _edge(a: Tensor, b: Tensor, p: Tensor) -> Tensor:
    """Edge function of p against the directed edge a->b: cross(a - p, b - p). [..., 2] -> [...]

    Written so that the same edge seen from the neighbouring triangle (b->a) gives exactly the
    negated value in floating point, which keeps shared edges crack-free.
    """
    return (a[..., 0] - p[..., 0]) * (b[..., 1] - p[..., 1]) - (a[..., 1] - p[..., 1]) * (b[..., 0] - p[..., 0])


def _screen_bary(tri: Tensor, area: Tensor, p: Tensor) -> Tensor:
    """Screen-space barycentrics [n, 3] of points p [n, 2] in triangles tri [n, 3, 2]."""
    a, b, c = tri.unbind(1)
    return torch.stack([_edge(b, c, p), _edge(c, a, p), _edge(a, b, p)], dim=1) / area[:, None]


def _perspective_bary(tri: Tensor, area: Tensor, face_z: Tensor, px: Tensor, py: Tensor) -> tuple[Tensor, Tensor]:
    """Perspective-correct barycentrics [n, 3] and camera depth [n]: 1/z is affine in screen space."""
    lam = _screen_bary(tri, area, torch.stack([px, py], dim=1))
    w = lam / face_z
    inv_z = w.sum(1)
    return w / inv_z[:, None], 1.0 / inv_z


def _pixel_centres(pix: Tensor, width: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    return (pix % width).to(dtype) + 0.5, torch.div(pix, width, rounding_mode="floor").to(dtype) + 0.5


def _nearest_faces(
    tri: Tensor, area: Tensor, face_z: Tensor, keep: Tensor, width: int, height: int, far: float
) -> tuple[Tensor, Tensor]:
    """Z-buffer: nearest depth [H*W] and face index [H*W] (-1 = none) per pixel centre.

    Ties in depth go to the highest face index, so the result does not depend on chunking.
    """
    device, dtype = tri.device, tri.dtype
    lo = torch.ceil(tri.amin(1) - 0.5)  # [F, 2] first pixel whose centre can be inside
    hi = torch.floor(tri.amax(1) - 0.5)  # [F, 2] last one
    lo[:, 0].clamp_(min=0)
    lo[:, 1].clamp_(min=0)
    hi[:, 0].clamp_(max=width - 1)
    hi[:, 1].clamp_(max=height - 1)
    size = (hi - lo + 1).clamp_min(0)  # [F, 2] bbox width and height
    keep = keep & (size > 0).all(1) & torch.isfinite(tri).all(2).all(1)
    ids = keep.nonzero().squeeze(1)  # [K] candidate faces
    boxes = torch.cat([lo[ids], size[ids, :1]], 1).long()  # [K, 3] x0, y0, bbox width
    counts = size[ids, 0].long() * size[ids, 1].long()  # [K] candidate pixels per face
    ends = counts.cumsum(0)
    # One row per face so each candidate needs a single gather: screen xy of the 3 vertices,
    # their 1/z, and 1/(twice the signed area).
    table = torch.cat([tri[ids].reshape(-1, 6), 1.0 / face_z[ids], 1.0 / area[ids, None]], 1)  # [K, 10]

    zbuf = torch.full((height * width,), float("inf"), dtype=dtype, device=device)
    fbuf = torch.full((height * width,), -1, dtype=torch.long, device=device)
    start = 0
    while start < len(ids):
        base = int(ends[start - 1]) if start > 0 else 0
        stop = max(start + 1, int(torch.searchsorted(ends, base + CANDIDATES_PER_CHUNK, right=True)))
        local = torch.repeat_interleave(torch.arange(start, stop, device=device), counts[start:stop])  # [C]
        offset = torch.arange(len(local), device=device) + base - (ends - counts).index_select(0, local)
        box = boxes.index_select(0, local)  # [C, 3]
        px = box[:, 0] + offset % box[:, 2]  # [C] candidate pixel coordinates
        py = box[:, 1] + torch.div(offset, box[:, 2], rounding_mode="floor")
        t = table.index_select(0, local)  # [C, 10]
        p = torch.stack([px.to(dtype) + 0.5, py.to(dtype) + 0.5], 1)  # [C, 2]
        a, b, c = t[:, 0:2], t[:, 2:4], t[:, 4:6]
        lam = torch.stack([_edge(b, c, p), _edge(c, a, p), _edge(a, b, p)], 1) * t[:, 9:10]  # [C, 3]
        hit = (lam >= 0).all(1).nonzero().squeeze(1)
        depth = 1.0 / (lam.index_select(0, hit) * t.index_select(0, hit)[:, 6:9]).sum(1)
        hit, depth = hit[depth <= far], depth[depth <= far]
        f = ids.index_select(0, local.index_select(0, hit))  # [n] global face index
        pix = py.index_select(0, hit) * width + px.index_select(0, hit)

        chunk_z = torch.full_like(zbuf, float("inf")).scatter_reduce(0, pix, depth, "amin")
        win = depth == chunk_z[pix]
        chunk_f = torch.full_like(fbuf, -1).scatter_reduce(0, pix[win], f[win], "amax")
        better = (chunk_z < zbuf) | ((chunk_z == zbuf) & (chunk_f > fbuf))
        zbuf = torch.where(better, chunk_z, zbuf)
        fbuf = torch.where(better, chunk_f, fbuf)
        start = stop
    return zbuf, fbuf


def _lambert(normal: Tensor, to_camera: Tensor, light: Tensor) -> Tensor:
    """AMBIENT + DIFFUSE * max(0, n.l) [n] for interpolated normals and surface-to-camera vectors
    [n, 3] and a camera-space light direction [3]; normals facing away from the camera are flipped
    so both sides of a surface are lit."""
    n = F.normalize(normal, dim=1)
    n = torch.where(((n * to_camera).sum(1) < 0)[:, None], -n, n)
    return AMBIENT + DIFFUSE * (n @ F.normalize(light, dim=0)).clamp_min(0)


def _vertex_normals(pts: Tensor, faces: Tensor) -> Tensor:
    """Area-weighted vertex normals [V, 3] (outward for counter-clockwise faces)."""
    v0, v1, v2 = pts[faces].unbind(1)
    face_n = torch.linalg.cross(v1 - v0, v2 - v0)  # [F, 3], length = twice the area
    normals = torch.zeros_like(pts).index_add_(0, faces.reshape(-1), face_n.repeat_interleave(3, 0))
    return F.normalize(normals, dim=1)


def _background(background, dtype: torch.dtype, device: torch.device) -> Tensor:
    if background is None:
        return torch.zeros(3, dtype=dtype, device=device)
    bg = torch.as_tensor(background, dtype=dtype, device=device).reshape(-1)
    if bg.numel() != 3:
        raise ValueError(f"background must be an RGB triple, got {tuple(bg.shape)} values")
    return bg


def _downsample(rgb: Tensor, hit: Tensor, depth: Tensor, face: Tensor, s: int) -> MeshRender:
    """Box-filter s x s blocks: [sH, sW, ...] -> [H, W, ...]."""
    h, w = rgb.shape[0] // s, rgb.shape[1] // s
    blocks = lambda x: x.reshape(h, s, w, s, *x.shape[2:]).transpose(1, 2).reshape(h, w, s * s, *x.shape[2:])  # noqa: E731
    cover = blocks(hit).to(rgb.dtype)  # [H, W, s*s]
    count = cover.sum(2)
    mask = count / (s * s)
    mean_depth = torch.where(count > 0, blocks(depth).sum(2) / count.clamp_min(1), torch.zeros_like(count))
    nearest = torch.where(blocks(hit), blocks(depth), torch.full_like(cover, float("inf"))).argmin(2)
    face_id = blocks(face).gather(2, nearest[..., None]).squeeze(2)  # [H, W]; -1 when nothing hit
    return MeshRender(blocks(rgb).mean(2), mask[..., None], mean_depth[..., None], face_id)
