"""Binding-aware densification: children keep their triangle, no triangle is left empty,
and Adam keeps working on the resized tensors."""

import torch

from avatar.gaussians import GaussianAvatar
from avatar.training.config import TrainConfig
from avatar.training.densify import Densifier
from avatar.training.optim import make_optimizer
from tiny_rig import make_tiny_rig


def _setup(per_face=2):
    model = GaussianAvatar.on_mesh(make_tiny_rig(), per_face=per_face, seed=0)
    opt = make_optimizer(model, TrainConfig())
    return model, opt


def test_clone_and_split_keep_parent_triangles():
    model, opt = _setup()
    n = model.num_gaussians
    d = Densifier(model, grad_threshold=1e-3, size_threshold=0.2, prune_opacity=0.0, max_gaussians=10_000)
    with torch.no_grad():
        model.log_scale[: n // 2] = torch.log(torch.tensor(0.5))  # big: will split
        model.log_scale[n // 2:] = torch.log(torch.tensor(0.05))  # small: will clone
    grads = torch.zeros(n, 2)
    grads[::3] = 1.0  # every third Gaussian gets a large screen-space gradient
    d.accumulate(grads, torch.ones(n, dtype=torch.long), 64, 64)
    parents_before = model.parent.clone()
    grow = torch.zeros(n, dtype=torch.bool)
    grow[::3] = True
    big = torch.arange(n) < n // 2
    stats = d.step(model, opt, torch.Generator().manual_seed(0))
    assert stats["cloned"] == int((grow & ~big).sum())
    assert stats["split"] == int((grow & big).sum())
    assert model.num_gaussians == n + stats["cloned"] + stats["split"]
    # Parent multiset: each clone adds one more of its source's triangle, each split replaces one by two.
    expected = torch.cat([parents_before[~(grow & big)], parents_before[grow & ~big],
                          parents_before[grow & big], parents_before[grow & big]])
    assert torch.equal(model.parent.sort().values, expected.sort().values)
    # Children of splits are shrunk by 1.6.
    tail = model.log_scale[-2 * stats["split"]:]
    assert torch.allclose(tail.exp(), torch.full_like(tail, 0.5 / 1.6), rtol=1e-5)


def test_prune_never_empties_a_triangle_and_adam_still_steps():
    model, opt = _setup(per_face=3)
    num_faces = model.rig.faces.shape[0]
    with torch.no_grad():
        model.opacity_logit.fill_(-20.0)  # everything transparent: all would be pruned
    # A first Adam step so there are moments to carry over.
    (sum(p.sum() for p in model.parameters())).backward()
    opt.step()
    opt.zero_grad()
    d = Densifier(model, grad_threshold=1.0, size_threshold=1.0, prune_opacity=0.5, max_gaussians=10_000)
    d.step(model, opt, torch.Generator())
    assert model.num_gaussians == num_faces
    assert torch.equal(model.parent.sort().values, torch.arange(num_faces))
    loss = sum((p ** 2).sum() for p in model.parameters())
    loss.backward()
    opt.step()  # shapes of params, grads and carried-over moments agree
    for group in opt.param_groups:
        (p,) = group["params"]
        assert p is getattr(model, group["name"])
        assert opt.state[p]["exp_avg"].shape == p.shape
