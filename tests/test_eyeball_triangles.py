"""The eyeballs' triangles: what rolls with the gaze, on every rig that has eyes."""

import math

import pytest
import torch

from avatar.rig.face_region import eyeball_triangles
from avatar.rig.loaders import load_rig
from conftest import DATA

RIGS = [
    "builtin",
    pytest.param(
        f"ict:{DATA / 'rigs/ict-facekit'}",
        marks=pytest.mark.skipif(
            not (DATA / "rigs/ict-facekit").is_dir(), reason="the ICT rig is not in ../shared/data"
        ),
    ),
]


@pytest.mark.parametrize("spec", RIGS)
def test_eyeball_triangles_are_what_turns_rigidly_with_the_eyes(spec):
    """Turning both eye joints 25 degrees moves each eyeball triangle's vertices rigidly about its
    eye's centre (distances to it kept, the front moved), and leaves most of the head alone."""
    rig = load_rig(spec)
    eyes = eyeball_triangles(rig)  # [F]
    assert 0 < int(eyes.sum()) < rig.num_faces // 4
    params = rig.zero_params(1)
    rest = rig.forward(params)[0].double()  # [V, 3]
    params.eyes[:, 1] = math.radians(25)
    params.eyes[:, 4] = math.radians(25)
    turned = rig.forward(params)[0].double()
    on_eye = torch.zeros(rig.num_vertices, dtype=torch.bool)
    on_eye[rig.faces[eyes].flatten()] = True
    moved = (turned - rest).norm(dim=-1)  # [V]
    centres = rig.j_regressor.double() @ rest  # [5, 3]: the eyes' centres at 3 and 4
    ids = torch.nonzero(on_eye).flatten()
    nearer_left = (rest[ids] - centres[3]).norm(dim=-1) < (rest[ids] - centres[4]).norm(dim=-1)  # [K]
    for centre, mine in ((centres[3], ids[nearer_left]), (centres[4], ids[~nearer_left])):
        radius_rest, radius_turned = (rest[mine] - centre).norm(dim=-1), (turned[mine] - centre).norm(dim=-1)
        assert torch.allclose(radius_rest, radius_turned, atol=1e-5)  # turned about the eye's centre
        assert moved[mine].max() > 0.2 * radius_rest.max()  # the front of the ball swung by a fair share of it
    assert (moved[~on_eye] > 1e-6).double().mean() < 0.05  # lids at most: the head does not roll with the eyes
