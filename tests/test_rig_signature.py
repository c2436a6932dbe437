"""The rig's geometry signature: the same rig built on another machine matches, another version does not."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from avatar.data.capture import CameraInfo, CaptureWriter, load_capture
from avatar.data.errors import CaptureError
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import AvatarFileError, load_avatar, save_avatar
from avatar.splat.camera import Camera
from avatar.rig.loaders import load_rig
from avatar.rig.head_rig import GEOMETRY_ARRAYS
from avatar.rig.signature import geometry_signature, same_geometry
from tiny_rig import make_tiny_rig


@pytest.fixture(scope="module")
def rig():
    return load_rig("builtin")


def rebuilt_elsewhere(rig, relative_noise: float = 1e-6, seed: int = 0):
    """`rig` with every float value off by about `relative_noise` of itself: another machine's
    arithmetic (other vector units, another torch) building the same procedural head."""
    g = torch.Generator().manual_seed(seed)
    other = copy.copy(rig)
    for name in GEOMETRY_ARRAYS:
        values = getattr(rig, name)
        if values.is_floating_point():
            noise = 1 + relative_noise * torch.randn(values.shape, generator=g, dtype=torch.float64)
            setattr(other, name, (values.double() * noise).to(values.dtype))
    return other


def moved(rig, name: str, rows: slice, by: float):
    other = copy.copy(rig)
    values = getattr(rig, name).clone()
    values[rows] += by
    setattr(other, name, values)
    return other


def test_the_same_rig_built_elsewhere_matches_where_its_byte_hash_does_not(rig):
    recorded = geometry_signature(rig)
    elsewhere = rebuilt_elsewhere(rig)
    assert elsewhere.identity_hash() != rig.identity_hash()  # why a hash cannot tell them apart
    assert same_geometry(recorded, rig)
    assert same_geometry(recorded, elsewhere)
    assert same_geometry(geometry_signature(elsewhere), rig)


@pytest.mark.parametrize("change", ["300 vertices 1 mm", "one expression", "identity", "skinning", "faces"])
def test_another_version_of_the_rig_does_not_match(rig, change):
    other = {"300 vertices 1 mm": lambda: moved(rig, "v_template", slice(0, 300), 1e-3),
             "one expression": lambda: moved(rig, "exprdirs", (slice(None), slice(None), 5), 1e-3),
             "identity": lambda: moved(rig, "shapedirs", (slice(0, 1000), slice(None), 0), 1e-3),
             "skinning": lambda: moved(rig, "lbs_weights", (slice(0, 200), 2), 0.2),
             "faces": lambda: moved(rig, "faces", slice(0, 1), 1)}[change]()
    assert not same_geometry(geometry_signature(rig), other)


def test_another_rig_or_a_damaged_record_does_not_match(rig):
    recorded = geometry_signature(rig)
    assert not same_geometry(recorded, make_tiny_rig())
    damaged = copy.deepcopy(recorded)
    damaged["exprdirs"]["projections"] = ["x"] * len(recorded["exprdirs"]["projections"])
    assert not same_geometry(damaged, rig)
    assert not same_geometry({"name": "builtin"}, rig)


def test_the_signature_is_plain_json_numbers_that_do_not_depend_on_the_machine(rig):
    """The projections' weights come from integer hashing, so a signature recomputed from the same
    arrays is the same to the last bit, and it survives a JSON round trip."""
    recorded = geometry_signature(rig)
    assert json.loads(json.dumps(recorded)) == recorded
    assert geometry_signature(rig) == recorded
    projections = np.array(recorded["exprdirs"]["projections"])
    assert np.unique(projections).size == projections.size  # the projections differ from each other


def test_a_capture_from_another_machine_trains_and_another_version_is_refused(tmp_path, rig):
    camera = Camera.orbit(0.0, 5.0, 1.0, (0.0, 0.0, 0.0), 8, 6, fov_y_deg=25.0)
    info = CameraInfo("a", camera.K.numpy(), 8, 6, camera.world_to_cam.numpy())
    writer = CaptureWriter(tmp_path / "cap", fps=25.0, rig="builtin", cameras=[info])
    writer.add_frame(0, 0, np.zeros((6, 8, 3), np.uint8), None)
    writer.finish(rig.zero_params(), {"train": [0]},
                  extra={"rig_signature": geometry_signature(rig), "rig_hash": rig.identity_hash()})
    load_capture(tmp_path / "cap").check_rig(rebuilt_elsewhere(rig))
    with pytest.raises(CaptureError, match="another version of the rig 'builtin'"):
        load_capture(tmp_path / "cap").check_rig(moved(rig, "v_template", slice(0, 300), 1e-3))


def test_an_avatar_file_loads_with_its_rig_built_elsewhere_and_refuses_another(tmp_path):
    """A rig that is not embedded (a licensed file) is passed again at load time: the same rig
    built on another machine loads the avatar, another version does not."""
    tiny = make_tiny_rig(subdivisions=2)
    tiny.embeddable = False
    path = tmp_path / "m.avatar"
    save_avatar(GaussianAvatar.on_mesh(tiny, per_face=1, sh_degree=0, blend_expr=1), path)
    load_avatar(path, rig=rebuilt_elsewhere(tiny))
    with pytest.raises(AvatarFileError, match="not the one this avatar was trained on"):
        load_avatar(path, rig=moved(tiny, "v_template", slice(0, 10), 1e-3))
