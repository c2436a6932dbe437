"""ray_needle_reg: Gaussians drawn out along the training camera's rays are shortened."""

from __future__ import annotations

import math

import torch

from avatar.training.regularisers import along_rays
from scene_trainer import scene_trainer
from test_photometric import scene  # noqa: F401 (scene is a fixture)


def test_training_shortens_needles_that_point_at_its_camera(scene, tmp_path):  # noqa: F811
    assert "ray_needle" not in scene_trainer(scene, tmp_path).losses(0)[0]
    trainer = scene_trainer(scene, tmp_path, ray_needle_reg=1.0)
    model = trainer.model
    with torch.no_grad():
        model.rot.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))  # axes along the triangle's edge, across it, normal
        model.log_scale.copy_(torch.log(torch.tensor([0.1, 0.1, 0.8])))  # needles along the normals
    terms, _, camera = trainer.losses(0)
    assert float(terms["ray_needle"].detach()) > 0.1
    terms["ray_needle"].backward()
    grad = model.log_scale.grad  # [N, 3]
    with torch.no_grad():
        posed = trainer.renderer.render_differentiable(
            trainer.params.frame(0), camera, None, trainer.background
        ).gaussians
        pointing = along_rays(posed, camera.position) > math.log(trainer.cfg.needle_ratio)  # [N]
    assert 0 < int(pointing.sum()) < model.num_gaussians  # the face points at the camera, the sides do not
    assert bool((grad[pointing, 2] > 0).all())  # descent shortens them
    assert float(grad[~pointing].abs().max()) == 0.0
