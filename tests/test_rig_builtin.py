"""The builtin procedural head: mesh validity, rig behaviour, landmarks, shapes and colours.

Geometric claims are checked with independent means: edge counting for closure, signed volume
for winding, Moller-Trumbore ray casting for what a camera would see (lids covering the iris,
the mouth interior behind open lips), a KD-tree mirror match for symmetry, and scipy rotations
for eye joints.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from avatar.rig import builtin
from avatar.rig.builtin import EXPRESSION_NAMES, SHAPE_NAMES, build_builtin_head
from avatar.rig.builtin.grid import EYEBALL, MOUTH, SKIN, build_grid

REQUIRED_EXPRESSIONS = (
    "eyeBlink_L",
    "eyeBlink_R",
    "jawOpen",
    "mouthSmile_L",
    "mouthSmile_R",
    "mouthFrown_L",
    "mouthFrown_R",
    "browInnerUp",
    "browDown_L",
    "browDown_R",
    "browOuterUp_L",
    "browOuterUp_R",
    "mouthPucker",
    "mouthFunnel",
    "cheekPuff",
    "eyeWide_L",
    "eyeWide_R",
    "eyeSquint_L",
    "eyeSquint_R",
    "noseSneer_L",
    "noseSneer_R",
    "mouthLeft",
    "mouthRight",
    "mouthStretch_L",
    "mouthStretch_R",
    "jawForward",
)
# iBUG-68 left/right counterparts (0-based); self-symmetric points are omitted.
IBUG_MIRROR = (
    [(i, 16 - i) for i in range(8)]
    + [(17 + i, 26 - i) for i in range(5)]
    + [
        (31, 35),
        (32, 34),
        (36, 45),
        (37, 44),
        (38, 43),
        (39, 42),
        (40, 47),
        (41, 46),
        (48, 54),
        (49, 53),
        (50, 52),
        (55, 59),
        (56, 58),
        (60, 64),
        (61, 63),
        (65, 67),
    ]
)


@pytest.fixture(scope="module")
def rig():
    return build_builtin_head().to(dtype=torch.float64)


@pytest.fixture(scope="module")
def grid():
    return build_grid()


def pose(rig, expr: dict[str, float] | None = None, jaw=(0.0, 0.0, 0.0), eyes=None, shape=None) -> np.ndarray:
    """Posed vertices [V, 3] for one frame."""
    p = rig.zero_params()
    for name, w in (expr or {}).items():
        p.expr[0, rig.expr_names.index(name)] = w
    p.jaw[0] = torch.tensor(jaw, dtype=torch.float64)
    if eyes is not None:
        p.eyes[0] = torch.tensor(eyes, dtype=torch.float64)
    if shape is not None:
        p.shape[:] = torch.tensor(shape, dtype=torch.float64)
    with torch.no_grad():
        return rig.forward(p)[0].numpy()


def landmarks(rig, verts: np.ndarray) -> np.ndarray:
    return rig.landmarks(torch.from_numpy(verts)[None])[0].numpy()


def ray_hits(origins: np.ndarray, direction: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Moller-Trumbore: distance [R, T] along `direction` from each origin to each triangle
    [T, 3, 3] (inf where missed; hits closer than 1e-7 m are ignored as self-hits)."""
    e1, e2 = tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    h = np.cross(direction, e2)
    det = np.einsum("td,td->t", e1, h)
    ok = np.abs(det) > 1e-14
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origins[:, None, :] - tris[None, :, 0]  # [R, T, 3]
    u = np.einsum("rtd,td->rt", s, h) * inv
    q = np.cross(s, e1[None])
    v = np.einsum("d,rtd->rt", direction, q) * inv
    t = np.einsum("td,rtd->rt", e2, q) * inv
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 1e-7)
    return np.where(hit, t, np.inf)


# ---------------------------------------------------------------- arrays and mesh validity


def test_counts_dtypes_and_normalisation(rig):
    r = build_builtin_head()
    v, f = r.num_vertices, r.faces.shape[0]
    assert 4000 <= v <= 8000 and 8000 <= f <= 14000
    assert r.name == "builtin" and r.embeddable and r.landmark_scheme == "ibug68"
    assert r.v_template.dtype == torch.float32 and r.faces.dtype == torch.long
    assert r.shapedirs.shape == (v, 3, len(SHAPE_NAMES)) and r.num_shape >= 10
    assert r.exprdirs.shape == (v, 3, len(EXPRESSION_NAMES)) and r.num_expr >= 20
    assert r.posedirs.shape == (v, 3, 36) and r.j_regressor.shape == (5, v) and r.lbs_weights.shape == (v, 5)
    assert r.parents.tolist() == [-1, 0, 1, 1, 1]
    assert r.lmk_faces.shape == (68,) and r.lmk_faces.dtype == torch.long and r.lmk_bary.shape == (68, 3)
    assert r.vertex_colors.shape == (v, 3)
    assert torch.allclose(r.lbs_weights.sum(1), torch.ones(v), atol=1e-6) and (r.lbs_weights >= 0).all()
    assert torch.allclose(r.j_regressor.sum(1), torch.ones(5), atol=1e-6) and (r.j_regressor >= 0).all()
    assert (r.lmk_bary >= 0).all() and torch.allclose(r.lmk_bary.sum(1), torch.ones(68), atol=1e-6)
    assert len(set(r.expr_names)) == r.num_expr and set(REQUIRED_EXPRESSIONS) <= set(r.expr_names)


def test_deterministic_and_returns_fresh_copies():
    first = build_builtin_head()
    first.v_template.add_(1.0)  # callers may mutate their copy
    builtin._build.cache_clear()  # rebuild from scratch
    a, b = build_builtin_head(), build_builtin_head()
    for key, value in a.arrays().items():
        assert torch.equal(value, b.arrays()[key]), key
    assert not torch.equal(first.v_template, a.v_template)
    assert a.expr_names == b.expr_names


def test_unknown_resolution_is_a_clear_error():
    with pytest.raises(ValueError, match="resolution"):
        build_builtin_head("ultra")


@pytest.mark.parametrize("resolution", ["low", "default", "high"])
def test_mesh_is_closed_consistently_wound_and_nondegenerate(resolution):
    r = build_builtin_head(resolution).to(dtype=torch.float64)
    v, f = r.v_template.numpy(), r.faces.numpy()
    assert f.min() >= 0 and f.max() < len(v)
    assert len({tuple(sorted(t)) for t in f.tolist()}) == len(f)  # no duplicate faces
    directed = Counter(map(tuple, np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]).tolist()))
    # Closed and oriented: every directed edge once, its reverse once (each edge in two faces).
    assert max(directed.values()) == 1
    assert all((b, a) in directed for a, b in directed)
    area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    assert area.min() > 1e-9  # m^2; the median is ~1e-5
    assert len(np.unique(f)) == len(v)  # no stray vertices


def test_outward_winding(rig, grid):
    v, f = rig.v_template.numpy(), rig.faces.numpy()
    normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    volume = np.einsum("fd,fd->f", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])) / 6.0
    eyeball_faces = (grid.region[f] == EYEBALL).all(1)
    sphere = 4.0 / 3.0 * np.pi * 0.012**3
    for ids in grid.eyeballs:
        own = np.isin(f, ids).all(1)
        assert 0.9 * sphere < volume[own].sum() < sphere
    assert 0.003 < volume[~eyeball_faces].sum() < 0.007  # a head and neck, m^3
    skin = (grid.region[f] == SKIN).all(1)
    outward = np.einsum("fd,fd->f", v[f].mean(1), normals)[skin]  # the origin is the head centre
    assert outward.mean() > 0 and (outward > 0).mean() > 0.995


def test_neutral_mesh_is_mirror_symmetric(rig):
    v = rig.v_template.numpy()
    dist, _ = cKDTree(v).query(v * np.array([-1.0, 1.0, 1.0]))
    assert dist.max() < 1e-6


def test_proportions(rig, grid):
    v = rig.v_template.numpy()
    skin = v[grid.region == SKIN]
    height_above_chin = skin[:, 1].max() - landmarks(rig, v)[8, 1]
    assert 0.2 < height_above_chin < 0.26
    assert abs(skin[:, 1].max() - 0.12) < 0.01 and skin[:, 1].min() < -0.15  # neck below
    assert 0.13 < np.ptp(skin[skin[:, 1] > -0.05, 0]) < 0.19  # head width with ears


# ---------------------------------------------------------------- joints and skinning


def test_joints_sit_where_documented(rig):
    joints = (rig.j_regressor @ rig.v_template).numpy()
    assert np.allclose(joints[:3, 0], 0.0, atol=1e-9)  # root, neck and jaw on the midline
    assert joints[0, 1] < -0.17 and joints[1, 1] < -0.1  # root at the neck base, neck above it
    assert abs(joints[2, 1] + 0.03) < 0.005 and abs(joints[2, 2]) < 0.01  # jaw hinge
    assert joints[3, 0] > 0.02 and np.allclose(joints[3], joints[4] * [-1, 1, 1])  # eye_l at +x


def test_eyeballs_follow_only_their_joint(rig, grid):
    w = rig.lbs_weights.numpy()
    for ids, joint in zip(grid.eyeballs, (3, 4)):
        assert np.allclose(w[ids, joint], 1.0)
    assert np.allclose(w[grid.region != EYEBALL][:, 3:], 0.0)


def test_skinning_weights_are_smooth_on_the_skin(rig, grid):
    w, f = rig.lbs_weights.numpy(), rig.faces.numpy()
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    edges = edges[(grid.region[edges] == SKIN).all(1)]
    assert np.abs(w[edges[:, 0]] - w[edges[:, 1]]).max() <= 0.6


def test_jaw_rotation_opens_the_mouth(rig):
    rest = landmarks(rig, rig.v_template.numpy())
    opened = landmarks(rig, pose(rig, jaw=(0.25, 0.0, 0.0)))
    assert abs(rest[66, 1] - rest[62, 1]) < 1e-3  # lips closed at rest
    assert opened[62, 1] - opened[66, 1] > 0.015  # inner-lip gap after opening
    for k in (8, 57, 66):  # chin and lower lip move down
        assert opened[k, 1] < rest[k, 1] - 0.008
    for k in (27, 30, 33, 51, 62, *range(36, 48)):  # nose, upper lip and eyes stay
        assert np.allclose(opened[k], rest[k], atol=1e-9)


def test_open_mouth_shows_the_dark_interior_not_the_head_behind(rig, grid):
    f = rig.faces.numpy()
    for jaw, expected in ((0.3, MOUTH), (0.0, SKIN)):
        v = pose(rig, jaw=(jaw, 0.0, 0.0))
        lmk = landmarks(rig, v)
        origin = np.array([[0.0, 0.5 * (lmk[62, 1] + lmk[66, 1]), 0.4]])
        t = ray_hits(origin, np.array([0.0, 0.0, -1.0]), v[f])[0]
        assert np.isfinite(t.min())
        assert grid.region[f[t.argmin()]].tolist() == [expected] * 3
    mouth = rig.vertex_colors.numpy()[grid.region == MOUTH]
    assert np.median(mouth.mean(1)) < 0.35  # dark inside


# ---------------------------------------------------------------- eyes


def test_eye_rotation_turns_the_eyeball_about_its_centre(rig, grid):
    rest = rig.v_template.numpy()
    turn = np.array([0.1, 0.4, 0.0])
    v = pose(rig, eyes=[*turn, 0.0, 0.0, 0.0])
    left, right = grid.eyeballs
    centre = (rig.j_regressor[3] @ rig.v_template).numpy()
    expected = (rest[left] - centre) @ Rotation.from_rotvec(turn).as_matrix().T + centre
    assert np.allclose(v[left], expected, atol=1e-9)
    assert np.linalg.norm(v[left[0]] - rest[left[0]]) > 0.004  # the pupil moved by millimetres
    assert np.allclose(v[right], rest[right]) and np.allclose(v[grid.region == SKIN], rest[grid.region == SKIN])


def _iris_visible(rig, grid, verts: np.ndarray, max_angle_deg: float) -> np.ndarray:
    """Per front-facing vertex of the left eyeball within max_angle of the pupil: seen from +z?"""
    ids = grid.eyeballs[0]
    alpha = np.concatenate([[0.0], np.repeat(grid.eye_ring_deg, (len(ids) - 2) // len(grid.eye_ring_deg)), [180.0]])
    front = ids[alpha <= max_angle_deg]
    f = rig.faces.numpy()
    skin = f[(grid.region[f] == SKIN).all(1)]
    t = ray_hits(verts[front], np.array([0.0, 0.0, 1.0]), verts[skin])
    return ~np.isfinite(t.min(1))


def test_blink_covers_the_iris_and_rest_shows_the_pupil(rig, grid):
    assert _iris_visible(rig, grid, rig.v_template.numpy(), 10.0).all()
    closed = pose(rig, {"eyeBlink_L": 1.0})
    assert not _iris_visible(rig, grid, closed, 29.0).any()
    other = pose(rig, {"eyeBlink_R": 1.0})
    assert _iris_visible(rig, grid, other, 10.0).all()


def test_blink_closes_only_its_own_eye(rig):
    rest = landmarks(rig, rig.v_template.numpy())
    closed = landmarks(rig, pose(rig, {"eyeBlink_L": 1.0}))
    gap = lambda p: np.mean([p[43, 1] - p[47, 1], p[44, 1] - p[46, 1]])  # noqa: E731
    assert gap(rest) > 0.006 and abs(gap(closed)) < 0.001
    assert np.allclose(closed[36:42], rest[36:42], atol=1e-9)  # the right eye (-x)
    assert (rest[42:48, 0] > 0).all() and (rest[36:42, 0] < 0).all()
    wide = landmarks(rig, pose(rig, {"eyeWide_L": 1.0}))
    assert gap(wide) > gap(rest) + 0.002


# ---------------------------------------------------------------- landmarks


def test_landmark_layout(rig):
    lmk = landmarks(rig, rig.v_template.numpy())
    assert np.argmax(lmk[:, 2]) == 30  # nose tip most forward
    assert np.argmin(lmk[:17, 1]) == 8  # chin lowest on the jaw line
    assert lmk[36:48, 1].min() > lmk[48:68, 1].max()  # eyes above the mouth
    assert lmk[17:27, 1].min() > lmk[36:48, 1].max()  # brows above the eyes
    assert lmk[27, 1] > lmk[30, 1] > lmk[33, 1] > lmk[51, 1] > lmk[57, 1] > lmk[8, 1]
    assert (np.diff(lmk[:17, 0]) > 0).all()  # jaw line runs from the subject's right to left
    for a, b in IBUG_MIRROR:
        assert np.linalg.norm(lmk[a] - lmk[b] * [-1, 1, 1]) < 1e-3, (a, b)
    assert np.abs(lmk[[8, 27, 28, 29, 30, 33, 51, 57, 62, 66], 0]).max() < 1e-3


def test_eye_landmarks_sit_on_the_lid_edges(rig, grid):
    v = rig.v_template.numpy()
    lmk = landmarks(rig, v)
    centre = (rig.j_regressor[3] @ rig.v_template).numpy()
    dist = np.linalg.norm(lmk[42:48] - centre, axis=1)
    assert (np.abs(dist - 0.012) < 0.004).all()  # on the lids resting on the eyeball


# ---------------------------------------------------------------- expressions


def test_smile_raises_its_own_mouth_corner(rig):
    rest = landmarks(rig, rig.v_template.numpy())
    for name, own, other in (("mouthSmile_L", 54, 48), ("mouthSmile_R", 48, 54)):
        moved = landmarks(rig, pose(rig, {name: 1.0})) - rest
        assert moved[own, 1] > 0.003 and moved[own, 1] > moved[other, 1] + 0.003


def test_expression_signs(rig):
    rest = landmarks(rig, rig.v_template.numpy())
    move = lambda name: landmarks(rig, pose(rig, {name: 1.0})) - rest  # noqa: E731
    assert move("browInnerUp")[[21, 22], 1].min() > 0.003
    assert move("browDown_L")[24, 1] < -0.003 and abs(move("browDown_L")[19, 1]) < 1e-3
    assert move("browOuterUp_R")[18, 1] > 0.003
    assert move("mouthFrown_L")[54, 1] < -0.003
    assert move("mouthPucker")[51, 2] > 0.005 and move("mouthPucker")[54, 0] < -0.003
    assert move("mouthLeft")[62, 0] > 0.005 and move("mouthRight")[62, 0] < -0.005
    assert move("jawForward")[8, 2] > 0.004
    assert move("mouthLowerDown_L")[65, 1] < -0.003 and abs(move("mouthLowerDown_L")[61, 1]) < 1e-3
    assert move("mouthUpperUp_R")[61, 1] > 0.003 and abs(move("mouthUpperUp_R")[67, 1]) < 1e-3
    assert move("noseSneer_L")[35, 1] > 0.002


def test_expressions_are_localised_sided_and_leave_eyeballs_alone(rig, grid):
    v = rig.v_template.numpy()
    d = rig.exprdirs.numpy()  # [V, 3, E]
    mag = np.linalg.norm(d, axis=1)  # [V, E]
    assert (mag.max(0) > 0.001).all() and (mag.max(0) < 0.025).all()
    assert np.allclose(d[grid.region == EYEBALL], 0.0)
    # Mirror map; the jaw weight tells apart the coinciding upper and lower lip-edge copies.
    key = np.concatenate([v, 0.01 * rig.lbs_weights.numpy()[:, 2:3]], axis=1)
    dist, mirror = cKDTree(key).query(key * np.array([-1.0, 1.0, 1.0, 1.0]))
    assert dist.max() < 1e-9
    names = rig.expr_names
    for k, name in enumerate(names):
        if name.endswith("_L"):
            right = d[:, :, names.index(name[:-2] + "_R")]
            assert np.allclose(d[mirror, :, k] * [-1, 1, 1], right, atol=1e-9), name
            assert (mag[:, k] * v[:, 0]).sum() > 0, name  # acts on the subject's left (+x)


# ---------------------------------------------------------------- identity


def test_identity_components(rig, grid):
    v = rig.v_template.numpy()
    s = rig.shapedirs.numpy()  # [V, 3, S]
    mag = np.linalg.norm(s, axis=1).max(0)
    assert (mag > 0.001).all() and (mag < 0.02).all()  # a standard deviation is millimetres
    flat = s.reshape(-1, s.shape[-1])
    assert np.linalg.matrix_rank(flat) == s.shape[-1]
    unit = flat / np.linalg.norm(flat, axis=0)
    cos = unit.T @ unit - np.eye(s.shape[-1])
    assert np.abs(cos).max() < 0.7
    width = SHAPE_NAMES.index("head_width")
    wider = pose(rig, shape=np.eye(len(SHAPE_NAMES))[width] * 2.0)
    skin = grid.region == SKIN
    assert np.ptp(wider[skin, 0]) - np.ptp(v[skin, 0]) > 0.006
    for ids in grid.eyeballs:  # eyeballs translate rigidly
        assert np.allclose(s[ids], s[ids[0]][None])


@pytest.mark.parametrize("trait", SHAPE_NAMES)
def test_the_eyeballs_move_with_their_eye_openings(rig, grid, trait):
    """Every trait carries each eyeball as it carries that eye's lid landmarks (their mean, to 0.2
    mm at 3 standard deviations): else a fitted face leaves the pupils off-centre between the
    corners, and the tracker turns the eyes to put them back under the irises."""
    shape = np.eye(len(SHAPE_NAMES))[SHAPE_NAMES.index(trait)] * 3.0
    rest, moved = pose(rig), pose(rig, shape=shape)
    rest_lmk, moved_lmk = landmarks(rig, rest), landmarks(rig, moved)
    for ids, lids in zip(grid.eyeballs, (range(42, 48), range(36, 42))):
        eyeball = moved[ids].mean(0) - rest[ids].mean(0)
        opening = (moved_lmk[list(lids)] - rest_lmk[list(lids)]).mean(0)
        assert np.linalg.norm(eyeball - opening) < 2e-4, (trait, eyeball, opening)


# ---------------------------------------------------------------- colours


def test_vertex_colours(rig, grid):
    c = rig.vertex_colors.numpy()
    assert c.min() >= 0.0 and c.max() <= 1.0
    lum = c.mean(1)
    left = grid.eyeballs[0]
    assert lum[left[0]] < 0.1 and lum[left[-1]] > 0.7  # pupil black, sclera white
    assert lum[grid.vid(0, 0)] < 0.3  # hair on the crown
    v = rig.v_template.numpy()
    lmk_faces = rig.lmk_faces.numpy()
    lip_vertex = rig.faces.numpy()[lmk_faces[57], 0]
    cheek = np.argmin(np.linalg.norm(v - [0.045, -0.03, 0.07], axis=1))
    redness = lambda i: c[i, 0] - c[i, 1]  # noqa: E731
    assert redness(lip_vertex) > redness(cheek) > 0
    assert np.std(c[grid.region == SKIN], axis=0).min() > 0.02  # textured, not flat
