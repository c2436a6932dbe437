"""cuda_ext's blend op (cpu build; cuda when a GPU is present) against the torch reference.

Oracle: avatar.gaussians.blend.blend_reference, differentiated by autograd. Both backends get
the same random model, rig parameters and random upstream gradients; outputs and gradients are
compared per tensor relative to the reference tensor's largest magnitude.
"""

import json
import subprocess
import sys

import pytest
import torch

import cuda_ext
from avatar.gaussians import GaussianAvatar, blend, blend_registry
from avatar.rig.builtin import build_builtin_head
from tiny_rig import make_tiny_rig

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=[pytest.mark.cuda,
                                pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]),
]
TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-5}
PARAM_FIELDS = ("shape", "expr", "jaw", "neck", "rotation", "eyes", "translation")


class FixedVertices:
    """Stands in for a rig whose posed vertices are a given leaf tensor, so the test can read
    the gradient with respect to the vertices themselves (not only its projection through LBS)."""

    def __init__(self, verts: torch.Tensor, faces: torch.Tensor):
        self.verts, self.faces = verts, faces

    def forward(self, params):
        return self.verts[None]


@pytest.fixture(scope="module")
def builtin_rig():
    return build_builtin_head()


def _random_model(rig, per_face: int, sh_degree: int, num_blend_expr, dtype, device, seed=0) -> GaussianAvatar:
    model = GaussianAvatar.on_mesh(rig, per_face=per_face, sh_degree=sh_degree, blend_expr=num_blend_expr,
                                   seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.attribute_tensors().items():
            t.add_((0.3 if name.startswith("d_") else 0.2) * torch.randn(t.shape, generator=g))
    model = model.to(device=device, dtype=dtype)
    model.rig = rig.to(device=device, dtype=dtype)
    return model


def _random_params(rig, dtype, device, seed=1):
    g = torch.Generator().manual_seed(seed)
    p = rig.zero_params(1)
    for name in PARAM_FIELDS:
        t = getattr(p, name)
        t.copy_((0.6 if name == "expr" else 0.15) * torch.randn(t.shape, generator=g))
    p = p.to(device=device, dtype=dtype)
    for name in PARAM_FIELDS:
        getattr(p, name).requires_grad_(True)
    return p


def _outputs_and_grads(model, params, backend, wrt):
    g = blend(model, params, backend)
    outputs = [g.means, g.quats, g.scales, g.opacities, g.sh]
    gen = torch.Generator().manual_seed(7)
    upstream = [torch.randn(o.shape, generator=gen, dtype=o.dtype).to(o.device) for o in outputs]
    loss = sum((o * u).sum() for o, u in zip(outputs, upstream))
    grads = torch.autograd.grad(loss, wrt, allow_unused=True)
    return [o.detach() for o in outputs], grads


def _assert_close(name, got, want, tol):
    assert got is not None and want is not None, f"{name}: missing gradient"
    assert got.shape == want.shape, f"{name}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    if want.numel() == 0:
        return
    scale = want.abs().max().clamp_min(1e-30)
    err = ((got - want).abs().max() / scale).item()
    assert err <= tol, f"{name}: relative error {err:.3g} > {tol:g}"


def _compare(model, params, device, dtype, wrt, names):
    want_out, want_grads = _outputs_and_grads(model, params, "torch", wrt)
    got_out, got_grads = _outputs_and_grads(model, params, device, wrt)
    tol = TOLERANCE[dtype]
    for name, got, want in zip(("means", "quats", "scales", "opacities", "sh"), got_out, want_out):
        _assert_close(name, got, want, tol)
    for name, got, want in zip(names, got_grads, want_grads):
        _assert_close(f"grad {name}", got, want, tol)
        assert want.numel() == 0 or want.abs().max() > 0, f"grad {name} is identically zero: the test is vacuous"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("rig_name", ["tiny", "builtin"])
def test_forward_and_gradients_match_reference(rig_name, dtype, device, builtin_rig):
    """Every output, and the gradients w.r.t. every model tensor, the drivers' sources
    (expression and jaw) and the posed vertices themselves."""
    if rig_name == "tiny":  # SH degree 2, every expression a driver
        model = _random_model(make_tiny_rig(num_expr=3), 3, 2, None, dtype, device)
    else:  # SH degree 0 (empty sh_rest), fewer blend drivers than expressions
        model = _random_model(builtin_rig, 1, 0, 7, dtype, device)
    params = _random_params(model.rig, dtype, device)
    verts = model.rig.forward(params)[0].detach().requires_grad_(True)  # [V, 3]
    model.rig = FixedVertices(verts, model.rig.faces)
    names = list(model.attribute_tensors()) + ["verts", "expr", "jaw"]
    wrt = list(model.attribute_tensors().values()) + [verts, params.expr, params.jaw]
    _compare(model, params, device, dtype, wrt, names)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_drivers_of_weight_zero_match_reference(dtype, device, builtin_rig):
    """Frames where most blendshape weights are exactly zero (the forward skips those offset
    rows): outputs and gradients, the zero-weight drivers' own included, match the reference."""
    model = _random_model(builtin_rig, 1, 0, 9, dtype, device, seed=5)
    params = _random_params(model.rig, dtype, device, seed=6)
    with torch.no_grad():
        params.expr[:, 1::2] = 0.0
        params.jaw[:, 1:] = 0.0
    drivers = model.drivers(params)[0]
    assert 0 < int((drivers == 0).sum()) < drivers.numel() - 2  # the premise: a mix of zero and non-zero
    verts = model.rig.forward(params)[0].detach().requires_grad_(True)  # [V, 3]
    model.rig = FixedVertices(verts, model.rig.faces)
    names = list(model.attribute_tensors()) + ["verts", "expr", "jaw"]
    wrt = list(model.attribute_tensors().values()) + [verts, params.expr, params.jaw]
    _compare(model, params, device, dtype, wrt, names)


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_reach_rig_parameters_through_lbs(device, builtin_rig):
    """Fitting a frame's parameters (error_budget.py --fit-params): gradients flow from the kernel
    through torch's LBS to every rig parameter (the builtin head has eye joints), equal to the reference's."""
    model = _random_model(builtin_rig, 1, 1, 5, torch.float64, device, seed=3)
    params = _random_params(model.rig, torch.float64, device, seed=4)
    wrt = [getattr(params, name) for name in PARAM_FIELDS]
    _compare(model, params, device, torch.float64, wrt, PARAM_FIELDS)


@pytest.mark.parametrize("device", DEVICES)
def test_model_gradients_with_frozen_rig_parameters(device):
    """Training on fixed tracking: the kernel skips the vertex and driver gradients
    (nothing upstream needs them) and the model's gradients still match."""
    model = _random_model(make_tiny_rig(num_expr=3), 2, 1, None, torch.float64, device, seed=8)
    params = _random_params(model.rig, torch.float64, device, seed=9).detach()
    wrt = list(model.attribute_tensors().values())
    _compare(model, params, device, torch.float64, wrt, list(model.attribute_tensors()))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("num_gaussians", [0, 1])
def test_zero_and_one_gaussian(num_gaussians, device):
    model = _random_model(make_tiny_rig(), 1, 1, None, torch.float64, device, seed=5)
    keep = torch.arange(num_gaussians, device=device) + 4
    model.replace_gaussians({k: v[:, keep] if k.startswith("d_") else v[keep]
                             for k, v in model.attribute_tensors().items()}, model.parent[keep])
    params = _random_params(model.rig, torch.float64, device, seed=6)
    wrt = list(model.attribute_tensors().values())
    if num_gaussians == 0:
        g = blend(model, params, device)
        assert [tuple(t.shape) for t in (g.means, g.quats, g.scales, g.opacities, g.sh)] == \
            [(0, 3), (0, 4), (0, 3), (0,), (0, 4, 3)]
        grads = torch.autograd.grad(g.means.sum() + g.sh.sum(), wrt + [params.expr], allow_unused=True)
        assert all(gr is not None and gr.shape == w.shape for gr, w in zip(grads, wrt))
        assert grads[-1] is not None and torch.count_nonzero(grads[-1]) == 0
    else:
        _compare(model, params, device, torch.float64, wrt, list(model.attribute_tensors()))


def test_bad_inputs_raise_clear_errors():
    from cuda_ext.blend import blend_gaussians

    model = _random_model(make_tiny_rig(), 1, 0, None, torch.float32, "cpu")
    verts = model.rig.forward(model.rig.zero_params(1))[0]
    args = dict(verts=verts, faces=model.rig.faces, parent=model.parent, drivers=torch.zeros(model.num_drivers),
                **{k: v.detach() for k, v in model.attribute_tensors().items()})
    with pytest.raises(ValueError, match="d_xyz has shape"):
        blend_gaussians(**{**args, "d_xyz": args["d_xyz"][1:]})
    with pytest.raises(ValueError, match="parent indices"):
        blend_gaussians(**{**args, "parent": args["parent"] + model.rig.faces.shape[0]})
    with pytest.raises(ValueError, match="parent indices"):
        blend_gaussians(**{**args, "parent": args["parent"] - args["parent"].max() - 1})
    with pytest.raises(ValueError, match="face indices"):
        blend_gaussians(**{**args, "faces": model.rig.faces.clone().fill_(verts.shape[0])})
    with pytest.raises(ValueError, match="face indices"):
        blend_gaussians(**{**args, "faces": model.rig.faces - 1})
    with pytest.raises(ValueError, match="rot has dtype"):
        blend_gaussians(**{**args, "rot": args["rot"].double()})


def test_auto_backend_picks_the_extension_of_the_device():
    cuda_ext.load("cpu")  # a build failure here must fail, not skip: the cpu module is required
    assert blend_registry.get("auto", "cpu")[0] == "cpu"
    if torch.cuda.is_available():
        assert blend_registry.get("auto", "cuda")[0] == "cuda"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("with_world_loss", [True, False])
def test_applied_offsets_and_their_gradient_match_the_reference(builtin_rig, device, with_world_loss):
    """blend_with_offsets: the kernel's offsets (local - base) and a regulariser on them, alone or
    beside a loss on the world Gaussians, back-propagate as the reference's separate tensordots."""
    from avatar.gaussians import blend_with_offsets

    model = _random_model(builtin_rig, 1, 1, 6, torch.float64, device)
    params = _random_params(builtin_rig, torch.float64, device)
    results = {}
    for backend in ("torch", device):
        model.zero_grad(set_to_none=True)
        world, offsets = blend_with_offsets(model, params, backend)
        weights = torch.linspace(-1.0, 2.0, offsets.shape[1], dtype=torch.float64, device=offsets.device)
        loss = (offsets.pow(2) * weights).sum()
        if with_world_loss:
            loss = loss + world.means.sum() + (world.quats * world.scales[:, :1]).sum() + world.sh.pow(2).sum()
        loss.backward()
        results[backend] = (offsets.detach().cpu(), {k: v.grad.cpu() for k, v in model.named_parameters()
                                                     if v.grad is not None})
    (ref_offsets, ref_grads), (offsets, grads) = results["torch"], results[device]
    assert ref_offsets.abs().max() > 0.1
    assert torch.allclose(offsets, ref_offsets, rtol=0, atol=1e-12)
    assert ref_grads["d_color"].abs().max() > 0 and set(ref_grads) <= set(grads)
    for name, got in grads.items():  # the kernel writes zeros where the reference leaves None
        want = ref_grads.get(name, torch.zeros_like(got))
        assert torch.allclose(got, want, rtol=1e-9, atol=1e-11), name


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_backward_with_the_forwards_frames_equals_recomputing_them(dtype, device, builtin_rig):
    """The forward hands its posed triangle frames [F, 17] to the backward, on every device; a
    caller without them passes an empty tensor and the op computes them again: the same gradients
    (bit for bit on the CPU)."""
    cuda_ext.load(device)
    model = _random_model(builtin_rig, 1, 1, 6, dtype, device, seed=12)
    params = _random_params(model.rig, dtype, device, seed=13).detach()
    verts = model.rig.forward(params)[0]
    inputs = [t.detach().contiguous() for t in (
        verts, model.rig.faces, model.parent, model.drivers(params)[0], *model.attribute_tensors().values())]
    *outputs, local, frames = torch.ops.avatar_ext.blend_forward(*inputs)
    assert frames.shape == (model.rig.faces.shape[0], 17) and frames.device == verts.device
    g = torch.Generator().manual_seed(14)
    upstream = [torch.randn(o.shape, generator=g, dtype=dtype).to(device) for o in outputs]

    def backward(frames_arg):
        return torch.ops.avatar_ext.blend_backward(*inputs, local, frames_arg, *upstream, local.new_empty(0),
                                                   True, True)

    recomputed = backward(frames.new_empty(0))
    for got, want in zip(backward(frames), recomputed):
        if device == "cpu":
            assert torch.equal(got, want)
        else:  # CUDA sums the vertex and driver gradients with atomics, in no fixed order
            tol = TOLERANCE[dtype]
            torch.testing.assert_close(got, want, rtol=tol, atol=tol * float(want.abs().max()))
    # and the frames passed in are the ones used: other frames, other gradients
    assert not torch.equal(backward(1.5 * frames)[2], recomputed[2])
    with pytest.raises(ValueError, match="frames has shape"):
        backward(frames[1:])

# Three training steps' gradient for d_rot, in a fresh process (where page faults count only this
# work). Every offset gradient but the opacity's is over 32 MiB, a size malloc always maps afresh:
# without the cache, each step faults all of them in.
_OFFSET_GRADIENT_STEPS = """
import json, resource, torch
from cuda_ext.blend import blend_gaussians

num_expr, n = 40, 72_000  # offset gradients of 35-46 MB (33 MiB and up), 11.5 MB for opacity
g = torch.Generator().manual_seed(0)
verts, faces = torch.randn(4, 3, generator=g), torch.tensor([[0, 1, 2], [1, 2, 3]])
parent, drivers = torch.randint(0, 2, (n,), generator=g), torch.randn(num_expr, generator=g)
base = [torch.randn(shape, generator=g) for shape in ((n, 3), (n, 4), (n, 3), (n,), (n, 1, 3))]
offsets = [0.01 * torch.randn((num_expr, *shape), generator=g) for shape in ((n, 3), (n, 4), (n, 3), (n,), (n, 3))]
d_rot = offsets[1].requires_grad_(True)
upstream = torch.randn(n, 4, generator=g)

def d_rot_gradient():
    quats = blend_gaussians(verts, faces, parent, drivers, *base, torch.empty(n, 0, 3), *offsets)[1]
    return torch.autograd.grad(quats, d_rot, upstream)[0]

first = d_rot_gradient()
want = first.clone()
second = d_rot_gradient()  # `first` is alive: its memory must not be handed out again
report = dict(alive_apart=second.data_ptr() != first.data_ptr(),
              values_kept=torch.equal(first, want) and torch.equal(second, want),
              cached_pages=(3 + 4 + 3 + 3) * num_expr * n * 4 // 4096)
cached = {first.data_ptr(), second.data_ptr()}
del first, second
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
third = d_rot_gradient()
report.update(faults=resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults,
              reused=third.data_ptr() in cached, third_right=torch.equal(third, want))
print(json.dumps(report))
"""


def test_large_offset_gradients_reuse_host_memory_across_steps():
    """Offset gradients come from the CPU module's host block cache: once freed, the next step's
    gradient is the same memory, not pages faulted in afresh, while a gradient still alive is
    never handed out again."""
    done = subprocess.run([sys.executable, "-c", _OFFSET_GRADIENT_STEPS], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["alive_apart"] and report["values_kept"]
    assert report["reused"] and report["third_right"]
    assert report["faults"] < report["cached_pages"] // 4, f"{report['faults']} page faults: gradients mapped afresh"
