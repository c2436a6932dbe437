"""Floaters are the Gaussians further from the rig, at rest, than the capture's hair margin."""

import torch

from avatar.gaussians import GaussianAvatar
from avatar.rig.loaders import load_rig
from avatar.training.floaters import FloaterFinder


def test_gaussians_beyond_the_margin_from_the_rig_are_floating():
    rig = load_rig("builtin")
    model = GaussianAvatar.on_mesh(rig)
    finder = FloaterFinder(model, torch.zeros(rig.num_shape), margin_m=0.03)
    assert not finder(model).any()  # on the mesh
    with torch.no_grad():
        model.xyz[:5, 2] = 0.05 / 0.005 * 1.5  # 7.5 cm off their triangles (edges ~5 mm): floating
        model.xyz[5:10, 2] = 2.0  # about 1 cm off: hair, not floating
    floating = finder(model)
    assert floating[:5].all() and not floating[5:].any()
