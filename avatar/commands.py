"""Implementations of the `avatar` subcommands (argument parsing lives in cli.py)."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from avatar.cli import dump_json
from avatar.data.capture import load_capture
from avatar.data.expressions import load_expression_file
from avatar.data.retarget import driving_params
from avatar.gaussians import blend
from avatar.gaussians.io import load_avatar
from avatar.gaussians.ply import write_3dgs_ply
from avatar.playback import camera_path, render_sequence
from avatar.rig.loaders import load_rig
from avatar.train.config import choose_preset, load_config
from avatar.train.evaluate import evaluate
from avatar.train.trainer import train

log = logging.getLogger("avatar")


def _load_model(path: Path, rig_spec: str | None):
    return load_avatar(path, load_rig(rig_spec) if rig_spec else None)


def _driving(source: Path, rig, config: dict, arkit_map: Path | None):
    """(params, fps) from an expression file or another person's capture directory, with the
    avatar's own identity (expression sources drive expression and pose, not who it is)."""
    if source.is_dir():
        capture = load_capture(source)
        params, fps = driving_params(capture, rig), capture.fps
    else:
        params, fps = load_expression_file(source, rig, arkit_map=arkit_map)
    if config.get("identity_shape") is not None:
        params.shape = torch.as_tensor(config["identity_shape"], dtype=params.shape.dtype)
    return params, fps


def cmd_track(args: argparse.Namespace) -> int:
    from capture.track import track  # capture needs mediapipe; only `track` pays for importing it

    if args.size < 64:
        raise ValueError(f"--size must be at least 64 pixels, got {args.size}")
    report = track(args.videos, args.out, args.rig, args.size, args.max_fps, args.landmark_embedding,
                   args.overwrite, max_frames=args.max_frames)
    log.info("wrote %s: %d of %d frames tracked, NME %.4f, %.0f s", args.out, report["tracked"], report["frames"],
             report["nme_mean"], report["seconds"])
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from capture.importers import import_capture

    capture = import_capture(args.kind, args.src, args.out, overwrite=args.overwrite)
    log.info("wrote %s: %d frames from %s", args.out, len(capture.frames), args.kind)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    capture = load_capture(args.capture)
    rig = load_rig(args.rig or capture.rig)
    preset, why = choose_preset(capture, args.preset)
    log.info("training preset '%s': %s", preset, why)
    cfg = load_config(preset, iterations=args.iterations, refine_params=args.refine_params,
                      backend=args.backend)
    started = time.perf_counter()
    model = train(capture, rig, cfg, args.out, resume=args.resume)
    log.info("wrote %s: %d Gaussians in %.0f s", args.out, model.num_gaussians, time.perf_counter() - started)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    model, config = _load_model(args.model, args.rig)
    capture = load_capture(args.capture)
    metrics = evaluate(model, capture, args.split, args.backend, tuple(config.get("background", (1, 1, 1))))
    summary = {k: v for k, v in metrics.items() if k != "per_frame"}
    print(json.dumps(summary, indent=2))
    if args.json:
        dump_json(metrics, args.json)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    model, config = _load_model(args.model, args.rig)
    params, fps = _driving(args.expr, model.rig, config, args.arkit_map)
    cameras = camera_path(model.rig, args.camera, args.size, params.num_frames)
    n = render_sequence(model, params, cameras, args.out, fps, tuple(config.get("background", (1, 1, 1))),
                        args.backend)
    log.info("wrote %s: %d frames at %.2f fps", args.out, n, fps)
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    from viewer.launch import ViewOptions, run_view  # imgui and GL load only for `view`

    summary = run_view(ViewOptions(args.model, args.source, args.backend, args.size, args.rig, args.frames,
                                   args.screenshot, args.stats, args.record, args.smoothing))
    log.info("%d frames, %s fps", summary["frames"], f"{summary['fps']:.1f}" if summary["fps"] else "-")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    model, config = _load_model(args.model, args.rig)
    if args.expr:
        params, _ = _driving(args.expr, model.rig, config, args.arkit_map)
        if not 0 <= args.frame < params.num_frames:
            raise ValueError(f"{args.expr}: --frame {args.frame} is outside 0..{params.num_frames - 1}")
        params = params.frame(args.frame)
    else:
        params = model.rig.zero_params(1)
    with torch.no_grad():
        write_3dgs_ply(blend(model, params, args.backend), args.ply)
    log.info("wrote %s (%d Gaussians)", args.ply, model.num_gaussians)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from avatar.demo import run_demo

    metrics = run_demo(args.out, size=args.size, num_train=args.train_frames, num_test=args.test_frames,
                       preset=args.preset, iterations=args.iterations, backend=args.backend)
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from avatar.bench import BACKENDS, DEFAULT_SIZES, format_report, parse_sizes, run_bench

    if args.tracker:
        from capture.bench_tracker import bench_tracker, format_tracker_rows

        rows = bench_tracker(args.tracker, args.rig, args.frames)
        print(format_tracker_rows(rows))
        if args.json:
            dump_json(rows, args.json)
        return 0

    sizes = parse_sizes(args.sizes) if args.sizes else list(DEFAULT_SIZES)
    backends = [b for item in (args.backends or BACKENDS) for b in item.split(",") if b]
    repeats = args.repeat if args.repeat is not None else (2 if args.quick else 5)
    if repeats < 1:
        raise ValueError(f"--repeat must be at least 1, got {repeats}")
    warmup = 1
    rows, missing = run_bench(sizes, backends, repeats, warmup, log=log.info)
    print(format_report(rows, missing, sizes, repeats, warmup))
    if args.json:
        dump_json(rows, args.json)
    return 0
