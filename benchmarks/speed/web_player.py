"""The web player's frame time and faithfulness in headless Chromium, for an avatar and a
smaller level of detail of it:

    python benchmarks/speed/web_player.py MODEL.avatar [--counts 30000,0] [--size 512] [--frames 12]
        [--seconds 10] [--json OUT.json]

For each Gaussian count (0: all of them; fewer: the avatar's most contributing Gaussians,
avatar.renderer.lod), the avatar is exported with `avatar export --web` (its capture's clip as the
embedded sequence when the capture is on this machine (--capture), else a synthetic motion) and opened in the
system's headless Chromium (avatar.web.headless; WebGL2 on SwiftShader where there is no GPU).
Columns: the .webavatar's MB; the worker's ms per frame (pose + blend, colour, sort + pack, cut)
and the page's ms to upload, draw and read a frame back, medians over `--frames` frames drawn one
at a time; the GPU's ms per frame (EXT_disjoint_timer_query_webgl2, median) and the frames per
second the page shows while it plays the sequence for `--seconds` (the worker and the GPU then
overlap); PSNR of the page's frames against Avatar.render (mean / worst).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from avatar.data.capture import load_capture
from avatar.data.expressions import save_expression_file
from avatar.data.synthetic_motion import make_motion
from avatar.model import Avatar, load_avatar
from avatar.splat import Camera
from avatar.splat.framing import camera_path
from avatar.renderer.lod import contributions, pruned
from avatar.rig import RigParams
from avatar.export import export_web
from avatar.web.headless import browser, find_chromium, open_player, params_json, render_in_page, served

ROW = "{:>9} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>11}"
HEADER = ("Gaussians", "MB", "pose+bl", "colour", "sort+pk", "cut", "worker", "draw", "gpu", "fps", "PSNR mean/min")


def driving(avatar: Avatar, frames: int, size: int, capture: Path | None,
            work: Path) -> tuple[list[tuple[RigParams, Camera]], Path]:
    """(shots: params [1] with the avatar's identity and a camera of size x size, the expression
    source to embed as the sequence the page plays): held-out frames of the avatar's capture with
    their own cameras when the capture is here (`capture`, else where the avatar says it was
    trained), else a synthetic motion of its rig seen along an arc, saved to `work`."""
    capture = capture or avatar.capture
    if capture is not None and (capture / "capture.json").is_file():
        cap = load_capture(capture)
        test = cap.splits.get("test", [])
        if test:
            shots = []
            for f in test[:: max(1, len(test) // frames)][:frames]:
                params, _ = avatar.params(cap.frame_params(f))
                shots.append((params, resized(cap.camera(f), size)))
            return shots, capture
    plan = make_motion(avatar.rig, max(frames, 60), 1)
    params, _ = avatar.params(plan.params.select(plan.train_times))
    save_expression_file(work / "motion.npz", params, 30.0)
    cameras = camera_path(avatar.rig, "arc", size, frames)
    return [(params.frame(t), cameras(t)) for t in range(frames)], work / "motion.npz"


def resized(camera: Camera, size: int) -> Camera:
    """camera seeing the same picture in size x size pixels (a square capture camera)."""
    scale = size / camera.width
    k = camera.K.clone()
    k[:2] *= scale
    return Camera(k, camera.world_to_cam, size, round(camera.height * scale), camera.near, camera.far)


def level(avatar: Avatar, count: int, shots: list[tuple[RigParams, Camera]]) -> Avatar:
    """The avatar with its `count` most contributing Gaussians (over the shots)."""
    if not count or count >= avatar.model.num_gaussians:
        return avatar
    weight = sum(contributions(avatar.model, params, [camera]) for params, camera in shots)
    small = pruned(avatar.model, weight.argsort(descending=True)[:count])
    return Avatar(small, avatar.identity_shape, avatar.background, avatar.settings, "cpu", avatar.expression_range)


def measure(b, avatar: Avatar, shots: list[tuple[RigParams, Camera]], sequence: Path, size: int, seconds: float,
            work: Path) -> dict:
    folder = work / f"web_{avatar.model.num_gaussians}"
    manifest = export_web(avatar, folder, [sequence])
    stages: dict[str, list[float]] = {}
    psnrs = []
    with served(folder) as url:
        page = open_player(b, url, f"manual=1&size={size}")
        render_in_page(page, params_json(shots[0][0]), shots[0][1])  # warm-up: JIT, shaders, textures
        for params, camera in shots:
            image, timing = render_in_page(page, params_json(params), camera)
            for stage, ms in timing["workerMs"].items():
                stages.setdefault(stage, []).append(ms)
            stages.setdefault("draw", []).append(timing["drawMs"])
            reference = avatar.renderer.render(params, camera).rgb.clamp(0, 1)
            expected = (reference.numpy() * 255).round().astype(np.uint8)
            mse = float(((image.astype(np.float64) - expected) ** 2).mean())
            psnrs.append(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))
        page.close()
        page = open_player(b, url, f"size={size}&seq={manifest['sequences'][0]['name']}")
        time.sleep(1.0)  # the first frames compile and upload
        start, started = page.evaluate("window.avatarPlayer.stats.frames"), time.perf_counter()
        while time.perf_counter() - started < seconds:
            time.sleep(0.25)
            gpu = page.evaluate("window.avatarPlayer.renderer.gpuMs")
            if gpu is not None:
                stages.setdefault("gpu", []).append(gpu)
        fps = (page.evaluate("window.avatarPlayer.stats.frames") - start) / (time.perf_counter() - started)
        page.close()
    median = {stage: statistics.median(values) for stage, values in stages.items()}
    return {"gaussians": avatar.model.num_gaussians, "mb": manifest["avatar_bytes"] / 1e6, "ms": median,
            "fps_playing": fps, "psnr_mean": statistics.fmean(psnrs), "psnr_min": min(psnrs), "size": size,
            "frames": len(shots)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--capture", type=Path, default=None,
                        help="the avatar's capture, where it is not where the avatar says it was trained")
    parser.add_argument("--counts", default="30000,0", help="Gaussian counts to measure (0: all)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    executable = find_chromium()
    if executable is None:
        print("no system chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    torch.set_grad_enabled(False)
    avatar = load_avatar(args.model, backend="cpu")
    rows = []
    print(f"{args.model}: {avatar.model.num_gaussians} Gaussians; {args.frames} frames at {args.size} px; "
          f"Chromium {executable}")
    with tempfile.TemporaryDirectory() as work, browser(executable) as b:
        shots, sequence = driving(avatar, args.frames, args.size, args.capture, Path(work))
        print(f"driven by {sequence}")
        print(ROW.format(*HEADER))
        for count in (int(c) for c in args.counts.split(",")):
            row = measure(b, level(avatar, count, shots), shots, sequence, args.size, args.seconds, Path(work))
            rows.append(row)
            ms = row["ms"]
            print(ROW.format(row["gaussians"], f"{row['mb']:.2f}", f"{ms['pose'] + ms['blend']:.1f}",
                             f"{ms['colour']:.1f}", f"{ms['sort'] + ms['pack']:.1f}", f"{ms['cut']:.1f}",
                             f"{ms['total']:.1f}", f"{ms['draw']:.1f}", f"{ms['gpu']:.1f}" if "gpu" in ms else "-",
                             "-" if row["fps_playing"] is None else f"{row['fps_playing']:.1f}",
                             f"{row['psnr_mean']:.1f}/{row['psnr_min']:.1f}"))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
