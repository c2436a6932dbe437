"""Dense landmark embedding: the canonical face model registered onto rigs, and the sliding outline."""

import numpy as np
import pytest
import torch

from avatar.splat.camera import Camera
from avatar.splat.mesh_raster import rasterize_mesh
from avatar.rig.loaders import load_rig
from capture.embedding import embedding_for_rig
from capture.face_model import NUM_POINTS, SILHOUETTE, canonical_face_model
from capture.fit.setup import fit_points, landmark_residuals, outline_choice, picked_residuals, picked_rows
from capture.ibug68 import MP_TO_IBUG68
from capture.registration import register_face_model


@pytest.fixture(scope="module")
def rig():
    return load_rig("builtin")


def _warp(p: np.ndarray) -> np.ndarray:
    """A known smooth, non-affine map of face-sized points (metres): wider cheeks, a longer
    chin, a flatter profile, all bent."""
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    return np.stack([1.12 * x + 0.8 * x * y, 0.95 * y - 2.0 * x * x, 0.85 * z + 1.5 * y * y], 1) + [0.01, -0.02, 0.03]


def test_registration_recovers_a_known_embedding():
    """A 'rig' that is the canonical face model under a known map, its iris discs standing in for
    eyeballs: every landmark must land on its own vertex, though only the 68 iBUG points are
    given as anchors."""
    model = canonical_face_model()
    verts = _warp(model.points)
    rings = np.array([[468, 469, 470], [468, 470, 471], [468, 471, 472], [468, 472, 469],
                      [473, 474, 475], [473, 475, 476], [473, 476, 477], [473, 477, 474]])
    faces = np.concatenate([model.triangles, rings])
    eyeball = np.arange(len(faces)) >= len(model.triangles)
    corner = np.array([np.flatnonzero((faces == i).any(1))[0] for i in MP_TO_IBUG68])  # a triangle at each anchor
    bary = (faces[corner] == MP_TO_IBUG68[:, None]).astype(np.float64)
    reg = register_face_model(verts, faces, eyeball, MP_TO_IBUG68, corner, bary)
    found = np.einsum("qkd,qk->qd", verts[faces[reg.faces]], reg.bary)
    error = np.linalg.norm(found - verts, axis=1)  # metres
    # Sub-millimetre almost everywhere; the worst are the forehead's top, outside the anchors
    # (brows to chin), where the spline extrapolates and the snap may slide along the surface.
    assert np.median(error) < 2e-4 and np.percentile(error, 95) < 1.5e-3 and error.max() < 3e-3


@pytest.mark.parametrize("spec", ["builtin"])
def test_dense_embedding_of_a_rig(spec):
    rig = load_rig(spec)
    emb = embedding_for_rig(rig)
    assert emb.num_points == NUM_POINTS and np.array_equal(emb.mp_index, np.arange(NUM_POINTS))
    # The iBUG anchors are the rig's own landmark points, exactly.
    assert torch.equal(emb.faces[MP_TO_IBUG68], rig.lmk_faces)
    assert torch.allclose(emb.bary[MP_TO_IBUG68], rig.lmk_bary)
    points = torch.einsum("lkd,lk->ld", rig.v_template[rig.faces[emb.faces]], emb.bary)  # [478, 3]
    # The face's landmarks land on its front: left of the subject's midline is +x, etc.
    assert points[263, 0] > 0 > points[33, 0]  # outer eye corners: left eye +x
    assert points[1, 2] == points[:, 2].max() or points[1, 2] > np.percentile(points[:, 2], 97)  # nose tip in front
    assert points[10, 1] > points[168, 1] > points[1, 1] > points[152, 1]  # forehead > brows > nose > chin
    eyeball = rig.lbs_weights[rig.faces[emb.faces]][..., 3:5].amax(-1).min(-1).values > 0.5  # [478]
    assert eyeball[[469, 470, 471, 472, 474, 475, 476, 477]].all() and not eyeball[:468].any()


def test_outline_pick_finds_the_rendered_silhouette(rig):
    """Head turned 35 degrees: the candidate each outline path picks lies on the outline of the
    rasterized rig, not inside the face."""
    emb = embedding_for_rig(rig)
    params = rig.zero_params(1)
    params.rotation[0, 1] = 0.6
    params.translation[0, 2] = -0.6
    camera = Camera(torch.tensor([[600.0, 0, 128], [0, 600.0, 128], [0, 0, 1]]),
                    torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0])), 256, 256)
    verts = rig.forward(params)[0]
    depth = rasterize_mesh(verts, rig.faces, camera, torch.ones_like(verts)).depth[..., 0].numpy()
    # Occluding contours: the background's edge, and jumps in depth (the chin over the neck).
    jumps = np.zeros_like(depth, dtype=bool)
    jumps[:, 1:] |= np.abs(np.diff(depth, axis=1)) > 0.01
    jumps[1:, :] |= np.abs(np.diff(depth, axis=0)) > 0.01
    off_contour = (depth > 0) & ~jumps
    points, normals = fit_points(rig, emb).posed(params)  # [1, L + S K, 3]
    pts = camera.project(points[0])  # [L + S K, 2]
    s, k = emb.outline.faces.shape
    candidates = pts[emb.num_points:].reshape(1, s, k, 2)
    pick = outline_choice(emb, points, normals)[0]  # [S]
    sliding = pick >= 0
    # The side turned away slides onto the cheek; the side facing the camera runs in front of the
    # ear, off every path's end, and keeps the registered points.
    assert 0.3 < float(sliding.float().mean()) < 0.9
    chosen = candidates[0, torch.arange(s)[sliding], pick[sliding]].numpy()  # [S', 2]
    fixed = pts[torch.as_tensor(emb.outline_index)[sliding]].numpy()
    from scipy.ndimage import distance_transform_edt

    # Pixels from an occluding contour: the picked candidates lie on the rendered outline; the
    # registered points of the same paths lie inside, behind the cheek.
    inside = distance_transform_edt(off_contour)
    depth_chosen = inside[chosen[:, 1].astype(int).clip(0, 255), chosen[:, 0].astype(int).clip(0, 255)]
    depth_fixed = inside[fixed[:, 1].astype(int).clip(0, 255), fixed[:, 0].astype(int).clip(0, 255)]
    assert depth_chosen.max() <= 2.5
    assert np.mean(depth_chosen) < np.mean(depth_fixed) - 2.0


def test_a_subset_keeps_its_points_bound_and_its_indices_right(rig):
    emb = embedding_for_rig(rig)
    part = emb.subset(np.concatenate([MP_TO_IBUG68, SILHOUETTE, np.arange(0, 468, 7)]))
    assert part.num_points < emb.num_points
    assert list(part.mp_index[part.ibug]) == list(MP_TO_IBUG68)
    assert list(part.mp_index[part.pupils]) == list(emb.mp_index[emb.pupils])  # always kept
    assert list(part.mp_index[part.outline_index]) == list(SILHOUETTE) and part.outline is emb.outline
    row = {int(m): i for i, m in enumerate(emb.mp_index)}
    for i, m in enumerate(part.mp_index):
        assert int(part.faces[i]) == int(emb.faces[row[int(m)]]) and torch.equal(part.bary[i], emb.bary[row[int(m)]])
    assert emb.subset(np.arange(0, 468, 7)).outline is None  # an incomplete outline is not kept


def test_posing_only_the_picked_outline_points_gives_the_same_residuals(rig):
    """What the live fitter evaluates for its Jacobian (the L points and one candidate per path)
    against the whole fit_points evaluation."""
    emb = embedding_for_rig(rig)
    params = rig.zero_params(3)
    params.rotation[:, 1] = torch.tensor([-0.5, 0.1, 0.6])
    params.translation[:, 2] = -0.6
    params.expr[:, 0] = 0.4
    full = fit_points(rig, emb)
    points, normals = full.posed(params)
    pick = outline_choice(emb, points, normals)  # [3, S]
    project = lambda p: p[..., :2] / -p[..., 2:] * 500.0  # noqa: E731  any camera will do
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(3, emb.num_points, 2, generator=generator)
    across = torch.nn.functional.normalize(torch.randn(3, len(SILHOUETTE), 2, generator=generator), dim=-1)
    whole = landmark_residuals(emb, project(points), target, across, pick)
    assert (pick >= 0).any() and (pick < 0).any()  # both kinds of outline residual are compared
    for t in range(3):
        picked = full.subset(picked_rows(emb, pick[t]))
        frame = params.frame(t)
        part = picked_residuals(emb, project(picked(frame)), target[t:t + 1], across[t:t + 1], pick[t])
        torch.testing.assert_close(part[0], whole[t])
