"""ICT-FaceKit loader on the real model in ../shared/data (skipped when absent)."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from avatar.rig.errors import RigFileError
from avatar.rig.ict import load_ict
from avatar.rig.lbs import axis_angle_to_matrix
from avatar.rig.loaders import load_rig
from avatar.rig.obj_io import read_obj

DATA = Path(os.environ.get("AVATAR_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
ICT = DATA / "rigs" / "ict-facekit" / "FaceXModel"
pytestmark = pytest.mark.skipif(not (ICT / "generic_neutral_mesh.obj").is_file(),
                                reason=f"ICT-FaceKit test material not found at {ICT}")
JAW, EYE_L = 2, 3


@pytest.fixture(scope="module")
def rig():
    start = time.perf_counter()
    loaded = load_ict(ICT.parent)  # the folder holding FaceXModel/ works too
    print(f"\nload_ict: {time.perf_counter() - start:.2f} s for {loaded.num_expr} targets")
    return loaded


def _plain_vertices(path: Path) -> np.ndarray:
    """Reference OBJ vertex reader: a per-line Python loop, independent of obj_io."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return np.array([[float(t) for t in line.split()[1:4]] for line in f if line.startswith("v ")])


def _pose(rig, **kw):
    p = rig.zero_params()
    for key, value in kw.items():
        if key == "expr":
            for name, w in value.items():
                p.expr[0, rig.expr_names.index(name)] = w
        else:
            getattr(p, key)[0] = torch.tensor(value)
    return rig.forward(p)[0]  # [V, 3]


def _sphere_centre(points: np.ndarray) -> np.ndarray:
    a = np.concatenate([2 * points, np.ones((len(points), 1))], axis=1)
    return np.linalg.lstsq(a, (points ** 2).sum(1), rcond=None)[0][:3]


def test_counts_and_topology(rig):
    raw = read_obj(ICT / "generic_neutral_mesh.obj")
    assert len(raw.vertices) == 26719 and len(_plain_vertices(ICT / "generic_neutral_mesh.obj")) == 26719
    assert rig.num_vertices == 24591  # eye overlay cards (the file's last 2,128 vertices) dropped
    faces = rig.faces
    assert faces.min() >= 0 and faces.max() < rig.num_vertices
    assert (faces[:, 0] != faces[:, 1]).all() and (faces[:, 1] != faces[:, 2]).all()
    assert torch.unique(faces).numel() == rig.num_vertices  # no vertex left unreferenced
    assert rig.posedirs.abs().max() == 0


def test_generic_identity_basis_without_identity_targets(rig):
    """The shared copy has no identity meshes: the smooth stand-in basis, eyeballs kept rigid."""
    assert rig.shapedirs.shape == (rig.num_vertices, 3, 27)
    assert abs(float(rig.shapedirs.abs().max()) - 0.01) < 1e-6  # 1 cm at the head's extent
    for joint in (3, 4):
        eyeball = rig.lbs_weights[:, joint] > 0.5
        moves = rig.shapedirs[eyeball]  # [n, 3, 27]
        assert torch.allclose(moves, moves[:1].expand_as(moves))  # every eyeball vertex moves alike
    shape = torch.zeros(27)
    shape[0] = 1.0  # x-displacement linear in x: a wider face
    p = rig.zero_params(1)
    p.shape = shape
    wide = rig.forward(p)[0]
    rest = rig.forward(rig.zero_params(1))[0]
    assert wide[:, 0].max() - wide[:, 0].min() > rest[:, 0].max() - rest[:, 0].min() + 0.01


def test_expression_names_and_deltas(rig):
    files = sorted(p.name.split(".obj")[0] for p in ICT.iterdir()
                   if p.name.endswith((".obj", ".obj.gz")) and p.name != "generic_neutral_mesh.obj")
    assert rig.expr_names == files and 53 <= len(files) <= 60
    assert {"jawOpen", "eyeBlink_L", "mouthSmile_R"} <= set(rig.expr_names)
    neutral = _plain_vertices(ICT / "generic_neutral_mesh.obj")[: rig.num_vertices]
    for name in ("mouthSmile_R", "eyeBlink_L"):
        ref = (_plain_vertices(ICT / f"{name}.obj.gz")[: rig.num_vertices] - neutral) * 0.01
        got = rig.exprdirs[:, :, rig.expr_names.index(name)].numpy()
        np.testing.assert_allclose(got, ref, atol=1e-7)


def test_metres_and_facing_plus_z(rig):
    v = rig.v_template
    lmk = rig.landmarks(v[None])[0]  # [68, 3]
    head_height = v[:, 1].max() - lmk[8, 1]
    assert 0.18 < head_height < 0.30
    nose = lmk[30]
    assert torch.linalg.norm(v[v[:, 2].argmax()] - nose) < 0.015  # the front-most point is the nose
    tri = v[rig.faces[rig.lmk_faces[30]]]  # the nose tip's triangle faces the viewer at +z
    assert torch.linalg.cross(tri[1] - tri[0], tri[2] - tri[0], dim=0)[2] > 0
    assert lmk[36, 0] < 0 < lmk[45, 0]  # subject's left eye at +x, as in FLAME


def test_landmark_layout(rig):
    assert rig.landmark_scheme == "ibug68" and rig.lmk_faces.shape == (68,)
    assert torch.all(rig.lmk_bary.sum(1) == 1) and torch.all(rig.lmk_bary.max(1).values == 1)
    lmk = rig.landmarks(rig.v_template[None])[0]
    assert lmk[:, 2].argmax() == 30 and lmk[:, 1].argmin() == 8
    assert lmk[36:48, 1].min() > lmk[48:68, 1].max()  # eyes above the mouth
    assert lmk[27:31, 1].max() < lmk[36:48, 1].max() + 0.02 and lmk[33, 1] > lmk[51, 1]
    mirror = lmk[[16, 15, 14, 45, 54]] * torch.tensor([-1.0, 1.0, 1.0])
    torch.testing.assert_close(mirror, lmk[[0, 1, 2, 36, 48]], atol=2e-3, rtol=0)


def test_skinning_is_well_formed_and_joints_ignore_expressions(rig):
    w, reg = rig.lbs_weights, rig.j_regressor
    assert w.min() >= 0 and torch.allclose(w.sum(1), torch.ones(rig.num_vertices), atol=1e-6)
    assert reg.min() >= 0 and torch.allclose(reg.sum(1), torch.ones(5), atol=1e-6)
    joints = reg @ rig.v_template  # [5, 3]
    g = torch.Generator().manual_seed(0)
    expr = torch.rand(rig.num_expr, generator=g)
    moved = reg @ (rig.v_template + rig.exprdirs @ expr)
    torch.testing.assert_close(moved, joints, atol=5e-6, rtol=0)
    lmk = rig.landmarks(rig.v_template[None])[0]
    root, neck, jaw, eye_l, eye_r = joints
    assert root[1] < lmk[8, 1] - 0.05  # the root sits low in the neck
    assert lmk[8, 1] < jaw[1] < lmk[36:48, 1].min() and jaw[2] < lmk[30, 2] - 0.06
    assert lmk[8, 1] < neck[1] < lmk[36:48, 1].min()
    torch.testing.assert_close(eye_l * torch.tensor([-1.0, 1.0, 1.0]), eye_r, atol=1e-4, rtol=0)


def test_jaw_open_expression_and_jaw_pose(rig):
    rest_chin = rig.landmarks(rig.v_template[None])[0, 8]
    opened = _pose(rig, expr={"jawOpen": 1.0})
    assert rig.landmarks(opened[None])[0, 8, 1] < rest_chin[1] - 0.01
    # Vertices fully on the jaw follow jawOpen when the jaw joint turns by the right angle.
    full = rig.lbs_weights[:, JAW] > 0.99
    assert full.sum() > 1000
    target = opened[full]
    fit = minimize_scalar(lambda a: (_pose(rig, jaw=[a, 0.0, 0.0])[full] - target).norm(dim=1).max().item(),
                          bounds=(0.1, 0.8), method="bounded", options={"xatol": 1e-3})
    best = float(fit.x)
    assert fit.fun < 1e-3 and 0.2 < best < 0.7, (fit.fun, best)
    # Elsewhere the jaw weights reproduce jawOpen's motion too (landmark by landmark).
    rest = rig.landmarks(rig.v_template[None])[0]
    by_pose = rig.landmarks(_pose(rig, jaw=[best, 0.0, 0.0])[None])[0] - rest  # [68, 3]
    by_expr = rig.landmarks(opened[None])[0] - rest
    assert by_pose[8, 1] < -0.01
    assert ((by_pose - by_expr).norm(dim=1) < 0.12 * by_expr.norm(dim=1) + 3e-3).all()
    assert by_pose[17:27].norm(dim=1).max() < 5e-4 and by_pose[36:48].norm(dim=1).max() < 5e-4


def test_eyes_turn_about_their_centres(rig):
    on_eye = rig.lbs_weights[:, EYE_L] == 1
    assert 1000 < on_eye.sum() < 3000
    rest = rig.v_template
    joint = rig.j_regressor[EYE_L] @ rest
    centre = _sphere_centre(rest[on_eye].double().numpy())
    assert np.linalg.norm(centre - joint.double().numpy()) < 2e-3
    turned = _pose(rig, eyes=[0.0, 0.3, 0.0, 0.0, 0.0, 0.0])
    others = ~on_eye
    torch.testing.assert_close(turned[others], rest[others])
    np.testing.assert_allclose(_sphere_centre(turned[on_eye].double().numpy()), centre, atol=5e-4)
    expected = (rest[on_eye] - joint) @ axis_angle_to_matrix(torch.tensor([0.0, 0.3, 0.0])).T + joint
    torch.testing.assert_close(turned[on_eye], expected, atol=1e-6, rtol=0)
    front = rest[on_eye][:, 2] > rest[on_eye][:, 2].quantile(0.9)
    assert turned[on_eye][front, 0].mean() > rest[on_eye][front, 0].mean() + 0.002  # looks to +x


def test_neck_turns_head_not_shoulders(rig):
    posed = _pose(rig, neck=[0.3, 0.4, 0.0])
    rest = rig.v_template
    bottom = rest[:, 1] < rest[:, 1].min() + 0.01
    torch.testing.assert_close(posed[bottom], rest[bottom])
    top = rest[:, 1].argmax()
    assert (posed[top] - rest[top]).norm() > 0.03


def test_vertex_colours(rig):
    c = rig.vertex_colors
    assert c.shape == (rig.num_vertices, 3) and c.min() >= 0 and c.max() <= 1
    lip_vertices = rig.faces[rig.lmk_faces[[51, 57]]][rig.lmk_bary[[51, 57]] == 1]
    nose_vertex = rig.faces[rig.lmk_faces[27]][rig.lmk_bary[27] == 1]
    redness = lambda rgb: rgb[..., 0] - rgb[..., 1]  # noqa: E731
    assert redness(c[lip_vertices]).min() > redness(c[nose_vertex]).max() + 0.05
    eye = c[rig.lbs_weights[:, EYE_L] == 1]
    assert (eye.min(1).values > 0.85).sum() > 100 and (eye.max(1).values < 0.1).sum() > 10


def test_identity_targets_become_shapedirs(tmp_path):
    for name in ("generic_neutral_mesh.obj", "vertex_indices.json", "jawOpen.obj.gz"):
        (tmp_path / name).symlink_to(ICT / name)
    (tmp_path / "identity000.obj.gz").symlink_to(ICT / "mouthSmile_L.obj.gz")
    small = load_ict(tmp_path)
    assert small.expr_names == ["jawOpen"] and small.num_shape == 1
    ref = (_plain_vertices(ICT / "mouthSmile_L.obj.gz") - _plain_vertices(ICT / "generic_neutral_mesh.obj"))
    np.testing.assert_allclose(small.shapedirs[:, :, 0].numpy(), ref[: small.num_vertices] * 0.01, atol=1e-7)


def test_errors_and_rig_specs(rig, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_ict(tmp_path / "missing")
    with pytest.raises(RigFileError, match="generic_neutral_mesh.obj"):
        load_ict(tmp_path)
    (tmp_path / "generic_neutral_mesh.obj").symlink_to(ICT / "generic_neutral_mesh.obj")
    with pytest.raises(RigFileError, match="vertex_indices.json"):
        load_ict(tmp_path)
    for name in ("vertex_indices.json", "jawOpen.obj.gz"):  # a minimal model loads quickly
        (tmp_path / name).symlink_to(ICT / name)
    monkeypatch.setenv("AVATAR_ICT_DIR", str(tmp_path))
    assert load_rig("ict").num_vertices == rig.num_vertices
    assert load_rig(f"ict:{tmp_path}").expr_names == ["jawOpen"]
    with pytest.raises(RigFileError, match="accepted rig specs"):
        load_rig(f"ict:{tmp_path / 'nowhere'}")


def test_a_head_bent_forward_keeps_its_chin_inside_the_cut(rig):
    """The mask's neck cut on ICT, the tracker's choice of vertices, in wojtek_512's frame 364
    (head bent forward 0.33 rad and turned 0.28): ICT's neck ring tips with the head and is seen
    from above, and a cut through its middle once ran over the lower lip. Chin and lips stay; the
    ring's own front, the collar, is the cut."""
    from avatar.splat.camera import Camera
    from avatar.splat.cut_region import cut_region, ring_front
    from avatar.rig import RigParams
    from capture.matte.head_mask import place_cut

    landmarks = rig.landmarks(rig.v_template[None])[0]  # [68, 3] iBUG, rest pose
    cut = place_cut(rig, landmarks[8], float(landmarks[33, 1]))  # the chin; the bottom of the nose
    params = RigParams.zeros(rig.num_shape, rig.num_expr)
    params.rotation = torch.tensor([[0.333, 0.276, -0.024]])
    params.translation = torch.tensor([[0.0, 0.02, -0.59]])
    camera = Camera(torch.tensor([[337.0, 0.0, 128.0], [0.0, 337.0, 128.0], [0.0, 0.0, 1.0]]),
                    torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0])), 256, 256)
    with torch.no_grad():
        verts = rig.forward(params)[0]
    region = cut_region(cut, verts, rig.faces, camera)[..., 0].numpy()
    posed = rig.landmarks(verts[None])[0]  # [68, 3]
    pixels = camera.project(posed).floor().long().numpy()
    lower_face = [6, 7, 9, 10, 57, 66]  # the jaw's line beside the chin, the lower lip
    assert all(region[y, x] > 0 for x, y in pixels[lower_face]), pixels[lower_face]
    # The chin's tip comes down over the ring's front: the cut may graze it, by at most 2 px.
    assert region[pixels[8, 1] - 2, pixels[8, 0]] > 0
    ring = camera.project(verts[list(cut.ring)])  # [R, 2]
    front = ring[ring_front(cut, verts, camera)].floor().long()
    assert region[front[1] + 4, front[0]] == 0  # below the ring's front: the collar, cut


def test_the_cut_leaves_icts_shoulders_out(rig):
    """ICT's mesh runs on past its neck into the shoulders (16 cm wide at the cut's ring, 11 cm at
    its narrowest): the rig's own pixels between the cut's lines kept their slope and with it the
    collar, which wojtek_512's avatar painted on neck Gaussians that tore when the head nodded."""
    import dataclasses

    from avatar.splat.camera import Camera
    from avatar.splat.cut_region import cut_parts
    from avatar.rig import RigParams
    from capture.matte.head_mask import place_cut

    landmarks = rig.landmarks(rig.v_template[None])[0]  # [68, 3] iBUG, rest pose
    cut = place_cut(rig, landmarks[8], float(landmarks[33, 1]))
    assert len(cut.shoulders) > 100
    corners = rig.v_template[rig.faces[list(cut.shoulders)]]  # [S, 3, 3]
    assert (corners[..., 1] < landmarks[8, 1] - 0.01).all() and (corners[..., 0].abs() > 0.06).all()
    camera = Camera(torch.tensor([[337.0, 0.0, 128.0], [0.0, 337.0, 128.0], [0.0, 0.0, 1.0]]),
                    torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0])), 256, 256)
    for rotation in ([0.0, 0.0, 0.0], [0.333, 0.276, -0.024]):  # frontal; wojtek_512's frame 364
        params = RigParams.zeros(rig.num_shape, rig.num_expr)
        params.rotation, params.translation = torch.tensor([rotation]), torch.tensor([[0.0, 0.02, -0.59]])
        with torch.no_grad():
            verts = rig.forward(params)[0]
        region = cut_parts(cut, verts, rig.faces, camera).region()  # what the masks keep
        with_shoulders = cut_parts(dataclasses.replace(cut, shoulders=()), verts, rig.faces, camera).region()
        assert not (region > with_shoulders).any() and (with_shoulders > region).sum() > 300, rotation
