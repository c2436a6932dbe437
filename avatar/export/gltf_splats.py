"""The avatar's Gaussians as glTF can carry them: a POINTS primitive of their neutral-pose
attributes (the attribute names of Khronos' KHR_gaussian_splatting), skinned with joint weights
interpolated from their parent triangle's vertices, with one morph target per rig expression (and
per jaw rotation component, and per head-pose driver when the avatar has them) that moves their
centres.

The engine places a Gaussian on its posed triangle: centre = origin + unit * R (xyz + sum_d w_d
d_xyz_d) with the triangle's frame (avatar.gaussians.binding) and the frame's drivers (the blend
expressions' weights, then the jaw's 3 rotation components). glTF can only add fixed
displacements and skin, so each target is that centre on the unposed, identity-folded mesh with
the one expression (or jaw component) at `step`, minus the neutral centre, over `step` (a secant;
the jaw components and the head-pose drivers move only the learned offsets, which are linear in
them; the pose targets' weights are `HeadPoseDrivers.coefficients` of each frame, which the
export's animation carries and an engine driving the avatar itself would compute). What stays behind:
the centres' change with the triangles' rotation and size under combined expressions, skinning a
point instead of its triangle, and everything but the centres (orientation, scale, opacity and
colour, and their per-expression offsets) is the neutral pose's. `benchmarks/speed/gltf_export.py`
measures the difference on a real clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from avatar.gaussians import GaussianAvatar
from avatar.gaussians.binding import triangle_frames
from avatar.gaussians.reference import blend_reference
from avatar.splat.sh import SH_C0
from avatar.export.cone_baked_sh import baked_for_export
from avatar.export.ply_frame import CUT_VIEW_ELEVATION_DEG, hidden_below_cut
from avatar.export.gltf_rig import identity_template, target_names, top_influences

JAW_TARGET_NAMES = ("jawRotationX", "jawRotationY", "jawRotationZ")  # weights: params.jaw (axis-angle, radians)
# weights: HeadPoseDrivers.coefficients (the head's rotation vector from its mean training pose, clamped)
POSE_TARGET_NAMES = ("headPoseX", "headPoseY", "headPoseZ")
DEFAULT_STEP = 1.0  # the expression weight each target's secant spans (see the module's docstring)


@dataclass
class SplatPoints:
    positions: np.ndarray  # [N, 3] float32 neutral centres (the glTF bind pose)
    rotations: np.ndarray  # [N, 4] float32 unit quaternions (x, y, z, w)
    scales: np.ndarray  # [N, 3] float32 standard deviations along the local axes (linear)
    opacities: np.ndarray  # [N] float32 in [0, 1]
    sh: np.ndarray  # [N, K, 3] float32 SH coefficients in 3DGS order; colour = SH(dir) + 0.5
    colors: np.ndarray  # [N, 4] uint16 the diffuse colour (linear, as glTF's COLOR_0) and opacity, for point readers
    joints: np.ndarray  # [N, 4] uint8 JOINTS_0
    weights: np.ndarray  # [N, 4] float32 WEIGHTS_0
    targets: np.ndarray  # [E + 3 (+ 3), N, 3] float32 centre displacement per unit weight
    target_names: list[str]  # the rig's expressions (as the head mesh), JAW_TARGET_NAMES (, POSE_TARGET_NAMES)
    kept: np.ndarray  # [N_all] bool: which of the avatar's Gaussians these are
    num_cut: int  # left out below the head's cut
    dropped_weight: float  # the largest skinning weight a Gaussian lost to the 4-joint limit
    cone_baked: bool  # the SH are the view cone's, seen from the framing distance (avatar.export.cone_baked_sh)


@torch.no_grad()
def splat_points(
    model: GaussianAvatar,
    identity: Tensor,
    cut: bool = True,
    view_elevation_deg: float = CUT_VIEW_ELEVATION_DEG,
    step: float = DEFAULT_STEP,
) -> SplatPoints:
    """The avatar's Gaussians (a model on the CPU) at the neutral pose with its identity [S],
    without those its cut below the head hides in every view within view_elevation_deg
    (cut=False: all of them)."""
    rig = model.rig
    template = identity_template(rig, identity)  # [V, 3] float64
    neutral = rig.zero_params(1)  # the posed vertices are the template given here
    # the engine's Gaussians with no offsets applied (zero drivers: the morph targets' base; the
    # drivers of zero parameters are not zero for the head pose's)
    world = blend_reference(
        model,
        neutral,
        verts=template.to(neutral.expr.dtype),
        drivers=torch.zeros(model.num_drivers, dtype=neutral.expr.dtype),
    )
    if cut and model.head_cut is not None:
        kept = ~hidden_below_cut(world, template.float(), model.head_cut, view_elevation_deg)
    else:
        kept = torch.ones(model.num_gaussians, dtype=torch.bool)
    g, cone_baked = baked_for_export(model, world[kept].detach().to(dtype=torch.float32), neutral)
    quats = torch.nn.functional.normalize(g.quats, dim=-1)[:, [1, 2, 3, 0]]  # (w, x, y, z) -> (x, y, z, w)
    colour = (g.sh[:, 0] * SH_C0 + 0.5).clamp(0, 1)  # [N, 3] sRGB: what a 3DGS renderer shows head-on
    colors = torch.cat([_linear(colour), g.opacities[:, None].clamp(0, 1)], dim=-1)  # [N, 4]
    joints, weights, dropped = top_influences(_interpolated_weights(model, template, kept))
    targets = centre_targets(model, template, kept, step)
    pose_names = list(POSE_TARGET_NAMES) if model.pose_drivers is not None else []
    names = target_names(rig) + list(JAW_TARGET_NAMES) + pose_names
    return SplatPoints(
        g.means.numpy(),
        quats.numpy(),
        g.scales.numpy(),
        g.opacities.numpy(),
        g.sh.numpy(),
        (colors * 65535).round().to(torch.int32).numpy().astype(np.uint16),
        joints,
        weights,
        targets,
        names,
        kept.numpy(),
        int((~kept).sum()),
        dropped,
        cone_baked,
    )


def bind_centres(model: GaussianAvatar, verts: Tensor, drivers: Tensor, kept: Tensor) -> Tensor:
    """Centres [N, 3] float64 of the kept Gaussians on unposed vertices [V, 3] with the offsets
    of drivers [D] (as avatar.gaussians.blend places them, in float64)."""
    parent = model.parent.cpu()[kept]
    origin, rotation, unit = triangle_frames(verts[None].double(), model.rig.faces.cpu())
    origin, rotation, unit = origin[0, parent], rotation[0, parent], unit[0, parent]  # [N, 3], [N, 3, 3], [N]
    xyz = model.xyz.detach().double().cpu()[kept] + torch.einsum(
        "d,dnk->nk", drivers.double(), model.d_xyz.detach().double().cpu()[:, kept]
    )  # [N, 3] triangle units
    return origin + unit[:, None] * torch.einsum("nij,nj->ni", rotation, xyz)


def centre_targets(model: GaussianAvatar, template: Tensor, kept: Tensor, step: float = DEFAULT_STEP) -> np.ndarray:
    """[E + 3 (+ 3), N, 3] float32: per rig expression, per jaw rotation component, then per
    head-pose driver (when the avatar has them), how the kept Gaussians' centres move per unit
    weight (the secant over `step`; the module's docstring)."""
    rig = model.rig
    exprdirs = rig.exprdirs.detach().double().cpu()  # [V, 3, E]
    no_drivers = torch.zeros(model.num_drivers, dtype=torch.float64)
    base = bind_centres(model, template, no_drivers, kept)  # [N, 3]
    slot = {int(e): d for d, e in enumerate(model.blend_expr.tolist())}  # expression -> its driver
    targets = []
    for e in range(rig.num_expr):
        drivers = no_drivers.clone()
        if e in slot:
            drivers[slot[e]] = step
        targets.append((bind_centres(model, template + step * exprdirs[:, :, e], drivers, kept) - base) / step)
    # the jaw's and the head pose's offsets: linear in their drivers on the fixed neutral frames
    for k in range(model.num_drivers - model.num_blend_expr):
        drivers = no_drivers.clone()
        drivers[model.num_blend_expr + k] = 1.0
        targets.append(bind_centres(model, template, drivers, kept) - base)
    return torch.stack(targets).float().numpy()


def _interpolated_weights(model: GaussianAvatar, template: Tensor, kept: Tensor) -> np.ndarray:
    """[N, J] skinning weights of the kept Gaussians: their parent triangle's vertices' weights,
    mixed by the barycentric coordinates of the neutral centre's foot on the triangle (clamped
    into the triangle, so the mix stays convex)."""
    rig = model.rig
    faces = rig.faces.cpu()[model.parent.cpu()[kept]]  # [N, 3]
    tri = template[faces]  # [N, 3, 3] float64
    centre = bind_centres(model, template, torch.zeros(model.num_drivers), kept)  # [N, 3]
    bary = _barycentric(centre, tri).clamp(min=0)
    bary = bary / bary.sum(-1, keepdim=True)
    weights = rig.lbs_weights.double().cpu()[faces]  # [N, 3, J]
    return torch.einsum("nk,nkj->nj", bary, weights).numpy()


def _linear(srgb: Tensor) -> Tensor:
    """sRGB-encoded colours in [0, 1] -> linear (glTF's COLOR_0 is linear; a reader encodes it
    back for display, so the points show the splats' colours; 16 bits keep the dark ones)."""
    return torch.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _barycentric(points: Tensor, tri: Tensor) -> Tensor:
    """[N, 3] barycentric coordinates of points [N, 3] projected onto triangles [N, 3, 3]."""
    e1, e2, d = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], points - tri[:, 0]
    d11, d12, d22 = (e1 * e1).sum(-1), (e1 * e2).sum(-1), (e2 * e2).sum(-1)
    p1, p2 = (d * e1).sum(-1), (d * e2).sum(-1)
    det = (d11 * d22 - d12 * d12).clamp(min=1e-30)
    b1, b2 = (d22 * p1 - d12 * p2) / det, (d11 * p2 - d12 * p1) / det
    return torch.stack([1 - b1 - b2, b1, b2], dim=-1)
