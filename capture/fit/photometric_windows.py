"""The photometric refinement of a long clip, a window of frames at a time.

`refine_photometric` optimises all of its frames together, and its memory grows with them: each
frame's crop, blurred copy and matte stay in memory for all of its steps (about 3 MB a frame at
512 px, 7 MB while it starts). A clip of more than WINDOW_PIXELS (600 frames at 512 px) is refined
in windows of at most that many frames, overlapping by at least OVERLAP frames; each window has
its own appearance model (albedo, lighting, gains: the light of a long clip changes anyway), and
across an overlap the two windows' parameters are cross-faded linearly, so the pose and the
expressions run on without a step. A clip that fits one window is refined as one, exactly as
`refine_photometric` refines it. The frames come from arrays that may live on disk
(`capture.frame_store`): only the window's are read into memory.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import Tensor

from avatar.rig import RigParams
from avatar.rig.params import FRAME_KEYS
from avatar.splat.camera import Camera
from capture.embedding import LandmarkEmbedding
from capture.fit.photometric import PhotometricFit, PhotometricRefinement, PhotometricWeights

log = logging.getLogger("avatar")
WINDOW_PIXELS = 600 * 512 * 512  # frames x pixels a window: 600 frames at 512 px, 150 at 1024
OVERLAP = 32  # frames two neighbouring windows refine both, at least


def window_length(size: int) -> int:
    """Frames a window holds at square crops of `size` pixels."""
    return max(2 * OVERLAP, WINDOW_PIXELS // (size * size))


def windows(num_frames: int, length: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) of each window: as few as cover num_frames with windows of at most `length`
    frames overlapping by at least `overlap`, all of one length, evenly spread."""
    if num_frames <= length:
        return [(0, num_frames)]
    count = math.ceil((num_frames - overlap) / (length - overlap))
    size = math.ceil((num_frames + (count - 1) * overlap) / count)
    starts = np.round(np.linspace(0, num_frames - size, count)).astype(int)
    return [(int(s), int(s) + size) for s in starts]


def refine_in_windows(
    rig,
    embedding: LandmarkEmbedding,
    params: RigParams,
    cameras: list[Camera],
    crops: np.ndarray,
    person: np.ndarray,
    inside: np.ndarray,
    landmarks: np.ndarray,
    pairs: Tensor,
    length: int,
    weights: PhotometricWeights | None = None,
    progress: bool = True,
    shell_height: float | None = None,
    overlap: int = OVERLAP,
    rows: np.ndarray | None = None,
    time: np.ndarray | None = None,
) -> PhotometricFit:
    """`refine_photometric` of params [T] against crops [N, S, S, 3] uint8 with mattes person *
    inside ([N, S, S] each, in_frame = inside), window by window over the time steps (`windows`,
    at most `length` images each, overlapping by `overlap` time steps, or half a window where that
    is less); pairs [P]: the
    time steps that follow the one before (`continuing_frames`). One camera: image t is row t and
    shows time step t. Several cameras seeing each moment: image f [F] is row rows[f] of the arrays
    and shows time step time[f]; cameras and landmarks are per image. The fit's errors are per image."""
    num_images = len(cameras)
    rows = np.arange(num_images) if rows is None else np.asarray(rows)
    time = None if time is None else np.asarray(time)
    image_time = np.arange(num_images) if time is None else time  # [F]
    steps = max(2, int(length * params.num_frames / num_images))  # time steps a window (images / images a step)
    spans = windows(params.num_frames, steps, min(overlap, steps // 2))
    fits, chosen = [], []
    for number, (start, end) in enumerate(spans):
        if len(spans) > 1:
            log.info("photometric refinement: window %d of %d (frames %d-%d)", number + 1, len(spans), start, end - 1)
        images = np.flatnonzero((image_time >= start) & (image_time < end))  # [W] this window's images
        chosen.append(images)
        window = _read(rows[images])
        in_frame = np.asarray(inside[window], dtype=np.float32)  # [W, S, S], read from disk if stored there
        inner = pairs[(pairs > start) & (pairs < end)] - start
        refinement = PhotometricRefinement(
            rig,
            embedding,
            params.select(list(range(start, end))),
            [cameras[i] for i in images],
            np.array(crops[window]),
            np.asarray(person[window], dtype=np.float32) * in_frame,
            landmarks[images],
            inner,
            weights,
            shell_height=shell_height,
            in_frame=in_frame,
            time=None if time is None else time[images] - start,
        )
        del in_frame  # the refinement keeps its own half-precision matte
        fits.append(refinement.run(progress))
        del refinement
    return fits[0] if len(fits) == 1 else _joined(spans, fits, chosen, image_time, params.num_frames)


def _read(rows: np.ndarray) -> slice | np.ndarray:
    """An index that reads `rows` of an array: a slice where they run on by one (no copy of the
    whole array from disk), else the rows themselves."""
    if len(rows) and np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))):
        return slice(int(rows[0]), int(rows[0]) + len(rows))
    return rows


def _joined(
    spans: list[tuple[int, int]],
    fits: list[PhotometricFit],
    chosen: list[np.ndarray],
    image_time: np.ndarray,
    num_frames: int,
) -> PhotometricFit:
    """One fit [T] from the windows': parameters cross-faded over each overlap, each image's
    errors from the window whose half of the overlap its time step is in (chosen[k] [W_k]: the
    images of window k, image_time [F]: each image's time step)."""
    weight = np.zeros((len(fits), num_frames))  # [K, T] each window's share of each time step
    owner = np.zeros(num_frames, int)  # [T] the window a time step's errors come from
    for k, (start, end) in enumerate(spans):
        ramp = np.ones(end - start)
        if k > 0:  # fades in over the overlap with the window before
            fade = spans[k - 1][1] - start
            ramp[:fade] = (np.arange(fade) + 0.5) / fade
            owner[start + fade // 2 :] = k
        if k < len(spans) - 1:
            fade = end - spans[k + 1][0]
            ramp[-fade:] = np.minimum(ramp[-fade:], 1 - (np.arange(fade) + 0.5) / fade)
        weight[k, start:end] = ramp
    weight /= weight.sum(0, keepdims=True)
    first = fits[0].params
    joined = {
        key: torch.zeros((num_frames, *getattr(first, key).shape[1:]), dtype=getattr(first, key).dtype)
        for key in FRAME_KEYS
    }
    for k, (start, end) in enumerate(spans):
        share = torch.as_tensor(weight[k, start:end], dtype=first.expr.dtype)
        for key in FRAME_KEYS:
            value = getattr(fits[k].params, key)  # [W, D]
            joined[key][start:end] += share[:, None] * value
    params = RigParams(first.shape, *(joined[key] for key in FRAME_KEYS))
    # [F] where each image's errors are: its owner window, and its place among that window's images
    place = [dict(zip(images.tolist(), range(len(images)))) for images in chosen]
    owners = owner[image_time]

    def errors(name: str) -> np.ndarray | None:
        if getattr(fits[0], name) is None:
            return None
        arrays = [np.asarray(getattr(fit, name)) for fit in fits]
        return np.array([arrays[k][place[k][f]] for f, k in enumerate(owners)])

    return PhotometricFit(params, errors("error_before"), errors("error"), errors("outline_before"), errors("outline"))
