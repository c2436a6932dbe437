"""`avatar track --views`: synchronized videos of one head -> a multiview capture directory.

Frames are matched by index (after `offsets`): time step t is frame t + offsets[c] of every view
c. Pass 1 finds landmarks in every view; the rig and the cameras are fitted to all views at once
(`fit_views`: cameras from the face, or from a calibration file up to its world's scale); pass 2
crops each view with one box for the whole clip (a camera fixed over the clip stays one camera,
the format's multiview cameras) and mattes the person; the fit is refined photometrically
against every view's crops (`photometric`, one time step shared by the views), and each frame is
written with its view's camera and a mask cut below the head as for one camera (`track`).
The crops and mattes live in memory-mapped files beside the output while it is made
(`capture.frame_store`), and the photometric stage reads a window of time steps at a time
(`capture.fit.photometric_windows`), so memory stays bounded as views and frames grow.
Everything is written into `<out>.partial` and moved into place only at the end.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from avatar.data.atomic import dump_json
from avatar.data.capture import CameraInfo, CaptureWriter
from avatar.data.errors import CaptureError, VideoError
from avatar.data.expressions import load_expression_file
from avatar.data.splits import TEST_FRACTION
from avatar.data.video import VideoWriter, probe_video, read_video_frames
from avatar.rig import RigParams
from avatar.rig.loaders import load_rig
from avatar.rig.signature import geometry_signature
from avatar.rig.torso import split_torso
from capture.coverage import coverage, missing, take_coverage
from capture.crop import CropBox, crop_frame, smooth_crops
from capture.detect_pass import detect_videos, kept_frames
from capture.embedding import embedding_for_rig
from capture.fit.video import continuing_frames
from capture.fit.views import ViewsFit, camera_distances, fit_views, views_fit
from capture.matte.head_mask import place_cut
from capture.ibug68 import MP_TO_IBUG68
from capture.landmarks import SelfieMatte
from capture.lens import Lens, LensCrop
from capture.limits import MAX_CROP, MAX_VAL_FRACTION, MIN_CROP
from avatar.runtime.errors import InputError
from capture.overlay import draw_overlay, render_rig
from capture.fit.photometric_windows import refine_in_windows, window_length
from capture.frame_store import FrameStore
from capture.track import CHIN, MIN_TRACKED, frame_mask, head_regions, rest_nose_height, rest_point
from capture.view_calibration import known_cameras

log = logging.getLogger("avatar")
MIN_VIEWS, MAX_VIEWS = 2, 16
SAME_RATE = 1e-3  # relative difference of frame rates still taken as one rate


def track_views(
    videos: list[str | Path],
    out: str | Path,
    *,
    rig_spec: str = "builtin",
    size: int = 512,
    max_fps: float | None = None,
    max_frames: int | None = None,
    offsets: list[int] | None = None,
    calibration: str | Path | None = None,
    test_camera: int | None = None,
    landmark_embedding: str | Path | None = None,
    photometric: bool = True,
    val_fraction: float = 0.0,
    coverage_take: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Track synchronized `videos` (one person, one camera each) into the capture directory `out`;
    returns the report.

    max_fps: drop time steps above this rate, in every view alike (None: keep all); max_frames: at
    most this many time steps (before max_fps thins them); offsets: per view, the frame that is time step 0
    (default all 0: the videos start together); calibration: a camera file (`view_calibration`;
    default: the cameras are estimated from the face); test_camera: this view's frames are all held
    out as split "test_camera" (never trained on); coverage_take: as for `capture.track.track`, the
    head's turns pooled over the views; the rest as `capture.track.track`."""
    started = time.perf_counter()
    videos = [Path(v) for v in videos]
    out = Path(out)
    _check_arguments(videos, out, size, val_fraction, offsets, test_camera, overwrite)
    offsets = offsets or [0] * len(videos)
    probes = [probe_video(v) for v in videos]
    num_times = _common_length(videos, probes, offsets, max_frames)
    rig = load_rig(rig_spec)
    take = None if coverage_take is None else take_coverage(rig, load_expression_file(Path(coverage_take), rig)[0])
    embedding = embedding_for_rig(rig, landmark_embedding)
    sizes = [(p["width"], p["height"]) for p in probes]
    keep, fps = kept_frames(probes[0]["fps"], max_fps)  # time steps kept, and their rate
    steps = np.array([t for t in range(num_times) if keep(t)])  # [K] the time steps looked at
    known, lenses = (None, [None] * len(videos)) if calibration is None else known_cameras(Path(calibration), sizes)
    landmarks, seen = _detect(videos, offsets, num_times, keep, progress)  # [C, T, 478, 3], [C, T]
    for c, lens in enumerate(lenses):  # the pinhole camera's pixels from here on
        if lens is not None:
            landmarks[c, seen[c], :, :2] = lens.undistort_points(landmarks[c, seen[c], :, :2])
    moments = np.flatnonzero(seen.any(0))  # time steps some view saw the face at
    if len(moments) < MIN_TRACKED:
        raise VideoError(videos[0], f"only {len(moments)} moment(s) where some view found a face")
    for c, path in enumerate(videos):
        if not seen[c].any():
            raise VideoError(path, f"no usable face in any of its {num_times} frames")
    landmarks, seen = landmarks[:, moments], seen[:, moments]
    sequence = np.searchsorted(steps, moments)  # [M] place among the kept time steps: neighbours differ by 1
    seconds = {"landmarks": time.perf_counter() - started}
    fit = fit_views(rig, embedding, landmarks[..., :2], seen, sizes, known, progress=progress)
    seconds["fit"] = time.perf_counter() - started - sum(seconds.values())
    boxes = [_view_box(landmarks[c, seen[c], :, :2], sizes[c], fps) for c in range(len(videos))]
    cameras = [
        CameraInfo(f"view{c}", box.matrix(size) @ fit.K[c], size, size, fit.world_to_cam()[c])
        for c, box in enumerate(boxes)
    ]
    with FrameStore(out) as store:  # the frames' arrays on disk: many views' do not fit in memory
        crops, person, inside = _crops_and_mattes(videos, offsets, moments, boxes, lenses, sizes, size, progress, store)
        seconds["crops"] = time.perf_counter() - started - sum(seconds.values())
        landmark_fit = fit
        nose_height = rest_nose_height(rig, embedding)
        if photometric:
            fit = _refine(
                rig,
                embedding,
                fit,
                cameras,
                crops,
                person,
                inside,
                landmarks,
                seen,
                sequence,
                boxes,
                size,
                nose_height,
                progress,
            )
        seconds["photometric"] = time.perf_counter() - started - sum(seconds.values())
        params = split_torso(rig, fit.params, np.zeros(len(moments), int), moments / probes[0]["fps"])
        _splits(np.zeros((len(videos), len(moments)), int), val_fraction, test_camera)  # too few time steps fail now
        with CaptureWriter(out, fps, rig_spec, cameras, overwrite=overwrite) as writer:
            cut = place_cut(rig, rest_point(rig, embedding, CHIN, "the chin"), nose_height)
            frame_cameras = [cameras[c].to_camera() for c in range(len(videos)) for _ in moments]  # view-major
            frame_params = params.select(np.tile(np.arange(len(moments)), len(videos)))
            follows = np.tile(
                np.isin(np.arange(len(moments)), continuing_frames(np.zeros(len(moments), int), sequence).numpy()),
                len(videos),
            )
            cut, regions, hanging_median = head_regions(
                frame_cameras,
                frame_params,
                _view_major(crops),
                _view_major(person),
                _view_major(inside),
                rig,
                cut,
                follows,
                progress,
                store,
            )
            index = _write_frames(
                writer,
                rig,
                frame_params,
                frame_cameras,
                crops,
                person,
                inside,
                regions,
                fit,
                boxes,
                landmarks,
                seen,
                size,
                fps,
                progress,
            )
            report = _report(
                videos,
                offsets,
                num_times,
                moments,
                seen,
                rig,
                fit,
                landmark_fit,
                boxes,
                seconds,
                time.perf_counter() - started,
                rig_spec,
                calibration,
                lenses,
            )
            report |= {"hanging_hair": cut.hanging_hair, "hanging_hair_median_fraction": round(hanging_median, 5)}
            covered = coverage(rig, params, fit.world_to_cam(), seen)  # the head's turns as every view saw them
            report |= {
                "fps": fps,
                "coverage": covered,
                "coverage_missing": missing(covered, take),
                "coverage_against": str(coverage_take) if coverage_take is not None else "fixed targets",
            }
            np.savez(
                writer.partial / "landmarks.npz", mediapipe=landmarks.astype(np.float32), seen=seen, moments=moments
            )
            dump_json(report, writer.partial / "report.json")
            extra = {
                "generator": "capture.track_views",
                "videos": [str(v) for v in videos],
                "monocular": False,
                "offsets": offsets,
                "calibration": str(calibration) if calibration else "estimated from the face",
                "test_camera": test_camera,
                "frame_sizes": [list(s) for s in sizes],
                "crop_size": size,
                "head_cut": cut.to_dict(),
                "rig_signature": geometry_signature(rig),
                "rig_hash": rig.identity_hash(),
                "source_frames": [int(t) for t in moments],
            }
            writer.finish(params, _splits(index, val_fraction, test_camera), extra)
    report["seconds"] = round(time.perf_counter() - started, 2)
    dump_json(report, out / "report.json")
    return report


def _check_arguments(
    videos: list[Path],
    out: Path,
    size: int,
    val_fraction: float,
    offsets: list[int] | None,
    test_camera: int | None,
    overwrite: bool,
) -> None:
    """Every argument refused before any work or output."""
    if not MIN_VIEWS <= len(videos) <= MAX_VIEWS:
        raise InputError(f"--views takes {MIN_VIEWS} to {MAX_VIEWS} videos (one per camera), got {len(videos)}")
    if not MIN_CROP <= size <= MAX_CROP:
        raise InputError(f"crop size must be in [{MIN_CROP}, {MAX_CROP}] pixels, got {size}")
    if not 0.0 <= val_fraction <= MAX_VAL_FRACTION:
        raise InputError(f"val fraction must be in [0, {MAX_VAL_FRACTION}], got {val_fraction}")
    if offsets is not None and (len(offsets) != len(videos) or min(offsets) < 0):
        raise InputError(f"--offsets takes one frame number >= 0 per view ({len(videos)}), got {offsets}")
    if test_camera is not None and not 0 <= test_camera < len(videos):
        raise InputError(f"--test-camera must be a view index in [0, {len(videos)}), got {test_camera}")
    if out.exists() and not overwrite:
        raise CaptureError(out, "already exists (use --overwrite to replace it)")
    for v in videos:
        if not v.is_file():
            raise VideoError(v, "video not found")
    if len(set(v.resolve() for v in videos)) < len(videos):
        raise InputError("--views lists the same video twice: each view is another camera's video")


def _common_length(videos: list[Path], probes: list[dict], offsets: list[int], max_frames: int | None) -> int:
    """Time steps every view has (probes: `probe_video` of each): synchronized views share a frame
    rate, and without --offsets a frame count (a different count means they do not start and end
    together)."""
    for path, p in zip(videos[1:], probes[1:]):
        if abs(p["fps"] - probes[0]["fps"]) > SAME_RATE * probes[0]["fps"]:
            raise VideoError(
                path,
                f"runs at {p['fps']:.3f} fps, {videos[0].name} at {probes[0]['fps']:.3f}: "
                "synchronized views share one frame rate (resample it first)",
            )
    lengths = [p["frames"] - o for p, o in zip(probes, offsets)]
    if not any(offsets) and len(set(lengths)) > 1:
        odd = next(i for i, n in enumerate(lengths) if n != lengths[0])
        raise VideoError(
            videos[odd],
            f"has {lengths[odd]} frames, {videos[0].name} has {lengths[0]}: views are "
            "matched frame by frame; say with --offsets which frame of each starts the clip",
        )
    count = min(lengths)
    if count < MIN_TRACKED:
        raise VideoError(videos[int(np.argmin(lengths))], f"leaves {count} frame(s) after its offset")
    return min(count, max_frames) if max_frames else count


def _detect(
    videos: list[Path], offsets: list[int], num_times: int, keep: Callable[[int], bool], progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks [C, T, 478, 3] of every view at the time steps `keep` keeps and seen [C, T] (found a
    usable face; False at the others)."""
    landmarks = np.zeros((len(videos), num_times, 478, 3), np.float32)
    seen = np.zeros((len(videos), num_times), bool)
    for c, (path, offset) in enumerate(zip(videos, offsets)):
        det = detect_videos([path], None, offset + num_times, progress, keep=lambda i, o=offset: i >= o and keep(i - o))
        for points, frame in zip(det.landmarks, det.frame):
            if frame >= offset:
                landmarks[c, frame - offset], seen[c, frame - offset] = points, True
    return landmarks, seen


def _view_box(points: np.ndarray, frame_size: tuple[int, int], fps: float) -> CropBox:
    """One square crop for a view's whole clip: it holds every frame's head crop (`smooth_crops`),
    so the view keeps one camera. points [N, 478, 2]: the view's landmarks where it saw the face."""
    boxes = smooth_crops(points, np.zeros(len(points), int), fps, [frame_size])
    lo = np.array([[b.x0, b.y0] for b in boxes]).min(0)
    hi = np.array([[b.x0 + b.side, b.y0 + b.side] for b in boxes]).max(0)
    side = float((hi - lo).max())
    centre = (lo + hi) / 2
    return CropBox(float(centre[0] - side / 2), float(centre[1] - side / 2), side)


def _crops_and_mattes(
    videos: list[Path],
    offsets: list[int],
    moments: np.ndarray,
    boxes: list[CropBox],
    lenses: list[Lens | None],
    sizes: list[tuple[int, int]],
    size: int,
    progress: bool,
    store: FrameStore,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pass 2: every view's crop [C, T, S, S, 3] uint8 of each moment (through its lens where it has
    one), the person's matte [C, T, S, S] and the part of the crop inside the frame [C, T, S, S]
    (float16), in `store`."""
    shape = (len(videos), len(moments), size, size)
    crops = store.array("crops", (*shape, 3), np.uint8)
    person, inside = store.array("person", shape, np.float16), store.array("inside", shape, np.float16)
    where = {int(t): i for i, t in enumerate(moments)}
    matte = SelfieMatte()
    bar = tqdm(total=crops.shape[0] * crops.shape[1], desc="crops and mattes", disable=not progress, leave=False)
    try:
        for c, (path, offset) in enumerate(zip(videos, offsets)):
            lens = lenses[c]
            crop = (
                (lambda rgb: crop_frame(rgb, boxes[c], size))
                if lens is None
                else LensCrop(lens, boxes[c], size, sizes[c])
            )
            for frame, rgb in enumerate(read_video_frames(path, offset + int(moments[-1]) + 1)):
                i = where.get(frame - offset)
                if i is None:
                    continue
                crops[c, i], inside[c, i] = crop(rgb)
                person[c, i] = matte.alpha(crops[c, i])
                bar.update(1)
    finally:
        matte.close()
        bar.close()
    return crops, person, inside


def _refine(
    rig,
    embedding,
    fit: ViewsFit,
    cameras: list[CameraInfo],
    crops: np.ndarray,
    person: np.ndarray,
    inside: np.ndarray,
    landmarks: np.ndarray,
    seen: np.ndarray,
    sequence: np.ndarray,
    boxes: list[CropBox],
    size: int,
    shell_height: float,
    progress: bool,
) -> ViewsFit:
    """The photometric refinement over the frames where a view saw the face, one time step shared by
    the views that saw it (sequence [M]: each time step's place among those kept, which ties
    neighbours in time); cameras stay as the landmark fit found them."""
    view, moment = np.nonzero(seen)  # [F] each
    crop_points = np.stack([boxes[c].apply(landmarks[c, t], size) for c, t in zip(view, moment)])  # [F, 478, 2]
    pairs = continuing_frames(np.zeros(seen.shape[1], int), sequence)
    refined = refine_in_windows(
        rig,
        embedding,
        fit.params,
        [cameras[c].to_camera() for c in view],
        _view_major(crops),
        _view_major(person),
        _view_major(inside),
        crop_points,
        pairs,
        window_length(size),
        progress=progress,
        shell_height=shell_height,
        rows=view * seen.shape[1] + moment,
        time=moment,
    )
    return views_fit(rig, refined.params, fit.view_from_world, fit.K, landmarks[..., :2], seen)


def _view_major(frames: np.ndarray) -> np.ndarray:
    """[C, T, ...] per view and time step -> [C * T, ...] view by view (a view of the array, no copy)."""
    return frames.reshape(-1, *frames.shape[2:])


def _splits(index: np.ndarray, val_fraction: float, test_camera: int | None) -> dict[str, list[int]]:
    """Frame indices per split, of the frames index [C, T] (view, time step): the last
    TEST_FRACTION of the time steps are "test" in every view, the val_fraction before them "val";
    with a test camera, all of its frames are "test_camera" and none of its frames are in the
    other splits."""
    num_views, num_times = index.shape
    test_at = num_times - max(1, int(round(TEST_FRACTION * num_times)))
    val_at = test_at - (max(1, int(round(val_fraction * num_times))) if val_fraction > 0 else 0)
    if val_at < 1:
        raise InputError(f"{num_times} time step(s): too few for a training, a val and a test split")
    splits = {"train": [], "val": [], "test": []}
    for c in range(num_views):
        frames = index[c]
        if c == test_camera:
            splits["test_camera"] = frames.tolist()
            continue
        splits["train"] += frames[:val_at].tolist()
        splits["val"] += frames[val_at:test_at].tolist()
        splits["test"] += frames[test_at:].tolist()
    return {name: frames for name, frames in splits.items() if frames}


def _write_frames(
    writer: CaptureWriter,
    rig,
    params: RigParams,
    cameras: list,
    crops: np.ndarray,
    person: np.ndarray,
    inside: np.ndarray,
    regions: np.ndarray,
    fit: ViewsFit,
    boxes: list[CropBox],
    landmarks: np.ndarray,
    seen: np.ndarray,
    size: int,
    fps: float,
    progress: bool,
) -> np.ndarray:
    """Every view's crop and mask at every moment, and the
    overlay video: the views side by side, the fitted rig over each, detected (green) and fitted
    (red) landmarks where the view saw the face. Returns each one's frame index [C, T]."""
    num_views, num_times = seen.shape
    index = np.zeros((num_views, num_times), int)
    colors = rig.vertex_colors if rig.vertex_colors is not None else torch.full((rig.num_vertices, 3), 0.7)
    with VideoWriter(writer.partial / "overlay.mp4", fps, size * num_views, size) as overlay:
        for t in tqdm(range(num_times), desc="writing capture", disable=not progress, leave=False):
            with torch.no_grad():
                verts = rig.forward(params.frame(t))[0]
            row = []
            for c in range(num_views):
                f = c * num_times + t  # view-major, as cameras and regions are
                mesh = render_rig(verts, rig.faces, colors, cameras[f])
                index[c, t] = writer.add_frame(
                    t,
                    c,
                    crops[c, t],
                    frame_mask(crops[c, t], person[c, t], inside[c, t], regions[f], mesh),
                    known=inside[c, t] > 0.5,
                )
                detected = boxes[c].apply(landmarks[c, t][MP_TO_IBUG68], size) if seen[c, t] else None
                fitted = boxes[c].apply(fit.projected[c, t], size) if fit.projected is not None else None
                row.append(draw_overlay(crops[c, t], mesh, detected, fitted))
            overlay.write(np.concatenate(row, axis=1))
    return index


def _report(
    videos: list[Path],
    offsets: list[int],
    num_times: int,
    moments: np.ndarray,
    seen: np.ndarray,
    rig,
    fit: ViewsFit,
    landmark_fit: ViewsFit,
    boxes: list[CropBox],
    seconds: dict[str, float],
    total: float,
    rig_spec: str,
    calibration,
    lenses: list[Lens | None],
) -> dict:
    distances = camera_distances(fit, rig)
    views = []
    for c, path in enumerate(videos):
        w2c = fit.world_to_cam()[c]
        views.append(
            {
                "video": str(path),
                "offset": offsets[c],
                "frames_with_face": int(seen[c].sum()),
                "focal_px": [float(fit.K[c, 0, 0]), float(fit.K[c, 1, 1])],
                "world_to_cam": w2c.round(6).tolist(),
                "position": (-w2c[:3, :3].T @ w2c[:3, 3]).round(5).tolist(),
                "distance_to_head": round(float(distances[c]), 5),
                "nme_mean": _mean(fit.nme[c]),
                "nme_inner51_mean": _mean(fit.nme_inner51[c]),
                "nme_inner51_landmark_fit_mean": _mean(landmark_fit.nme_inner51[c]),
                "crop_box": dataclasses.asdict(boxes[c]),
                "lens_distortion": None if lenses[c] is None else lenses[c].distortion.tolist(),
            }
        )
    spread = float(distances.max() / distances.min() - 1)
    return {
        "videos": [str(v) for v in videos],
        "rig": rig_spec,
        "views": views,
        "frames": num_times,
        "tracked": len(moments),
        "calibration": str(calibration) if calibration else "estimated from the face",
        "distance_spread": round(spread, 4),
        "distance_definition": "each camera's median distance to the head's root joint (metres of the rig); "
        "distance_spread: the largest over the smallest, minus 1",
        "nme_definition": "per view: mean 2-D distance between the fitted rig's 68 iBUG landmarks and "
        "MediaPipe's (capture.ibug68) over the detected outer-eye-corner distance, over the "
        "frames the view saw the face in; inner51 leaves out the jaw contour",
        **{f"seconds_{k}": round(v, 2) for k, v in seconds.items()},
        "ms_per_frame": round(1000 * total / max(1, int(seen.sum())), 2),
        "seconds": round(total, 2),
    }


def _mean(values: np.ndarray) -> float | None:
    return float(np.nanmean(values)) if np.isfinite(values).any() else None
