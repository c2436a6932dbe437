"""The pure-torch reference rasterizer against a naive float64 per-pixel loop, gradcheck and
an analytic single Gaussian.

The oracle shares no code with avatar.splat: projection and SH come from gsplat's pure-torch
implementation, compositing is a plain Python loop over pixels and depth-sorted Gaussians.
"""

from __future__ import annotations

import math

import pytest
import torch

from avatar.splat.world import Gaussians
from avatar.splat.camera import Camera
from avatar.splat import reference
from avatar.splat.projection import project_gaussians
from avatar.splat.reference import RenderInputError, splat_reference
from avatar.splat.sh import SH_C0

gsplat_impl = pytest.importorskip("gsplat.cuda._torch_impl",
                                  reason="gsplat's torch implementation is the projection oracle")


def naive_render(g: Gaussians, cam: Camera, background: torch.Tensor | None):
    """Per-pixel front-to-back loop in float64 following the documented 3DGS rules literally.
    Returns rgb [H, W, 3], alpha [H, W, 1], depth [H, W, 1] and how many pixels stopped early."""
    g = g.to(dtype=torch.float64)
    covars, _ = gsplat_impl._quat_scale_to_covar_preci(g.quats, g.scales, compute_preci=False)
    _, means2d, depths, conics, _ = gsplat_impl._fully_fused_projection(
        g.means, covars, cam.world_to_cam.double()[None], cam.K.double()[None], cam.width, cam.height,
        eps2d=0.3, near_plane=cam.near, far_plane=1e10)
    means2d, depths, conics = means2d[0].tolist(), depths[0].tolist(), conics[0].tolist()
    degree = int(round(g.sh.shape[1] ** 0.5)) - 1
    dirs = g.means - torch.linalg.inv(cam.world_to_cam.double())[:3, 3]
    colours = (gsplat_impl._spherical_harmonics(degree, dirs, g.sh) + 0.5).clamp(min=0).tolist()
    opacities = g.opacities.tolist()
    order = sorted((depths[i], i) for i in range(g.num) if cam.near < depths[i] <= cam.far)
    bg = [0.0, 0.0, 0.0] if background is None else background.double().tolist()
    rgb = torch.zeros(cam.height, cam.width, 3, dtype=torch.float64)
    alpha = torch.zeros(cam.height, cam.width, 1, dtype=torch.float64)
    depth = torch.zeros(cam.height, cam.width, 1, dtype=torch.float64)
    early_stops = 0
    for v in range(cam.height):
        for u in range(cam.width):
            t, acc_rgb, acc_depth = 1.0, [0.0, 0.0, 0.0], 0.0
            for _, i in order:
                dx, dy = u + 0.5 - means2d[i][0], v + 0.5 - means2d[i][1]
                a, b, c = conics[i]
                power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy
                if power > 0:
                    continue
                alpha_i = min(0.99, opacities[i] * math.exp(power))
                if alpha_i < 1 / 255:
                    continue
                t_next = t * (1 - alpha_i)
                if t_next < 1e-4:
                    early_stops += 1
                    break
                w = alpha_i * t
                acc_rgb = [acc_rgb[ch] + w * colours[i][ch] for ch in range(3)]
                acc_depth += w * depths[i]
                t = t_next
            rgb[v, u] = torch.tensor([acc_rgb[ch] + t * bg[ch] for ch in range(3)], dtype=torch.float64)
            alpha[v, u, 0] = 1 - t
            depth[v, u, 0] = acc_depth
    return rgb, alpha, depth, early_stops


def small_camera(width: int = 24, height: int = 20) -> Camera:
    cam = Camera.look_at((0.3, 0.2, 2.0), (0.0, 0.0, 0.0), width, height, fov_y_deg=40.0)
    k = cam.K.clone()
    k[0, 2] += 2.5  # off-centre principal point: asymmetric frustum clamp
    k[1, 1] *= 1.1  # non-square pixels
    return Camera(k, cam.world_to_cam, width, height, near=0.01, far=3.0)


def random_scene(n: int, seed: int, degree: int = 3, spread: float = 0.8) -> Gaussians:
    """A mix of ordinary, behind-camera, beyond-far, off-screen, transparent, huge, tiny and
    stacked (early-stop) Gaussians around the origin seen by small_camera()."""
    gen = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=gen) - 0.5) * spread
    scales = torch.exp(torch.empty(n, 3).uniform_(-4.5, -2.0, generator=gen))
    opacities = torch.rand(n, generator=gen) * 0.9 + 0.05
    if n >= 12:
        means[0] = torch.tensor([0.1, 0.0, 2.5])  # behind the camera
        means[1] = torch.tensor([0.0, 0.0, -3.0])  # beyond the far plane
        means[2] = torch.tensor([2.5, 0.0, 0.0])  # far off-screen: exercises the Jacobian clamp
        opacities[3] = 0.0
        opacities[4] = 0.003  # below 1/255: culled
        scales[5] = torch.tensor([0.6, 0.3, 0.5])  # covers the whole image
        opacities[5] = 1.0  # alpha capped at 0.99 over several pixels
        scales[6] = torch.tensor([1e-4, 2e-4, 1e-4])  # sub-pixel: the low-pass dominates
        # Stacked, nearly opaque near the image centre: early stop.
        means[7:12] = torch.tensor([0.05, -0.02, 0.1]) + torch.randn(5, 3, generator=gen) * 0.01
        scales[7:12] = 0.15
        opacities[7:12] = torch.tensor([0.97, 0.9, 0.98, 0.95, 0.99])
    return Gaussians(means, torch.randn(n, 4, generator=gen), scales, opacities,
                     torch.randn(n, (degree + 1) ** 2, 3, generator=gen) * 0.4)


@pytest.mark.parametrize("n, seed", [(1, 0), (5, 1), (12, 2), (30, 3), (60, 4), (60, 5)])
def test_matches_naive_per_pixel_loop(n, seed):
    scene, cam = random_scene(n, seed).to(dtype=torch.float64), small_camera()
    background = torch.tensor([0.2, 0.5, 0.9]) if seed % 2 else None
    out = splat_reference(scene, cam, background)
    rgb, alpha, depth, early_stops = naive_render(scene, cam, background)
    if n == 60:
        assert early_stops > 0  # the stacked Gaussians exercise the 3DGS stop rule
    assert out.rgb.shape == (20, 24, 3) and out.alpha.shape == (20, 24, 1) and out.depth.shape == (20, 24, 1)
    torch.testing.assert_close(out.rgb, rgb, rtol=0, atol=1e-10)
    torch.testing.assert_close(out.alpha, alpha, rtol=0, atol=1e-10)
    torch.testing.assert_close(out.depth, depth, rtol=0, atol=1e-10)
    assert out.radii.shape == (n,) and not out.radii.is_floating_point()


def test_many_chunks_and_image_borders_match_naive_loop(monkeypatch):
    """Tiny front-to-back chunks exercise the carried per-pixel state and the skipping of
    stopped rows; a wide spread puts many ellipses across the image borders."""
    monkeypatch.setattr(reference, "PAIRS_PER_CHUNK", 7)
    scene, cam = random_scene(60, 8, spread=1.6).to(dtype=torch.float64), small_camera()
    background = torch.tensor([0.7, 0.1, 0.3])
    out = splat_reference(scene, cam, background)
    rgb, alpha, depth, early_stops = naive_render(scene, cam, background)
    assert early_stops > 0
    torch.testing.assert_close(out.rgb, rgb, rtol=0, atol=1e-10)
    torch.testing.assert_close(out.alpha, alpha, rtol=0, atol=1e-10)
    torch.testing.assert_close(out.depth, depth, rtol=0, atol=1e-10)


def test_float32_close_to_float64():
    scene, cam = random_scene(60, 5), small_camera()
    out32 = splat_reference(scene, cam, None)
    out64 = splat_reference(scene.to(dtype=torch.float64), cam, None)
    # Threshold decisions (1/255, 1e-4) may flip on a few pixels in float32; everything else agrees closely.
    close = (out32.rgb.double() - out64.rgb).abs().amax(-1) < 1e-4
    assert close.float().mean() > 0.98
    assert out32.rgb.dtype == torch.float32


def test_empty_and_single_gaussian():
    cam = small_camera()
    empty = Gaussians(torch.zeros(0, 3), torch.zeros(0, 4), torch.zeros(0, 3), torch.zeros(0), torch.zeros(0, 1, 3))
    bg = torch.tensor([0.1, 0.2, 0.3])
    out = splat_reference(empty, cam, bg)
    torch.testing.assert_close(out.rgb, bg.expand(20, 24, 3))
    assert out.alpha.abs().max() == 0 and out.depth.abs().max() == 0
    assert out.means2d.shape == (0, 2) and out.radii.shape == (0,)

    one = random_scene(1, 7, degree=0).to(dtype=torch.float64)
    out = splat_reference(one, cam, bg)
    rgb, alpha, _, _ = naive_render(one, cam, bg)
    torch.testing.assert_close(out.rgb, rgb, rtol=0, atol=1e-10)
    assert alpha.max() > 0.05  # the single Gaussian is actually visible


def test_single_gaussian_analytic_centre_and_neighbour():
    """An isotropic Gaussian on the optical axis, centred on a pixel centre: alpha at the centre
    is the opacity; one pixel to the right it is opacity exp(-1/2 / (sigma_px^2 + 0.3))."""
    width = height = 9
    f, z, sigma, opacity, dc = 30.0, 2.0, 0.05, 0.7, 0.4
    k = torch.tensor([[f, 0.0, 4.5], [0.0, f, 4.5], [0.0, 0.0, 1.0]])  # pixel (4, 4) centre on the axis
    cam = Camera(k, torch.eye(4), width, height)
    g = Gaussians(torch.tensor([[0.0, 0.0, z]]), torch.tensor([[2.0, 0.0, 0.0, 0.0]]),
                  torch.full((1, 3), sigma), torch.tensor([opacity]), torch.full((1, 1, 3), dc))
    bg = torch.tensor([0.0, 0.5, 1.0])
    out = splat_reference(g, cam, bg)
    colour = SH_C0 * dc + 0.5
    torch.testing.assert_close(out.alpha[4, 4, 0], torch.tensor(opacity))
    torch.testing.assert_close(out.rgb[4, 4], opacity * colour + (1 - opacity) * bg)
    torch.testing.assert_close(out.depth[4, 4, 0], torch.tensor(opacity * z))
    sigma_px2 = (f * sigma / z) ** 2 + 0.3
    neighbour = opacity * math.exp(-0.5 / sigma_px2)
    torch.testing.assert_close(out.alpha[4, 5, 0], torch.tensor(neighbour, dtype=torch.float32))
    torch.testing.assert_close(out.alpha[3, 4, 0], torch.tensor(neighbour, dtype=torch.float32))
    expected_radius = math.ceil(math.sqrt(2 * math.log(255 * opacity)) * math.sqrt(sigma_px2))
    assert int(out.radii[0]) == expected_radius


def gradcheck_scene() -> tuple[Gaussians, Camera]:
    """3 overlapping Gaussians that cover all 8x8 pixels with alpha well above 1/255 and below
    0.99, T never near 1e-4, colours away from the 0 clamp and means inside the frustum clamp:
    the piecewise rules (alpha threshold, 0.99 cap, early stop, colour clamp, Jacobian clamp)
    are discontinuous or kinked only at their switching points, so gradcheck is run away from them."""
    cam = Camera(torch.tensor([[10.0, 0.0, 4.0], [0.0, 10.0, 4.0], [0.0, 0.0, 1.0]], dtype=torch.float64),
                 torch.eye(4, dtype=torch.float64), 8, 8)
    means = torch.tensor([[0.02, -0.03, 2.0], [-0.1, 0.05, 2.2], [0.08, 0.1, 2.5]], dtype=torch.float64)
    quats = torch.tensor([[1.0, 0.2, -0.1, 0.3], [0.8, -0.3, 0.4, 0.1], [0.5, 0.5, -0.2, 0.6]], dtype=torch.float64)
    scales = torch.tensor([[0.9, 0.6, 0.7], [0.8, 1.0, 0.4], [1.1, 0.9, 0.8]], dtype=torch.float64)
    opacities = torch.tensor([0.45, 0.6, 0.7], dtype=torch.float64)
    sh = torch.randn(3, 16, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.05
    return Gaussians(means, quats, scales, opacities, sh), cam


def test_gradcheck_float64():
    scene, cam = gradcheck_scene()
    background = torch.tensor([0.3, 0.1, 0.6], dtype=torch.float64)

    def render(means, quats, scales, opacities, sh):
        out = splat_reference(Gaussians(means, quats, scales, opacities, sh), cam, background)
        return out.rgb, out.alpha, out.depth

    inputs = tuple(t.clone().requires_grad_(True) for t in
                   (scene.means, scene.quats, scene.scales, scene.opacities, scene.sh))
    # Guard the premise: every (Gaussian, pixel) alpha is far from 1/255 and from the 0.99 cap.
    proj = project_gaussians(scene.means, scene.quats, scene.scales, cam)
    v, u = torch.meshgrid(torch.arange(8, dtype=torch.float64) + 0.5, torch.arange(8, dtype=torch.float64) + 0.5,
                          indexing="ij")
    dx, dy = u.reshape(1, -1) - proj.means2d[:, :1], v.reshape(1, -1) - proj.means2d[:, 1:]  # [3, 64]
    a, b, c = proj.conics.unbind(-1)
    power = -0.5 * (a[:, None] * dx * dx + c[:, None] * dy * dy) - b[:, None] * dx * dy
    pair_alpha = scene.opacities[:, None] * torch.exp(power)
    assert pair_alpha.min() > 10 / 255 and pair_alpha.max() < 0.9
    assert torch.autograd.gradcheck(render, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_means2d_gradient_flows():
    scene, cam = random_scene(30, 3), small_camera()
    scene = Gaussians(*(t.clone().requires_grad_(True) for t in
                        (scene.means, scene.quats, scene.scales, scene.opacities, scene.sh)))
    out = splat_reference(scene, cam, None)
    out.means2d.retain_grad()
    (out.rgb * torch.rand_like(out.rgb)).sum().backward()
    grad = out.means2d.grad
    assert grad is not None and grad.shape == (30, 2)
    visible = out.radii > 0
    assert (grad[visible].norm(dim=-1) > 0).float().mean() > 0.5
    assert grad[~visible].abs().max() == 0
    assert scene.means.grad is not None and scene.means.grad[visible].abs().max() > 0


def test_bad_inputs_raise_clear_errors():
    scene, cam = random_scene(5, 0), small_camera()
    with pytest.raises(RenderInputError, match="opacities"):
        splat_reference(Gaussians(scene.means, scene.quats, scene.scales, scene.opacities[:3], scene.sh), cam)
    with pytest.raises(ValueError, match="coefficients"):
        splat_reference(Gaussians(scene.means, scene.quats, scene.scales, scene.opacities, scene.sh[:, :5]), cam)
    with pytest.raises(RenderInputError, match="background"):
        splat_reference(scene, cam, torch.zeros(4))
    with pytest.raises(RenderInputError, match="max_pairs"):
        splat_reference(random_scene(60, 4), cam, None, max_pairs=100)


def test_gsplat_backend_refuses_cpu_tensors_and_unsupported_releases(monkeypatch):
    import gsplat

    from avatar.runtime.backends import BackendDeviceError, BackendUnavailable
    from avatar.splat import splat
    from avatar.splat.gsplat_backend import check_gsplat_version, splat_gsplat

    with pytest.raises(BackendDeviceError, match="'gsplat' splat backend computes on cuda tensors"):
        splat(random_scene(3, 0), small_camera(), backend="gsplat")
    with pytest.raises(ValueError, match="CUDA"):
        splat_gsplat(random_scene(3, 0), small_camera())
    check_gsplat_version()  # the installed release is one pyproject allows
    monkeypatch.setattr(gsplat, "__version__", "1.6.0")
    with pytest.raises(BackendUnavailable, match="gsplat 1.6.0 is not a supported release"):
        check_gsplat_version()


def test_gsplat_backend_uses_only_gsplats_public_api():
    """gsplat.cuda._wrapper changes between releases: the backend imports only `gsplat` and its
    `rasterization`, and calls it with arguments its signature has."""
    import ast
    import inspect

    import gsplat

    from avatar.splat import gsplat_backend

    imported = set()
    for node in ast.walk(ast.parse(inspect.getsource(gsplat_backend))):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names if a.name.startswith("gsplat")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gsplat"):
            imported |= {f"{node.module}.{a.name}" for a in node.names}
    assert imported == {"gsplat", "gsplat.rasterization"}
    parameters = inspect.signature(gsplat.rasterization).parameters
    for name in ("near_plane", "far_plane", "eps2d", "sh_degree", "packed", "backgrounds", "render_mode"):
        assert name in parameters


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="gsplat rasterizes only on CUDA")
def test_gsplat_backend_agrees_with_reference_on_cuda():
    """gsplat caps alpha at 0.999 (not 0.99) and stops at T <= 1e-4: close, not bitwise."""
    from avatar.splat.gsplat_backend import splat_gsplat

    scene = random_scene(60, 4).to(device="cuda")
    scene.means.requires_grad_(True)
    cam, background = small_camera().to(device="cuda"), torch.tensor([0.2, 0.5, 0.9], device="cuda")
    ours, theirs = splat_reference(scene, cam, background), splat_gsplat(scene, cam, background)
    # gsplat leaves the screen position of a Gaussian it culls at zero: the culled sets must agree
    # (the scene's behind-camera, beyond-far, off-screen and transparent ones), the rest's positions too.
    visible = ours.radii > 0  # [N]
    assert torch.equal(theirs.radii > 0, visible) and not visible.all()
    torch.testing.assert_close(theirs.means2d[0][visible], ours.means2d[visible], rtol=1e-5, atol=1e-4)
    assert (theirs.rgb - ours.rgb).abs().mean() < 2e-3
    assert (theirs.alpha - ours.alpha).abs().mean() < 2e-3
    theirs.means2d.retain_grad()
    theirs.rgb.sum().backward()
    assert theirs.means2d.grad is not None and theirs.means2d.grad.abs().sum() > 0
