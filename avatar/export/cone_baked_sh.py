"""View-dependent colour for readers that know no view cone: the cone baked into the SH.

The engine, the viewer and the web player see an avatar's spherical harmonics from inside the
directions its training saw (`avatar.splat.view_cone`): outside them the polynomials a video fits
extrapolate into speckles and ghost features. A `.ply` or glTF reader evaluates the coefficients
from wherever its camera is. So the exports write, for each Gaussian, the SH of the same degree
that come closest (least squares over all directions on the sphere) to what the engine shows it
as from each direction: its coefficients evaluated from the viewpoint the cone moves a camera to
(`ViewCone.origins`), the camera at `distance` from the head's centre and looking at the Gaussian.
A narrow cone (a phone video: the camera barely moves relative to the head) bakes to nearly one
colour per Gaussian, the one the video saw; a wide one keeps its view-dependence inside it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from avatar.gaussians import GaussianAvatar
from avatar.rig import RigParams
from avatar.splat.framing import framing_distance, head_target
from avatar.splat.sh import sh_basis
from avatar.splat.view_cone import ViewCone, head_centre
from avatar.splat.world import Gaussians

SAMPLE_DIRECTIONS = 512  # directions on the sphere the least-squares fit runs over
CHUNK = 1024  # Gaussians a step: CHUNK x SAMPLE_DIRECTIONS directions at once (larger chunks run slower, out of cache)


def sphere_directions(count: int) -> Tensor:
    """[count, 3] float64 unit vectors spread evenly over the sphere (a Fibonacci lattice)."""
    i = torch.arange(count, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / count
    r = (1 - z * z).clamp(min=0).sqrt()
    phi = math.pi * (3 - math.sqrt(5)) * i
    return torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], dim=-1)


@torch.no_grad()
def bake_view_cone(
    gaussians: Gaussians, cone: ViewCone, params: RigParams, distance: float, samples: int = SAMPLE_DIRECTIONS
) -> Gaussians:
    """The Gaussians (world space, the head posed at params, one frame) with SH coefficients
    that show, seen from any direction, what the engine shows from a camera there at `distance`
    metres from the head's centre. Degree 0 (one colour) is returned as it is."""
    if gaussians.sh_degree == 0:
        return gaussians
    if not distance > 0:
        raise ValueError(f"distance {distance} must be positive")
    degree = gaussians.sh_degree
    dirs = sphere_directions(samples)  # [M, 3] camera -> Gaussian
    fit = torch.linalg.pinv(sh_basis(degree, dirs))  # [K, M]: least squares over the samples
    centre = head_centre(cone.centre, params)[0]  # [3] float64
    baked = []
    for start in range(0, gaussians.num, CHUNK):
        means = gaussians.means[start : start + CHUNK].detach().double().cpu()  # [n, 3]
        sh = gaussians.sh[start : start + CHUNK].detach().double().cpu()  # [n, K, 3]
        cameras = _cameras_looking_at(means, dirs, centre, distance)  # [n, M, 3]
        seen = torch.nn.functional.normalize(means[:, None] - cone.origins(centre, cameras), dim=-1)
        values = torch.einsum("nmk,nkc->nmc", sh_basis(degree, seen), sh)  # [n, M, 3]
        baked.append(torch.einsum("km,nmc->nkc", fit, values))
    sh = torch.cat(baked).to(gaussians.sh)
    return Gaussians(gaussians.means, gaussians.quats, gaussians.scales, gaussians.opacities, sh)


def _cameras_looking_at(means: Tensor, dirs: Tensor, centre: Tensor, distance: float) -> Tensor:
    """[n, M, 3]: for each point [n, 3] and viewing direction [M, 3] (camera -> point), the camera
    on that ray behind the point at `distance` from centre (the ray's far crossing of that
    sphere; a point outside the sphere: the nearest point of the ray to it)."""
    rel = means - centre  # [n, 3]
    along = rel @ dirs.T  # [n, M]: (p - c) . d
    reach = (along**2 - (rel**2).sum(-1, keepdim=True) + distance**2).clamp(min=0).sqrt()
    t = along + reach  # camera = p - t d, |camera - c| = distance
    return means[:, None] - t[..., None] * dirs[None]


def baked_for_export(model: GaussianAvatar, gaussians: Gaussians, params: RigParams) -> tuple[Gaussians, bool]:
    """The model's Gaussians (world space, posed at params, one frame) as an export writes them,
    and whether their SH are the view cone's: baked for a camera at the framing distance of
    `avatar render --camera front` and the viewer when the model records a cone and its SH have a
    degree; as they are otherwise."""
    if model.view_cone is None or gaussians.sh_degree == 0:
        return gaussians, False
    distance = framing_distance(head_target(model.rig)[1])
    return bake_view_cone(gaussians, model.view_cone, params, distance), True
