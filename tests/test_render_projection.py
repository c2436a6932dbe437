"""EWA projection, opacity-aware radii and spherical harmonics against gsplat's pure-torch
implementation (`gsplat.cuda._torch_impl`) and direct eigen-decompositions."""

from __future__ import annotations

import pytest
import torch

from avatar.splat.camera import Camera
from avatar.splat.projection import (ALPHA_MIN, covariance_3d, opacity_aware_radii, project_gaussians,
                                      quat_to_rotmat)
from avatar.splat.sh import ShapeError, eval_sh, sh_degree_of, sh_to_colour

gsplat_impl = pytest.importorskip("gsplat.cuda._torch_impl", reason="gsplat's torch implementation is the oracle")

F64 = torch.float64


def oblique_camera() -> Camera:
    """Rotated camera with an off-centre principal point and non-square pixels (float64)."""
    cam = Camera.look_at((0.4, -0.3, 2.5), (0.05, 0.1, 0.0), 40, 30, fov_y_deg=35.0)
    k = cam.K.double()
    k[0, 2], k[1, 2], k[0, 0] = 14.0, 17.5, k[0, 0] * 1.2
    return Camera(k, cam.world_to_cam.double(), 40, 30, near=0.01, far=10.0)


def random_gaussians(n: int, cam: Camera, seed: int):
    """Means scattered in the camera frustum and far beyond its sides (to hit the Jacobian
    clamp), a few behind the camera; random rotations and anisotropic scales."""
    gen = torch.Generator().manual_seed(seed)
    depth = torch.empty(n, dtype=F64).uniform_(0.5, 4.0, generator=gen)
    slope = torch.empty(n, 2, dtype=F64).uniform_(-1.5, 1.5, generator=gen)  # t.xy / t.z, fov is ~0.3-0.45
    t_cam = torch.cat([slope * depth[:, None], depth[:, None]], 1)
    t_cam[: n // 10, 2] *= -1  # behind the camera
    c2w = torch.linalg.inv(cam.world_to_cam)
    means = t_cam @ c2w[:3, :3].T + c2w[:3, 3]
    quats = torch.randn(n, 4, dtype=F64, generator=gen) * torch.rand(n, 1, dtype=F64, generator=gen).add(0.1)
    scales = torch.exp(torch.empty(n, 3, dtype=F64).uniform_(-5.0, -1.0, generator=gen))
    return means, quats, scales


def gsplat_projection(means, quats, scales, cam):
    covars, _ = gsplat_impl._quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    _, means2d, depths, conics, _ = gsplat_impl._fully_fused_projection(
        means, covars, cam.world_to_cam[None], cam.K[None], cam.width, cam.height, eps2d=0.3,
        near_plane=cam.near, far_plane=cam.far)
    return means2d[0], depths[0], conics[0]


def test_rotation_and_covariance_match_gsplat():
    gen = torch.Generator().manual_seed(0)
    quats = torch.randn(50, 4, dtype=F64, generator=gen) * 3.0  # unnormalised on purpose
    scales = torch.rand(50, 3, dtype=F64, generator=gen) + 0.01
    torch.testing.assert_close(quat_to_rotmat(quats), gsplat_impl._quat_to_rotmat(quats), rtol=1e-12, atol=1e-12)
    expected, _ = gsplat_impl._quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    torch.testing.assert_close(covariance_3d(quats, scales), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_projection_matches_gsplat_including_clamped(seed):
    cam = oblique_camera()
    means, quats, scales = random_gaussians(400, cam, seed)
    proj = project_gaussians(means, quats, scales, cam)
    means2d, depths, conics = gsplat_projection(means, quats, scales, cam)
    torch.testing.assert_close(proj.depths, depths, rtol=1e-12, atol=1e-12)

    ok = proj.in_depth_range
    assert torch.equal(ok, (depths > cam.near) & (depths <= cam.far))
    assert 0 < ok.sum() < len(ok)  # both culled and kept ones are exercised
    # Guard: some kept Gaussians lie beyond gsplat's clamp limits on each side.
    k = cam.K
    slope_x = (means @ cam.world_to_cam[:3, :3].T + cam.world_to_cam[:3, 3])[:, 0] / depths
    lim_pos = (cam.width - k[0, 2]) / k[0, 0] + 0.3 * 0.5 * cam.width / k[0, 0]
    lim_neg = k[0, 2] / k[0, 0] + 0.3 * 0.5 * cam.width / k[0, 0]
    assert (ok & (slope_x > lim_pos)).any() and (ok & (slope_x < -lim_neg)).any()

    torch.testing.assert_close(proj.means2d[ok], means2d[ok], rtol=1e-5, atol=1e-8)
    # Conics span orders of magnitude: compare relative to each Gaussian's largest entry.
    scale = conics[ok].abs().amax(-1, keepdim=True)
    torch.testing.assert_close(proj.conics[ok] / scale, conics[ok] / scale, rtol=0, atol=1e-5)


def test_float32_projection_close_to_gsplat():
    cam = oblique_camera()
    means, quats, scales = random_gaussians(200, cam, 3)
    proj = project_gaussians(means.float(), quats.float(), scales.float(), cam.to(dtype=torch.float32))
    means2d, _, conics = gsplat_projection(means, quats, scales, cam)
    ok = proj.in_depth_range
    torch.testing.assert_close(proj.means2d[ok].double(), means2d[ok], rtol=1e-5, atol=1e-4)
    scale = conics[ok].abs().amax(-1, keepdim=True)
    torch.testing.assert_close(proj.conics[ok].double() / scale, conics[ok] / scale, rtol=0, atol=1e-4)


def test_projection_gradients_are_finite_for_culled_gaussians():
    """A Gaussian exactly in the camera plane (depth 0) must not put inf/NaN into the graph."""
    cam = Camera(oblique_camera().K, torch.eye(4, dtype=F64), 40, 30)
    means = torch.tensor([[0.1, -0.2, 0.0], [0.0, 0.0, -1.0], [0.1, 0.1, 2.0]], dtype=F64, requires_grad=True)
    quats = torch.tensor([[1.0, 0.1, 0.2, 0.3]] * 3, dtype=F64, requires_grad=True)
    scales = torch.full((3, 3), 0.1, dtype=F64, requires_grad=True)
    proj = project_gaussians(means, quats, scales, cam)
    assert proj.in_depth_range.tolist() == [False, False, True]
    (proj.means2d.sum() + proj.conics.sum()).backward()
    for t in (means, quats, scales):
        assert torch.isfinite(t.grad).all()


def test_opacity_aware_radii():
    cam = oblique_camera()
    means, quats, scales = random_gaussians(400, cam, 5)
    opacities = torch.rand(400, dtype=F64, generator=torch.Generator().manual_seed(5))
    opacities[::17] = 0.002  # below 1/255
    proj = project_gaussians(means, quats, scales, cam)
    radii = opacity_aware_radii(proj, opacities, cam.width, cam.height)
    assert radii.dtype == torch.int32

    means2d, depths, conics = gsplat_projection(means, quats, scales, cam)
    a, b, c = conics.unbind(-1)
    cov2d = torch.linalg.inv(torch.stack([a, b, b, c], -1).reshape(-1, 2, 2))  # gsplat's low-passed covariance
    lambda_max = torch.linalg.eigvalsh(cov2d)[:, 1]
    extent = torch.sqrt(2 * torch.log(255 * opacities.clamp(min=1e-12))) * torch.sqrt(lambda_max)
    expected = torch.ceil(extent)
    mx, my = means2d.unbind(-1)
    visible = ((depths > cam.near) & (depths <= cam.far) & (opacities >= ALPHA_MIN)
               & (mx + expected > 0) & (mx - expected < cam.width) & (my + expected > 0) & (my - expected < cam.height))
    assert 0 < visible.sum() < len(visible)
    torch.testing.assert_close(radii.double(), torch.where(visible, expected, torch.zeros_like(expected)))


def test_alpha_extent_is_tight():
    """At distance sqrt(k) along the major axis alpha is exactly 1/255, so the radius covers it."""
    opacity = torch.tensor([0.05, 0.5, 1.0], dtype=F64)
    k = 2 * torch.log(255 * opacity)
    torch.testing.assert_close(opacity * torch.exp(-0.5 * k), torch.full_like(opacity, 1 / 255))


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_sh_matches_gsplat(degree):
    gen = torch.Generator().manual_seed(degree)
    dirs = torch.randn(300, 3, dtype=F64, generator=gen) * 5.0  # unnormalised: both normalise
    coeffs = torch.randn(300, (degree + 1) ** 2, 3, dtype=F64, generator=gen)
    expected = gsplat_impl._spherical_harmonics(degree, dirs, coeffs)
    torch.testing.assert_close(eval_sh(coeffs, dirs), expected, rtol=1e-5, atol=1e-10)
    torch.testing.assert_close(eval_sh(coeffs.float(), dirs.float()).double(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sh_to_colour(coeffs, dirs), (expected + 0.5).clamp(min=0.0))
    assert (sh_to_colour(coeffs, dirs) == 0).any()  # the clamp is exercised


def test_sh_degree_validation():
    assert [sh_degree_of(k) for k in (1, 4, 9, 16)] == [0, 1, 2, 3]
    for bad in (2, 5, 25):
        with pytest.raises(ShapeError, match=str(bad)):
            sh_degree_of(bad)
