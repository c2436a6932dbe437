"""The hair's shell training starts the scalp's Gaussians on (`capture.hair_shell`,
`avatar.training.hair_lift`): the thickness fitted to the frames it is given, per rig vertex, and
what training makes of it (the lift off the face, what "near the triangle" and "floating" count from)."""

import numpy as np
import pytest
import torch

from avatar.data.capture import CameraInfo, CaptureWriter
from avatar.gaussians import GaussianAvatar
from avatar.rig.face_region import eyeball_triangles, face_triangles, nose_bottom_height
from avatar.splat.mesh_raster import rasterize_mesh
from avatar.training.config import TrainConfig
from avatar.training.floaters import FloaterFinder
from avatar.training.hair_lift import registered_hair_thickness, triangle_thickness, triangle_units
from avatar.training.regularisers import regularisers
from capture.hair_shell import TAPER, hair_thickness
from capture.surface import vertex_normals
from test_photometric import FRAMES, scene  # noqa: F401 (scene is a fixture)

GROWN = 0.012  # metres of hair in the first half of the frames; none in the second


@pytest.fixture(scope="module")
def grown_capture(scene, tmp_path_factory):  # noqa: F811
    """The synthetic scene as a capture whose masks are the head grown by GROWN along its normals
    in frames 0-3 (the training frames) and the bare head in frames 4-7 (held out), and a copy
    without masks."""
    rig, _, truth, camera, images, _, _ = scene
    info = CameraInfo("cam", camera.K.numpy(), camera.width, camera.height, camera.world_to_cam.numpy())
    roots = tmp_path_factory.mktemp("hair")
    captures = []
    for name, masked in (("masked", True), ("bare", False)):
        writer = CaptureWriter(roots / name, 25.0, "builtin", [info])
        for t in range(FRAMES):
            verts = rig.forward(truth.frame(t))[0]
            hair = GROWN if t < FRAMES // 2 else 0.0
            grown = verts + hair * vertex_normals(verts, rig.faces)
            mask = rasterize_mesh(grown, rig.faces, camera, torch.zeros_like(grown), shading=False).mask[..., 0]
            writer.add_frame(t, 0, images[t], (mask.numpy() * 255).round().astype(np.uint8) if masked else None)
        captures.append(
            writer.finish(truth, {"train": list(range(FRAMES // 2)), "test": list(range(FRAMES // 2, FRAMES))})
        )
    return captures


def test_the_thickness_is_fitted_to_the_frames_given(scene, grown_capture):  # noqa: F811
    rig = scene[0]
    capture = grown_capture[0]
    grown = hair_thickness(capture, list(range(FRAMES // 2)), rig)
    bare = hair_thickness(capture, list(range(FRAMES // 2, FRAMES)), rig)
    rest = rig.v_template
    top = rest[:, 1] > rest[:, 1].max() - 0.03  # the top of the head: the outline in every frame
    assert abs(float(grown[top].mean()) - GROWN) < 0.003
    assert abs(float(bare[top].mean())) < 0.003
    # nothing below the shell's start, less the taper: the face under the nose, the neck
    height = nose_bottom_height(rig)
    assert grown[rest[:, 1] < height - TAPER].abs().max() == 0


def test_the_shell_starts_under_the_nose(scene):  # noqa: F811
    rig = scene[0]
    landmarks = rig.landmarks(rig.v_template[None].float())[0]  # [68, 3] iBUG, rest pose
    nose_tip, upper_lip, brows = (float(landmarks[i, 1]) for i in (30, 51, 19))
    assert upper_lip < nose_bottom_height(rig) < nose_tip < brows


def test_no_masks_no_shell(scene, grown_capture):  # noqa: F811
    assert hair_thickness(grown_capture[1], list(range(FRAMES)), scene[0]) is None


def test_the_shell_is_registered_for_training(scene, grown_capture):  # noqa: F811
    thickness = registered_hair_thickness(grown_capture[0], list(range(FRAMES // 2)), scene[0])
    assert thickness is not None and thickness.shape == scene[0].v_template.shape[:1]


def test_the_lift_leaves_the_face_and_eyeballs_on_their_triangles(scene):  # noqa: F811
    rig = scene[0]
    thickness = torch.full((rig.v_template.shape[0],), 0.01)
    lift = triangle_thickness(rig, thickness)  # [F] metres
    on_face = face_triangles(rig) | eyeball_triangles(rig)
    assert on_face.any() and (lift[on_face] == 0).all()
    assert torch.allclose(lift[~on_face], torch.full_like(lift[~on_face], 0.01))
    with pytest.raises(ValueError, match="vertices"):
        triangle_thickness(rig, thickness[:-1])


def test_near_the_triangle_and_floating_count_from_the_shell(scene):  # noqa: F811
    rig = scene[0]
    model = GaussianAvatar.on_mesh(rig)  # one Gaussian per triangle: Gaussian i on triangle i
    lift_m = torch.zeros(rig.num_faces)
    lift_m[:10] = 0.03  # 3 cm of hair over the first ten triangles
    lift = lift_m / triangle_units(rig)  # [F] triangle units, 4-8 here
    with torch.no_grad():
        model.xyz[:10, 2] = lift[:10]  # on the shell
    cfg = TrainConfig(xyz_reg=1.0, scale_reg=0.0, offset_reg=0.0)
    offsets = torch.zeros(model.num_gaussians, 14)
    face = torch.zeros(rig.num_faces, dtype=torch.bool)
    assert regularisers(model, cfg, offsets, face, lift=lift) == 0  # on the shell: near
    assert regularisers(model, cfg, offsets, face) > 0  # counted from the skull: too far
    finder = FloaterFinder(model, torch.zeros(rig.num_shape), margin_m=0.02, lift_m=lift_m)
    assert not finder(model).any()
    assert FloaterFinder(model, torch.zeros(rig.num_shape), margin_m=0.02)(model)[:10].all()


def test_training_starts_the_scalps_gaussians_on_the_shell_of_its_training_frames(scene, grown_capture, tmp_path):  # noqa: F811
    from avatar.training.config import load_config
    from avatar.training.trainer import Trainer

    rig = scene[0]
    cfg = load_config("fast", iterations=2, eval_every=0, checkpoint_every=0, backend="torch", mirror_fraction=0.0)

    def start(hair_shell: bool) -> Trainer:
        return Trainer(
            grown_capture[0],
            rig,
            cfg.updated(hair_shell=hair_shell),
            tmp_path / f"{hair_shell}.avatar",
            False,
            None,
            False,
            torch.device("cpu"),
        )

    lifted, plain = start(True), start(False)
    model = lifted.model
    units = triangle_units(rig)[model.parent]  # [N] metres
    off_skull = (lifted.model.xyz[:, 2] - plain.model.xyz[:, 2]).detach() * units  # [N] metres
    centroids = rig.v_template[rig.faces[model.parent]].mean(1)  # [N, 3]
    top = centroids[:, 1] > rig.v_template[:, 1].max() - 0.03
    # the training frames' hair (12 mm), not the held-out frames' (none) or a mix of the two
    assert abs(float(off_skull[top].mean()) - GROWN) < 0.003
    on_face = (face_triangles(rig) | eyeball_triangles(rig))[model.parent]
    assert (off_skull[on_face] == 0).all()
