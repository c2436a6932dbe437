"""The web player's frame time, CPU time and faithfulness in headless Chromium, for an avatar and
a smaller level of detail of it:

    python benchmarks/speed/web_player.py MODEL.avatar [--counts 30000,0] [--size 512] [--frames 12]
        [--seconds 10] [--lod 0|1|auto] [--player DIR] [--json OUT.json]

For each Gaussian count (0: all of them; fewer: the avatar's most contributing Gaussians,
avatar.renderer.lod), the avatar is exported with `avatar export --web` (its capture's clip as the
embedded sequence when the capture is on this machine (--capture), else a synthetic motion) and
opened in the system's headless Chromium (avatar.web.headless; WebGL2 on SwiftShader where there
is no GPU). While the page plays the sequence for `--seconds`, nothing else asked of it: `frame`,
the median wall time between drawn frames, and `fps`; per drawn frame the CPU time of the page's
renderer process (`cpu_ms`: Chromium's ProcessTime, CDP Performance.getMetrics: the page's main
thread, its workers, its compositor; not the GPU process, where SwiftShader does the GPU's work)
and of its main thread alone (`main`: ThreadTime), both with the browser's own work of those
seconds (its counter, the compositor), which slow frames spread over few frames; the player's own
sums (performance.now around its work, waits for the GPU process included: `page` on the main
thread, `worker` in the worker; players that do not keep them show -); `gpu`: the last frame's
EXT_disjoint_timer_query_webgl2 time (under SwiftShader it reads less than the wall time the work
takes). Then `--frames` frames drawn one at a time against Avatar.render (PSNR mean / worst).
`--lod`: the level of detail the page draws (the player's `?lod=`; 0, the full avatar, by default;
1 the export's coarser level, its PSNR then against the full avatar's renders; auto: the page
chooses from its frame times, `lod` the level it drew last). `--player DIR`: another build of the
player (its index.html and player.js), e.g. an older one.
"""

from __future__ import annotations

import argparse
import json
import shutil
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

ROW = "{:>9} {:>6} {:>4} {:>7} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>11}"
HEADER = ("Gaussians", "MB", "lod", "frame", "fps", "cpu_ms", "main", "page", "worker", "gpu", "PSNR mean/min")
# wraps the player's per-frame counter to keep each drawn frame's time (players old and new have it)
RECORD_FRAMES = """() => { const p = window.avatarPlayer; window.frameTimes = [];
  const count = p.count.bind(p); p.count = (...args) => { window.frameTimes.push(performance.now()); return count(...args); }; }"""


def driving(
    avatar: Avatar, frames: int, size: int, capture: Path | None, work: Path
) -> tuple[list[tuple[RigParams, Camera]], Path]:
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


def measure(
    b,
    avatar: Avatar,
    shots: list[tuple[RigParams, Camera]],
    sequence: Path,
    size: int,
    seconds: float,
    work: Path,
    player: Path | None,
    lod: str = "0",
) -> dict:
    folder = work / f"web_{avatar.model.num_gaussians}"
    manifest = export_web(avatar, folder, [sequence])
    if player is not None:
        for name in ("index.html", "player.js"):
            shutil.copyfile(player / name, folder / name)
    with served(folder) as url:
        page = open_player(b, url, f"size={size}&seq={manifest['sequences'][0]['name']}&lod={lod}")
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        time.sleep(2.0)  # the first frames compile and upload
        page.evaluate(RECORD_FRAMES)
        before, started = page_metrics(cdp), time.perf_counter()
        js_before = page.evaluate("window.avatarPlayer.stats.cpu || null")
        time.sleep(seconds)  # nothing asked of the page meanwhile: its CPU time is its own
        after, elapsed = page_metrics(cdp), time.perf_counter() - started
        js_after = page.evaluate("window.avatarPlayer.stats.cpu || null")
        gpu = page.evaluate("window.avatarPlayer.renderer.gpuMs")
        drawn_level = page.evaluate("window.avatarPlayer.level ?? null")  # older players: none
        times = page.evaluate("window.frameTimes")
        page.close()
        drawn = len(times)
        per_frame = {key: 1000 * (after[key] - before[key]) / max(drawn, 1) for key in ("ProcessTime", "ThreadTime")}
        js = None
        if js_before is not None and js_after["frames"] > js_before["frames"]:
            frames = js_after["frames"] - js_before["frames"]
            js = {k: (js_after[k] - js_before[k]) / frames for k in ("page", "worker")}
        page = open_player(b, url, f"manual=1&size={size}&lod={0 if lod == 'auto' else lod}")
        render_in_page(page, params_json(shots[0][0]), shots[0][1])  # warm-up: JIT, shaders, textures
        psnrs = []
        for params, camera in shots:
            image, _ = render_in_page(page, params_json(params), camera)
            reference = avatar.renderer.render(params, camera).rgb.clamp(0, 1)
            expected = (reference.numpy() * 255).round().astype(np.uint8)
            mse = float(((image.astype(np.float64) - expected) ** 2).mean())
            psnrs.append(10 * np.log10(255.0**2 / max(mse, 1e-12)))
        page.close()
    return {
        "gaussians": avatar.model.num_gaussians,
        "mb": manifest["avatar_bytes"] / 1e6,
        "levels": manifest.get("levels"),
        "lod": drawn_level,
        "size": size,
        "frames_drawn": drawn,
        "seconds": elapsed,
        "fps_playing": drawn / elapsed,
        "frame_ms": statistics.median(np.diff(times)) if drawn > 2 else None,
        "cpu_ms": per_frame["ProcessTime"],
        "main_ms": per_frame["ThreadTime"],
        "page_ms": js and js["page"],
        "worker_ms": js and js["worker"],
        "gpu_ms": gpu,
        "psnr_mean": statistics.fmean(psnrs),
        "psnr_min": min(psnrs),
        "frames": len(shots),
    }


def page_metrics(cdp) -> dict[str, float]:
    """Chromium's Performance metrics of the page (seconds for the times)."""
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument(
        "--capture",
        type=Path,
        default=None,
        help="the avatar's capture, where it is not where the avatar says it was trained",
    )
    parser.add_argument("--counts", default="30000,0", help="Gaussian counts to measure (0: all)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--lod", default="0", choices=("0", "1", "auto"), help="the level of detail drawn")
    parser.add_argument("--player", type=Path, default=None, help="another build of the player: its folder")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    executable = find_chromium()
    if executable is None:
        print("no system chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    torch.set_grad_enabled(False)
    avatar = load_avatar(args.model, backend="cpu")
    rows = []
    print(
        f"{args.model}: {avatar.model.num_gaussians} Gaussians; {args.frames} frames at {args.size} px; "
        f"Chromium {executable}"
    )
    with tempfile.TemporaryDirectory() as work, browser(executable) as b:
        shots, sequence = driving(avatar, args.frames, args.size, args.capture, Path(work))
        print(f"driven by {sequence}")
        print(ROW.format(*HEADER))
        for count in (int(c) for c in args.counts.split(",")):
            row = measure(
                b,
                level(avatar, count, shots),
                shots,
                sequence,
                args.size,
                args.seconds,
                Path(work),
                args.player,
                args.lod,
            )
            rows.append(row)
            print(
                ROW.format(
                    row["gaussians"],
                    f"{row['mb']:.2f}",
                    "-" if row["lod"] is None else row["lod"],
                    _ms(row["frame_ms"]),
                    f"{row['fps_playing']:.2f}",
                    _ms(row["cpu_ms"]),
                    _ms(row["main_ms"]),
                    _ms(row["page_ms"]),
                    _ms(row["worker_ms"]),
                    _ms(row["gpu_ms"]),
                    f"{row['psnr_mean']:.1f}/{row['psnr_min']:.1f}",
                )
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
