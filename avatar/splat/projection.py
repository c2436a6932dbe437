"""EWA projection of 3D Gaussians to screen-space 2D Gaussians (3DGS / gsplat pinhole model).

world -> camera: t = R_wc mean + t_wc. 3D covariance: Sigma = (R S)(R S)^T with R from the
normalised (w, x, y, z) quaternion and S = diag(scales). 2D covariance: J R_wc Sigma R_wc^T J^T
with J the pinhole Jacobian at t, where t.x/t.z and t.y/t.z are first clamped to the view
frustum widened by 30 % of tan(half-fov) on each side (gsplat `_persp_proj`: keeps far
off-screen Gaussians from exploding into huge screen ellipses). Then LOW_PASS_PX2 is added to
the diagonal (no opacity compensation). The conic is the inverse of that 2D covariance and the
projected centre is K t / t.z in pixels (pixel (u, v) has its centre at (u + 0.5, v + 0.5)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from avatar.splat.camera import Camera

LOW_PASS_PX2 = 0.3  # added to the 2D covariance diagonal: every splat covers at least ~a pixel
FRUSTUM_MARGIN = 0.3  # clamp margin for the Jacobian, as a fraction of tan(half-fov)
ALPHA_MIN = 1.0 / 255.0  # a Gaussian contributes to a pixel only where its alpha reaches this


@dataclass
class ProjectedGaussians:
    means2d: Tensor  # [N, 2] pixels
    depths: Tensor  # [N] camera-space z
    cov2d: Tensor  # [N, 3] (xx, xy, yy), low-pass included
    conics: Tensor  # [N, 3] (a, b, c): inverse covariance, d^T conic d = a dx^2 + 2 b dx dy + c dy^2
    in_depth_range: Tensor  # [N] bool: near < depth <= far


def quat_to_rotmat(quats: Tensor) -> Tensor:
    """[N, 4] (w, x, y, z), any norm -> [N, 3, 3] rotation matrices."""
    q = quats / quats.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]
    return torch.stack(rows, dim=-1).reshape(quats.shape[:-1] + (3, 3))


def covariance_3d(quats: Tensor, scales: Tensor) -> Tensor:
    """[N, 4], [N, 3] -> [N, 3, 3] world-space covariance (R S)(R S)^T."""
    m = quat_to_rotmat(quats) * scales[..., None, :]  # [N, 3, 3]: column j = axis j times scale j
    return m @ m.transpose(-1, -2)


def project_gaussians(means: Tensor, quats: Tensor, scales: Tensor, camera: Camera) -> ProjectedGaussians:
    """Differentiable projection of world-space Gaussians into `camera` (see module docstring).

    Values for Gaussians outside the depth range are finite but meaningless (their depth is
    replaced by 1 inside the projection so no inf/NaN can reach the gradients).
    """
    dtype, device = means.dtype, means.device
    w2c = camera.world_to_cam.to(device=device, dtype=dtype)
    k = camera.K.to(device=device, dtype=dtype)
    rot_wc = w2c[:3, :3]  # [3, 3]
    t_cam = means @ rot_wc.T + w2c[:3, 3]  # [N, 3]
    depths = t_cam[:, 2]  # [N]
    in_range = (depths > camera.near) & (depths <= camera.far)
    z = torch.where(in_range, depths, torch.ones_like(depths))  # [N] safe divisor

    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    # Clamp limits exactly as gsplat `_persp_proj` (asymmetric when the principal point is off-centre).
    tan_x, tan_y = 0.5 * camera.width / fx, 0.5 * camera.height / fy
    lim_x_pos = (camera.width - cx) / fx + FRUSTUM_MARGIN * tan_x
    lim_x_neg = cx / fx + FRUSTUM_MARGIN * tan_x
    lim_y_pos = (camera.height - cy) / fy + FRUSTUM_MARGIN * tan_y
    lim_y_neg = cy / fy + FRUSTUM_MARGIN * tan_y
    tx = z * torch.minimum(torch.maximum(t_cam[:, 0] / z, -lim_x_neg), lim_x_pos)  # [N]
    ty = z * torch.minimum(torch.maximum(t_cam[:, 1] / z, -lim_y_neg), lim_y_pos)  # [N]

    zeros = torch.zeros_like(z)
    jac = torch.stack([fx / z, zeros, -fx * tx / (z * z),
                       zeros, fy / z, -fy * ty / (z * z)], dim=-1).reshape(-1, 2, 3)  # [N, 2, 3]
    # cov2d = A A^T with A = J R_wc R S: symmetric by construction and cheaper than J W Sigma W^T J^T.
    a = jac @ rot_wc @ (quat_to_rotmat(quats) * scales[:, None, :])  # [N, 2, 3]
    cxx = (a[:, 0] * a[:, 0]).sum(-1) + LOW_PASS_PX2  # [N]
    cxy = (a[:, 0] * a[:, 1]).sum(-1)  # [N]
    cyy = (a[:, 1] * a[:, 1]).sum(-1) + LOW_PASS_PX2  # [N]
    det = cxx * cyy - cxy * cxy  # >= 0.09 thanks to the low-pass
    conics = torch.stack([cyy / det, -cxy / det, cxx / det], dim=-1)  # [N, 3]

    means2d = torch.stack([fx * t_cam[:, 0] / z + cx, fy * t_cam[:, 1] / z + cy], dim=-1)  # [N, 2]
    return ProjectedGaussians(means2d, depths, torch.stack([cxx, cxy, cyy], dim=-1), conics, in_range)


def alpha_extent_sq(opacities: Tensor) -> Tensor:
    """[N] -> [N] k such that opacity * exp(-k/2) = ALPHA_MIN: alpha >= ALPHA_MIN iff d^T conic d <= k."""
    return 2.0 * torch.log(opacities.clamp(min=ALPHA_MIN) / ALPHA_MIN)


@torch.no_grad()
def opacity_aware_radii(proj: ProjectedGaussians, opacities: Tensor, width: int, height: int) -> Tensor:
    """[N] int32 pixel radius ceil(sqrt(k * lambda_max(cov2d))), 0 where the Gaussian is culled.

    Culled: outside the depth range, opacity < ALPHA_MIN, or the square of that radius around the
    centre misses the image (same inside-test as gsplat).
    """
    cxx, cxy, cyy = proj.cov2d.unbind(-1)
    mid = 0.5 * (cxx + cyy)
    lambda_max = mid + torch.sqrt((mid * mid - (cxx * cyy - cxy * cxy)).clamp(min=0.0))  # [N]
    radius = torch.ceil(torch.sqrt(alpha_extent_sq(opacities) * lambda_max))  # [N]
    mx, my = proj.means2d.unbind(-1)
    inside = (mx + radius > 0) & (mx - radius < width) & (my + radius > 0) & (my - radius < height)
    keep = proj.in_depth_range & (opacities >= ALPHA_MIN) & inside & torch.isfinite(radius)
    return torch.where(keep, radius, torch.zeros_like(radius)).to(torch.int32)

