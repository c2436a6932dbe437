"""cuda_ext's rig op (posed vertices of one frame, cpu build) against torch's LBS (avatar.rig.lbs).

The blend backends pose the rig with it whenever no gradient must reach the rig parameters;
these tests pin it to the torch maths on rigs with every term live (shape, expression, pose
correctives, a joint chain deeper than FLAME's) and check that the backends pick the right path.
"""

import pytest
import torch

import cuda_ext
from avatar.gaussians import GaussianAvatar, blend
from avatar.gaussians.reference import blend_reference
from avatar.rig import HeadRig
from avatar.rig.builtin import build_builtin_head
from avatar.rig.lbs import lbs
from cuda_ext.rig import pose_vertices
from tiny_rig import make_tiny_rig

TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5}


def _random_lbs_inputs(num_v: int, parents: list[int], num_s: int, num_e: int, dtype, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    j = len(parents)
    rand = lambda *shape, scale=1.0: (scale * torch.randn(*shape, generator=g)).to(dtype)  # noqa: E731
    weights = torch.rand(num_v, j, generator=g).to(dtype)
    return dict(v_template=rand(num_v, 3, scale=0.1), shapedirs=rand(num_v, 3, num_s, scale=0.01),
                exprdirs=rand(num_v, 3, num_e, scale=0.01), posedirs=rand(num_v, 3, 9 * (j - 1), scale=0.01),
                j_regressor=torch.softmax(rand(j, num_v), dim=1), parents=torch.tensor(parents),
                lbs_weights=weights / weights.sum(1, keepdim=True), shape=rand(num_s), expr=rand(num_e),
                pose=rand(j, 3, scale=0.4), translation=rand(3, scale=0.05))


def _torch_pose(a: dict) -> torch.Tensor:
    """The same frame through avatar.rig.lbs: the oracle."""
    v_shaped = (a["v_template"] + torch.einsum("vks,s->vk", a["shapedirs"], a["shape"])
                + torch.einsum("vke,e->vk", a["exprdirs"], a["expr"]))
    verts, _ = lbs(v_shaped[None], a["pose"][None], a["posedirs"], a["j_regressor"], a["parents"], a["lbs_weights"])
    return verts[0] + a["translation"]


def _assert_close(got: torch.Tensor, want: torch.Tensor, dtype) -> None:
    err = ((got - want).abs().max() / want.abs().max()).item()
    assert err <= TOLERANCE[dtype], f"relative error {err:.3g} > {TOLERANCE[dtype]:g}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("parents", [[-1, 0, 1, 1, 1], [-1, 0, 1, 2, 1, 4, 0]], ids=["flame", "deeper_chain"])
@pytest.mark.parametrize("num_v", [1, 37, 1500])
def test_random_rig_matches_torch_lbs(num_v, parents, dtype):
    a = _random_lbs_inputs(num_v, parents, num_s=6, num_e=11, dtype=dtype, seed=num_v + len(parents))
    want = _torch_pose(a)
    assert (want - (a["v_template"] + a["translation"])).abs().max() > 1e-3  # the premise: the pose moves it
    _assert_close(pose_vertices(**a), want, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_zero_pose_takes_rodrigues_epsilon_path(dtype):
    """A zero rotation goes through lbs.py's |aa + 1e-8| epsilon: the kernel must follow it."""
    a = _random_lbs_inputs(200, [-1, 0, 1, 1, 1], num_s=3, num_e=4, dtype=dtype, seed=3)
    a["pose"] = torch.zeros_like(a["pose"])
    _assert_close(pose_vertices(**a), _torch_pose(a), dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_builtin_head_matches_head_rig_forward(dtype):
    rig = build_builtin_head().to(dtype=dtype)
    g = torch.Generator().manual_seed(11)
    params = rig.zero_params(1)
    for name in ("shape", "expr", "jaw", "neck", "rotation", "eyes", "translation"):
        t = getattr(params, name)
        t.copy_((0.5 if name == "expr" else 0.2) * torch.randn(t.shape, generator=g))
    pose = rig.joint_pose(params)[0]
    got = pose_vertices(rig.v_template, rig.shapedirs, rig.exprdirs, rig.posedirs, rig.j_regressor, rig.parents,
                        rig.lbs_weights, params.shape, params.expr[0], pose, params.translation[0])
    _assert_close(got, rig.forward(params)[0], dtype)


def test_bad_inputs_raise_clear_errors():
    a = _random_lbs_inputs(10, [-1, 0, 1, 1, 1], num_s=2, num_e=3, dtype=torch.float32, seed=0)
    with pytest.raises(ValueError, match="parents\\[3\\] must name an earlier joint"):
        pose_vertices(**{**a, "parents": torch.tensor([-1, 0, 1, 4, 1])})
    with pytest.raises(ValueError, match="posedirs must have 9 \\(J - 1\\) = 36"):
        pose_vertices(**{**a, "posedirs": a["posedirs"][..., :27]})
    with pytest.raises(ValueError, match="expr has shape"):
        pose_vertices(**{**a, "expr": a["expr"][:2]})
    with pytest.raises(ValueError, match="lbs_weights has dtype"):
        pose_vertices(**{**a, "lbs_weights": a["lbs_weights"].double()})
    strided = {**a, "v_template": torch.cat([a["v_template"], a["v_template"]], 1)[:, ::2]}  # the op itself
    with pytest.raises(ValueError, match="rig_pose: v_template must be contiguous"):
        torch.ops.avatar_ext.rig_pose(*strided.values())


def _counting_pose(monkeypatch) -> list:
    calls = []
    real = cuda_ext.rig.pose_vertices

    def counted(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(cuda_ext.rig, "pose_vertices", counted)
    return calls


def _model(rig: HeadRig) -> GaussianAvatar:
    model = GaussianAvatar.on_mesh(rig, per_face=1, blend_expr=rig.num_expr)
    with torch.no_grad():
        model.d_xyz.normal_(0.0, 0.01, generator=torch.Generator().manual_seed(2))
    return model


def test_blend_poses_with_the_kernel_when_no_gradient_reaches_the_rig(monkeypatch):
    """Training with fixed tracking and rendering: the kernel poses the rig, and the world
    Gaussians equal the torch reference's (float64: in float32 the frames of millimetre triangles
    amplify the vertices' rounding, which the float32 kernel tests above bound)."""
    model = _model(build_builtin_head()).to(dtype=torch.float64)
    rig = model.rig = model.rig.to(dtype=torch.float64)
    params = rig.zero_params(1)  # float64, as the rig
    params.expr[0, :5] = 0.4
    params.jaw[0, 0] = 0.2
    params.neck[0] = torch.tensor([0.1, 0.2, 0.0])
    calls = _counting_pose(monkeypatch)
    got = blend(model, params, "cpu")
    assert len(calls) == 1
    want = blend_reference(model, params)
    for name in ("means", "quats", "scales"):  # what the posed rig decides
        g, w = getattr(got, name).detach(), getattr(want, name).detach()
        assert ((g - w).abs().max() / w.abs().max()).item() <= 1e-12, name


def test_blend_poses_with_torch_when_rig_parameters_need_gradients(monkeypatch):
    """Fitting a frame's parameters through the avatar needs gradients through LBS: torch poses the rig."""
    rig = make_tiny_rig(num_expr=3)
    model = _model(rig)
    params = rig.zero_params(1)
    params.jaw.requires_grad_(True)
    calls = _counting_pose(monkeypatch)
    world = blend(model, params, "cpu")
    assert calls == []
    (grad_jaw,) = torch.autograd.grad(world.means.sum(), [params.jaw])
    assert grad_jaw.abs().max() > 0
