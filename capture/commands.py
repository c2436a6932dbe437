"""The commands capture adds to `avatar` (registered through the `avatar.cli.handlers` entry point,
so avatar never imports capture): `track`, `import`, `batch` and `bench --tracker`. Heavy modules
(mediapipe, the fitters) load only when one of them runs."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from avatar.data.atomic import dump_json
from avatar.cli.errors import InputError
from avatar.cli.parts import RIG_HELP, add_command, add_rig, float_in, int_in
from capture.limits import MAX_CROP, MAX_VAL_FRACTION, MIN_CROP

log = logging.getLogger("avatar")


def register(sub) -> None:
    p = add_command(
        sub,
        "track",
        "videos of one person -> tracked capture directory (needs the capture extra)",
        "  avatar track clip.mp4 --out capture --rig ict:ICT-FaceKit --size 256\n"
        "  avatar track a.mp4 b.mp4 --out capture --max-fps 15 --no-photometric\n"
        "  avatar track --views left.mp4 front.mp4 right.mp4 --out capture --size 256 --test-camera 1",
    )
    p.add_argument(
        "videos",
        nargs="*",
        type=Path,
        help="video files of the same person (mp4, mov, ...), one camera's clips one after another",
    )
    p.add_argument(
        "--views",
        nargs="+",
        type=Path,
        default=None,
        metavar="VIDEO",
        help="instead: synchronized videos of one moment by 2-16 cameras (one per camera, matched frame by "
        "frame): one head shared by the views, one pose per camera (docs/multiview.md)",
    )
    p.add_argument(
        "--calibration",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --views: the cameras from a file (OpenCV FileStorage YAML/JSON, NeRSemble "
        "camera_params.json, COLMAP text model; lens distortion is taken out; default: "
        "estimated from the face)",
    )
    p.add_argument(
        "--offsets",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="with --views: per view, the frame that starts the clip (videos that start at other moments)",
    )
    p.add_argument(
        "--test-camera",
        type=int,
        default=None,
        metavar="K",
        help="with --views: hold out every frame of view K as split 'test_camera' (never trained on)",
    )
    p.add_argument("--out", required=True, type=Path, help="capture directory to write")
    add_rig(p, default="builtin", help=RIG_HELP)
    p.add_argument(
        "--landmark-embedding",
        type=Path,
        default=None,
        help="FLAME's mediapipe_landmark_embedding.npz (needed with a FLAME rig)",
    )
    p.add_argument(
        "--size",
        type=int_in(MIN_CROP, MAX_CROP),
        default=512,
        help=f"crop size in pixels (square, {MIN_CROP}-{MAX_CROP})",
    )
    p.add_argument(
        "--max-fps", type=float_in(0.1, 1000), default=None, help="drop frames above this rate (default: keep all)"
    )
    p.add_argument("--max-frames", type=int_in(1, 10**7), default=None, help="only the first N frames of each video")
    p.add_argument(
        "--photometric",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="refine the landmark fit against the frames",
    )
    p.add_argument(
        "--val-fraction",
        type=float_in(0, MAX_VAL_FRACTION),
        default=0.0,
        help="keep this fraction of each video, just before its held-out test frames (the last 15%%), "
        "out of training as a 'val' split that training and `avatar eval` report: choose settings "
        "on it and the test frames stay unseen (default: 0, no val split)",
    )
    p.add_argument(
        "--coverage-take",
        type=Path,
        default=None,
        metavar="TAKE",
        help="an expression file (a Live Link .csv take) the report's coverage is measured against: "
        "what the avatar will be driven through (default: fixed targets, docs/recording.md)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(run=cmd_track)

    p = add_command(
        sub,
        "import",
        "read another tracker's output into a capture directory",
        "  avatar import vhap VHAP_OUTPUT --out capture\n  avatar import metrical INSTA_SUBJECT --out capture",
    )
    p.add_argument(
        "kind",
        choices=["vhap", "metrical", "imavatar"],
        metavar="KIND",
        help="vhap (VHAP / GaussianAvatars), metrical (metrical-tracker / INSTA), imavatar (IMavatar / PointAvatar)",
    )
    p.add_argument("src", type=Path, help="the tracker's output folder")
    p.add_argument("--out", required=True, type=Path, help="capture directory to write")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(run=cmd_import)

    _add_batch(sub)
    _extend_bench(sub.choices["bench"])


def _add_batch(sub) -> None:
    p = add_command(
        sub,
        "batch",
        "many subjects: track -> train -> eval, one Ray task per stage per subject (needs the batch extra)",
        "  avatar batch videos/ --out runs --size 256\n"
        "  avatar batch a.mp4 b.mp4 person_c/ --out runs --iterations 3000 --set seed=1\n"
        "  avatar batch /shared/videos --out /shared/runs --address auto --gpus-per-train 1",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="VIDEOS_OR_DIR",
        help="a video is one subject; a folder holds subjects: each video in it, and each sub-folder of "
        "videos (one person's)",
    )
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        help="folder: OUT/SUBJECT/{capture/, model.avatar, eval.json, logs/}, OUT/summary.{json,md}; "
        "a rerun skips the finished stages",
    )
    add_rig(p, default="builtin", help=RIG_HELP)
    p.add_argument("--preset", default=None, help="training preset (default: the capture's own, as avatar train)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="settings",
        help="any training setting (repeatable), as for avatar train",
    )
    p.add_argument("--iterations", type=int_in(1, 10**9), default=None, help="training steps (default: the preset's)")
    p.add_argument("--size", type=int_in(MIN_CROP, MAX_CROP), default=512, help="tracking crop size in pixels")
    p.add_argument("--max-frames", type=int_in(1, 10**7), default=None, help="only the first N frames of each video")
    p.add_argument(
        "--photometric",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="refine the landmark fit against the frames (as avatar track)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="a Ray cluster: auto (the one this machine is in) or ray://HEAD:10001 (default: start a local "
        "Ray on this machine)",
    )
    p.add_argument(
        "--num-cpus",
        type=int_in(1, 100_000),
        default=None,
        help="CPUs of the local Ray (default: all of this machine's)",
    )
    p.add_argument("--cpus-per-track", type=int_in(1, 1024), default=1, help="CPUs (threads) of each track task")
    p.add_argument(
        "--cpus-per-train",
        type=int_in(1, 1024),
        default=None,
        help="CPUs (threads) of each train and eval task when they run on the CPU (default: --cpus-per-track)",
    )
    p.add_argument(
        "--gpus-per-train",
        type=float_in(0, 64),
        default=1.0,
        help="GPUs of each train and eval task, when the cluster has GPUs (0, or none there: the CPU)",
    )
    p.add_argument(
        "--retries",
        type=int_in(0, 100),
        default=1,
        help="run a stage that failed unexpectedly (not a bad input) again up to this many times",
    )
    p.set_defaults(run=cmd_batch)


def _extend_bench(bench: argparse.ArgumentParser) -> None:
    """`avatar bench --tracker VIDEO`: the live tracker's timings instead of the splat benchmark."""
    bench.add_argument(
        "--tracker",
        type=Path,
        default=None,
        metavar="VIDEO",
        help="instead: live-tracking timings (landmarks, per-frame rig fit) on this video",
    )
    add_rig(
        bench,
        help="with --tracker: the rig to fit (default builtin); with --model: the rig when the model "
        "does not embed it (FLAME)",
    )
    splat_bench = bench.get_default("run")

    def run(args: argparse.Namespace) -> int | None:
        return cmd_bench_tracker(args) if args.tracker else splat_bench(args)

    bench.set_defaults(run=run)


def cmd_track(args: argparse.Namespace) -> int:
    if args.views is not None:
        return cmd_track_views(args)
    if not args.videos:
        raise InputError("avatar track: give the videos (one camera), or --views V0 V1 ... (synchronized cameras)")
    only_views = [
        flag
        for flag, value in (
            ("--calibration", args.calibration),
            ("--offsets", args.offsets),
            ("--test-camera", args.test_camera is not None),
        )
        if value
    ]
    if only_views:
        raise InputError(f"avatar track: {', '.join(only_views)} go with --views (synchronized cameras)")
    from capture.track import track  # capture needs mediapipe; only `track` pays for importing it

    report = track(
        args.videos,
        args.out,
        rig_spec=args.rig,
        size=args.size,
        max_fps=args.max_fps,
        max_frames=args.max_frames,
        landmark_embedding=args.landmark_embedding,
        photometric=args.photometric,
        val_fraction=args.val_fraction,
        coverage_take=args.coverage_take,
        overwrite=args.overwrite,
    )
    log.info(
        "wrote %s: %d of %d frames tracked, NME %.4f, %.0f s",
        args.out,
        report["tracked"],
        report["frames"],
        report["nme_mean"],
        report["seconds"],
    )
    for lack in report["coverage_missing"]:  # what the avatar will have to guess (docs/recording.md)
        log.warning("the video lacks this (%s): %s", report["coverage_against"], lack)
    return 0


def cmd_track_views(args: argparse.Namespace) -> int:
    if args.videos:
        raise InputError(
            "avatar track: give the videos either before --out (one camera) or after --views (several "
            "cameras), not both"
        )
    from capture.track_views import track_views

    report = track_views(
        args.views,
        args.out,
        rig_spec=args.rig,
        size=args.size,
        max_fps=args.max_fps,
        max_frames=args.max_frames,
        offsets=args.offsets,
        calibration=args.calibration,
        test_camera=args.test_camera,
        landmark_embedding=args.landmark_embedding,
        photometric=args.photometric,
        val_fraction=args.val_fraction,
        coverage_take=args.coverage_take,
        overwrite=args.overwrite,
    )
    for c, view in enumerate(report["views"]):
        log.info(
            "view %d: face in %d frames, inner-51 NME %s, %.3f m from the head, focal %.0f px",
            c,
            view["frames_with_face"],
            f"{view['nme_inner51_mean']:.4f}" if view["nme_inner51_mean"] else "n/a",
            view["distance_to_head"],
            view["focal_px"][0],
        )
    log.info(
        "wrote %s: %d time steps of %d views in %.0f s",
        args.out,
        report["tracked"],
        len(report["views"]),
        report["seconds"],
    )
    for lack in report["coverage_missing"]:  # what the avatar will have to guess (docs/recording.md)
        log.warning("the videos lack this (%s): %s", report["coverage_against"], lack)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    try:
        import ray  # noqa: F401 - only to tell a missing extra apart from everything else
    except ImportError:
        print(
            'error: avatar batch needs Ray: pip install --no-build-isolation -e ".[batch]" (or: pip install ray)',
            file=sys.stderr,
        )
        return 2
    import time

    from avatar.training.config import load_config, parse_settings
    from capture.batch.plan import find_subjects
    from capture.batch.run import Batch, Options, connect, disconnect, gpus_available

    subjects = find_subjects(args.inputs)  # bad inputs and settings are refused before Ray starts
    settings = parse_settings(args.settings) | ({"iterations": args.iterations} if args.iterations else {})
    load_config(args.preset, **settings)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    where = connect(args.address, args.num_cpus)
    try:
        gpus = args.gpus_per_train if gpus_available() >= args.gpus_per_train > 0 else 0.0
        if args.gpus_per_train > 0 and not gpus:
            log.info("batch: no GPU in the Ray cluster: train and eval run on the CPU")
        options = Options(
            rig=args.rig,
            size=args.size,
            max_frames=args.max_frames,
            photometric=args.photometric,
            preset=args.preset,
            settings=settings,
            cpus_per_track=args.cpus_per_track,
            cpus_per_train=args.cpus_per_train or args.cpus_per_track,
            gpus_per_train=gpus,
            retries=args.retries,
        )
        log.info("batch: %d subject(s) on Ray (%s) -> %s", len(subjects), where, args.out)
        summary = Batch(subjects, args.out, options, {"ray": where, "options": vars(options)}).run()
    finally:
        disconnect()
    log.info(
        "batch: %d done, %d failed of %d in %.1f min; %s",
        summary["done"],
        summary["failed"],
        len(subjects),
        (time.perf_counter() - started) / 60,
        args.out / "summary.md",
    )
    return 0 if summary["failed"] == 0 else 1


def cmd_import(args: argparse.Namespace) -> int:
    from capture.importers import import_capture

    capture = import_capture(args.kind, args.src, args.out, overwrite=args.overwrite)
    log.info("wrote %s: %d frames from %s", args.out, len(capture.frames), args.kind)
    return 0


def cmd_bench_tracker(args: argparse.Namespace) -> int:
    from capture.bench_tracker import bench_tracker, format_tracker_rows

    frames = args.frames or 200
    if frames < 32:
        raise InputError(f"--frames with --tracker must be at least 32, got {frames}")
    rows = bench_tracker(args.tracker, args.rig or "builtin", frames)
    print(format_tracker_rows(rows))
    if args.json:
        dump_json(rows, args.json)
    return 0
