"""`avatar track`: videos -> tracked capture directory, report.json and overlay.mp4.

Pass 1 finds landmarks (`detect_pass`); the rig is fitted to all tracked frames at once
(`fit_video`); pass 2 decodes again and crops each tracked frame and mattes the person (the crop
follows the head: per-frame intrinsics, the camera itself is static); the fit is then refined
photometrically against the crops (`photometric`), and each frame is written with its camera, a
mask that keeps the head with its hair and the neck down to a cut that follows the fitted rig
(`head_mask`), and the overlay of the final fit.
Everything is written into `<out>.partial` and moved into place only at the end.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from avatar.data.atomic import dump_json
from avatar.data.capture import CameraInfo, CaptureWriter
from avatar.data.errors import CaptureError, VideoError
from avatar.data.expressions import load_expression_file
from avatar.data.splits import time_splits
from avatar.data.video import VideoWriter, read_video_frames
from avatar.splat.camera import Camera
from avatar.splat.cut_region import CutParts, cut_parts
from avatar.splat.mesh_raster import MeshRender
from avatar.rig.cut_vertices import HeadCut
from avatar.rig import RigParams
from avatar.rig.loaders import load_rig
from avatar.rig.signature import geometry_signature
from avatar.rig.torso import split_torso
from capture.coverage import coverage, missing, take_coverage
from capture.crop import crop_frame, smooth_crops
from capture.detect_pass import Detections, detect_videos
from capture.embedding import embedding_for_rig
from capture.fit.setup import WORLD_TO_CAM
from capture.fit.video import VideoFit, continuing_frames, fit_videos, nme_68, video_fit
from capture.matte.hanging_hair import carried_over, hair_hangs, hanging_hair, loose_matte
from capture.matte.head_mask import place_cut
from capture.ibug68 import MP_TO_IBUG68
from capture.landmarks import SelfieMatte
from capture.limits import MAX_CROP, MAX_VAL_FRACTION, MIN_CROP
from avatar.runtime.errors import InputError
from capture.matte.components import head_pieces
from capture.matte.refine import refine_matte
from capture.overlay import draw_overlay, render_rig
from capture.fit.photometric_windows import refine_in_windows, window_length
from capture.frame_store import FrameStore

log = logging.getLogger("avatar")
MIN_TRACKED = 2
CHIN = (152,)  # MediaPipe's chin point: places the neck cut
NOSE_BOTTOM = (2, 1, 4)  # under the nose tip, else the tip: below its height, masks keep only the rig's own pixels


def track(
    videos: list[str | Path],
    out: str | Path,
    *,
    rig_spec: str = "builtin",
    size: int = 512,
    max_fps: float | None = None,
    max_frames: int | None = None,
    landmark_embedding: str | Path | None = None,
    photometric: bool = True,
    val_fraction: float = 0.0,
    coverage_take: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Track `videos` (one person) into the capture directory `out`; returns the report.

    rig_spec: the rig to fit (`avatar.rig.loaders.load_rig`); size: the square crop's side in
    pixels; max_fps: drop frames above this rate (None: keep all); max_frames: read only the first
    N frames of each video; landmark_embedding: where MediaPipe's points lie on the rig (needed
    for a FLAME rig; `capture.embedding`); photometric: refine the landmark fit against the frames
    (`capture.fit.photometric`); val_fraction: of each video's frames, kept out of training as a "val"
    split (`avatar.data.splits.time_splits`); coverage_take: an expression file (a Live Link take)
    whose expressions the report's coverage is measured against (`capture.coverage`; default:
    fixed targets); overwrite: replace `out` if it exists; progress: show progress bars."""
    started = time.perf_counter()
    if not MIN_CROP <= size <= MAX_CROP:
        raise InputError(f"crop size must be in [{MIN_CROP}, {MAX_CROP}] pixels, got {size}")
    if not 0.0 <= val_fraction <= MAX_VAL_FRACTION:
        raise InputError(f"val fraction must be in [0, {MAX_VAL_FRACTION}], got {val_fraction}")
    videos = [Path(v) for v in videos]
    out = Path(out)
    if out.exists() and not overwrite:
        raise CaptureError(out, "already exists (use --overwrite to replace it)")
    for v in videos:
        if not v.is_file():
            raise VideoError(v, "video not found")
    rig = load_rig(rig_spec)  # a missing rig file fails here, before any work or output
    # so does a take that cannot drive the rig
    take = None if coverage_take is None else take_coverage(rig, load_expression_file(Path(coverage_take), rig)[0])
    embedding = embedding_for_rig(rig, landmark_embedding)
    det = detect_videos(videos, max_fps, max_frames, progress)
    for v, path in enumerate(videos):
        if v not in det.video:
            raise VideoError(path, f"no usable face in any of its {det.considered} frames ({det.skip_counts()})")
    if len(det.video) < MIN_TRACKED:
        raise VideoError(videos[0], f"only {len(det.video)} frame(s) with a usable face")
    seconds = {"landmarks": time.perf_counter() - started}
    landmarks = np.stack(det.landmarks)  # [T, 478, 3]
    video, frame = np.array(det.video), np.array(det.frame)  # [T] each: which video, decoded frame number
    sequence = np.array(det.kept)  # [T] place among the video's kept frames: neighbours in time differ by 1
    follows_previous = continuing_frames(video, sequence)  # [P] the frames tied to the one before in time
    splits = time_splits(video, val_fraction, videos)  # before the work: a video too short for them fails now
    fit = fit_videos(rig, embedding, landmarks[..., :2], video, sequence, det.sizes, progress=progress)
    seconds["fit"] = time.perf_counter() - started - sum(seconds.values())
    boxes = smooth_crops(landmarks[..., :2], video, float(np.mean(det.fps)), det.sizes)
    cameras = [_crop_camera(fit.focal[v], det.sizes[v], box, size, i) for i, (v, box) in enumerate(zip(video, boxes))]
    crop_points = np.stack([box.apply(p, size) for box, p in zip(boxes, landmarks)])  # [T, 478, 2]
    with FrameStore(out) as store:  # the frames' arrays on disk: a long clip's do not fit in memory
        crops, person, inside = _crops_and_mattes(videos, det, boxes, size, progress, max_frames, store)
        seconds["crops"] = time.perf_counter() - started - sum(seconds.values())
        landmark_fit, photo_error = fit, None
        nose_height = rest_nose_height(rig, embedding)
        if photometric:
            refined = refine_in_windows(
                rig,
                embedding,
                fit.params,
                [c.to_camera() for c in cameras],
                crops,
                person,
                inside,
                crop_points,
                follows_previous,
                window_length(size),
                progress=progress,
                shell_height=nose_height,
            )
            fit = video_fit(rig, refined.params, fit.focal, landmarks, video, det.sizes)
            photo_error = refined
        seconds["photometric"] = time.perf_counter() - started - sum(seconds.values())
        # The head's turns go to the neck, the torso turns slowly (before the masks' cut, which follows the neck).
        seconds_in_video = frame / np.array(det.source_fps)[video]  # [T]
        fit = dataclasses.replace(fit, params=split_torso(rig, fit.params, video, seconds_in_video))
        with CaptureWriter(out, det.fps[0], rig_spec, cameras, overwrite=overwrite) as writer:
            cut = place_cut(rig, rest_point(rig, embedding, CHIN, "the chin"), nose_height)
            follows = np.zeros(len(crops), bool)
            follows[follows_previous.numpy()] = True
            cut, regions, hanging_median = head_regions(
                [c.to_camera() for c in writer.cameras],
                fit.params,
                crops,
                person,
                inside,
                rig,
                cut,
                follows,
                progress,
                store,
            )
            _write_frames(writer, det, fit, boxes, crop_points, crops, person, inside, rig, regions, size, progress)
            report = _report(
                videos, det, fit, landmark_fit, photo_error, rig_spec, seconds, time.perf_counter() - started, landmarks
            )
            report |= {"hanging_hair": cut.hanging_hair, "hanging_hair_median_fraction": round(hanging_median, 5)}
            covered = coverage(rig, fit.params, WORLD_TO_CAM)
            report |= {
                "coverage": covered,
                "coverage_missing": missing(covered, take),
                "coverage_against": str(coverage_take) if coverage_take is not None else "fixed targets",
            }
            np.savez(
                writer.partial / "landmarks.npz",
                mediapipe=landmarks.astype(np.float32),
                mediapipe_crop=crop_points,
                video=video,
                frame=frame,
            )
            dump_json(report, writer.partial / "report.json")
            # "monocular": one camera's video, whose per-frame cameras (the crop follows the head) are
            # not several views; the trainer picks its preset from that (`choose_preset`).
            extra = {
                "generator": "capture.track",
                "videos": [str(v) for v in videos],
                "monocular": True,
                "focal_px": [float(f) for f in fit.focal],
                "frame_sizes": [[int(w), int(h)] for w, h in det.sizes],
                "crop_size": size,
                "head_cut": cut.to_dict(),
                # Capture.check_rig refuses another version of the rig (the hash: for earlier versions of this program)
                "rig_signature": geometry_signature(rig),
                "rig_hash": rig.identity_hash(),
                "source_frames": [{"video": int(v), "frame": int(f)} for v, f in zip(video, frame)],
            }
            writer.finish(fit.params, splits, extra)
    report["seconds"] = round(time.perf_counter() - started, 2)
    dump_json(report, out / "report.json")
    return report


def _inner_nme(fit: VideoFit, landmarks: np.ndarray) -> dict:
    """NME over the 51 inner iBUG points (no jaw contour), when the rig has iBUG landmarks."""
    if fit.projected is None:
        return {}
    return {"nme_inner51_mean": float(np.nanmean(nme_68(fit.projected, landmarks, first=17)))}


def _crop_camera(focal: float, frame_size: tuple[int, int], box, size: int, index: int) -> CameraInfo:
    k = np.array([[focal, 0, frame_size[0] / 2], [0, focal, frame_size[1] / 2], [0, 0, 1]])
    return CameraInfo(f"frame{index:05d}", box.matrix(size) @ k, size, size, WORLD_TO_CAM.copy())


def _crops_and_mattes(
    videos: list[Path], det: Detections, boxes, size: int, progress: bool, max_frames: int | None, store: FrameStore
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pass 2 over the videos: every tracked frame's crop [T, S, S, 3] uint8, person matte
    [T, S, S] and the part of the crop inside the frame [T, S, S] (float16, in [0, 1]), in `store`."""
    wanted = {(v, f): t for t, (v, f) in enumerate(zip(det.video, det.frame))}
    crops = store.array("crops", (len(wanted), size, size, 3), np.uint8)
    person = store.array("person", (len(wanted), size, size), np.float16)
    inside = store.array("inside", (len(wanted), size, size), np.float16)
    matte = SelfieMatte()
    bar = tqdm(total=len(wanted), desc="crops and mattes", disable=not progress, leave=False)
    try:
        for v, path in enumerate(videos):
            for i, rgb in enumerate(read_video_frames(path, max_frames)):
                t = wanted.get((v, i))
                if t is None:
                    continue
                crops[t], inside[t] = crop_frame(rgb, boxes[t], size)
                person[t] = matte.alpha(crops[t])
                bar.update(1)
    finally:
        matte.close()
        bar.close()
    return crops, person, inside


def head_regions(
    cameras: list[Camera],
    params: RigParams,
    crops: np.ndarray,
    person: np.ndarray,
    inside: np.ndarray,
    rig,
    cut: HeadCut,
    follows: np.ndarray,
    progress: bool,
    store: FrameStore | None = None,
) -> tuple[HeadCut, np.ndarray, float]:
    """What each frame's mask keeps of the matte [T, S, S] bool: the cut's region, with the hair
    that hangs below the line through the head's sides when the video's hair hangs there
    (`capture.matte.hanging_hair.hair_hangs`; the cut returned then says so, and pieces carry over from
    frame to frame: `carried_over`); and the median over the frames of the share of the frame that
    hangs before the carry-over (what decided it). cameras [T] and params [T]: each frame's camera
    and rig pose; follows [T] bool: frame t directly follows frame t - 1 of its video; crops,
    person, inside as _write_frames'; store: where the [T, S, S] arrays are kept (default: memory)."""

    def matte_and_parts(t: int) -> tuple[np.ndarray, CutParts]:
        with torch.no_grad():
            verts = rig.forward(params.frame(t))[0]
        parts = cut_parts(cut, verts, rig.faces, cameras[t])
        return refine_matte(crops[t], person[t]) * inside[t], parts

    def new_array(name: str) -> np.ndarray:
        return np.zeros(crops.shape[:3], bool) if store is None else store.array(name, crops.shape[:3], bool)

    regions = new_array("regions")
    hanging = new_array("hanging")
    left = new_array("left")  # the matte between the lines that no piece kept
    for t in tqdm(range(len(crops)), desc="cut below the head", disable=not progress, leave=False):
        matte, parts = matte_and_parts(t)
        regions[t] = parts.region() > 0
        hanging[t] = hanging_hair(matte, parts)
        left[t] = loose_matte(matte, parts) & ~hanging[t]
    fractions = hanging.mean((1, 2))  # [T]
    median = float(np.median(fractions))
    if not hair_hangs(fractions):
        return cut, regions, median
    log.info(
        "hair hangs below the head's sides in most frames (median %.1f%% of the frame): the masks keep it", 100 * median
    )
    hanging = carried_over(
        hanging, left, follows, lambda t, nearby: hanging_hair(*matte_and_parts(t), kept_nearby=nearby)
    )
    regions |= hanging  # in place: a long clip's arrays are large
    return dataclasses.replace(cut, hanging_hair=True), regions, median


def _write_frames(
    writer: CaptureWriter,
    det: Detections,
    fit: VideoFit,
    boxes,
    crop_points: np.ndarray,
    crops: np.ndarray,
    person: np.ndarray,
    inside: np.ndarray,
    rig,
    regions: np.ndarray,
    size: int,
    progress: bool,
) -> None:
    """Each tracked frame's crop, its mask (the person's alpha matte cut below the neck and at the
    frame's border) and the overlay of the fit, in tracked-frame order. crop_points [T, 478, 2]:
    the landmarks in crop pixels; person, inside [T, S, S]: the segmenter's confidence and the part
    of the crop inside the frame; regions [T, S, S]: what the cut below the head keeps (`head_regions`)."""
    colors = rig.vertex_colors if rig.vertex_colors is not None else torch.full((rig.num_vertices, 3), 0.7)
    with VideoWriter(writer.partial / "overlay.mp4", det.fps[0], size, size) as overlay:
        for t in tqdm(range(len(crops)), desc="writing capture", disable=not progress, leave=False):
            camera = writer.cameras[t].to_camera()
            with torch.no_grad():
                verts = rig.forward(fit.params.frame(t))[0]
            mesh = render_rig(verts, rig.faces, colors, camera)
            writer.add_frame(
                t, t, crops[t], frame_mask(crops[t], person[t], inside[t], regions[t], mesh), known=inside[t] > 0.5
            )
            fitted = boxes[t].apply(fit.projected[t], size) if fit.projected is not None else None
            overlay.write(draw_overlay(crops[t], mesh, crop_points[t][MP_TO_IBUG68], fitted))


def frame_mask(
    crop: np.ndarray, person: np.ndarray, inside: np.ndarray, region: np.ndarray, mesh: MeshRender
) -> np.ndarray:
    """The mask [S, S] uint8 a frame is written with. The fit used the segmenter's confidence
    person [S, S]; the trainer gets an alpha matte on the frame's edges (inside), cut below the
    head (region, `head_regions`), without the pieces that are not the head (away from the
    fitted rig's render `mesh`)."""
    alpha = refine_matte(crop, person) * inside * region
    alpha = head_pieces(alpha, mesh.mask[..., 0].numpy() > 0.5)
    return (alpha * 255 + 0.5).astype(np.uint8)


def embedded_point(embedding, mp_indices: tuple[int, ...], what: str) -> tuple[int, torch.Tensor]:
    """(triangle, barycentric [3]) on the rig of the first of the MediaPipe landmarks mp_indices
    that the embedding has (a FLAME embedding file has about 100 of the 478)."""
    for mp_index in mp_indices:
        where = np.flatnonzero(embedding.mp_index == mp_index)
        if len(where):
            return int(embedding.faces[where[0]]), embedding.bary[where[0]]
    raise CaptureError(
        Path("--landmark-embedding"),
        f"the landmark embedding has none of the MediaPipe points "
        f"{list(mp_indices)} ({what}), which place the cuts of the masks",
    )


def rest_point(rig, embedding, mp_indices: tuple[int, ...], what: str) -> torch.Tensor:
    """[3] the first of the MediaPipe landmarks mp_indices that the embedding has, on the rig's
    rest mesh (rig space)."""
    face, bary = embedded_point(embedding, mp_indices, what)
    return bary.to(rig.v_template) @ rig.v_template[rig.faces[face]]


def rest_nose_height(rig, embedding) -> float:
    """The height (rig y) under the nose on the rest mesh, where the masks' and the hair shell's
    cuts start (NOSE_BOTTOM)."""
    return float(rest_point(rig, embedding, NOSE_BOTTOM, "the nose")[1])


def _report(
    videos,
    det: Detections,
    fit: VideoFit,
    landmark_fit: VideoFit,
    photometric,
    rig_spec: str,
    seconds: dict[str, float],
    total: float,
    landmarks: np.ndarray,
) -> dict:
    """photometric: the PhotometricFit, or None when that stage was skipped."""
    tracked = len(det.video)
    report = {
        "videos": [str(v) for v in videos],
        "rig": rig_spec,
        "frames": det.considered,
        "tracked": tracked,
        "tracked_fraction": round(tracked / max(1, det.considered), 4),
        "skipped": {"count": len(det.skipped), "reasons": det.skip_counts(), "frames": det.skipped},
        "nme_mean": float(np.nanmean(fit.nme)),
        "nme_median": float(np.nanmedian(fit.nme)),
        "nme_landmark_fit_mean": float(np.nanmean(landmark_fit.nme)),
        "nme_definition": "mean 2-D distance between the fitted rig's 68 iBUG landmarks and MediaPipe's "
        "(capture.ibug68), over the detected outer-eye-corner distance",
        **_inner_nme(fit, landmarks),
        "nme": [round(float(x), 5) for x in fit.nme],
        "focal_px": [float(f) for f in fit.focal],
        **{f"seconds_{k}": round(v, 2) for k, v in seconds.items()},
        "ms_per_frame": round(1000 * total / max(1, tracked), 2),
        "seconds": round(total, 2),
    }
    if photometric is not None:
        report |= {
            "photometric_error_mean": float(photometric.error.mean()),
            "photometric_error_landmark_fit_mean": float(photometric.error_before.mean()),
            "photometric_error_definition": "mean absolute colour difference (0..1) between each frame "
            "and the median colour over all frames at the visible face "
            "vertices: low when the mesh stays on the same skin "
            "(capture.fit.photometric)",
            "photometric_error": [round(float(x), 5) for x in photometric.error],
        }
        if photometric.outline is not None:
            report |= {
                "outline_error_px_mean": float(np.nanmean(photometric.outline)),
                "outline_error_px_landmark_fit_mean": float(np.nanmean(photometric.outline_before)),
                "outline_error_definition": "mean absolute distance (crop pixels) along rays from between "
                "the eyes between the person's matte outline over the head and "
                "the fitted rig's skull grown by the video's hair thickness "
                "(capture.head_outline)",
            }
    return report
