"""Implementations of the `avatar` subcommands (argument parsing lives in main.py)."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

from avatar.cli.errors import InputError
from avatar.data.atomic import atomic_folder, check_output_path, dump_json
from avatar.data.audio import AudioMuxer, probe_audio, take_clock
from avatar.data.capture import load_capture
from avatar.data.splits import train_on_cameras
from avatar.data.video import alpha_format
from avatar.runtime.devices import resolve_device
from avatar.export.ply import AXES, write_3dgs_ply
from avatar.model import Avatar, load_avatar
from avatar.splat.framing import camera_path
from avatar.export.ply_frame import CUT_VIEW_ELEVATION_DEG, export_frame
from avatar.export.gltf import export_gltf
from avatar.renderer.sequence import render_sequence
from avatar.rig import RigParams
from avatar.rig.loaders import load_rig
from avatar.training.config import choose_preset, load_config, parse_settings
from avatar.training.evaluate import PER_CAMERA, evaluate_avatar
from avatar.training.model_info import format_info, model_info
from avatar.training.run_log import read_metrics, run_dir_for
from avatar.training.trainer import train
from avatar.export import export_web

log = logging.getLogger("avatar")


def cmd_train(args: argparse.Namespace) -> int:
    if args.out is not None:
        check_output_path(args.out)  # before loading anything: a wrong path wastes no training
    device = resolve_device(args.device)
    capture = load_capture(args.capture)
    if args.cameras is not None:
        capture = train_on_cameras(capture, args.cameras)  # before the preset: it follows the training cameras
    rig = load_rig(args.rig or capture.rig)
    preset, why = choose_preset(capture, args.preset)
    log.info("training preset '%s': %s", preset, why)
    cfg = load_config(preset, **parse_settings(args.settings)).updated(iterations=args.iterations, backend=args.backend)
    if args.print_config:
        print(yaml.safe_dump(cfg.to_dict() | {"background": list(cfg.background)}, sort_keys=False), end="")
        return 0
    if args.out is None:
        raise InputError("avatar train: --out MODEL.avatar is required")
    started = time.perf_counter()
    avatar = train(
        capture,
        rig,
        cfg,
        args.out,
        resume=args.resume,
        log_dir=args.log_dir,
        tensorboard=args.log == "tensorboard",
        device=device,
    )
    log.info("wrote %s: %d Gaussians in %.0f s", args.out, avatar.model.num_gaussians, time.perf_counter() - started)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    avatar = load_avatar(args.model, args.rig)
    info = model_info(avatar, read_metrics(run_dir_for(args.model)))
    print(json.dumps(info, indent=2) if args.json else format_info(args.model, info))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if args.json is not None:
        check_output_path(args.json)
    avatar = load_avatar(args.model, args.rig, resolve_device(args.device), args.backend)
    capture = load_capture(args.capture)
    metrics = evaluate_avatar(avatar, capture, args.split, save_images=args.save_images)
    summary = {
        s: m if s == PER_CAMERA else {k: v for k, v in m.items() if k != "per_frame"} for s, m in metrics.items()
    }
    print(_json_lines(summary))
    if args.json:
        dump_json(metrics, args.json)
    return 0


def _json_lines(value: object, depth: int = 0, inline_from: int = 3) -> str:
    """JSON indented as json.dumps(indent=2) writes it, but with objects nested `inline_from` deep on
    one line (numbers to 4 decimals): `avatar eval`'s per-camera rows, one per camera and split."""
    if not isinstance(value, dict):
        return json.dumps(value, indent=2).replace("\n", "\n" + "  " * depth)
    if depth >= inline_from or not value:
        return json.dumps(_rounded(value))
    pad = "  " * (depth + 1)
    items = ",\n".join(f"{pad}{json.dumps(k)}: {_json_lines(v, depth + 1, inline_from)}" for k, v in value.items())
    return "{\n" + items + "\n" + "  " * depth + "}"


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def cmd_render(args: argparse.Namespace) -> int:
    check_output_path(args.out, folder_must_exist=True)  # the video writer creates no folders
    if args.alpha:
        alpha_format(args.out)  # before loading anything: a suffix without alpha is refused at once
    # A missing or silent sound file is refused before the avatar loads, one that misses the take
    # before rendering.
    take = take_clock(args.expr) if args.audio is not None else None
    sound = probe_audio(args.audio, take.rate if take else None) if args.audio is not None else None
    avatar = load_avatar(args.model, args.rig, resolve_device(args.device), args.backend)
    params, fps = avatar.params(args.expr, args.arkit_map)
    audio = AudioMuxer(sound, take, params.num_frames / fps) if sound is not None else None
    if audio is not None:
        log.info("audio: %s", audio.describe())
    cameras = camera_path(avatar.rig, args.camera, args.size, params.num_frames)
    n = render_sequence(avatar.renderer, params, cameras, args.out, fps, alpha=args.alpha, audio=audio)
    log.info("wrote %s: %d frames at %.2f fps%s", args.out, n, fps, " with audio" if audio else "")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.web is not None:
        return _export_web(args)
    if args.gltf is not None:
        return _export_gltf(args)
    if args.expr is not None and len(args.expr) > 1:
        raise InputError("avatar export: --ply and --ply-sequence take one --expr (several go with --web)")
    expr = args.expr[0] if args.expr else None
    if args.ply is not None:
        check_output_path(args.ply)
    elif expr is None:
        raise InputError("avatar export --ply-sequence: needs --expr (the clip whose frames to write)")
    if args.frames is not None and args.ply is not None:
        raise InputError("avatar export: --frames goes with --ply-sequence; --ply writes one --frame")
    args.axes = args.axes or "inria"
    device = resolve_device(args.device)
    avatar = load_avatar(args.model, args.rig, device)
    params, fps = avatar.params(expr, args.arkit_map)  # neutral by default, with the avatar's identity
    if args.ply is not None:
        index = args.frame or 0
        if not 0 <= index < params.num_frames:
            source = expr or "the neutral pose"
            raise InputError(f"{source}: --frame {index} is outside 0..{params.num_frames - 1}")
        frame = _export_ply(avatar, params.frame(index), args, args.ply)
        log.info(
            "wrote %s: %d of %d Gaussians (%d below the head's cut), axes %s",
            args.ply,
            frame.gaussians.num,
            frame.num_total,
            frame.num_cut,
            args.axes,
        )
        return 0
    first, end = _frame_range(args.frames, params.num_frames, expr)
    with atomic_folder(args.ply_sequence) as folder:  # a killed run leaves no folder that looks complete
        for t in tqdm(range(first, end), desc="exporting frames", disable=None):
            _export_ply(avatar, params.frame(t), args, folder / f"frame_{t:05d}.ply")
        (folder / "sequence.json").write_text(
            json.dumps(
                {
                    "source": str(expr),
                    "fps": fps,
                    "first_frame": first,
                    "frames": end - first,
                    "axes": args.axes,
                    "files": [f"frame_{t:05d}.ply" for t in range(first, end)],
                },
                indent=2,
            )
        )
    log.info("wrote %s: %d frames of %s at %.2f fps, axes %s", args.ply_sequence, end - first, expr, fps, args.axes)
    return 0


def _export_web(args: argparse.Namespace) -> int:
    unused = [
        flag
        for flag, value in (
            ("--frame", args.frame is not None),
            ("--frames", args.frames is not None),
            ("--axes", args.axes is not None),
            ("--cut-views", args.cut_views is not None),
            ("--no-cut", args.no_cut),
        )
        if value
    ]
    if unused:
        raise InputError(
            f"avatar export --web: {', '.join(unused)} apply to the .ply exports (the player plays whole "
            "sequences and cuts each frame as the engine does)"
        )
    avatar = load_avatar(args.model, args.rig, "cpu")
    if not avatar.rig.embeddable:  # as bad input here (the .webavatar writer's own check is a ValueError)
        raise InputError(
            f"{args.model}: rig '{avatar.rig.name}': its licence forbids copying its arrays into a file, "
            "and the web player's .webavatar holds the whole rig mesh"
        )
    started = time.perf_counter()
    manifest = export_web(avatar, args.web, args.expr, args.arkit_map)
    sequences = ", ".join(f"{s['name']} ({s['frames']} frames)" for s in manifest["sequences"]) or "none"
    coarser = "; ".join(
        f"{level['count']:,} Gaussians at {level['psnr_db']:.1f} dB against the full avatar (worst frame "
        f"{level['psnr_min_db']:.1f})"
        for level in manifest["levels"][1:]
    )
    log.info(
        "wrote %s in %.1f s: %d Gaussians in %.1f MB, level of detail: %s, sequences: %s; open it through a "
        "web server, e.g. `python -m http.server -d %s 8000` and http://localhost:8000",
        args.web,
        time.perf_counter() - started,
        manifest["num_gaussians"],
        manifest["avatar_bytes"] / 1e6,
        coarser or "none",
        sequences,
        args.web,
    )
    return 0


def _export_gltf(args: argparse.Namespace) -> int:
    """`avatar export --gltf OUT.glb`: the avatar, animated by --expr when given."""
    if args.frame is not None:
        raise InputError("avatar export --gltf: --frame goes with --ply; --gltf animates --frames A:B of --expr")
    if args.axes is not None:
        raise InputError("avatar export --gltf: --axes goes with --ply; a glTF is in glTF's axes (y up, the rig's own)")
    if args.frames is not None and args.expr is None:
        raise InputError("avatar export --gltf: --frames needs --expr (the clip to animate)")
    if args.expr is not None and len(args.expr) > 1:
        raise InputError("avatar export --gltf: animates one --expr (several go with --web)")
    expr = args.expr[0] if args.expr else None
    check_output_path(args.gltf)
    avatar = load_avatar(args.model, args.rig, "cpu")  # the export is arrays on the CPU whatever --device says
    if not avatar.rig.embeddable:  # before reading the clip: refused whatever it holds
        raise InputError(
            f"{args.model}: rig '{avatar.rig.name}': its licence forbids copying its arrays into a file, "
            "and a glTF holds the whole rig mesh"
        )
    params, fps = None, 25.0
    if expr is not None:
        params, fps = avatar.params(expr, args.arkit_map)
        first, end = _frame_range(args.frames, params.num_frames, expr)
        params = params.select(list(range(first, end)))
    elif args.arkit_map is not None:
        raise InputError(f"--arkit-map {args.arkit_map}: applies only to a Live Link Face .csv --expr")
    views = CUT_VIEW_ELEVATION_DEG if args.cut_views is None else args.cut_views
    summary = export_gltf(
        avatar.model,
        avatar.identity(),
        args.gltf,
        params,
        fps,
        cut=not args.no_cut,
        view_elevation_deg=views,
        animation_name=Path(expr).stem if expr else "clip",
    )
    animated = f"{summary.num_frames} frames of {expr} at {fps:.2f} fps" if params is not None else "no animation"
    log.info(
        "wrote %s (%.1f MB): %d vertices, %d morph targets (%d ARKit-named), %d of %d Gaussians (%d below the "
        "head's cut), %s",
        args.gltf,
        summary.bytes / 1e6,
        summary.num_vertices,
        len(summary.target_names),
        summary.num_arkit_named,
        summary.num_gaussians,
        summary.num_gaussians + summary.num_cut,
        summary.num_cut,
        animated,
    )
    if summary.dropped_weight > 0:
        log.warning(
            "%s: skinning keeps 4 joints a vertex; the largest weight left out is %.3f",
            args.gltf,
            summary.dropped_weight,
        )
    return 0


def _export_ply(avatar: Avatar, params: RigParams, args: argparse.Namespace, path: Path):
    """One frame [1] of params written as a 3DGS .ply at path; the exported frame."""
    model = avatar.model
    views = CUT_VIEW_ELEVATION_DEG if args.cut_views is None else args.cut_views
    frame = export_frame(
        model,
        params.to(device=avatar.device, dtype=torch.float32),
        args.backend,
        args.axes,
        cut=not args.no_cut,
        view_elevation_deg=views,
    )
    cut = (
        (
            f"the cut below the head: what it hides in every view within {views:g} degrees of the neck ring's plane "
            "left out"
        )
        if model.head_cut is not None and not args.no_cut
        else "no cut below the head"
    )
    comments = [AXES[args.axes], f"avatar export: {frame.gaussians.num} of {frame.num_total} Gaussians ({cut})"]
    if frame.cone_baked:
        comments.append("view-dependent colour: the avatar's view cone baked in (as the engine shows it)")
    write_3dgs_ply(frame.gaussians, path, comments)
    return frame


def _frame_range(text: str | None, count: int, source: Path) -> tuple[int, int]:
    """(first, end) of `--frames A:B` (default: all `count` frames of source)."""
    if text is None:
        return 0, count
    try:
        first, end = (int(part) for part in text.split(":"))
    except ValueError:
        raise InputError(f"--frames {text!r}: expected A:B, two whole numbers (frames A to B-1)") from None
    if not 0 <= first < end <= count:
        raise InputError(f"--frames {text}: {source} has frames 0..{count - 1}; need 0 <= A < B <= {count}")
    return first, end


def cmd_demo(args: argparse.Namespace) -> int:
    from avatar.cli.demo import run_demo

    metrics = run_demo(
        args.out,
        size=args.size,
        num_train=args.train_frames,
        num_test=args.test_frames,
        preset=args.preset,
        iterations=args.iterations,
        backend=args.backend,
        device=resolve_device(args.device),
    )
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.model is not None:
        return _bench_model(args)
    from avatar.bench.backends import DEFAULT_SIZES, format_report, parse_sizes, run_bench

    sizes = parse_sizes(args.sizes) if args.sizes else list(DEFAULT_SIZES)
    device = resolve_device(args.device)
    backends = [b for item in args.backends for b in item.split(",") if b] if args.backends else None
    repeats = args.repeat if args.repeat is not None else (2 if args.quick else 5)
    if repeats < 1:
        raise InputError(f"--repeat must be at least 1, got {repeats}")
    warmup = 1
    rows, missing = run_bench(sizes, backends, repeats, warmup, log=log.info, device=device)
    print(format_report(rows, missing, sizes, repeats, warmup))
    if args.json:
        dump_json(rows, args.json)
    return 0


def _bench_model(args: argparse.Namespace) -> int:
    """`avatar bench --model MODEL`: a trained avatar's frames, stage by stage."""
    from avatar.bench.model import DEFAULT_MODEL_SIZES, bench_model, format_model_rows

    if args.json is not None:
        check_output_path(args.json)
    sizes = _pixel_sizes(args.sizes) if args.sizes else list(DEFAULT_MODEL_SIZES)
    backends = [b for item in args.backends for b in item.split(",") if b] if args.backends else ["auto"]
    avatar = load_avatar(args.model, getattr(args, "rig", None), resolve_device(args.device))
    params, driven_by = _driving_params(avatar, args.expr, args.frames or 60)
    rows = bench_model(
        avatar.model,
        avatar.background,
        params.to(device=avatar.renderer.device, dtype=torch.float32),
        sizes,
        backends,
        log=log.info,
    )
    print(format_model_rows(rows, str(args.model), driven_by))
    if args.json:
        dump_json({"model": str(args.model), "driven_by": driven_by, "rows": rows}, args.json)
    return 0


def _pixel_sizes(text: str) -> list[int]:
    try:
        sizes = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise InputError(
            f"--sizes with --model: '{text}' is not a list of image sizes in pixels (e.g. 256,512)"
        ) from None
    if not sizes or not all(16 <= s <= 4096 for s in sizes):
        raise InputError(f"--sizes with --model: every size must be in 16..4096 pixels, got '{text}'")
    return sizes


def _driving_params(avatar: Avatar, source: Path | None, frames: int) -> tuple[RigParams, str]:
    """At most `frames` frames of rig parameters with the avatar's identity, and what they are:
    `source` (an expression file or a tracked capture), else the held-out frames of the avatar's
    training capture when it is on this machine, else a synthetic motion of its rig."""
    if source is None:
        capture = avatar.capture
        if capture is not None and (capture / "capture.json").is_file():
            cap = load_capture(capture)
            times = [cap.frames[f].time for f in (cap.splits.get("test") or range(len(cap.frames)))][:frames]
            params, _ = avatar.params(capture)
            return params.select(times), f"{len(times)} held-out frames of {capture}"
        from avatar.data.synthetic_motion import make_motion

        params, _ = avatar.params(make_motion(avatar.rig, max(2, frames - 1), 1).params)
        return params.select(list(range(frames))), f"{frames} frames of a synthetic motion of its rig"
    params, _ = avatar.params(source)
    count = min(frames, params.num_frames)
    return params.select(list(range(count))), f"{count} frames of {source}"
