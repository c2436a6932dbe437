"""A training step on the cpu kernels compiled whole by torch.compile (Inductor, fullgraph=True):
the rig posed by the rig op, the blend op, the splat's projection and rasterizer ops and an L1
loss, forward and backward (AOTAutograd traces the ops' backward formulas into its backward
graph). Loss and gradients equal the eager step's, for two frames seen by two cameras with one
compilation (the camera reaches the ops as tensors, not as constants to specialise on).
"""

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend

from avatar.gaussians import GaussianAvatar
from avatar.gaussians.ext_blend import blend_cpu
from avatar.splat.camera import Camera
from avatar.splat.ext_backend import splat_cpu
from avatar.rig.builtin import build_builtin_head

pytestmark = pytest.mark.usefixtures("cpu_extension")

NUM_GAUSSIANS, NUM_EXPR, SIZE = 3000, 6, 48
OPS = {"rig_pose", "blend_forward", "splat_project_forward", "splat_rasterize_forward"}


@pytest.fixture(scope="module")
def scene():
    """The builtin head with NUM_GAUSSIANS Gaussians (degree-1 colours, offsets for NUM_EXPR
    expressions), a target image and a background."""
    rig = build_builtin_head()
    model = GaussianAvatar.on_mesh(rig, per_face=1, sh_degree=1, blend_expr=NUM_EXPR, seed=0)
    g = torch.Generator().manual_seed(0)
    keep = torch.randperm(model.num_gaussians, generator=g)[:NUM_GAUSSIANS].sort().values
    tensors = {}
    for name, t in model.attribute_tensors().items():  # offsets [D, N, ...], the rest [N, ...]
        kept = t.detach()[:, keep] if name.startswith("d_") else t.detach()[keep]
        tensors[name] = kept + (0.02 if name.startswith("d_") else 0.05) * torch.randn(kept.shape, generator=g)
    model.replace_gaussians(tensors, model.parent[keep])
    target = torch.rand(SIZE, SIZE, 3, generator=g)
    return model, target, torch.tensor([1.0, 1.0, 1.0])


def _frame(model: GaussianAvatar, seed: int):
    """Rig parameters of one frame and a camera in front of the head, both varying with seed."""
    params = model.rig.zero_params(1)
    g = torch.Generator().manual_seed(seed)
    params.expr[0, :NUM_EXPR] = 0.6 * torch.rand(NUM_EXPR, generator=g)
    params.jaw[0, 0] = 0.1
    params.rotation[0] = 0.1 * torch.randn(3, generator=g)
    eye = (0.05 * float(torch.randn(1, generator=g)), -0.02, 0.7)
    return params, Camera.look_at(eye, (0.0, -0.02, 0.0), SIZE, SIZE, fov_y_deg=30.0)


def _step(model, params, camera, target, background) -> torch.Tensor:
    """What a training step differentiates: blend, splat, L1 against the target."""
    out = splat_cpu(blend_cpu(model, params), camera, background)
    return (out.rgb - target).abs().mean()


def _loss_and_grads(step, model, params, camera, target, background):
    model.zero_grad(set_to_none=True)
    loss = step(model, params, camera, target, background)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


def test_compiled_training_step_matches_eager(scene):
    model, target, background = scene
    traced = set()

    def inductor_noting_ops(gm: torch.fx.GraphModule, example_inputs):
        traced.update(str(n.target).split(".")[1] for n in gm.graph.nodes if str(n.target).startswith("avatar_ext."))
        return torch._inductor.compile(gm, example_inputs)

    counter = CompileCounterWithBackend(inductor_noting_ops)
    torch._dynamo.reset()
    compiled = torch.compile(_step, backend=counter, fullgraph=True)  # fullgraph: a graph break fails
    for seed in (1, 2):
        params, camera = _frame(model, seed)
        want_loss, want = _loss_and_grads(_step, model, params, camera, target, background)
        got_loss, got = _loss_and_grads(compiled, model, params, camera, target, background)
        torch.testing.assert_close(got_loss, want_loss, rtol=1e-6, atol=0)
        assert set(got) == set(want) and all(want[name].abs().max() > 0 for name in want)
        for name in want:
            torch.testing.assert_close(got[name], want[name], rtol=1e-5, atol=1e-6 * float(want[name].abs().max()),
                                       msg=name)
    assert counter.frame_count == 1  # one graph, compiled once for both frames and cameras
    assert traced == OPS  # the kernels ran as ops inside the graph
