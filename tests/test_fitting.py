"""Rig fitting against known answers: landmarks made by projecting a rig with known parameters."""

import numpy as np
import pytest
import torch

from avatar.rig.loaders import load_rig
from capture.crop import CropBox
from capture.embedding import embedding_for_rig
from capture.fit.live import LiveFitter
from capture.fit.setup import WORLD_TO_CAM, camera_for, project
from capture.fit.video import FitWeights, fit_videos
from capture.ibug68 import MP_TO_IBUG68
from capture.fit.landmark_rig import LandmarkRig

SIZE = (480, 360)
FOCAL = 560.0


@pytest.fixture(scope="module")
def rig():
    return load_rig("builtin")


def _truth(rig, t: int, seed: int = 0):
    """Known parameters for t frames: a smooth head turn, a jaw that opens and closes."""
    gen = torch.Generator().manual_seed(seed)
    p = rig.zero_params(t)
    p.shape = 0.5 * torch.randn(rig.num_shape, generator=gen)
    phase = torch.linspace(0, 3.0, t)
    p.rotation[:, 1] = 0.3 * torch.sin(phase)
    p.rotation[:, 0] = 0.1 * torch.cos(phase)
    jaw_open = rig.expr_names.index("jawOpen")
    p.expr[:, jaw_open] = 0.5 * (1 - torch.cos(2 * phase)) / 2
    p.jaw[:, 0] = p.expr[:, jaw_open] * 0.35  # the builtin rig's tied jaw (Live Link convention)
    p.translation[:, 2] = -0.55
    return p


def _mediapipe_like(rig, params) -> np.ndarray:
    """[T, 478, 2] with the embedded points at their projections (others unused by the fit)."""
    emb = embedding_for_rig(rig)
    pts = project(LandmarkRig(rig, emb.faces, emb.bary)(params), torch.full((params.num_frames,), FOCAL),
                  torch.tensor([[SIZE[0] / 2, SIZE[1] / 2]]).expand(params.num_frames, 2))
    out = np.zeros((params.num_frames, 478, 2), np.float32)
    out[:, emb.mp_index] = pts.detach().numpy()
    return out


def test_landmark_rig_equals_full_rig(rig):
    """Exact at vertices (one-hot barycentrics); inside triangles skinning the blended point differs
    from blending the skinned corners only by where the skinning weights change: < 0.1 mm."""
    r = rig.to(dtype=torch.float64)
    emb = embedding_for_rig(r)
    p = _truth(r, 3).to(dtype=torch.float64)
    p.eyes = 0.2 * torch.randn(3, 6, dtype=torch.float64)
    p.neck = 0.1 * torch.randn(3, 3, dtype=torch.float64)
    posed = r.forward(p)  # [3, V, 3]
    full = torch.einsum("tlkd,lk->tld", posed[:, r.faces[emb.faces]], emb.bary.double())
    assert (LandmarkRig(r, emb.faces, emb.bary)(p) - full).norm(dim=-1).max() < 1e-4
    one_hot = torch.eye(3, dtype=torch.float64)[torch.arange(len(emb.faces)) % 3]  # [L, 3]
    corners = r.faces[emb.faces, torch.arange(len(emb.faces)) % 3]  # [L]
    assert torch.allclose(LandmarkRig(r, emb.faces, one_hot)(p), posed[:, corners], atol=1e-12)


def test_projection_matches_camera_and_crop(rig):
    """fit_setup.project == the Camera the capture stores, also after the crop's K change."""
    p = _truth(rig, 2)
    points = LandmarkRig(rig, rig.lmk_faces, rig.lmk_bary)(p)  # [2, 68, 3]
    ours = project(points, torch.full((2,), FOCAL), torch.tensor([[240.0, 180.0]] * 2))
    cam = camera_for(FOCAL, (240.0, 180.0), *SIZE)
    homog = torch.cat([points, torch.ones_like(points[..., :1])], -1) @ cam.world_to_cam.T
    pix = homog[..., :3] @ cam.K.T
    assert torch.allclose(ours, pix[..., :2] / pix[..., 2:], atol=1e-3)
    box = CropBox(100.0, 20.0, 300.0)
    k_crop = torch.as_tensor(box.matrix(128) @ cam.K.double().numpy(), dtype=torch.float32)
    pix_crop = homog[..., :3] @ k_crop.T
    expected = (ours - torch.tensor([100.0, 20.0])) * 128 / 300
    assert torch.allclose(pix_crop[..., :2] / pix_crop[..., 2:], expected, atol=1e-3)
    assert np.allclose(WORLD_TO_CAM, cam.world_to_cam.numpy())


def test_video_fit_recovers_known_motion(rig):
    truth = _truth(rig, 24)
    lms = _mediapipe_like(rig, truth)
    fit = fit_videos(rig, embedding_for_rig(rig), lms, np.zeros(24, int), np.arange(24), [SIZE],
                     FitWeights(rigid_steps=100, full_steps=400), progress=False)
    assert fit.nme.mean() < 0.01  # exact landmarks: only priors and smoothing keep it from zero
    assert torch.allclose(fit.params.rotation[:, :2], truth.rotation[:, :2], atol=0.05)
    j = rig.expr_names.index("jawOpen")
    corr = np.corrcoef(fit.params.expr[:, j].numpy(), truth.expr[:, j].numpy())[0, 1]
    assert corr > 0.95
    assert abs(fit.focal[0] - FOCAL) / FOCAL < 0.25


def test_video_fit_follows_a_saccade(rig):
    """Gaze jumps between two frames (a saccade): the fit is there on the frame after the jump,
    not dragged towards the frames before it (the held-out frames of an expressive clip roll the
    eyes: weighted and tied like the head, the fitted gaze lagged MediaPipe's irises by 4-7 px at
    512 px)."""
    truth = _truth(rig, 24)
    truth.eyes[12:, [0, 3]] = -0.25  # both eyes up,
    truth.eyes[12:, [1, 4]] = 0.35  # and to the side, from frame 12 on
    lms = _mediapipe_like(rig, truth)
    fit = fit_videos(rig, embedding_for_rig(rig), lms, np.zeros(24, int), np.arange(24), [SIZE],
                     FitWeights(rigid_steps=100, full_steps=400), progress=False)
    jump = (fit.params.eyes[12] - fit.params.eyes[11])[[0, 1, 3, 4]]  # pitch, yaw of each eye
    assert (jump / (truth.eyes[12] - truth.eyes[11])[[0, 1, 3, 4]]).min() > 0.75, jump
    assert (fit.params.eyes - truth.eyes).abs().max() < 0.1


@pytest.mark.parametrize("fitter", ["video", "live"])
def test_the_irises_move_the_eyes_not_the_head(rig, fitter):
    """Irises detected a few pixels off (a glint, a squint, an eyeball not the rig's) move the
    fitted eyes and leave the head pose where the face puts it (weighed like face points, a 6 px
    shift turned the head 0.0038 rad and moved it 0.3 mm in the video fit, 0.0004 rad live)."""
    from capture.fit.setup import IRIS_POINTS

    truth = _truth(rig, 8)
    clean = _mediapipe_like(rig, truth)
    shifted = clean.copy()
    shifted[:, IRIS_POINTS] += np.array([5.0, -4.0])  # both irises up and to the side

    def fit(landmarks):
        if fitter == "live":
            live = LiveFitter(rig, SIZE, shape=truth.shape, focal=FOCAL)
            frames = [live.fit(frame) for frame in landmarks]
            return (torch.cat([f.rotation for f in frames]), torch.cat([f.translation for f in frames]),
                    torch.cat([f.eyes for f in frames]))
        p = fit_videos(rig, embedding_for_rig(rig), landmarks, np.zeros(len(landmarks), int),
                       np.arange(len(landmarks)), [SIZE], FitWeights(rigid_steps=100, full_steps=300),
                       progress=False).params
        return p.rotation, p.translation, p.eyes

    (rot0, trans0, eyes0), (rot1, trans1, eyes1) = fit(clean), fit(shifted)
    assert (eyes1 - eyes0).abs().max() > 0.2  # the eyes follow (radians),
    assert (rot1 - rot0).abs().max() < 1e-3  # the head does not
    assert (trans1 - trans0).abs().max() < 1e-4  # metres


def test_nme_is_measured_on_the_ibug_points(rig):
    truth = _truth(rig, 4)
    lms = _mediapipe_like(rig, truth)
    lms_moved = lms.copy()
    lms_moved[:, MP_TO_IBUG68] += 3.0  # every detected iBUG point 3 px off in x and y
    fit = fit_videos(rig, embedding_for_rig(rig), lms, np.zeros(4, int), np.arange(4), [SIZE],
                     FitWeights(rigid_steps=50, full_steps=100), progress=False)
    from capture.fit.video import nme_68

    iod = np.linalg.norm(lms[:, MP_TO_IBUG68[36]] - lms[:, MP_TO_IBUG68[45]], axis=-1)
    shifted = nme_68(fit.projected, lms_moved) - nme_68(fit.projected, lms)
    assert np.all(shifted > 0.5 * 3 * np.sqrt(2) / iod)


def test_live_fitter_follows_known_motion(rig):
    truth = _truth(rig, 40, seed=1)
    lms = _mediapipe_like(rig, truth)
    fitter = LiveFitter(rig, SIZE, shape=truth.shape, focal=FOCAL)
    fitted = [fitter.fit(points) for points in lms]
    rotation = torch.cat([p.rotation for p in fitted])
    j = rig.expr_names.index("jawOpen")
    jaw = torch.cat([p.expr[:, j] for p in fitted])
    assert (rotation[:, :2] - truth.rotation[:, :2]).abs().max() < 0.05
    assert (jaw - truth.expr[:, j]).abs().max() < 0.1
    fitter.reset()
    assert torch.allclose(fitter.fit(lms[5]).rotation, truth.rotation[5:6], atol=0.05)  # cold start again


def test_crops_are_smooth_and_stay_inside_the_frame():
    from capture.crop import smooth_crops

    gen = np.random.default_rng(0)
    base = gen.uniform(-1, 1, (478, 2)) * 180 + [360, 640]  # a selfie face filling 720 x 1280
    jitter = gen.normal(0, 4, (60, 1, 2))  # detector noise, pixels
    boxes = smooth_crops(base[None] + jitter, np.zeros(60, int), 30.0, [(720, 1280)])
    x0 = np.array([b.x0 for b in boxes])
    assert all(b.side <= 720 and 0 <= b.x0 and b.x0 + b.side <= 720 + 1e-6 for b in boxes)
    assert all(b.side == boxes[0].side for b in boxes)
    y0 = np.array([b.y0 for b in boxes])
    assert np.std(np.diff(y0)) < 0.25 * np.std(np.diff(jitter[:, 0, 1]))  # jitter filtered out
    assert np.ptp(x0) < 1e-6  # clamped: the face fills the frame's width


@pytest.mark.parametrize("fps, cap", [(30.0, 10.0), (25.0, 10.0), (59.94, 24.0), (24.0, 30.0)])
def test_frame_rate_cap_keeps_evenly_spaced_frames(fps, cap):
    from capture.detect_pass import kept_frames

    keep, out_fps = kept_frames(fps, cap)
    kept = [i for i in range(int(fps * 10)) if keep(i)]  # ten seconds
    assert out_fps == pytest.approx(min(fps, cap))
    assert len(kept) == pytest.approx(10 * min(fps, cap), abs=1)
    assert kept[0] == 0 and max(np.diff(kept)) - min(np.diff(kept)) <= 1
