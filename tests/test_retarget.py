"""Cross-identity driving: relative to the driver's neutral, without its identity or placement."""

from types import SimpleNamespace

import numpy as np
import torch

from avatar.data.retarget import driving_params
from avatar.model import ExpressionRange
from avatar.rig.lbs import axis_angle_to_matrix
from tiny_rig import make_tiny_rig


def test_driving_params_are_relative_to_the_driver():
    rig = make_tiny_rig()
    t = 21
    p = rig.zero_params(t)
    p.shape = torch.ones(rig.num_shape)
    p.translation[:, 2] = -0.5
    p.expr[:] = 0.2  # the driver's resting face
    p.expr[10, 0] = 0.9
    p.rotation[:, 1] = torch.linspace(0.2, 0.4, t)  # the driver faces slightly away from its camera
    out = driving_params(SimpleNamespace(params=p, root="cap"), rig)
    assert torch.all(out.translation == 0) and torch.all(out.shape == 0)
    assert torch.allclose(out.expr[10, 0], torch.tensor(0.7), atol=1e-5)
    assert torch.allclose(out.expr[:9], torch.zeros(9, rig.num_expr), atol=1e-6)
    rel = axis_angle_to_matrix(out.rotation)
    expected = axis_angle_to_matrix(p.rotation) @ axis_angle_to_matrix(p.rotation[10]).T
    assert torch.allclose(rel, expected, atol=1e-5)
    assert np.isclose(float(out.rotation[10].norm()), 0.0, atol=1e-6)


def test_the_drivers_neutral_maps_to_the_avatars_resting_face():
    rig = make_tiny_rig()
    p = rig.zero_params(21)
    p.expr[:] = 0.2  # the driver's resting face
    p.expr[10, 0] = 0.9
    resting = torch.linspace(0.05, 0.3, rig.num_expr)  # the avatar's own resting face
    learned = ExpressionRange(torch.zeros(rig.num_expr), torch.ones(rig.num_expr), -torch.ones(3), torch.ones(3),
                              resting)
    out, _ = learned.onto(driving_params(SimpleNamespace(params=p, root="cap"), rig))
    assert torch.allclose(out.expr[:9], resting.expand(9, -1), atol=1e-6)
    assert torch.allclose(out.expr[10, 0], resting[0] + 0.7, atol=1e-5)
