"""The view cone: renders see an avatar's view-dependent colour from inside the directions its
training saw, every backend alike, and the cone travels in the .avatar file."""

import math

import pytest
import torch

from avatar.gaussians import GaussianAvatar
from avatar.gaussians.reference import blend_reference
from avatar.model import Avatar, load_avatar
from avatar.splat import splat
from avatar.splat.view_cone import ViewCone, head_centre
from avatar.rig.loaders import load_rig
from avatar.training.turned_views import turned_camera

CENTRE = (0.0, -0.03, 0.0)


def test_the_cone_holds_the_directions_it_was_made_from():
    rig = load_rig("builtin")
    params = rig.zero_params(3)
    params.translation = torch.tensor([[0.0, 0.0, -0.5], [0.02, 0.0, -0.5], [-0.02, 0.01, -0.55]])
    positions = torch.zeros(3, 3)  # a camera at the origin, the head in front of it
    cone = ViewCone.of(rig, params, positions)
    directions = torch.nn.functional.normalize(positions.double() - head_centre(cone.centre, params), dim=-1)
    angles = torch.arccos(directions @ torch.tensor(cone.axis, dtype=torch.float64))
    assert cone.half_angle == pytest.approx(float(angles.max()))
    assert 0 < cone.half_angle < math.radians(5)
    for t in range(3):  # each training camera lies inside: its colours are seen from the camera itself
        assert torch.equal(cone.origin(params.frame(t), positions[t]), positions[t])


def test_a_camera_outside_is_moved_onto_the_nearest_edge_at_its_distance():
    cone = ViewCone((0.0, 0.0, 1.0), math.radians(10), CENTRE)
    params = load_rig("builtin").zero_params(1)
    centre = torch.tensor(CENTRE, dtype=torch.float64)
    for yaw, pitch in ((35.0, 0.0), (-20.0, 15.0), (0.0, -80.0)):
        a, e = math.radians(yaw), math.radians(pitch)
        position = centre + 0.8 * torch.tensor([math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)],
                                               dtype=torch.float64)
        origin = cone.origin(params, position)
        offset = origin - centre
        assert float(offset.norm()) == pytest.approx(0.8)
        assert math.acos(float(offset[2] / offset.norm())) == pytest.approx(math.radians(10), abs=1e-9)
        # the nearest edge point: in the plane of the axis and the camera's direction
        normal = torch.linalg.cross(torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64), position - centre)
        assert abs(float(normal @ offset)) < 1e-9
    behind = cone.origin(params, centre + torch.tensor([0.0, 0.0, -0.8], dtype=torch.float64))
    assert math.acos(float((behind - centre)[2] / 0.8)) == pytest.approx(math.radians(10), abs=1e-9)


@pytest.mark.parametrize("data, problem", [
    ({"axis": [0, 0, 1], "half_angle": 0.1}, "axis, half_angle and centre"),
    ({"axis": [0, 0, 2], "half_angle": 0.1, "centre": [0, 0, 0]}, "unit vector"),
    ({"axis": [0, float("nan"), 1], "half_angle": 0.1, "centre": [0, 0, 0]}, "unit vector"),
    ({"axis": [0, 0, 1], "half_angle": 4.0, "centre": [0, 0, 0]}, "angle in"),
    ({"axis": [0, 0, 1], "half_angle": 0.1, "centre": [0, "x", 0]}, "3 numbers"),
    ([0, 0, 1], "an object"),
])
def test_a_recorded_cone_is_checked(data, problem):
    with pytest.raises(ValueError, match=problem):
        ViewCone.from_dict(data)


def degree_two_avatar() -> Avatar:
    rig = load_rig("builtin")
    model = GaussianAvatar.on_mesh(rig, sh_degree=2, seed=0)
    with torch.no_grad():
        model.sh_rest.copy_(0.4 * torch.randn(model.sh_rest.shape, generator=torch.Generator().manual_seed(0)))
    model.view_cone = ViewCone((0.0, 0.0, 1.0), math.radians(8), (0.0, -0.03, 0.0))
    return Avatar(model, backend="torch")


def test_renders_outside_the_cone_see_the_colours_from_its_edge_and_backends_agree(cpu_extension):
    avatar = degree_two_avatar()
    params = avatar.rig.zero_params(1)
    camera = turned_camera(avatar.rig, 35.0, 64)
    seen = avatar.renderer.seen_from(params, camera)
    assert not torch.equal(seen.view_origin, camera.position)  # 35 degrees is outside
    with torch.no_grad():
        world = blend_reference(avatar.model, params)
        by_hand = splat(world, seen, torch.ones(3), backend="torch").rgb
        plain = splat(world, camera, torch.ones(3), backend="torch").rgb
        assert (by_hand - plain).abs().max() > 0.05  # the colours do change
        torch.testing.assert_close(avatar.renderer.render(params, camera).rgb, by_hand, atol=1e-6, rtol=0)
        torch.testing.assert_close(splat(world, seen, torch.ones(3), backend="cpu").rgb, by_hand, atol=1e-3, rtol=0)
        avatar.backend = "cpu"  # the fused inference path
        torch.testing.assert_close(avatar.renderer.render(params, camera).rgb, by_hand, atol=2e-2, rtol=0)
        front = turned_camera(avatar.rig, 0.0, 64)
        assert torch.equal(avatar.renderer.seen_from(params, front).view_origin, front.position)


def test_the_cone_is_saved_and_loaded_with_the_avatar(tmp_path):
    avatar = degree_two_avatar()
    avatar.save(tmp_path / "a.avatar")
    assert load_avatar(tmp_path / "a.avatar").model.view_cone == avatar.model.view_cone
    avatar.model.view_cone = None
    avatar.save(tmp_path / "b.avatar")
    assert load_avatar(tmp_path / "b.avatar").model.view_cone is None


def test_avatar_info_reports_the_cone():
    from avatar.training.model_info import format_info, model_info

    avatar = degree_two_avatar()
    info = model_info(avatar, [])
    assert info["view_cone_half_angle_deg"] == pytest.approx(8.0)
    assert "within 8.0° of the training cameras' direction" in format_info("a.avatar", info)
    avatar.model.view_cone = None
    assert model_info(avatar, [])["view_cone_half_angle_deg"] is None
