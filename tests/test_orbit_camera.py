"""The viewer's orbit camera: the front framing at rest, and a new camera after every move."""

import torch

from avatar.splat.framing import camera_path
from avatar.rig.builtin import build_builtin_head
from viewer.orbit import OrbitCamera


def test_the_camera_follows_every_move_and_is_reused_between_them():
    rig = build_builtin_head()
    orbit = OrbitCamera(rig)
    rest = orbit.camera(64, 64)
    front = camera_path(rig, "front", 64, 1)(0)
    assert torch.allclose(rest.world_to_cam, front.world_to_cam, atol=1e-6) and torch.allclose(rest.K, front.K)
    assert orbit.camera(64, 64) is rest  # nothing moved: the same camera
    assert orbit.camera(96, 96).width == 96
    for move in (lambda: orbit.orbit(10, -5), lambda: orbit.zoom(1), lambda: orbit.pan_by(3, 4, 64)):
        before = orbit.camera(64, 64)
        move()
        after = orbit.camera(64, 64)
        assert not torch.equal(after.world_to_cam, before.world_to_cam)
    orbit.reset()
    assert torch.equal(orbit.camera(64, 64).world_to_cam, rest.world_to_cam)
