"""Every avatar_ext op through `torch.library.opcheck` (cpu build) on small inputs: its schema
(declared mutations, no aliasing), its fake kernel against the real outputs, its autograd
registration and a trace through AOTAutograd with dynamic shapes (eager and traced outputs and
gradients equal). The differentiable ops get inputs that require grad, so their backward runs.
"""

import pytest
import torch

from cuda_ext import ops
from tiny_rig import make_tiny_rig

pytestmark = pytest.mark.usefixtures("cpu_extension")

OPS = torch.ops.avatar_ext
WIDTH, HEIGHT = 12, 10
UTILS_NO_TENSOR_OUTPUT = ("test_schema", "test_faketensor")  # nothing for AOTAutograd to trace


def _camera(dtype: torch.dtype = torch.float64) -> tuple:
    """world_to_cam [4, 4] (identity: the camera at the origin looking down +z), K [3, 3], cam_pos
    [3], width, height, near, far."""
    k = torch.tensor([[14.0, 0.0, WIDTH / 2], [0.0, 14.0, HEIGHT / 2], [0.0, 0.0, 1.0]], dtype=dtype)
    return torch.eye(4, dtype=dtype), k, torch.zeros(3, dtype=dtype), WIDTH, HEIGHT, 0.01, 100.0


def _gaussians(n: int = 7, dtype: torch.dtype = torch.float64, grad: bool = True) -> list[torch.Tensor]:
    """means [N, 3] in front of the camera, quats [N, 4], scales [N, 3], opacities [N], sh [N, 4, 3]."""
    g = torch.Generator().manual_seed(0)
    means = torch.cat([0.3 * torch.randn(n, 2, generator=g), 2.0 + torch.rand(n, 1, generator=g)], 1)
    tensors = [
        means,
        torch.randn(n, 4, generator=g),
        0.1 + 0.1 * torch.rand(n, 3, generator=g),
        0.3 + 0.5 * torch.rand(n, generator=g),
        0.3 * torch.randn(n, 4, 3, generator=g),
    ]
    return [t.to(dtype).requires_grad_(grad) for t in tensors]


def _screen(dtype: torch.dtype = torch.float64, grad: bool = True) -> list:
    """The rasterizer's inputs for _gaussians(), from the projection: means2d, conics, colours,
    opacities, depths, radii, background."""
    means, quats, scales, opacities, sh = _gaussians(dtype=dtype, grad=False)
    means2d, conics, depths, colours, radii = OPS.splat_project_forward(
        means, quats, scales, opacities, sh, *_camera(dtype)
    )
    assert (radii > 0).sum() >= 4  # most are drawn
    floats = [t.requires_grad_(grad) for t in (means2d, conics, colours, opacities)]
    return [*floats, depths.requires_grad_(grad), radii, torch.tensor([0.2, 0.4, 0.6], dtype=dtype, requires_grad=grad)]


def _blend_inputs(dtype: torch.dtype = torch.float64, grad: bool = True) -> list[torch.Tensor]:
    """The blend op's 15 inputs on the tiny rig: 3 Gaussians on each of its 32 faces, 2 drivers."""
    rig = make_tiny_rig()
    g = torch.Generator().manual_seed(1)
    num_faces, n, d = rig.faces.shape[0], 3 * rig.faces.shape[0], 2
    floats = [
        rig.v_template,
        torch.randn(d, generator=g),
        0.1 * torch.randn(n, 3, generator=g),
        torch.randn(n, 4, generator=g),
        torch.randn(n, 3, generator=g) - 3.0,
        torch.randn(n, generator=g),
        torch.randn(n, 1, 3, generator=g),
        torch.randn(n, 3, 3, generator=g),
        *(0.05 * torch.randn(d, n, w, generator=g) for w in (3, 4, 3)),
        0.05 * torch.randn(d, n, generator=g),
        0.05 * torch.randn(d, n, 3, generator=g),
    ]
    verts, drivers, *per_gaussian = (t.to(dtype).requires_grad_(grad) for t in floats)
    parent = torch.arange(num_faces).repeat_interleave(3)
    return [verts, rig.faces, parent, drivers, *per_gaussian]


def _opcheck(op, args: tuple, **kwargs) -> None:
    results = torch.library.opcheck(op, args, **kwargs)
    assert all(result == "SUCCESS" for result in results.values()), results


def test_every_op_is_checked_here():
    """Each op of cuda_ext/ops.py has its test below (test_<op name>): a new op needs one."""
    tests = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    assert set(ops.SCHEMAS) <= tests


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_splat_project_forward(dtype):
    _opcheck(OPS.splat_project_forward, (*_gaussians(dtype=dtype), *_camera(dtype)))


def test_splat_project_backward():
    means, quats, scales, _, sh = _gaussians(grad=False)
    n = means.shape[0]
    g = torch.Generator().manual_seed(2)
    upstream = [torch.randn(shape, generator=g, dtype=torch.float64) for shape in ((n, 2), (n, 3), (n,), (n, 3))]
    _opcheck(OPS.splat_project_backward, (means, quats, scales, sh, *_camera(), *upstream))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_splat_rasterize_forward(dtype):
    _opcheck(OPS.splat_rasterize_forward, (*_screen(dtype), WIDTH, HEIGHT))


def test_splat_rasterize_backward():
    screen = _screen(grad=False)
    _, _, _, state = OPS.splat_rasterize_forward(*screen, WIDTH, HEIGHT)
    g = torch.Generator().manual_seed(3)
    upstream = [torch.randn(HEIGHT, WIDTH, c, generator=g, dtype=torch.float64) for c in (3, 1, 1)]
    _opcheck(OPS.splat_rasterize_backward, (*screen, state, *upstream))


def test_splat_rasterize_weights():
    _opcheck(OPS.splat_rasterize_weights, (*_screen(grad=False), WIDTH, HEIGHT))


def test_cpu_simd():
    _opcheck(OPS.cpu_simd, (), test_utils=UTILS_NO_TENSOR_OUTPUT)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_blend_forward(dtype):
    _opcheck(OPS.blend_forward, tuple(_blend_inputs(dtype)))


@pytest.mark.parametrize("with_frames", [True, False])
def test_blend_backward(with_frames):
    inputs = _blend_inputs(grad=False)
    *outputs, local, frames = OPS.blend_forward(*inputs)
    g = torch.Generator().manual_seed(4)
    upstream = [torch.randn(o.shape, generator=g, dtype=o.dtype) for o in outputs]
    frames = frames if with_frames else frames.new_empty(0)
    _opcheck(OPS.blend_backward, (*inputs, local, frames, *upstream, local.new_empty(0), True, True))


def test_avatar_project():
    g = torch.Generator().manual_seed(5)
    rig = make_tiny_rig()
    n, d, groups = 13, 3, 2  # 13 Gaussians in 2 groups of 8, the last padded
    parent = torch.randint(0, rig.faces.shape[0], (8 * groups,), generator=g, dtype=torch.int32)
    base = torch.randn(groups, 14, 8, generator=g)
    base[:, 10] += 2.0  # opacity logits: mostly opaque
    offsets = torch.randint(-127, 128, (d, groups, 14, 8), generator=g, dtype=torch.int8)
    world_to_cam = torch.eye(4)
    world_to_cam[2, 3] = 0.5  # the 10 cm sphere half a metre in front of the camera
    camera = (world_to_cam, *_camera(torch.float32)[1:])
    _opcheck(
        OPS.avatar_project,
        (
            rig.v_template,
            rig.faces,
            parent,
            torch.rand(d, generator=g),
            base,
            offsets,
            1e-3 * torch.rand(d, 14, generator=g),
            torch.randn(groups, 9, 8, generator=g),
            n,
            *camera,
        ),
    )


def _cut_arguments() -> tuple:
    """verts, faces, ring, sides, top, neck_margin, world_to_cam (16), K (9) of the tiny rig seen
    from 0.5 m in front: a ring around its equator, sides left and right, top its north pole."""
    rig = make_tiny_rig()
    verts = rig.v_template
    world_to_cam = torch.eye(4, dtype=torch.float64)
    world_to_cam[2, 3] = 0.5
    equator = torch.nonzero(verts[:, 1].abs() < 1e-6)[:, 0]
    return (
        verts,
        rig.faces,
        equator,
        torch.tensor([0, 1]),
        2,
        0.05,
        world_to_cam.flatten().tolist(),
        _camera()[1].flatten().tolist(),
    )


def test_head_cut_region():
    _opcheck(OPS.head_cut_region, (*_cut_arguments(), WIDTH, HEIGHT, 0.01))


def test_head_cut_apply_():
    g = torch.Generator().manual_seed(6)
    images = (
        torch.rand(HEIGHT, WIDTH, 3, generator=g),
        torch.rand(HEIGHT, WIDTH, 1, generator=g),
        torch.rand(HEIGHT, WIDTH, 1, generator=g),
        torch.ones(3),
    )
    _opcheck(OPS.head_cut_apply_, (*images, *_cut_arguments(), 0.01))


def test_rgb_to_uint8():
    _opcheck(OPS.rgb_to_uint8, (torch.rand(5, 4, 3, generator=torch.Generator().manual_seed(7)),))


def test_rig_pose():
    rig = make_tiny_rig()
    g = torch.Generator().manual_seed(8)
    num_joints = rig.parents.shape[0]
    shape, expr = torch.randn(rig.shapedirs.shape[2], generator=g), torch.randn(rig.exprdirs.shape[2], generator=g)
    _opcheck(
        OPS.rig_pose,
        (
            rig.v_template,
            rig.shapedirs,
            rig.exprdirs,
            rig.posedirs,
            rig.j_regressor,
            rig.parents,
            rig.lbs_weights,
            shape,
            expr,
            0.1 * torch.randn(num_joints, 3, generator=g),
            torch.randn(3, generator=g),
        ),
    )
