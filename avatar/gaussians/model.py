"""`GaussianAvatar`: Gaussians bound to rig triangles, with per-expression blendshape offsets.

Each Gaussian lives in the local frame of its parent triangle (origin at the centroid, axes from
the first edge and the normal, unit = mean edge length), as in GaussianAvatars. On top of that
binding, every local attribute has one learned offset per *driver* (3D Gaussian Blendshapes):
the weights of the chosen expressions `blend_expr` followed by the 3 jaw rotation components, so
the mouth interior and wrinkles can change with expression and jaw, and, when the model has
`HeadPoseDrivers`, the head's rotation from its mean training pose (3 more), so hanging hair and
the room's light can change as the head turns.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avatar.gaussians.pose_drivers import NUM_POSE_DRIVERS, HeadPoseDrivers
from avatar.splat.sh import SH_C0  # Y_0^0: colour = SH_C0 * dc + 0.5
from avatar.splat.view_cone import ViewCone
from avatar.rig import HeadRig, RigParams
from avatar.rig.cut_vertices import HeadCut


class GaussianAvatar(nn.Module):
    # Names of the per-Gaussian tensors, [N, ...] for attributes and [D, N, ...] for offsets.
    ATTRIBUTES = ("xyz", "rot", "log_scale", "opacity_logit", "sh_dc", "sh_rest")
    OFFSETS = ("d_xyz", "d_rot", "d_log_scale", "d_opacity", "d_color")

    def __init__(
        self,
        rig: HeadRig,
        parent: Tensor,
        sh_degree: int = 0,
        blend_expr: int | Tensor | None = None,
        pose: HeadPoseDrivers | None = None,
    ):
        """blend_expr: the expressions whose weights drive offsets: indices, or a count (the first
        ones), or None (all); pose: the head's rotation drives offsets too (None: it does not)."""
        super().__init__()
        n = int(parent.shape[0])
        self.rig = rig
        self.sh_degree = sh_degree
        self.head_cut: HeadCut | None = None  # where renders end below the head (the capture's, when it has one)
        self.view_cone: ViewCone | None = None  # the directions its view-dependent colour was trained from
        self.register_buffer("blend_expr", _expression_indices(blend_expr, rig.num_expr))  # [De] long
        # None when the head's rotation drives no offsets
        self.register_buffer("pose_mean", None if pose is None else pose.mean.float().clone())  # [3, 3]
        self.register_buffer("pose_low", None if pose is None else pose.low.float().clone())  # [3]
        self.register_buffer("pose_high", None if pose is None else pose.high.float().clone())  # [3]
        d = self.num_drivers
        k = (sh_degree + 1) ** 2
        self.register_buffer("parent", parent.long())  # [N] triangle index
        self.xyz = nn.Parameter(torch.zeros(n, 3))  # [N, 3] in triangle units
        self.rot = nn.Parameter(torch.tensor([1.0, 0, 0, 0]).repeat(n, 1))  # [N, 4] local quaternion
        self.log_scale = nn.Parameter(torch.zeros(n, 3))  # [N, 3] log of scale in triangle units
        self.opacity_logit = nn.Parameter(torch.zeros(n))  # [N]
        self.sh_dc = nn.Parameter(torch.zeros(n, 1, 3))  # [N, 1, 3]
        self.sh_rest = nn.Parameter(torch.zeros(n, k - 1, 3))  # [N, K-1, 3]
        self.d_xyz = nn.Parameter(torch.zeros(d, n, 3))  # [D, N, 3]
        self.d_rot = nn.Parameter(torch.zeros(d, n, 4))  # [D, N, 4]
        self.d_log_scale = nn.Parameter(torch.zeros(d, n, 3))  # [D, N, 3]
        self.d_opacity = nn.Parameter(torch.zeros(d, n))  # [D, N]
        self.d_color = nn.Parameter(torch.zeros(d, n, 3))  # [D, N, 3] offsets of the DC colour

    def _apply(self, fn, recurse: bool = True):
        """`.to()`, `.cuda()`, `.double()` ... move the rig along with the Gaussians: a model and
        its rig on different devices could not blend."""
        super()._apply(fn, recurse)
        self.rig = HeadRig(**{k: fn(v) if isinstance(v, Tensor) else v for k, v in self.rig.__dict__.items()})
        return self

    @property
    def num_blend_expr(self) -> int:
        return int(self.blend_expr.shape[0])

    @property
    def pose_drivers(self) -> HeadPoseDrivers | None:
        """What makes the head's rotation drive offsets, or None when it does not."""
        return None if self.pose_mean is None else HeadPoseDrivers(self.pose_mean, self.pose_low, self.pose_high)

    @property
    def num_drivers(self) -> int:
        return self.num_blend_expr + 3 + (NUM_POSE_DRIVERS if self.pose_mean is not None else 0)

    @property
    def num_gaussians(self) -> int:
        return int(self.parent.shape[0])

    def drivers(self, params: RigParams) -> Tensor:
        """Blendshape weights [T, D]: the chosen expressions' weights, the jaw rotation, then
        (with pose drivers) the head's clamped rotation from its mean. The one place drivers are
        computed (the renderer's fused op takes these; web/src/blend.js restates them)."""
        parts = [params.expr[:, self.blend_expr.to(params.expr.device)], params.jaw]
        pose = self.pose_drivers
        if pose is not None:
            parts.append(pose.coefficients(params))
        return torch.cat(parts, dim=-1)

    @classmethod
    def on_mesh(
        cls,
        rig: HeadRig,
        per_face: int = 1,
        sh_degree: int = 0,
        blend_expr: int | Tensor | None = None,
        opacity: float = 0.8,
        seed: int = 0,
        vertex_colors: Tensor | None = None,
        pose: HeadPoseDrivers | None = None,
    ) -> "GaussianAvatar":
        """`per_face` Gaussians on every rig triangle, flat discs that tile it, grey or, given
        vertex_colors [V, 3] in [0, 1], the colour there."""
        parent = torch.arange(rig.faces.shape[0]).repeat_interleave(per_face)  # [N]
        model = cls(rig, parent, sh_degree, blend_expr, pose)
        local, log_scale, colour = discs_on_triangles(rig, parent, per_face, seed, vertex_colors)
        with torch.no_grad():
            model.xyz.copy_(local)
            model.log_scale.copy_(log_scale)
            model.opacity_logit.fill_(math.log(opacity / (1 - opacity)))
            if colour is not None:
                model.sh_dc.copy_(((colour - 0.5) / SH_C0)[:, None])
        return model

    def attribute_tensors(self) -> dict[str, Tensor]:
        return {name: getattr(self, name) for name in self.ATTRIBUTES + self.OFFSETS}

    def replace_gaussians(self, tensors: dict[str, Tensor], parent: Tensor) -> None:
        """Swap in a new set of Gaussians (after densify/prune or loading)."""
        self.parent = parent.long()
        for name in self.ATTRIBUTES + self.OFFSETS:
            setattr(self, name, nn.Parameter(tensors[name].detach().clone().contiguous()))

    def opacity(self) -> Tensor:
        return torch.sigmoid(self.opacity_logit)

    def applied_offsets(self, drivers: Tensor) -> Tensor:
        """Σ_k w_k Δ_k, the offsets one frame applies: drivers [D] -> [N, 14] (xyz 3, rot 4,
        log_scale 3, opacity logit 1, DC colour 3, each in its offset's own units)."""
        return torch.cat(
            [torch.tensordot(drivers, getattr(self, k), dims=1).reshape(self.num_gaussians, -1) for k in self.OFFSETS],
            dim=-1,
        )

    def local_attributes(self, offsets: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Base + the frame's applied offsets [N, 14] (see applied_offsets) -> xyz, rot,
        log_scale, opacity_logit, sh."""
        xyz = self.xyz + offsets[:, 0:3]
        rot = F.normalize(self.rot + offsets[:, 3:7], dim=-1)
        log_scale = self.log_scale + offsets[:, 7:10]
        opacity_logit = self.opacity_logit + offsets[:, 10]
        dc = self.sh_dc + offsets[:, None, 11:14] / SH_C0
        return xyz, rot, log_scale, opacity_logit, torch.cat([dc, self.sh_rest], dim=1)


def discs_on_triangles(
    rig: HeadRig, parent: Tensor, per_face: int, seed: int = 0, vertex_colors: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Flat discs on the rest rig's triangles parent [N], `per_face` on each, that together tile
    them: (positions [N, 3] in their triangles' local frames, log scales [N, 3] in triangle units
    with the normal's a third of the others, and given vertex_colors [V, 3] the colour [N, 3]
    there, else None). One disc sits at the centroid; several at uniform random points."""
    from avatar.gaussians.binding import triangle_frames

    verts = rig.v_template[None]  # [1, V, 3]
    origin, frame, unit = triangle_frames(verts, rig.faces)  # [1, F, 3], [1, F, 3, 3], [1, F]
    tri = verts[0, rig.faces[parent]]  # [N, 3, 3]
    if per_face == 1:
        bary = torch.full((parent.shape[0], 3), 1 / 3)
    else:
        g = torch.Generator().manual_seed(seed)
        bary = -torch.log(torch.rand(parent.shape[0], 3, generator=g))  # uniform on the simplex
        bary = bary / bary.sum(-1, keepdim=True)
    bary = bary.to(tri)
    points = torch.einsum("nk,nkd->nd", bary, tri)  # [N, 3]
    local = torch.einsum("nji,nj->ni", frame[0, parent], points - origin[0, parent])  # R^T (p - o)
    local = local / unit[0, parent, None]
    area = 0.5 * torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]).norm(dim=-1)  # [N]
    radius = torch.sqrt(area / per_face / math.pi).clamp_min(1e-5) / unit[0, parent]  # triangle units
    log_scale = torch.stack([radius, radius, radius * 0.3], -1).log()
    colour = None
    if vertex_colors is not None:
        colour = torch.einsum("nk,nkc->nc", bary, vertex_colors.to(bary)[rig.faces[parent]])  # [N, 3]
    return local, log_scale, colour


def _expression_indices(blend_expr: int | Tensor | None, num_expr: int) -> Tensor:
    if blend_expr is None:
        return torch.arange(num_expr)
    if isinstance(blend_expr, int):
        return torch.arange(min(max(blend_expr, 0), num_expr))
    idx = torch.as_tensor(blend_expr, dtype=torch.long).reshape(-1)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= num_expr or len(set(idx.tolist())) != idx.numel()):
        raise ValueError(f"blend_expr must be distinct expression indices below {num_expr}, got {idx.tolist()}")
    return idx
