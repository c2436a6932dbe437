"""Views from orbited cameras held to the rig (`avatar.training.orbited_views`): the camera
orbits the head as asked, the terms are the rig's pixels left transparent and the opacity past
the rig lifted by the hair's shell, and in training their gradients make a face that faded for
the training camera solid again and fade what lies beyond the shell."""

import math

import pytest
import torch

from avatar.rig.face_region import face_triangles
from avatar.splat import Camera
from avatar.splat.mesh_raster import faces_at_pixels
from avatar.training.orbited_views import allowed_pixels, hanging_triangles, hollow, orbited, outside
from scene_trainer import scene_trainer
from test_photometric import scene  # noqa: F401 (scene is a fixture)


def _looking_at(centre: torch.Tensor, distance: float) -> Camera:
    """A camera on +z at distance from centre [3], looking at it (OpenCV: z forward, y down)."""
    world_to_cam = torch.eye(4)
    world_to_cam[:3, :3] = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # a half turn about x
    world_to_cam[:3, 3] = -world_to_cam[:3, :3] @ (centre + torch.tensor([0.0, 0.0, distance]))
    k = torch.tensor([[100.0, 0, 32], [0, 100.0, 32], [0, 0, 1]])
    return Camera(k, world_to_cam, 64, 64)


@pytest.mark.parametrize("yaw_deg,pitch_deg", [(0.0, 0.0), (35.0, 0.0), (-50.0, 12.0)])
def test_the_orbited_camera_keeps_the_head_centred_at_its_distance(yaw_deg, pitch_deg):
    centre = torch.tensor([0.02, 0.05, -0.01])
    camera = _looking_at(centre, 0.6)
    moved = orbited(camera, centre, math.radians(yaw_deg), math.radians(pitch_deg))
    assert torch.allclose(moved.project(centre[None]), camera.project(centre[None]), atol=1e-4)
    assert abs(float((moved.position - centre).norm()) - 0.6) < 1e-5
    before, after = camera.position - centre, moved.position - centre
    angle = math.degrees(math.acos(min(1.0, float(before @ after) / float(before.norm() * after.norm()))))
    expected = math.degrees(math.acos(math.cos(math.radians(yaw_deg)) * math.cos(math.radians(pitch_deg))))
    assert abs(angle - expected) < 1e-2
    # a yaw moves the camera sideways (along its x), never up or down (its y)
    if pitch_deg == 0.0:
        assert abs(float(after[1] - before[1])) < 1e-6 and (yaw_deg == 0.0 or abs(float(after[0])) > 0.1)


def test_hollow_is_the_rigs_pixels_left_transparent_where_the_cut_keeps_them():
    surface = torch.zeros(4, 4, 1)
    surface[1:3, 1:3] = 0.5  # the rig on 4 pixels
    alpha = torch.ones(4, 4, 1)
    assert float(hollow(alpha, surface, None)) == 0.0
    alpha[1, 1] = 0.0  # one of the rig's 4 pixels transparent
    assert abs(float(hollow(alpha, surface, None)) - 0.25) < 1e-6
    region = torch.ones(4, 4, 1)
    region[1, 1] = 0  # the cut hides it
    assert float(hollow(alpha, surface, region)) == 0.0
    alpha[0, 0] = 0.0  # off the rig: not the term's
    assert float(hollow(alpha, surface, region)) == 0.0


def test_training_adds_the_term_and_its_gradient_makes_a_faded_face_solid(scene, tmp_path):  # noqa: F811
    camera = scene[3]
    assert "orbit" not in scene_trainer(scene, tmp_path).losses(0)[0]
    trainer = scene_trainer(scene, tmp_path, orbit_reg=1.0)
    view = trainer.orbits[0]
    assert view.camera.width == camera.width // 2 and (view.surface > 0).any()
    assert not torch.allclose(view.camera.world_to_cam, camera.world_to_cam)  # seen from elsewhere
    face = face_triangles(trainer.model.rig)[trainer.model.parent]  # [N]
    solid = float(trainer.losses(0)[0]["orbit"].detach())
    with torch.no_grad():
        trainer.model.opacity_logit[face] = -4.0  # the face faded (the head's far side still covers part)
    terms, _, _ = trainer.losses(0)
    assert float(terms["orbit"].detach()) > solid + 0.01  # a share of the rig's pixels
    terms["orbit"].backward()
    assert float(trainer.model.opacity_logit.grad[face].sum()) < 0  # descent makes the face solid again


def test_outside_is_the_opacity_past_the_allowed_pixels_per_pixel_of_the_rig():
    surface = torch.zeros(4, 4, 1)
    surface[1:3, 1:3] = 0.5  # the rig on 4 pixels
    allowed = torch.zeros(4, 4, 1, dtype=torch.bool)
    allowed[0:3, 0:3] = True  # the lifted rig, grown
    alpha = torch.zeros(4, 4, 1)
    alpha[0:3, 0:3] = 1.0
    assert float(outside(alpha, allowed, surface, None)) == 0.0
    alpha[3, 3], alpha[3, 0] = 1.0, 0.5  # 1.5 pixels' opacity past it
    assert abs(float(outside(alpha, allowed, surface, None)) - 1.5 / 4) < 1e-6
    region = torch.ones(4, 4, 1)
    region[3, :] = 0  # the cut hides the bottom row
    assert float(outside(alpha, allowed, surface, region)) == 0.0


def test_the_allowed_pixels_are_the_rig_lifted_by_the_shell_grown_and_room_to_hang_below_the_nose(scene):  # noqa: F811
    rig, _, truth, camera = scene[:4]
    verts = rig.forward(truth.frame(0))[0]  # [V, 3]
    bare = faces_at_pixels(verts, rig.faces, camera).face_id >= 0  # [H, W]
    assert torch.equal(allowed_pixels(rig, verts, camera, None, 0.0)[..., 0], bare)
    lifted = allowed_pixels(rig, verts, camera, torch.full((rig.faces.shape[0],), 0.02), 0.0)[..., 0]
    assert bool((lifted | ~bare).all()) and int(lifted.sum()) > int(bare.sum()) * 1.1  # 2 cm all round
    grown = allowed_pixels(rig, verts, camera, None, 0.02)[..., 0]
    assert bool((grown | ~bare).all()) and int(grown.sum()) > int(bare.sum()) * 1.1
    hanging = hanging_triangles(rig)  # [F]
    assert hanging is not None and 0 < int(hanging.sum()) < rig.faces.shape[0]
    rows = torch.nonzero(bare.any(1))[:, 0]  # the rig's rows on screen, top to bottom
    with_hair = allowed_pixels(rig, verts, camera, None, 0.0, hanging, 0.03)[..., 0]
    extra = with_hair & ~bare
    assert extra.any() and not extra[: int(rows[0]) + 5].any()  # room beside the jaw, none over the head


def test_training_adds_the_outside_term_and_its_gradient_fades_what_lies_past_the_shell(scene, tmp_path):  # noqa: F811
    trainer = scene_trainer(scene, tmp_path, orbit_outside_reg=1.0, floater_reg=0.0)
    assert (
        trainer.orbits[0].allowed is not None
        and scene_trainer(scene, tmp_path, orbit_reg=1.0).orbits[0].allowed is None
    )
    inside = float(trainer.losses(0)[0]["orbit"].detach())
    model = trainer.model
    far = torch.arange(model.num_gaussians) % 7 == 0  # [N] a share of the Gaussians, all over the head
    with torch.no_grad():
        model.xyz[far, 2] += 8.0  # 8 edge lengths out along their normals: past the shell and its margin
    terms, _, _ = trainer.losses(0)
    assert float(terms["orbit"].detach()) > inside + 0.01
    terms["orbit"].backward()
    assert float(model.opacity_logit.grad[far].sum()) > 0  # descent fades them
