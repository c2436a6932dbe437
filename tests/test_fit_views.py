"""Cameras from the face: the built-in head seen by three known cameras, its landmarks projected
exactly as the fitter models them (plus detector-like noise), must give the cameras back."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from avatar.rig.loaders import load_rig
from capture.embedding import embedding_for_rig
from capture.fit.setup import fit_model, fit_points, jaw_from, outline_choice
from capture.fit.views import KnownCameras, camera_distances, fit_views, views_fit
from capture.fit.silhouette import picked_candidate

SIZE = (480, 640)  # width, height of every synthetic video
FOCAL = 700.0
HEAD = np.array([0.0, 0.0, -0.6])  # the head's centre in camera 0's rig-like frame (metres)
YAWS = (-35.0, 0.0, 35.0)  # each camera's place on a circle around the head (degrees)
MOMENTS = 24


def _true_cameras(yaws=YAWS) -> np.ndarray:
    """[C, 4, 4] view_from_world: each camera turned about the head by its yaw, camera 0 the world."""
    out = []
    for yaw in yaws:
        turn = np.eye(4)
        turn[:3, :3] = Rotation.from_euler("y", yaw - yaws[0], degrees=True).as_matrix()
        to_head, back = np.eye(4), np.eye(4)
        to_head[:3, 3], back[:3, 3] = -HEAD, HEAD
        out.append(back @ turn @ to_head)
    return np.stack(out)


def _head_motion(rig, embedding, moments: int):
    """A head that faces the middle camera, turning and nodding a little, its expressions coming and going."""
    g = torch.Generator().manual_seed(0)
    t = torch.linspace(0, 1, moments)
    params = rig.zero_params(moments)
    params.rotation[:, 1] = np.radians(YAWS[0] - YAWS[1]) + 0.3 * torch.sin(2 * np.pi * t)  # facing the middle camera
    params.rotation[:, 0] = 0.1 * torch.cos(2 * np.pi * t)
    params.translation[:] = torch.as_tensor(HEAD, dtype=torch.float32)
    params.translation[:, 0] += 0.02 * torch.sin(2 * np.pi * t)  # sways a little
    model = fit_model(rig, embedding)  # what the fitter can express: its free expressions, the jaw they imply
    phase = 2 * np.pi * torch.rand(rig.num_expr, generator=g)  # each expression comes and goes smoothly
    params.expr[:] = 0.15 * (1 + torch.sin(2 * np.pi * t[:, None] + phase)) * model.free_expr
    params.jaw[:] = jaw_from(model, params.expr, params.jaw)
    return params


def _views(rig, embedding, params, view_from_world, noise_px: float) -> np.ndarray:
    """[C, T, 478, 2] each view's landmarks as the fitter models them: embedded points, the outline
    at the candidate the rig's silhouette picks in that view."""
    points, normals = fit_points(rig, embedding).posed(params)  # [T, P, 3]
    g = np.random.default_rng(1)
    out = []
    for m in view_from_world:
        r, t = torch.as_tensor(m[:3, :3], dtype=torch.float32), torch.as_tensor(m[:3, 3], dtype=torch.float32)
        local, local_n = points @ r.T + t, normals @ r.T
        z = -local[..., 2]
        pix = torch.stack([local[..., 0] / z, -local[..., 1] / z], -1) * FOCAL + torch.tensor(SIZE) / 2
        count = embedding.num_points
        marks = pix[:, :count].clone()
        pick = outline_choice(embedding, local, local_n)
        s, k = embedding.outline.faces.shape
        candidates = pix[:, count:].reshape(len(pix), s, k, 2)
        chosen = candidates.gather(2, picked_candidate(pick)[..., None, None].expand(-1, -1, 1, 2))[:, :, 0]
        marks[:, torch.as_tensor(embedding.outline_index)] = chosen
        full = np.zeros((len(params.rotation), 478, 2))
        full[:, embedding.mp_index] = marks.numpy()
        out.append(full + g.normal(0, noise_px, full.shape))
    return np.stack(out)


@pytest.fixture(scope="module")
def scene():
    rig = load_rig("builtin")
    embedding = embedding_for_rig(rig, None)
    params = _head_motion(rig, embedding, MOMENTS)
    truth = _true_cameras()
    return rig, embedding, params, truth, _views(rig, embedding, params, truth, noise_px=0.5)


def _true_distances(rig, params, truth, landmarks) -> np.ndarray:
    k = np.array([[FOCAL, 0, SIZE[0] / 2], [0, FOCAL, SIZE[1] / 2], [0, 0, 1]])
    exact = views_fit(rig, params, truth, np.stack([k] * 3), landmarks, np.ones(landmarks.shape[:2], bool))
    return camera_distances(exact, rig)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(Rotation.from_matrix(a[:3, :3] @ b[:3, :3].T).magnitude()))


def test_cameras_come_back_from_the_face(scene):
    rig, embedding, params, truth, landmarks = scene
    seen = np.ones(landmarks.shape[:2], bool)
    seen[1, 5:9] = False  # the middle view loses the face for a moment; the others keep it
    fit = fit_views(rig, embedding, landmarks, seen, [SIZE] * 3, progress=False)
    for c in range(1, 3):
        assert _angle_deg(fit.view_from_world[c], truth[c]) < 2.0
    # Landmarks fix each camera's distance only with its focal length, through the head's own depth
    # (a flat valley: 0.5 px of noise moves both by several per cent together); their ratios hold.
    found = camera_distances(fit, rig) / _true_distances(rig, params, truth, landmarks)  # [C]
    assert np.all(np.abs(found - 1) < 0.08), found
    assert np.ptp(found) < 0.03, found
    assert np.allclose(fit.K[:, 0, 0], FOCAL, rtol=0.08)
    assert np.nanmax(fit.nme_inner51) < 0.02
    assert np.isnan(fit.nme[1, 5:9]).all() and not np.isnan(fit.nme[0, 5:9]).any()


def test_known_cameras_fix_all_but_the_scale(scene):
    rig, embedding, params, truth, landmarks = scene
    scaled = truth.copy()
    scaled[:, :3, 3] *= 3.0  # a calibration file in another unit: only the scale is fitted
    k = np.array([[FOCAL, 0, SIZE[0] / 2], [0, FOCAL, SIZE[1] / 2], [0, 0, 1]])
    fit = fit_views(rig, embedding, landmarks, np.ones(landmarks.shape[:2], bool), [SIZE] * 3,
                    known=KnownCameras(scaled, np.stack([k] * 3)), progress=False)
    assert np.allclose(fit.view_from_world[:, :3, :3], truth[:, :3, :3], atol=1e-6)
    # The world's scale against the head's size (its identity) is what the images cannot tell apart:
    # the file's unit is found to within the rig's prior on head sizes.
    found = camera_distances(fit, rig) / _true_distances(rig, params, truth, landmarks)  # [C]
    assert np.all(np.abs(found - 1) < 0.08) and np.ptp(found) < 0.01, found
