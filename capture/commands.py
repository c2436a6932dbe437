"""The commands capture adds to `avatar` (registered through the `avatar.cli.handlers` entry point,
so avatar never imports capture): `track`, `import`, and `bench --tracker`. Heavy modules
(mediapipe, the fitters) load only when one of them runs."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avatar.data.atomic import dump_json
from avatar.cli.parts import RIG_HELP, add_command, add_rig, float_in, int_in
from capture.limits import MAX_CROP, MAX_VAL_FRACTION, MIN_CROP

log = logging.getLogger("avatar")


def register(sub) -> None:
    p = add_command(sub, "track", "videos of one person -> tracked capture directory (needs the capture extra)",
                    "  avatar track clip.mp4 --out capture --rig ict:ICT-FaceKit --size 256\n"
                    "  avatar track a.mp4 b.mp4 --out capture --max-fps 15 --no-photometric")
    p.add_argument("videos", nargs="+", type=Path, help="video files of the same person (mp4, mov, ...)")
    p.add_argument("--out", required=True, type=Path, help="capture directory to write")
    add_rig(p, default="builtin", help=RIG_HELP)
    p.add_argument("--landmark-embedding", type=Path, default=None,
                   help="FLAME's mediapipe_landmark_embedding.npz (needed with a FLAME rig)")
    p.add_argument("--size", type=int_in(MIN_CROP, MAX_CROP), default=512,
                   help=f"crop size in pixels (square, {MIN_CROP}-{MAX_CROP})")
    p.add_argument("--max-fps", type=float_in(0.1, 1000), default=None, help="drop frames above this rate (default: keep all)")
    p.add_argument("--max-frames", type=int_in(1, 10**7), default=None, help="only the first N frames of each video")
    p.add_argument("--photometric", action=argparse.BooleanOptionalAction, default=True,
                   help="refine the landmark fit against the frames")
    p.add_argument("--val-fraction", type=float_in(0, MAX_VAL_FRACTION), default=0.0,
                   help="keep this fraction of each video, just before its held-out test frames (the last 15%%), "
                        "out of training as a 'val' split that training and `avatar eval` report: choose settings "
                        "on it and the test frames stay unseen (default: 0, no val split)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(run=cmd_track)

    p = add_command(sub, "import", "read another tracker's output into a capture directory",
                    "  avatar import vhap VHAP_OUTPUT --out capture\n"
                    "  avatar import metrical INSTA_SUBJECT --out capture")
    p.add_argument("kind", choices=["vhap", "metrical", "imavatar"], metavar="KIND",
                   help="vhap (VHAP / GaussianAvatars), metrical (metrical-tracker / INSTA), imavatar (IMavatar / "
                        "PointAvatar)")
    p.add_argument("src", type=Path, help="the tracker's output folder")
    p.add_argument("--out", required=True, type=Path, help="capture directory to write")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(run=cmd_import)

    _extend_bench(sub.choices["bench"])


def _extend_bench(bench: argparse.ArgumentParser) -> None:
    """`avatar bench --tracker VIDEO`: the live tracker's timings instead of the splat benchmark."""
    bench.add_argument("--tracker", type=Path, default=None, metavar="VIDEO",
                       help="instead: live-tracking timings (landmarks, per-frame rig fit) on this video")
    add_rig(bench, help="with --tracker: the rig to fit (default builtin); with --model: the rig when the model "
            "does not embed it (FLAME)")
    splat_bench = bench.get_default("run")

    def run(args: argparse.Namespace) -> int | None:
        return cmd_bench_tracker(args) if args.tracker else splat_bench(args)
    bench.set_defaults(run=run)


def cmd_track(args: argparse.Namespace) -> int:
    from capture.track import track  # capture needs mediapipe; only `track` pays for importing it

    report = track(args.videos, args.out, rig_spec=args.rig, size=args.size, max_fps=args.max_fps,
                   max_frames=args.max_frames, landmark_embedding=args.landmark_embedding,
                   photometric=args.photometric, val_fraction=args.val_fraction, overwrite=args.overwrite)
    log.info("wrote %s: %d of %d frames tracked, NME %.4f, %.0f s", args.out, report["tracked"], report["frames"],
             report["nme_mean"], report["seconds"])
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from capture.importers import import_capture

    capture = import_capture(args.kind, args.src, args.out, overwrite=args.overwrite)
    log.info("wrote %s: %d frames from %s", args.out, len(capture.frames), args.kind)
    return 0


def cmd_bench_tracker(args: argparse.Namespace) -> int:
    from capture.bench_tracker import bench_tracker, format_tracker_rows

    frames = args.frames or 200
    if frames < 32:
        raise ValueError(f"--frames with --tracker must be at least 32, got {frames}")
    rows = bench_tracker(args.tracker, args.rig or "builtin", frames)
    print(format_tracker_rows(rows))
    if args.json:
        dump_json(rows, args.json)
    return 0
