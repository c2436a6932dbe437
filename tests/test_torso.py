"""avatar.rig.torso.split_torso: the head stays where the fit put it; the torso turns slowly."""

import dataclasses

import numpy as np
import pytest
import torch

from avatar.rig import RigParams
from avatar.rig.lbs import axis_angle_to_matrix, matrix_to_axis_angle
from avatar.rig.loaders import load_rig
from avatar.rig.torso import SlowTorso, split_torso

FPS = 30.0


@pytest.fixture(scope="module")
def rig():
    return load_rig("builtin")


def _landmark_fit_of_a_nod(rig, frames: int = 90) -> tuple[RigParams, RigParams]:
    """A torso that turns slowly and a head that nods twice a second on its neck, with a random
    identity and expressions; and the same heads with every turn in the root joint, as the landmark
    fit leaves them. -> (truth, fitted)"""
    g = torch.Generator().manual_seed(0)
    seconds = torch.arange(frames) / FPS
    truth = rig.zero_params(frames)
    truth.shape = 0.5 * torch.randn(rig.num_shape, generator=g)
    truth.expr = 0.3 * torch.rand(frames, rig.num_expr, generator=g)
    truth.rotation = torch.stack([torch.zeros(frames), 0.2 * seconds / seconds[-1], torch.zeros(frames)], -1)
    truth.neck = torch.stack([0.15 * torch.sin(2 * np.pi * 2 * seconds), torch.zeros(frames),
                              0.02 * torch.randn(frames, generator=g)], -1)
    truth.translation = torch.tensor([0.01, -0.02, 0.5]).expand(frames, 3).clone()
    fitted = dataclasses.replace(truth, neck=torch.zeros(frames, 3), translation=torch.zeros(frames, 3),
                                 rotation=matrix_to_axis_angle(axis_angle_to_matrix(truth.rotation)
                                                               @ axis_angle_to_matrix(truth.neck)))
    head = rig.lbs_weights[:, 0] == 0  # vertices the root joint does not move by itself
    with torch.no_grad():
        fitted.translation = (rig(truth) - rig(fitted))[:, head].mean(1)  # [T, 3]
    return truth, fitted


def _second_difference(x: torch.Tensor) -> float:
    return float((x[2:] - 2 * x[1:-1] + x[:-2]).norm(dim=-1).mean())


def test_the_head_does_not_move_and_the_torso_stops_nodding(rig):
    truth, fitted = _landmark_fit_of_a_nod(rig)
    frames = fitted.num_frames
    split = split_torso(rig, fitted, np.zeros(frames, int), np.arange(frames) / FPS)
    with torch.no_grad():
        true_verts, fitted_verts, split_verts = rig(truth), rig(fitted), rig(split)  # [T, V, 3]
    head = rig.lbs_weights[:, 0] == 0
    assert float((split_verts - fitted_verts)[:, head].norm(dim=-1).max()) < 1e-5  # metres
    # The root no longer nods; the nod went to the neck joint.
    assert _second_difference(split.rotation) < 0.1 * _second_difference(fitted.rotation)
    assert _second_difference(split.neck) > 0.5 * _second_difference(fitted.rotation)
    # The neck's base (nearly all root) stays near the true torso's; the fit swung it with the nod.
    base = rig.lbs_weights[:, 0] > 0.9
    error = lambda verts: float((verts - true_verts)[:, base].norm(dim=-1).mean())  # noqa: E731
    assert error(split_verts) < 0.2 * error(fitted_verts)
    assert error(fitted_verts) > 0.003  # the fit's swing is millimetres: the check can fail


def test_each_video_keeps_its_own_torso(rig):
    """Two videos with the head held still at different angles: each torso is its own video's
    orientation, not a blend of the two."""
    params = rig.zero_params(20)
    params.rotation[:10, 1] = 0.3
    params.rotation[10:, 1] = -0.2
    video = np.repeat([0, 1], 10)
    split = split_torso(rig, params, video, np.tile(np.arange(10) / FPS, 2))
    assert torch.allclose(split.rotation, params.rotation, atol=1e-6)
    assert float(split.neck.abs().max()) < 1e-6


def test_the_live_torso_lags_the_head_and_keeps_its_orientation(rig):
    """SlowTorso, frame by frame: the head turns 0.4 rad at once and holds; the torso follows
    through a lag of a second, the neck takes the rest, and root then neck is the head's turn."""
    torso = SlowTorso(seconds=1.0)
    turned = rig.zero_params(1)
    turned.rotation[0, 1] = 0.4
    first = torso(rig.zero_params(1), 0.0)
    assert float(first.rotation.abs().max()) == 0.0 and float(first.neck.abs().max()) == 0.0
    yaw = {}
    for step in range(1, 301):
        t = step / FPS
        out = torso(turned, t)
        head = axis_angle_to_matrix(out.rotation) @ axis_angle_to_matrix(out.neck)
        assert torch.allclose(head, axis_angle_to_matrix(turned.rotation), atol=1e-6)
        yaw[step] = float(out.rotation[0, 1])
    assert yaw[1] < 0.02  # one frame after the turn the torso has hardly moved
    assert abs(yaw[30] - 0.4 * (1 - np.exp(-1.0))) < 0.01  # a second later: 1 - 1/e of the way
    assert abs(yaw[300] - 0.4) < 1e-3  # ten seconds later the torso faces where the head does
    torso.reset()
    assert float(torso(turned, 20.0).neck.abs().max()) < 1e-6  # after a reset the head is the torso
