"""`RigPoser`, the renderer's one pose per frame, against the rig's own forward (torch LBS)."""

import os
from pathlib import Path

import pytest
import torch

from avatar.rig import RigParams
from avatar.rig.builtin import build_builtin_head
from avatar.rig.poser import RigPoser
from cuda_ext.rig import pose_vertices

DATA = Path(os.environ.get("AVATAR_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
ICT = DATA / "rigs" / "ict-facekit"


def _random_frame(rig, seed: int) -> RigParams:
    g = torch.Generator().manual_seed(seed)
    params = rig.zero_params(1)
    params.shape = torch.randn(rig.num_shape, generator=g)
    params.expr = torch.rand(1, rig.num_expr, generator=g)
    params.jaw = torch.tensor([[0.3, 0.02, 0.0]])
    params.neck = 0.1 * torch.randn(1, 3, generator=g)
    params.rotation = 0.4 * torch.randn(1, 3, generator=g)
    params.eyes = 0.2 * torch.randn(1, 6, generator=g)
    params.translation = 0.05 * torch.randn(1, 3, generator=g)
    return params


def _rigs():
    yield "builtin", build_builtin_head()
    if ICT.is_dir():
        from avatar.rig.loaders import load_rig

        yield "ict", load_rig(f"ict:{ICT}")


@pytest.mark.parametrize("seed", [0, 1])
def test_the_poser_gives_the_rigs_own_vertices(seed):
    for name, rig in _rigs():
        poser = RigPoser(rig)
        for frame in range(2):  # a second identity folds the template again
            params = _random_frame(rig, 10 * seed + frame)
            with torch.no_grad():
                want = rig.forward(params)[0]
                got = poser(params)
            err = float((got - want).abs().max())
            assert err <= 2e-6 * float(want.abs().max()), (name, err)


def test_the_poser_leaves_gradients_to_the_rigs_forward():
    rig = build_builtin_head()
    params = _random_frame(rig, 3)
    params.expr.requires_grad_(True)
    verts = RigPoser(rig)(params)
    verts.sum().backward()
    assert params.expr.grad is not None and params.expr.grad.abs().sum() > 0


def test_a_rig_without_pose_correctives_takes_none():
    """The kernel accepts posedirs [V, 3, 0] (the builtin head and ICT have none): the same vertices."""
    rig = build_builtin_head()
    assert not (rig.posedirs != 0).any()
    params = _random_frame(rig, 4)
    args = dict(v_template=rig.v_template, shapedirs=rig.shapedirs, exprdirs=rig.exprdirs,
                j_regressor=rig.j_regressor, parents=rig.parents, lbs_weights=rig.lbs_weights, shape=params.shape,
                expr=params.expr[0], pose=rig.joint_pose(params)[0], translation=params.translation[0])
    full = pose_vertices(posedirs=rig.posedirs, **args)
    empty = pose_vertices(posedirs=rig.posedirs[..., :0], **args)
    assert torch.equal(full, empty)
    with pytest.raises(ValueError, match="posedirs must have 9"):
        pose_vertices(posedirs=rig.posedirs[..., :5], **args)


def test_one_frame_only():
    rig = build_builtin_head()
    with pytest.raises(ValueError, match="one frame"):
        RigPoser(rig)(RigParams.zeros(rig.num_shape, rig.num_expr, num_frames=2))
