"""capture.fit.photometric_windows: a long clip refined a window of frames at a time. The windows
cover the clip with the overlap asked for, each refinement sees only its window, the parameters
are cross-faded across an overlap, and a clip that fits one window is refined as one."""

import numpy as np
import pytest
import torch

from capture.fit import photometric_windows
from capture.fit.photometric import PhotometricWeights, refine_photometric
from capture.fit.photometric_windows import refine_in_windows, window_length, windows
from capture.fit.video import continuing_frames
from test_photometric import FRAMES, SIZE, _pixel_error, landmark_fit, scene  # noqa: F401 (fixtures)

LEVELS = PhotometricWeights(levels=((2.0, 30), (1.0, 30)))


@pytest.mark.parametrize("num_frames, length, overlap", [(5400, 600, 32), (601, 600, 32), (8, 5, 2), (1000, 70, 9)])
def test_windows_cover_the_clip_with_the_overlap(num_frames, length, overlap):
    spans = windows(num_frames, length, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == num_frames
    assert all(end - start <= length for start, end in spans)
    assert all(b[0] <= a[1] - overlap for a, b in zip(spans, spans[1:]))  # each overlaps the next enough
    assert all(b[0] > a[0] for a, b in zip(spans, spans[1:]))


def test_a_clip_that_fits_one_window_is_one_window():
    assert windows(600, 600, 32) == [(0, 600)]
    assert window_length(512) == 600 and window_length(1024) == 150  # the pixels of a window, not the frames


def test_windows_each_see_their_frames_and_join_without_a_step(scene, landmark_fit, monkeypatch):  # noqa: F811
    rig, emb, truth, _, images, mattes, landmarks = scene
    fit, cam = landmark_fit
    pairs = continuing_frames(np.zeros(FRAMES, int), np.arange(FRAMES))
    seen, fits = [], []
    real = photometric_windows.PhotometricRefinement

    class Spy(real):
        def __init__(self, rig, emb, params, cameras, images, *args, **kwargs):
            seen.append(len(images))
            super().__init__(rig, emb, params, cameras, images, *args, **kwargs)

        def run(self, progress=True):
            fits.append(super().run(progress))
            return fits[-1]

    monkeypatch.setattr(photometric_windows, "PhotometricRefinement", Spy)
    ones = np.ones(mattes.shape, np.float16)
    joined = refine_in_windows(
        rig,
        emb,
        fit.params,
        [cam] * FRAMES,
        images,
        mattes.astype(np.float16),
        ones,
        landmarks,
        pairs,
        length=5,
        weights=LEVELS,
        progress=False,
        overlap=2,
    )
    assert seen == [5, 5]  # frames 0-4 and 3-7
    focal = float(fit.focal[0])
    before = _pixel_error(rig, fit.params, focal, truth)
    whole = _pixel_error(
        rig,
        refine_photometric(
            rig, emb, fit.params, [cam] * FRAMES, images, mattes, landmarks, pairs, LEVELS, progress=False
        ).params,
        focal,
        truth,
    )
    # Windows of 5 frames, each with its own appearance model, keep most of the whole clip's gain
    # (2.56 -> 2.32 px against 2.27 px when this was written).
    assert before - whole > 0.2
    assert before - _pixel_error(rig, joined.params, focal, truth) > 0.6 * (before - whole)
    first, second = fits[0].params.rotation, fits[1].params.rotation
    assert torch.allclose(joined.params.rotation[:3], first[:3]) and torch.allclose(
        joined.params.rotation[5:], second[2:]
    )
    # frames 3 and 4 in both windows: a quarter and three quarters of the way from the first to the second
    torch.testing.assert_close(joined.params.rotation[3], 0.75 * first[3] + 0.25 * second[0])
    torch.testing.assert_close(joined.params.rotation[4], 0.25 * first[4] + 0.75 * second[1])
    assert joined.error.shape == (FRAMES,) and joined.error[0] == fits[0].error[0]
    assert joined.error[7] == fits[1].error[4]


def test_one_window_is_the_refinement_of_the_whole_clip(scene, landmark_fit):  # noqa: F811
    rig, emb, truth, _, images, mattes, landmarks = scene
    fit, cam = landmark_fit
    pairs = continuing_frames(np.zeros(FRAMES, int), np.arange(FRAMES))
    whole = refine_photometric(
        rig,
        emb,
        fit.params,
        [cam] * FRAMES,
        images,
        mattes,
        landmarks,
        pairs,
        LEVELS,
        progress=False,
        in_frame=np.ones(mattes.shape, np.float32),
    )
    windowed = refine_in_windows(
        rig,
        emb,
        fit.params,
        [cam] * FRAMES,
        images,
        mattes,
        np.ones(mattes.shape, np.float32),
        landmarks,
        pairs,
        length=FRAMES,
        weights=LEVELS,
        progress=False,
    )
    assert torch.equal(whole.params.expr, windowed.params.expr)
    assert torch.equal(whole.params.rotation, windowed.params.rotation)


def test_several_cameras_a_window_holds_every_views_images_of_its_time_steps(scene, landmark_fit, monkeypatch):  # noqa: F811
    """Two views of each moment (here the same camera twice, the second view's images stored after
    the first's): one window is `refine_photometric` of all images with their time steps; windows
    of 10 images hold 5 time steps with both views' images, and the joined errors are per image."""
    rig, emb, truth, _, images, mattes, landmarks = scene
    fit, cam = landmark_fit
    pairs = continuing_frames(np.zeros(FRAMES, int), np.arange(FRAMES))
    doubled = lambda x: np.concatenate([x, x])  # noqa: E731 - [2 * FRAMES, ...] view-major
    time = np.tile(np.arange(FRAMES), 2)  # [F] each image's time step
    ones = np.ones(mattes.shape, np.float32)
    whole = refine_photometric(
        rig,
        emb,
        fit.params,
        [cam] * (2 * FRAMES),
        doubled(images),
        doubled(mattes),
        doubled(landmarks),
        pairs,
        LEVELS,
        progress=False,
        in_frame=doubled(ones),
        time=time,
    )

    def in_windows(crop_landmarks, **options):
        """Both views' images refined in windows of time steps (the options say which)."""
        return refine_in_windows(
            rig,
            emb,
            fit.params,
            [cam] * (2 * FRAMES),
            doubled(images),
            doubled(mattes),
            doubled(ones),
            crop_landmarks,
            pairs,
            weights=LEVELS,
            progress=False,
            **options,
        )

    order = np.argsort(time, kind="stable")  # the images listed time step by time step instead
    one = in_windows(doubled(landmarks)[order], length=2 * FRAMES, rows=order, time=time[order])
    # The same fit with its images summed in another order: float32 rounding, carried through the
    # Adam steps, moves values by up to ~1e-5 on some CPUs (6e-6 measured); landmarks paired with
    # the wrong images move them by 0.28.
    torch.testing.assert_close(one.params.expr, whole.params.expr, rtol=1e-5, atol=5e-5)
    torch.testing.assert_close(one.params.rotation, whole.params.rotation, rtol=1e-5, atol=5e-5)

    seen, fits = [], []
    real = photometric_windows.PhotometricRefinement

    class Spy(real):
        def __init__(self, rig, emb, params, cameras, images, *args, **kwargs):
            seen.append((params.num_frames, len(images), sorted(set(kwargs["time"].tolist()))))
            super().__init__(rig, emb, params, cameras, images, *args, **kwargs)

        def run(self, progress=True):
            fits.append(super().run(progress))
            return fits[-1]

    monkeypatch.setattr(photometric_windows, "PhotometricRefinement", Spy)
    joined = in_windows(doubled(landmarks), length=10, overlap=2, rows=np.arange(2 * FRAMES), time=time)
    assert [(steps, count) for steps, count, _ in seen] == [(5, 10), (5, 10)]
    assert all(times == list(range(5)) for _, _, times in seen)
    assert joined.params.num_frames == FRAMES and joined.error.shape == (2 * FRAMES,)
    # image FRAMES + 7 (the second view, time step 7) belongs to the second window (steps 3-7), its 10th image
    assert joined.error[FRAMES + 7] == fits[1].error[9] and joined.error[0] == fits[0].error[0]
