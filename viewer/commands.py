"""`avatar view` and `avatar eval-live`, registered through the `avatar.cli.handlers` entry point (avatar never imports
viewer); imgui and OpenGL load only when it runs."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avatar.cli.parts import add_command, add_device, add_rig, float_in, int_in

log = logging.getLogger("avatar")
VIEW_BACKENDS = ("auto", "gl", "torch", "cpu", "cuda")


def register(sub) -> None:
    p = add_command(
        sub,
        "view",
        "interactive viewer, driven live by a webcam, a video, an expression file or an iPhone's Live Link Face stream",
        "  avatar view me.avatar --source webcam:0\n"
        "  avatar view me.avatar --source livelink:11111\n"
        "  avatar view flame.avatar --rig flame:generic_model.pkl --source livelink --arkit-map map.npz\n"
        "  avatar view me.avatar --source webcam:0 --serve 8765\n"
        "  xvfb-run -a avatar view me.avatar --source video:clip.mp4 --frames 100 --screenshot shot.png",
    )
    p.add_argument("model", type=Path, help="the .avatar file")
    p.add_argument(
        "--source",
        default=None,
        help="webcam:N | video:PATH (played as a webcam) | expr:FILE | livelink[:PORT] (Live Link "
        "Face's UDP stream, port 11111 by default) (default: sliders only)",
    )
    p.add_argument(
        "--arkit-map",
        type=Path,
        default=None,
        metavar="FILE",
        help="ARKit -> rig expression matrix (.npz: matrix [E, 52], names) for --source livelink or "
        "expr:FILE.csv on a rig without ARKit-named expressions (FLAME), as `avatar render` takes it",
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=VIEW_BACKENDS,
        help="splat backend for the device; auto: cuda on a GPU, else the faster of cpu and gl timed "
        "on the first frame (gl alone where the CPU kernels do not load; gl: CPU only)",
    )
    add_device(p)
    p.add_argument("--size", type=int_in(32, 2048), default=256, help="render size in pixels (square, 32-2048)")
    add_rig(p)
    p.add_argument("--smoothing", type=float_in(0, 1), default=0.3, help="One-Euro smoothing strength in [0, 1]")
    p.add_argument(
        "--frames", type=int_in(1, 10**9), default=None, help="close after N displayed frames (headless runs)"
    )
    p.add_argument("--screenshot", type=Path, default=None, help="PNG of the last frame's window")
    p.add_argument("--stats", type=Path, default=None, help="JSON of timings (+ .params.npz of driven params)")
    p.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="STEM",
        help="record from the first frame to STEM.mp4 and STEM.npz (expression file)",
    )
    p.add_argument(
        "--lod",
        default="auto",
        choices=["auto", "off"],
        help="auto: where the full avatar's renders miss the source's frame period, draw a level of detail "
        "(the least visible Gaussians dropped; the stats panel shows what it costs)",
    )
    p.add_argument(
        "--serve",
        type=int_in(0, 65535),
        default=None,
        metavar="PORT",
        help="publish the driven rig parameters of every frame shown over a WebSocket on TCP port PORT "
        "(a web player on another device subscribes; no authentication: a trusted network only)",
    )
    p.add_argument(
        "--serve-host",
        default="0.0.0.0",
        metavar="HOST",
        help="the address --serve listens on (default: 0.0.0.0, every interface, so a phone on the same "
        "network can connect; 127.0.0.1: this machine only)",
    )
    p.set_defaults(run=cmd_view)

    p = add_command(
        sub,
        "eval-live",
        "`avatar eval`'s scores with the avatar driven as the live viewer drives it: "
        "the capture's video through the live tracker (landmarks, live fit, retarget, smoothing)",
        "  avatar eval-live me.avatar capture --json live.json\n"
        "  avatar eval-live me.avatar capture --split test --save-images live_images",
    )
    p.add_argument("model", type=Path, help="the .avatar file")
    p.add_argument("capture", type=Path, help="its capture directory (tracked by `avatar track` from one video)")
    p.add_argument("--split", default="test", help="the split to evaluate (default: test)")
    p.add_argument(
        "--video",
        type=Path,
        default=None,
        help="the capture's source video (default: the path `avatar track` recorded)",
    )
    p.add_argument("--smoothing", type=float_in(0, 1), default=0.3, help="One-Euro smoothing strength, as `view`'s")
    add_device(p)
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        help="write the report (variants' metrics, parameter differences, per-frame values) here",
    )
    p.add_argument(
        "--save-images",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/VARIANT/SPLIT/FRAME.png: target | render | error (x4)",
    )
    p.set_defaults(run=cmd_eval_live)


def cmd_view(args: argparse.Namespace) -> int:
    from viewer.launch import ViewOptions, run_view

    summary = run_view(
        ViewOptions(
            args.model,
            args.source,
            args.backend,
            args.size,
            args.rig,
            args.frames,
            args.screenshot,
            args.stats,
            args.record,
            args.smoothing,
            args.device,
            args.lod,
            args.serve,
            args.serve_host,
            arkit_map=args.arkit_map,
        )
    )
    log.info("%d frames, %s fps", summary["frames"], f"{summary['fps']:.1f}" if summary["fps"] else "-")
    return 0


def cmd_eval_live(args: argparse.Namespace) -> int:
    from avatar.data.atomic import dump_json
    from avatar.runtime.devices import resolve_device
    from viewer.live_eval import evaluate_live, format_live_eval

    if args.json is not None and not args.json.resolve().parent.is_dir():
        raise FileNotFoundError(f"{args.json}: its folder does not exist")
    report = evaluate_live(
        args.model, args.capture, args.split, args.video, args.smoothing, args.save_images, resolve_device(args.device)
    )
    print(format_live_eval(report))
    if args.json:
        dump_json(report, args.json)
    return 0
