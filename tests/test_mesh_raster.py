"""Mesh rasterizer vs an independent per-pixel ray-casting oracle (float64, Python loops)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from avatar.splat.camera import Camera
from avatar.splat.mesh_raster import AMBIENT, DIFFUSE, LIGHT_DIR_CAM, rasterize_mesh


def make_camera(width: int = 13, height: int = 10) -> Camera:
    """Non-square pixels and an off-centre principal point, looking down +z from the origin."""
    k = torch.tensor([[11.0, 0.0, 6.1], [0.0, 9.0, 4.7], [0.0, 0.0, 1.0]], dtype=torch.float64)
    return Camera(k, torch.eye(4, dtype=torch.float64), width, height, near=0.1, far=50.0)


def oracle(verts: np.ndarray, faces: np.ndarray, colors: np.ndarray, cam: Camera,
           supersample: int = 1, background=(0.0, 0.0, 0.0)):
    """Möller-Trumbore ray casting through every sub-pixel centre; nearest hit wins.

    Triangles with a vertex in front of the near plane are dropped (the documented rule).
    Returns rgb [H, W, 3], mask [H, W], face id [H, W] (at the pixel's nearest subsample).
    """
    k = cam.K.double().numpy()
    w2c = cam.world_to_cam.double().numpy()
    pts = verts @ w2c[:3, :3].T + w2c[:3, 3]
    kinv = np.linalg.inv(k)
    s = supersample
    rgb = np.zeros((cam.height, cam.width, 3))
    mask = np.zeros((cam.height, cam.width))
    face_id = -np.ones((cam.height, cam.width), dtype=np.int64)
    for v in range(cam.height):
        for u in range(cam.width):
            nearest_here = math.inf
            for sy in range(s):
                for sx in range(s):
                    d = kinv @ np.array([u + (sx + 0.5) / s, v + (sy + 0.5) / s, 1.0])
                    best, best_f, best_c = math.inf, -1, None
                    for f, (a, b, c) in enumerate(faces):
                        if min(pts[a, 2], pts[b, 2], pts[c, 2]) < cam.near:
                            continue
                        e1, e2 = pts[b] - pts[a], pts[c] - pts[a]
                        p = np.cross(d, e2)
                        det = e1 @ p
                        if abs(det) < 1e-15:
                            continue
                        tv = -pts[a]
                        bu = (tv @ p) / det
                        q = np.cross(tv, e1)
                        bv = (d @ q) / det
                        t = (e2 @ q) / det
                        if bu < 0 or bv < 0 or bu + bv > 1 or t <= 0:
                            continue
                        depth = t * d[2]
                        if depth < best and depth <= cam.far:
                            best, best_f = depth, f
                            best_c = (1 - bu - bv) * colors[a] + bu * colors[b] + bv * colors[c]
                    if best_f >= 0:
                        rgb[v, u] += best_c / s**2
                        mask[v, u] += 1 / s**2
                        if best < nearest_here:
                            nearest_here, face_id[v, u] = best, best_f
                    else:
                        rgb[v, u] += np.asarray(background) / s**2
    return rgb, mask, face_id


def random_scene(seed: int, num_faces: int = 8, spread: float = 1.2):
    """Random triangles 2-6 units in front of the camera; many overlap and leave the image."""
    g = np.random.default_rng(seed)
    centres = np.stack([g.uniform(-spread, spread, num_faces), g.uniform(-spread, spread, num_faces),
                        g.uniform(2.0, 6.0, num_faces)], 1)
    verts = (centres[:, None, :] + g.normal(0, 0.9, (num_faces, 3, 3))).reshape(-1, 3)
    faces = np.arange(3 * num_faces).reshape(-1, 3)
    colors = g.uniform(0, 1, verts.shape)
    return verts, faces, colors


def render(verts, faces, colors, cam, **kw):
    return rasterize_mesh(torch.from_numpy(verts), torch.from_numpy(faces), cam,
                          torch.from_numpy(colors), **kw)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_ray_casting_oracle(seed):
    verts, faces, colors = random_scene(seed)
    cam = make_camera()
    out = render(verts, faces, colors, cam, shading=False)
    rgb, mask, face_id = oracle(verts, faces, colors, cam)
    assert mask.sum() > 20 and len(np.unique(face_id)) > 3  # the scene is not trivially empty
    np.testing.assert_array_equal(out.face_id.numpy(), face_id)
    np.testing.assert_array_equal(out.mask[..., 0].numpy(), mask)
    np.testing.assert_allclose(out.rgb.numpy(), rgb, atol=1e-9)


def test_depth_is_camera_z_of_the_ray_hit():
    verts, faces, colors = random_scene(3)
    cam = make_camera()
    out = render(verts, faces, colors, cam, shading=False)
    hit = out.face_id >= 0
    # The hit point depth * K^-1 [u+0.5, v+0.5, 1] must lie on the plane of the reported face.
    v, u = torch.nonzero(hit, as_tuple=True)
    rays = torch.stack([u + 0.5, v + 0.5, torch.ones_like(u, dtype=torch.float64)], 1) @ torch.linalg.inv(cam.K).T
    points = rays * out.depth[hit]  # [n, 3]
    tri = torch.from_numpy(verts[faces])[out.face_id[hit]]  # [n, 3, 3]
    normal = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    dist = ((points - tri[:, 0]) * normal).sum(1) / normal.norm(dim=1)
    assert dist.abs().max() < 1e-9
    assert (out.depth[~hit] == 0).all()


def test_supersampled_coverage_matches_oracle():
    verts, faces, colors = random_scene(4, num_faces=5)
    cam = make_camera(9, 7)
    out = render(verts, faces, colors, cam, shading=False, supersample=3, background=(0.2, 0.5, 1.0))
    rgb, mask, face_id = oracle(verts, faces, colors, cam, supersample=3, background=(0.2, 0.5, 1.0))
    assert 0 < ((mask > 0) & (mask < 1)).sum()  # some edge pixels are fractionally covered
    np.testing.assert_allclose(out.mask[..., 0].numpy(), mask, atol=1e-12)
    np.testing.assert_allclose(out.rgb.numpy(), rgb, atol=1e-9)
    np.testing.assert_array_equal(out.face_id.numpy(), face_id)


def test_occlusion_does_not_depend_on_face_order():
    # A red square at z=3 in front of a larger green square at z=5.
    def square(half, z):
        return np.array([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]])
    verts = np.concatenate([square(0.4, 3.0), square(2.0, 5.0)])
    colors = np.array([[1.0, 0, 0]] * 4 + [[0, 1.0, 0]] * 4)
    quads = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    cam = Camera(Camera.intrinsics(20, 20, 40.0).double(), torch.eye(4, dtype=torch.float64), 20, 20)
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]):
        out = render(verts, quads[order], colors, cam, shading=False)
        centre = out.rgb[10, 10]
        corner = out.rgb[1, 1]
        assert torch.allclose(centre, torch.tensor([1.0, 0, 0], dtype=torch.float64))
        assert torch.allclose(corner, torch.tensor([0, 1.0, 0], dtype=torch.float64))
        assert out.depth[10, 10, 0].item() == pytest.approx(3.0)
        assert out.depth[1, 1, 0].item() == pytest.approx(5.0)


def test_interpolation_is_perspective_correct():
    # A plane receding steeply in depth; vertex colours are an affine function of position, so
    # the exact colour at a pixel is that function at the 3D point the pixel's ray hits.
    verts = np.array([[-1.0, -1.0, 1.5], [1.0, -1.0, 1.5], [1.0, 1.0, 9.0], [-1.0, 1.0, 9.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])

    def colour_of(p):  # [n, 3] -> [n, 3] in [0, 1] on this quad
        return np.stack([(p[:, 0] + 1) / 2, (p[:, 1] + 1) / 2, (p[:, 2] - 1.5) / 7.5], 1)

    cam = Camera(Camera.intrinsics(24, 24, 60.0).double(), torch.eye(4, dtype=torch.float64), 24, 24)
    out = render(verts, faces, colour_of(verts), cam, shading=False)
    hit = (out.face_id >= 0).numpy()
    v, u = np.nonzero(hit)
    rays = np.stack([u + 0.5, v + 0.5, np.ones_like(u, dtype=float)], 1) @ np.linalg.inv(cam.K.numpy()).T
    # Exact ray-plane intersection, independent of the rasterizer's depth output.
    n = np.cross(verts[1] - verts[0], verts[2] - verts[0])
    t = (verts[0] @ n) / (rays @ n)
    expected = colour_of(rays * t[:, None])
    assert hit.sum() > 200
    np.testing.assert_allclose(out.rgb.numpy()[hit], expected, atol=1e-9)
    # Screen-space (affine) interpolation would be visibly wrong here: the test can tell them apart.
    proj = verts @ cam.K.numpy().T
    screen = proj[:, :2] / proj[:, 2:]
    fid = out.face_id.numpy()[hit]
    tri = screen[faces[fid]]  # [n, 3, 2]
    p = np.stack([u + 0.5, v + 0.5], 1)
    m = np.stack([tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]], 2)  # [n, 2, 2]
    b12 = np.linalg.solve(m, (p - tri[:, 0])[..., None])[..., 0]
    affine_bary = np.concatenate([1 - b12.sum(1, keepdims=True), b12], 1)
    affine = np.einsum("nk,nkc->nc", affine_bary, colour_of(verts)[faces[fid]])
    assert np.abs(affine - expected).max() > 0.05


def test_partly_off_screen_triangles_match_oracle():
    # Huge triangles whose vertices project far outside the image on every side.
    verts = np.array([[-30.0, -2.0, 4.0], [25.0, -1.0, 5.0], [0.5, 40.0, 6.0],
                      [-3.0, -50.0, 3.0], [60.0, 2.0, 7.0], [-1.0, 1.5, 2.5]])
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    colors = np.random.default_rng(5).uniform(0, 1, verts.shape)
    cam = make_camera()
    out = render(verts, faces, colors, cam, shading=False)
    rgb, mask, face_id = oracle(verts, faces, colors, cam)
    assert mask.mean() > 0.8 and {0, 1} <= set(np.unique(face_id).tolist())
    np.testing.assert_array_equal(out.face_id.numpy(), face_id)
    np.testing.assert_allclose(out.rgb.numpy(), rgb, atol=1e-9)


def test_triangles_behind_or_crossing_the_near_plane_are_dropped():
    cam = make_camera()
    behind = np.array([[-1.0, -1.0, -3.0], [1.0, -1.0, -3.0], [0.0, 1.0, -3.0]])  # would project mirrored
    crossing = np.array([[-1.0, -1.0, 0.05], [1.0, -1.0, 4.0], [0.0, 1.0, 4.0]])  # one vertex before near
    visible = np.array([[-0.2, -0.2, 3.0], [0.2, -0.2, 3.0], [0.0, 0.2, 3.0]])
    colors = np.ones((9, 3))
    faces = np.arange(9).reshape(3, 3)
    out = render(np.concatenate([behind, crossing, visible]), faces, colors, cam, shading=False)
    assert set(out.face_id.unique().tolist()) == {-1, 2}
    only_behind = render(behind, faces[:1], colors[:3], cam, shading=False)
    assert (only_behind.mask == 0).all() and (only_behind.face_id == -1).all()


def test_closed_mesh_has_no_cracks():
    # A jittered grid of triangles covering the whole image: every pixel centre is hit exactly.
    g = np.random.default_rng(6)
    n = 9
    xs, ys = np.meshgrid(np.linspace(-3, 3, n), np.linspace(-3, 3, n))
    xy = np.stack([xs, ys], -1)
    xy[1:-1, 1:-1] += g.uniform(-0.2, 0.2, (n - 2, n - 2, 2))
    verts = np.concatenate([xy.reshape(-1, 2), g.uniform(3, 4, (n * n, 1))], 1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)])
    cam = Camera(Camera.intrinsics(64, 48, 60.0).double(), torch.eye(4, dtype=torch.float64), 64, 48)
    out = render(verts, faces, np.full(verts.shape, 0.5), cam)
    assert (out.mask == 1).all()


def test_shading_scales_colour_by_lambert_term():
    # One flat triangle: every pixel's shaded colour = colour x (ambient + diffuse max(0, n.l)).
    verts = np.array([[-1.0, -1.0, 3.0], [1.0, -1.0, 3.6], [0.0, 1.0, 3.3]])
    faces = np.array([[0, 1, 2]])
    colors = np.array([[0.9, 0.6, 0.3]] * 3)
    cam = Camera(Camera.intrinsics(16, 16, 50.0).double(), torch.eye(4, dtype=torch.float64), 16, 16)
    flat = render(verts, faces, colors, cam, shading=False)
    shaded = render(verts, faces, colors, cam, shading=True)
    n = np.cross(verts[1] - verts[0], verts[2] - verts[0])
    n = n / np.linalg.norm(n)
    if n @ (-verts[0]) < 0:  # lit from the side facing the camera
        n = -n
    light = np.asarray(LIGHT_DIR_CAM) / np.linalg.norm(LIGHT_DIR_CAM)
    factor = AMBIENT + DIFFUSE * max(0.0, n @ light)
    hit = flat.mask[..., 0] > 0
    assert hit.sum() > 20 and 0.4 < factor < 1.0
    np.testing.assert_allclose(shaded.rgb[hit].numpy(), flat.rgb[hit].numpy() * factor, atol=1e-9)


def test_float32_agrees_with_float64():
    verts, faces, colors = random_scene(7, num_faces=30, spread=2.0)
    cam = make_camera(40, 30)
    cam.K[:2] *= 3
    hi = render(verts, faces, colors, cam, supersample=2)
    lo = rasterize_mesh(torch.from_numpy(verts).float(), torch.from_numpy(faces), cam,
                        torch.from_numpy(colors).float(), supersample=2)
    assert lo.rgb.dtype == torch.float32
    # Only pixels whose centre sits within float32 rounding of an edge may differ.
    assert (lo.face_id != hi.face_id).float().mean() < 0.01
    assert (lo.rgb.double() - hi.rgb).abs().mean() < 1e-3


def test_bad_input_raises():
    verts, faces, colors = random_scene(0, num_faces=2)
    cam = make_camera()
    with pytest.raises(ValueError, match="faces index"):
        render(verts, faces + 10, colors, cam)
    with pytest.raises(ValueError, match="vertex_colors"):
        render(verts, faces, colors[:3], cam)
    with pytest.raises(ValueError, match="supersample"):
        render(verts, faces, colors, cam, supersample=0)


def test_world_light_direction_follows_the_camera_transform():
    # The same flat triangle seen by a rotated camera: a world-space light gives the Lambert factor
    # of the world-space normal, whatever the camera.
    verts = np.array([[-1.0, -1.0, 3.0], [1.0, -1.0, 3.6], [0.0, 1.0, 3.3]])
    faces = np.array([[0, 1, 2]])
    colors = np.array([[0.9, 0.6, 0.3]] * 3)
    w2c = torch.eye(4, dtype=torch.float64)
    w2c[:3, :3] = torch.tensor([[0.0, 0, -1], [0, 1, 0], [1, 0, 0]], dtype=torch.float64)  # yaw 90°
    cam = Camera(Camera.intrinsics(16, 16, 50.0).double(), w2c, 16, 16)
    world = (verts - 0.0) @ w2c[:3, :3].numpy()  # camera-space points -> world: R^T p
    n = np.cross(world[1] - world[0], world[2] - world[0])
    n = n / np.linalg.norm(n)
    if n @ (cam.position.numpy() - world[0]) < 0:
        n = -n
    light = n + np.array([0.3, -0.2, 0.1])  # roughly facing the lit side
    flat = render(world, faces, colors, cam, shading=False)
    shaded = rasterize_mesh(torch.from_numpy(world), torch.from_numpy(faces), cam, torch.from_numpy(colors),
                            shading=True, light_dir=torch.from_numpy(light))
    factor = AMBIENT + DIFFUSE * max(0.0, n @ (light / np.linalg.norm(light)))
    hit = flat.mask[..., 0] > 0
    assert hit.sum() > 20 and 0.4 < factor < 1.0
    np.testing.assert_allclose(shaded.rgb[hit].numpy(), flat.rgb[hit].numpy() * factor, atol=1e-9)
