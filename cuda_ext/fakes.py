"""Fake kernels of every `torch.ops.avatar_ext` op: the outputs' shapes, dtypes and devices
without running anything, for torch.compile, FakeTensor and meta tensors (shapes as cuda_ext/ops.py
documents them). Sizes that only the kernel knows (the rasterizer's tile lists) are declared
data-dependent with `new_dynamic_size`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from cuda_ext import ops

LOCAL_SIZE = 14  # blended local attributes per Gaussian: xyz 3, rot 4, log_scale 3, opacity 1, colour 3
FRAME_SIZE = 17  # numbers per posed triangle frame: origin 3, rotation 9, unit 1, quaternion 4


def _fake(name: str):
    return torch.library.register_fake(f"{ops.NAMESPACE}::{name}")


@_fake("splat_project_forward")
def _splat_project_forward(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    sh: Tensor,
    world_to_cam: Tensor,
    K: Tensor,
    cam_pos: Tensor,
    width: int,
    height: int,
    near: float,
    far: float,
) -> tuple[Tensor, ...]:
    n = means.shape[0]
    return (
        means.new_empty(n, 2),
        means.new_empty(n, 3),
        means.new_empty(n),
        means.new_empty(n, 3),
        means.new_empty(n, dtype=torch.int32),
    )


@_fake("splat_project_backward")
def _splat_project_backward(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    sh: Tensor,
    world_to_cam: Tensor,
    K: Tensor,
    cam_pos: Tensor,
    width: int,
    height: int,
    near: float,
    far: float,
    grad_means2d: Tensor,
    grad_conics: Tensor,
    grad_depths: Tensor,
    grad_colours: Tensor,
) -> tuple[Tensor, ...]:
    return tuple(torch.empty_like(t) for t in (means, quats, scales, sh))


@_fake("splat_rasterize_forward")
def _splat_rasterize_forward(
    means2d: Tensor,
    conics: Tensor,
    colours: Tensor,
    opacities: Tensor,
    depths: Tensor,
    radii: Tensor,
    background: Tensor,
    width: int,
    height: int,
) -> tuple[Tensor, Tensor, Tensor, list[Tensor]]:
    ctx = torch.library.get_ctx()
    ints = dict(dtype=torch.int32)
    state = [
        means2d.new_empty(height, width),  # final transmittance
        means2d.new_empty(height, width, **ints),  # last contributing entry
        means2d.new_empty(ctx.new_dynamic_size(min=1), **ints),  # tile offsets: tiles + 1, the device's tiles
        means2d.new_empty(ctx.new_dynamic_size(), **ints),  # tile entries
        means2d.new_empty(ctx.new_dynamic_size(), dtype=torch.uint8),
    ]  # per-Gaussian bytes, the device's layout
    return (
        means2d.new_empty(height, width, 3),
        means2d.new_empty(height, width, 1),
        means2d.new_empty(height, width, 1),
        state,
    )


@_fake("splat_rasterize_backward")
def _splat_rasterize_backward(
    means2d: Tensor,
    conics: Tensor,
    colours: Tensor,
    opacities: Tensor,
    depths: Tensor,
    radii: Tensor,
    background: Tensor,
    state: list[Tensor],
    grad_rgb: Tensor,
    grad_alpha: Tensor,
    grad_depth: Tensor,
) -> tuple[Tensor, ...]:
    return tuple(torch.empty_like(t) for t in (means2d, conics, colours, opacities, depths))


@_fake("splat_rasterize_weights")
def _splat_rasterize_weights(
    means2d: Tensor,
    conics: Tensor,
    colours: Tensor,
    opacities: Tensor,
    depths: Tensor,
    radii: Tensor,
    background: Tensor,
    width: int,
    height: int,
) -> Tensor:
    return opacities.new_empty(opacities.shape[0])


@_fake("cpu_simd")
def _cpu_simd() -> str:
    # No tensor to fake: the answer is the real kernel's (a query of the CPU and of AVATAR_EXT_SIMD).
    keys = torch._C.DispatchKeySet(torch._C.DispatchKey.CompositeExplicitAutograd)
    return torch.ops.avatar_ext.cpu_simd.default.redispatch(keys)


@_fake("blend_forward")
def _blend_forward(
    verts: Tensor,
    faces: Tensor,
    parent: Tensor,
    drivers: Tensor,
    xyz: Tensor,
    rot: Tensor,
    log_scale: Tensor,
    opacity_logit: Tensor,
    sh_dc: Tensor,
    sh_rest: Tensor,
    d_xyz: Tensor,
    d_rot: Tensor,
    d_log_scale: Tensor,
    d_opacity: Tensor,
    d_color: Tensor,
) -> tuple[Tensor, ...]:
    n, num_coeffs = parent.shape[0], sh_rest.shape[1] + 1
    return (
        verts.new_empty(n, 3),
        verts.new_empty(n, 4),
        verts.new_empty(n, 3),
        verts.new_empty(n),
        verts.new_empty(n, num_coeffs, 3),
        verts.new_empty(n, LOCAL_SIZE),
        verts.new_empty(faces.shape[0], FRAME_SIZE),
    )


@_fake("blend_backward")
def _blend_backward(
    verts: Tensor,
    faces: Tensor,
    parent: Tensor,
    drivers: Tensor,
    xyz: Tensor,
    rot: Tensor,
    log_scale: Tensor,
    opacity_logit: Tensor,
    sh_dc: Tensor,
    sh_rest: Tensor,
    d_xyz: Tensor,
    d_rot: Tensor,
    d_log_scale: Tensor,
    d_opacity: Tensor,
    d_color: Tensor,
    local: Tensor,
    frames: Tensor,
    grad_means: Tensor,
    grad_quats: Tensor,
    grad_scales: Tensor,
    grad_opacities: Tensor,
    grad_sh: Tensor,
    grad_local: Tensor,
    need_verts: bool,
    need_drivers: bool,
) -> list[Tensor]:
    return [
        torch.empty_like(t)
        for t in (
            verts,
            drivers,
            xyz,
            rot,
            log_scale,
            opacity_logit,
            sh_dc,
            d_xyz,
            d_rot,
            d_log_scale,
            d_opacity,
            d_color,
        )
    ]


@_fake("avatar_project")
def _avatar_project(
    verts: Tensor,
    faces: Tensor,
    parent: Tensor,
    drivers: Tensor,
    base: Tensor,
    offsets: Tensor,
    offset_scales: Tensor,
    sh_rest: Tensor,
    num_gaussians: int,
    world_to_cam: Tensor,
    K: Tensor,
    cam_pos: Tensor,
    width: int,
    height: int,
    near: float,
    far: float,
) -> tuple[Tensor, ...]:
    n = num_gaussians
    return (
        base.new_empty(n, 2),
        base.new_empty(n, 3),
        base.new_empty(n),
        base.new_empty(n, 3),
        base.new_empty(n),
        base.new_empty(n, dtype=torch.int32),
    )


@_fake("head_cut_region")
def _head_cut_region(
    verts: Tensor,
    faces: Tensor,
    ring: Tensor,
    sides: Tensor,
    top: int,
    neck_margin: float,
    world_to_cam: list[float],
    K: list[float],
    width: int,
    height: int,
    near: float,
) -> Tensor:
    return verts.new_empty(height, width, 1)


@_fake("head_cut_apply_")
def _head_cut_apply_(
    rgb: Tensor,
    alpha: Tensor,
    depth: Tensor,
    background: Tensor,
    verts: Tensor,
    faces: Tensor,
    ring: Tensor,
    sides: Tensor,
    top: int,
    neck_margin: float,
    world_to_cam: list[float],
    K: list[float],
    near: float,
) -> None:
    return None


@_fake("rgb_to_uint8")
def _rgb_to_uint8(rgb: Tensor) -> Tensor:
    return torch.empty_like(rgb, dtype=torch.uint8)


@_fake("rig_pose")
def _rig_pose(
    v_template: Tensor,
    shapedirs: Tensor,
    exprdirs: Tensor,
    posedirs: Tensor,
    j_regressor: Tensor,
    parents: Tensor,
    lbs_weights: Tensor,
    shape: Tensor,
    expr: Tensor,
    pose: Tensor,
    translation: Tensor,
) -> Tensor:
    return torch.empty_like(v_template)
