"""The `avatar` command: demo | track | import | train | eval | render | view | export | bench."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from avatar.cli_errors import USER_ERRORS


def _add_backend(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="auto", help="auto | torch | cpu | cuda | gsplat (default: fastest available)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avatar", description="Gaussian-splatting head avatars.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="synthetic capture of the built-in head -> train -> eval -> render")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--size", type=int, default=128, help="image size in pixels (square)")
    p.add_argument("--train-frames", type=int, default=150)
    p.add_argument("--test-frames", type=int, default=30)
    p.add_argument("--iterations", type=int, default=None, help="override the preset's iteration count")
    p.add_argument("--preset", default="fast")
    _add_backend(p)

    p = sub.add_parser("track", help="videos of one person -> tracked capture directory")
    p.add_argument("videos", nargs="+", type=Path)
    p.add_argument("--out", required=True, type=Path, help="capture directory to write")
    p.add_argument("--rig", default="builtin", help="builtin | ict:DIR | flame:FILE")
    p.add_argument("--landmark-embedding", type=Path, default=None,
                   help="FLAME's mediapipe_landmark_embedding.npz (needed with a FLAME rig)")
    p.add_argument("--size", type=int, default=512, help="crop size in pixels (square)")
    p.add_argument("--max-fps", type=float, default=None, help="drop frames above this rate")
    p.add_argument("--max-frames", type=int, default=None, help="only the first N frames of each video")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")

    p = sub.add_parser("import", help="read another tracker's output into a capture directory")
    p.add_argument("kind", choices=["vhap", "metrical", "imavatar"])
    p.add_argument("src", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--overwrite", action="store_true")

    p = sub.add_parser("train", help="fit an avatar to a capture directory")
    p.add_argument("capture", type=Path)
    p.add_argument("--out", required=True, type=Path, help="the .avatar file to write")
    p.add_argument("--rig", default=None, help="builtin | ict:DIR | flame:FILE (default: the capture's rig)")
    p.add_argument("--preset", default=None, help="a name in configs/ or a YAML file")
    p.add_argument("--iterations", type=int, default=None)
    p.add_argument("--refine-params", action=argparse.BooleanOptionalAction, default=None,
                   help="optimise the per-frame rig parameters too")
    p.add_argument("--resume", action="store_true", help="continue from OUT.ckpt if present")
    _add_backend(p)

    p = sub.add_parser("eval", help="PSNR / SSIM / LPIPS on a capture split")
    p.add_argument("model", type=Path)
    p.add_argument("capture", type=Path)
    p.add_argument("--split", default="test")
    p.add_argument("--rig", default=None, help="needed when the model's rig is not embedded (FLAME)")
    p.add_argument("--json", type=Path, default=None, help="write the metrics here")
    _add_backend(p)

    p = sub.add_parser("render", help="render an expression file to mp4")
    p.add_argument("model", type=Path)
    p.add_argument("--expr", required=True, type=Path,
                   help=".npz | .json | Live Link Face .csv | a tracked capture directory (cross-identity)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--camera", default="front", choices=["front", "orbit", "arc"])
    p.add_argument("--size", type=int, default=256, help="output size in pixels (square)")
    p.add_argument("--rig", default=None)
    p.add_argument("--arkit-map", type=Path, default=None, help="ARKit -> rig expression matrix (.npz) for FLAME")
    _add_backend(p)

    p = sub.add_parser("view", help="interactive viewer, driven live by a webcam, a video or an expression file")
    p.add_argument("model", type=Path)
    p.add_argument("--source", default=None, help="webcam:N | video:PATH (played as a webcam) | expr:FILE")
    p.add_argument("--backend", default="auto", help="splat backend: auto (cuda, else cpu, else gl) | gl | torch | cpu | cuda")
    p.add_argument("--size", type=int, default=256, help="render size in pixels (square)")
    p.add_argument("--rig", default=None)
    p.add_argument("--smoothing", type=float, default=0.3, help="One-Euro smoothing strength in [0, 1]")
    p.add_argument("--frames", type=int, default=None, help="close after N displayed frames (headless runs)")
    p.add_argument("--screenshot", type=Path, default=None, help="PNG of the last frame's window")
    p.add_argument("--stats", type=Path, default=None, help="JSON of timings (+ .params.npz of driven params)")
    p.add_argument("--record", type=Path, default=None, metavar="STEM",
                   help="record from the first frame to STEM.mp4 and STEM.npz (expression file)")

    p = sub.add_parser("export", help="write one frame as a standard 3DGS .ply")
    p.add_argument("model", type=Path)
    p.add_argument("--ply", required=True, type=Path)
    p.add_argument("--expr", type=Path, default=None)
    p.add_argument("--frame", type=int, default=0)
    p.add_argument("--rig", default=None)
    p.add_argument("--arkit-map", type=Path, default=None)
    _add_backend(p)

    p = sub.add_parser("bench", help="milliseconds per blend / splat for each backend")
    p.add_argument("--backends", nargs="+", default=None,
                   help="torch cpu cuda gsplat (space or comma separated; default: all)")
    p.add_argument("--sizes", default=None,
                   help="WxH:GAUSSIANS:EXPRESSIONS[,...] (default: 256x256:30000:20,512x512:100000:50)")
    p.add_argument("--repeat", type=int, default=None, help="timed runs per op (default 5, 2 with --quick)")
    p.add_argument("--quick", action="store_true", help="fewer runs: a smoke test, not a measurement")
    p.add_argument("--json", type=Path, default=None, help="write the rows here")
    p.add_argument("--tracker", type=Path, default=None, metavar="VIDEO",
                   help="instead: live-tracking timings (landmarks, per-frame rig fit) on this video")
    p.add_argument("--rig", default="builtin", help="with --tracker: the rig to fit")
    p.add_argument("--frames", type=int, default=200, help="with --tracker: frames to time")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    from avatar import commands

    try:
        return getattr(commands, f"cmd_{args.command}")(args) or 0
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def dump_json(data: dict | list, path: Path) -> None:
    from avatar.atomic import atomic_path

    with atomic_path(path) as partial:
        partial.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    sys.exit(main())
