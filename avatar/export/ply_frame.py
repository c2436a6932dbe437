"""One frame of an avatar for other 3DGS tools (`avatar export`): posed, cut below the head, in
the axes those tools expect (avatar.export.ply).

The cut that renders apply (avatar.splat.cut_region) is drawn in each image: the head's side of a
line along the projected neck ring, through the ring's vertex nearest the camera (and, lower
than the head's sides, only the rig's own pixels). An exported file is seen from anywhere, so it
gets a 3D version of it, the conservative one: a Gaussian is left out only when that line cuts
all of it in every view within `view_elevation_deg` of the plane of the posed ring.

Why that is a cone below the ring and not the ring's plane itself: the line in an image is where
a plane through the camera's centre meets the image; that plane holds the ring's front vertex f
and runs along the ring. A camera level with the ring sees the plane of the ring edge on, and the
two planes are one: what lies below the ring is cut. A camera at elevation phi above it (seen
from the ring) has its plane tipped by phi about the line through f: behind f, at a distance b
across the ring, the cut runs b tan(phi) below the ring's plane, and what lies higher (the
inside and far side of the neck below the ring, seen over its front) stays in the image; from
below the ring it is the same on the near side. Whatever the direction, f is a vertex of the
ring, so b is at most the distance, along the ring's plane, from the point to the ring's
farthest vertex. Hence: cut in all those views when the Gaussian's whole visible extent (where
its alpha reaches 1/255, as the rasterizers draw it) lies below the ring's lowest vertex by more
than tan(view_elevation_deg) (b + its own reach); up to the rasterizers' low-pass, which widens
every footprint by 0.3 px^2 (under 2 px at its edge). The part of the cut below the head's sides
(the rig's pixels and a margin; a cut that keeps hanging hair has none in renders) is left out of
the export's cut: it keeps more, never less.

That assumes the line runs across the direction the camera looks from (the projected ring's
longest extent does, for a neck seen from less than steeply above or below), and it covers
only views within the angle: from further above (the viewer can orbit to any angle) a render
still shows part of what is left out, seen over the front of the neck.
The default (CUT_VIEW_ELEVATION_DEG) covers the engine's own views of a neutral head, seen from
its ring: `avatar render`'s front camera, arc and orbit, and a tracked phone video's own cameras
(held above the face) all lie within it (measured elevations: docs/formats.md, ".ply exports").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from avatar.gaussians import GaussianAvatar, blend
from avatar.export.cone_baked_sh import baked_for_export
from avatar.export.ply import AXES, to_axes
from avatar.splat.projection import alpha_extent_sq, covariance_3d
from avatar.splat.world import Gaussians
from avatar.rig import RigParams
from avatar.rig.cut_vertices import HeadCut

CUT_VIEW_ELEVATION_DEG = 25.0  # the views whose cut the export keeps to (see the module's docstring)


@dataclass
class ExportedFrame:
    gaussians: Gaussians  # the kept Gaussians, in `axes`
    num_cut: int  # Gaussians left out below the head
    axes: str  # inria | rig (avatar.export.ply.AXES)
    kept: Tensor  # [N] bool over the avatar's Gaussians: which were written
    cone_baked: bool  # the view-dependent colour is the view cone's (avatar.export.cone_baked_sh)

    @property
    def num_total(self) -> int:
        return int(self.kept.shape[0])


@torch.no_grad()
def export_frame(
    model: GaussianAvatar,
    params: RigParams,
    backend: str = "auto",
    axes: str = "inria",
    cut: bool = True,
    view_elevation_deg: float = CUT_VIEW_ELEVATION_DEG,
) -> ExportedFrame:
    """The avatar's Gaussians posed at one frame of params (on the model's device), without what
    its cut below the head hides (cut=False, or a model without a cut: all of them), in `axes`;
    the view-dependent colour of an avatar with a view cone seen as the engine sees it
    (`bake_view_cone`, for a camera at the framing distance)."""
    if axes not in AXES:
        raise ValueError(f"unknown axes '{axes}' ({' | '.join(AXES)})")
    _check_angle(view_elevation_deg)
    verts = model.rig.forward(params)[0]  # [V, 3], posed once for the Gaussians and the cut
    world = blend(model, params, backend, verts=verts)
    if cut and model.head_cut is not None:
        kept = ~hidden_below_cut(world, verts, model.head_cut, view_elevation_deg)
    else:
        kept = torch.ones(world.num, dtype=torch.bool, device=world.means.device)
    kept_world, baked = baked_for_export(model, world[kept], params)
    return ExportedFrame(to_axes(kept_world, axes), int((~kept).sum()), axes, kept, baked)


def hidden_below_cut(
    gaussians: Gaussians, verts: Tensor, cut: HeadCut, view_elevation_deg: float = CUT_VIEW_ELEVATION_DEG
) -> Tensor:
    """[N] bool: the Gaussians (world, rig space) that `cut`, with the rig posed as verts [V, 3],
    hides in every view within view_elevation_deg (0 <= deg < 90) of the posed neck ring's plane
    (the module's docstring says why)."""
    _check_angle(view_elevation_deg)
    g = gaussians.detach().to(dtype=torch.float64)
    ring = verts.detach()[list(cut.ring)].to(g.means)  # [R, 3]
    centre = ring.mean(0)
    normal = torch.linalg.svd(ring - centre)[2][-1]  # the ring's least-squares plane
    if (verts.detach()[cut.top].to(g.means) - centre) @ normal < 0:
        normal = -normal  # towards the head (the top of the skull, as the image cut decides it)
    floor = ((ring - centre) @ normal).min()  # every view's line runs through some ring vertex
    height = (g.means - centre) @ normal - floor  # [N] above the lowest ring vertex
    reach = alpha_extent_sq(g.opacities).clamp(min=0).sqrt()  # [N] Mahalanobis radius of alpha >= 1/255
    cov = covariance_3d(g.quats, g.scales)  # [N, 3, 3]
    top = height + reach * torch.einsum("i,nij,j->n", normal, cov, normal).clamp(min=0).sqrt()
    # Along the ring's plane, from each mean to the ring's farthest vertex: |mu - r|^2 - ((mu - r).n)^2.
    mean_sq = (g.means**2).sum(-1, keepdim=True)  # [N, 1]
    dist_sq = mean_sq - 2 * g.means @ ring.T + (ring**2).sum(-1)[None]  # [N, R] |mu - r|^2
    along_n = (g.means @ normal)[:, None] - (ring @ normal)[None]  # [N, R] (mu - r).n
    farthest = (dist_sq - along_n**2).clamp(min=0).amax(1).sqrt()  # [N]
    own = reach * g.scales.amax(-1)  # [N] the Gaussian's own reach along the plane
    wedge = math.tan(math.radians(view_elevation_deg)) * (farthest + own)
    return top + wedge < 0


def _check_angle(view_elevation_deg: float) -> None:
    if not 0.0 <= view_elevation_deg < 90.0:  # also refuses nan
        raise ValueError(f"view elevation {view_elevation_deg} is not an angle in [0, 90) degrees")
