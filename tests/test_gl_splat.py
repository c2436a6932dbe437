"""The `gl` splat backend (viewer.gl.splat, OpenGL shaders through EGL) against the torch
reference rasterizer (avatar.splat.reference) on the same Gaussians and cameras.

Skipped with the reason when moderngl is missing or no OpenGL 3.3 context can be created.
The only intended difference from the reference is its early stop (T < 1e-4) which back-to-front
blending cannot do; it only touches pixels whose reference alpha exceeds 0.99, so elsewhere the
images must agree to float rounding, and everywhere the alpha gap is at most 1 - reference alpha.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from avatar.gaussians import GaussianAvatar, blend
from avatar.splat.world import Gaussians
from avatar.splat.framing import head_target
from avatar.splat import Camera, splat
from avatar.splat.cut_region import clip_to_region
from avatar.splat.reference import RenderInputError
from avatar.rig.loaders import load_rig

moderngl = pytest.importorskip("moderngl", reason="the gl backend needs moderngl (pip install '.[viewer]')")
from viewer.gl.backend import register_gl_backend  # noqa: E402
from viewer.gl.cut import GLHeadCut  # noqa: E402
from viewer.gl.splat import GLSplatRenderer, GLUnavailable, create_headless_context  # noqa: E402

register_gl_backend()
PSNR_BAR_DB = 35.0  # the viewer issue's bar for the gl backend against the reference
EARLY_STOP_ALPHA = 0.99  # below this reference alpha no pixel can have stopped early (T >= 0.01)
BACKGROUND = torch.tensor([0.2, 0.5, 0.9])


@pytest.fixture(scope="module")
def ctx():
    try:
        context = create_headless_context()
    except GLUnavailable as e:
        pytest.skip(f"no OpenGL context for the gl backend: {e}")
    yield context
    context.release()


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return -10.0 * math.log10(float(((a - b) ** 2).mean()))


def random_gaussians(n: int, sh_degree: int, seed: int) -> Gaussians:
    """A cloud around the origin: mixed sizes and opacities (some below 1/255), random SH."""
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g) * torch.tensor([0.4, 0.3, 0.3])
    scales = torch.exp(torch.randn(n, 3, generator=g) * 0.6 - 3.5)
    opacities = torch.rand(n, generator=g)
    opacities[: n // 20] *= 0.01
    sh = 0.3 * torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g)
    return Gaussians(means, torch.randn(n, 4, generator=g), scales, opacities, sh)


def off_centre_camera(width: int, height: int) -> Camera:
    cam = Camera.look_at((0.3, 0.2, -2.5), (0.0, 0.0, 0.0), width, height, fov_y_deg=40.0)
    k = cam.K.clone()
    k[0, 2] += 7.3  # an off-centre principal point makes the Jacobian clamp asymmetric
    k[1, 2] -= 4.1
    return Camera(k, cam.world_to_cam, width, height)


@pytest.fixture(scope="module")
def avatar_frame() -> tuple[Gaussians, torch.Tensor, float]:
    """The builtin head's Gaussians at rest (zero rig parameters), with random colours and
    view-dependent SH so that geometry errors show; plus the head's centre and height."""
    rig = load_rig("builtin")
    model = GaussianAvatar.on_mesh(rig, per_face=1, sh_degree=1)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model.sh_dc.copy_(0.8 * torch.randn(model.sh_dc.shape, generator=g))
        model.sh_rest.copy_(0.3 * torch.randn(model.sh_rest.shape, generator=g))
        world = blend(model, rig.zero_params(1), backend="torch")
    centre, extent = head_target(rig)
    return world.detach(), centre, extent


def avatar_camera(centre: torch.Tensor, extent: float, width: int, height: int, principal_shift: float = 0.0):
    distance = 1.15 * extent / (2 * math.tan(math.radians(10.0)))
    cam = Camera.orbit(30.0, 10.0, distance, centre, width, height, 20.0)
    k = cam.K.clone()
    k[0, 2] += principal_shift
    return Camera(k, cam.world_to_cam, width, height)


def assert_matches_reference(gaussians: Gaussians, camera: Camera, background: torch.Tensor | None) -> float:
    """gl vs torch through the registry; returns the rgb PSNR."""
    ref = splat(gaussians, camera, background, backend="torch")
    out = splat(gaussians, camera, background, backend="gl")
    assert out.rgb.shape == (camera.height, camera.width, 3) and out.alpha.shape == (camera.height, camera.width, 1)
    db = psnr(out.rgb, ref.rgb)
    assert db >= PSNR_BAR_DB, f"PSNR {db:.1f} dB"
    # Early stops leave at most the reference's remaining transmittance uncovered.
    assert torch.all((out.alpha - ref.alpha).abs() <= 1.0 - ref.alpha + 1e-5)
    no_stop = (ref.alpha < EARLY_STOP_ALPHA).expand(-1, -1, 3)  # [H, W, 3]
    torch.testing.assert_close(out.rgb[no_stop], ref.rgb[no_stop], atol=1e-4, rtol=0)
    torch.testing.assert_close(out.alpha[no_stop[..., :1]], ref.alpha[no_stop[..., :1]], atol=1e-5, rtol=0)
    torch.testing.assert_close(out.depth[no_stop[..., :1]], ref.depth[no_stop[..., :1]], atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(out.means2d, ref.means2d)
    assert torch.equal(out.radii, ref.radii)
    return db


@pytest.mark.parametrize("width, height, sh_degree", [(128, 128, 3), (160, 96, 2)])
def test_random_gaussians_match_reference(ctx, width, height, sh_degree):
    g = random_gaussians(3000, sh_degree, seed=width)
    camera = off_centre_camera(width, height)
    assert_matches_reference(g, camera, BACKGROUND)
    assert_matches_reference(g, camera, None)


@pytest.mark.parametrize("width, height", [(128, 128), (160, 120)])
def test_avatar_frame_matches_reference(ctx, avatar_frame, width, height):
    world, centre, extent = avatar_frame
    camera = avatar_camera(centre, extent, width, height)
    assert_matches_reference(world, camera, torch.ones(3))


def test_opaque_gaussians_clamp_at_alpha_max(ctx):
    """Opacity 1 on a grid of separate splats: one layer per pixel, so no early stop anywhere and
    every pixel must match, including the centres where the 0.99 clamp decides."""
    camera = off_centre_camera(64, 64)
    cam_to_world = camera.cam_to_world
    u, v = torch.meshgrid(torch.arange(6.0), torch.arange(6.0), indexing="ij")
    depth = 2.5
    fx, cx, cy = float(camera.K[0, 0]), float(camera.K[0, 2]), float(camera.K[1, 2])
    px = torch.stack([6.5 + 10.0 * u.flatten() - cx, 6.5 + 10.0 * v.flatten() - cy], -1) * depth / fx  # [36, 2]
    cam_points = torch.cat([px, torch.full((36, 1), depth)], -1)  # [36, 3]
    means = cam_points @ cam_to_world[:3, :3].T + cam_to_world[:3, 3]
    g = Gaussians(means, torch.tensor([[1.0, 0, 0, 0]]).repeat(36, 1), torch.full((36, 3), 1.2 * depth / fx),
                  torch.ones(36), 0.5 * torch.randn(36, 1, 3, generator=torch.Generator().manual_seed(6)))
    ref = splat(g, camera, BACKGROUND, backend="torch")
    out = splat(g, camera, BACKGROUND, backend="gl")
    assert float(ref.alpha.max()) == pytest.approx(0.99)
    torch.testing.assert_close(out.alpha, ref.alpha, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.rgb, ref.rgb, atol=1e-5, rtol=0)


def test_psnr_bar_catches_a_half_pixel_error(ctx, avatar_frame):
    """The bar is tight enough to fail on a pixel-centre convention error."""
    world, centre, extent = avatar_frame
    shifted = splat(world, avatar_camera(centre, extent, 128, 128, principal_shift=0.5), torch.ones(3),
                    backend="torch")
    out = splat(world, avatar_camera(centre, extent, 128, 128), torch.ones(3), backend="gl")
    assert psnr(out.rgb, shifted.rgb) < PSNR_BAR_DB


def test_no_gaussians_give_the_background(ctx):
    empty = Gaussians(torch.zeros(0, 3), torch.zeros(0, 4), torch.zeros(0, 3), torch.zeros(0), torch.zeros(0, 1, 3))
    out = splat(empty, off_centre_camera(40, 30), BACKGROUND, backend="gl")
    assert torch.equal(out.rgb, BACKGROUND.expand(30, 40, 3))
    assert torch.count_nonzero(out.alpha) == 0 and torch.count_nonzero(out.depth) == 0
    assert out.means2d.shape == (0, 2) and out.radii.shape == (0,)


def test_gaussians_behind_the_camera_or_past_far_are_culled(ctx):
    camera = off_centre_camera(64, 48)
    front = random_gaussians(500, 1, seed=1)
    cam_pos = camera.position
    forward = camera.world_to_cam[2, :3]  # world direction of the camera's +z
    behind = random_gaussians(300, 1, seed=2)
    # Depths from -1 to just under the near plane (0.01): huge on screen if they were not culled.
    depth = torch.linspace(-1.0, 0.9 * camera.near, 300)
    behind.means = cam_pos + depth[:, None] * forward
    behind.scales = behind.scales * 20
    alone = splat(behind, camera, BACKGROUND, backend="gl")
    assert torch.equal(alone.rgb, BACKGROUND.expand(48, 64, 3))
    beyond = random_gaussians(300, 1, seed=3)
    beyond.means = cam_pos + (camera.far + 1.0) * forward + beyond.means
    mixed = Gaussians(*(torch.cat(parts) for parts in zip(
        (front.means, front.quats, front.scales, front.opacities, front.sh),
        (behind.means, behind.quats, behind.scales, behind.opacities, behind.sh),
        (beyond.means, beyond.quats, beyond.scales, beyond.opacities, beyond.sh))))
    only_front = splat(front, camera, BACKGROUND, backend="gl")
    with_culled = splat(mixed, camera, BACKGROUND, backend="gl")
    assert torch.equal(with_culled.rgb, only_front.rgb) and torch.equal(with_culled.alpha, only_front.alpha)
    assert_matches_reference(mixed, camera, BACKGROUND)


def test_draw_into_a_window_framebuffer_is_the_flipped_image(ctx):
    """The window path: an offset viewport inside a bigger target, row 0 at the top."""
    width, height, x, y = 72, 40, 5, 9
    camera = off_centre_camera(width, height)
    g = random_gaussians(800, 2, seed=4)
    renderer = GLSplatRenderer(width, height, ctx=ctx)
    expected = renderer.render_image(g, camera, BACKGROUND)
    target = ctx.simple_framebuffer((100, 64), components=4, dtype="f4")
    target.use()
    target.clear(*BACKGROUND.tolist(), 0.0)
    renderer.draw(g, camera, viewport=(x, y, width, height), flip_y=True)
    pixels = np.frombuffer(target.read(components=4, dtype="f4"), dtype=np.float32).reshape(64, 100, 4)
    window = torch.from_numpy(pixels[y:y + height, x:x + width].copy()).flip(0)  # readback rows are bottom first
    torch.testing.assert_close(window[..., :3], expected.rgb, atol=1e-6, rtol=0)
    torch.testing.assert_close(window[..., 3:], expected.alpha, atol=1e-6, rtol=0)
    target.release()
    renderer.release()


def test_head_cut_drawn_into_a_window_is_clip_to_region(ctx):
    """The gl backend's cut (viewer.gl.cut) gives what every other backend's clip_to_region does."""
    width, height, x, y = 72, 40, 5, 9
    camera = off_centre_camera(width, height)
    g = random_gaussians(800, 1, seed=5)
    renderer = GLSplatRenderer(width, height, ctx=ctx)
    region = torch.zeros(height, width, 1)
    region[: height // 3] = 1.0  # top rows and a left band: a flipped or transposed region fails
    region[:, : width // 4] = 1.0
    region[height // 2, width // 2] = 0.5  # a partly kept pixel blends
    expected = clip_to_region(renderer.render(g, camera, BACKGROUND), region, BACKGROUND)
    target = ctx.simple_framebuffer((100, 64), components=4, dtype="f4")
    target.use()
    target.clear(*BACKGROUND.tolist(), 0.0)
    renderer.draw(g, camera, viewport=(x, y, width, height), flip_y=True)
    cut = GLHeadCut(ctx)
    cut.draw(region, (x, y, width, height), BACKGROUND.tolist(), flip_y=True)
    pixels = np.frombuffer(target.read(components=4, dtype="f4"), dtype=np.float32).reshape(64, 100, 4)
    window = torch.from_numpy(pixels[y:y + height, x:x + width].copy()).flip(0)
    assert float((region == 0).float().mean()) > 0.3 and float(expected.alpha[region == 0].max()) == 0.0
    assert float(expected.alpha[region == 1].max()) > 0.5  # the splat is there where the region keeps it
    torch.testing.assert_close(window[..., :3], expected.rgb, atol=1e-6, rtol=0)
    torch.testing.assert_close(window[..., 3:], expected.alpha, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="does not match the viewport"):
        cut.draw(region, (x, y, width + 1, height), BACKGROUND.tolist())
    cut.release()
    target.release()
    renderer.release()


def test_bad_sizes_raise(ctx):
    renderer = GLSplatRenderer(32, 32, ctx=ctx)
    g = random_gaussians(10, 0, seed=5)
    with pytest.raises(RenderInputError, match="32x32"):
        renderer.render_image(g, off_centre_camera(40, 32))
    with pytest.raises(RenderInputError, match="viewport"):
        renderer.draw(g, off_centre_camera(32, 32), viewport=(0, 0, 16, 32))
    with pytest.raises(RenderInputError, match="background"):
        renderer.render_image(g, off_centre_camera(32, 32), torch.ones(4))
    renderer.release()

