"""Nothing paints the rig's surface from behind it (`avatar.training.behind_surface`): the term
is the render's depth past the surface plus a margin, and its gradient fades what paints from
behind and makes the surface's own Gaussians opaque."""

import pytest
import torch

from avatar.rig.face_region import face_triangles
from avatar.splat import Camera
from avatar.splat.dispatch import splat_registry
from avatar.splat.mesh_raster import rasterize_mesh
from avatar.splat.world import Gaussians
from avatar.training.behind_surface import behind_surface, surface_depth
from scene_trainer import scene_trainer
from test_photometric import scene  # noqa: F401 (scene is a fixture)

SIZE = 16


def two_layers(back_z: float, backend: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A faint Gaussian at depth 1 m in front of an opaque one at back_z, both covering the whole
    SIZE x SIZE image; the term against a surface at 1 m everywhere, and its gradient on the two
    opacity logits."""
    logits = torch.tensor([-2.0, 3.0], requires_grad=True)  # front 0.12, back 0.95
    means = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, back_z]])
    k = torch.tensor([[20.0, 0.0, SIZE / 2], [0.0, 20.0, SIZE / 2], [0.0, 0.0, 1.0]])
    camera = Camera(k, torch.eye(4), SIZE, SIZE)
    world = Gaussians(
        means, torch.tensor([[1.0, 0, 0, 0]] * 2), torch.full((2, 3), 1.0), torch.sigmoid(logits), torch.zeros(2, 1, 3)
    )
    out = splat_registry.get(backend, torch.device("cpu"))[1](world, camera, torch.zeros(3))
    term = behind_surface(out, torch.ones(SIZE, SIZE, 1), margin_m=0.03)
    term.backward()
    return term.detach(), logits.grad


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_painting_from_behind_fades_the_far_and_strengthens_the_near(backend):
    if splat_registry.available("cpu").get(backend) != "ok":
        pytest.skip(f"splat backend {backend} not built here")
    term, grad = two_layers(1.10, backend)
    # about 0.83 of the weight sits 10 cm behind, the front's 0.12 sits 3 cm in front of the margin
    assert 0.05 < float(term) < 0.1
    assert grad[0] < 0 and grad[1] > 0  # descent raises the front's opacity, lowers the back's


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_what_lies_within_the_margin_is_left_alone(backend):
    if splat_registry.available("cpu").get(backend) != "ok":
        pytest.skip(f"splat backend {backend} not built here")
    term, grad = two_layers(1.02, backend)
    assert float(term) == 0 and (grad == 0).all()


def test_surface_depth_is_the_rigs_depth_without_its_outline(scene):  # noqa: F811
    rig, _, truth, camera, _, _, _ = scene
    verts = rig.forward(truth.frame(0))[0]
    depth = surface_depth(rig, verts, camera)[..., 0]  # [H, W]
    on = depth > 0
    assert on.float().mean() > 0.05
    z = (verts @ camera.world_to_cam[:3, :3].T + camera.world_to_cam[:3, 3])[:, 2]
    assert float(z.min()) - 1e-4 <= float(depth[on].min()) and float(depth[on].max()) <= float(z.max()) + 1e-4
    # the rig's pixels beside the background are left out (an outline's depth is the edge's), the rest kept
    raw = rasterize_mesh(verts, rig.faces, camera, torch.zeros_like(verts), shading=False).depth[..., 0] > 0
    rim = raw & (torch.nn.functional.max_pool2d((~raw).float()[None, None], 3, 1, 1)[0, 0] > 0)
    assert rim.any() and not on[rim].any()
    assert on[raw & ~rim].all()


def test_training_adds_the_term_and_its_gradient_restores_a_hollowed_face(scene, tmp_path):  # noqa: F811
    """A face whose Gaussians were made faint in front of a head painted from within: the
    trainer's term is positive and its gradient raises the face's opacity."""
    rig = scene[0]
    assert "behind" not in scene_trainer(scene, tmp_path).losses(0)[0]
    trainer = scene_trainer(scene, tmp_path, behind_reg=1.0)
    face = face_triangles(rig)[trainer.model.parent]  # [N]
    with torch.no_grad():
        trainer.model.opacity_logit[face] = -4.0  # the face nearly transparent: the head's far side shows
        trainer.model.opacity_logit[~face] = 4.0
    terms, _, _ = trainer.losses(0)
    assert float(terms["behind"].detach()) > 0.005  # metres of depth past the margin, a mean over the rig's pixels
    terms["behind"].backward()
    grad = trainer.model.opacity_logit.grad
    assert float(grad[face].sum()) < 0  # descent makes the face opaque again
