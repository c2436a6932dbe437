"""LAM's web renderer and ours side by side: the same ARKit take, the same headless Chromium, the
same size, LAM's avatar and ours cut to its Gaussian count (and ours whole):

    python benchmarks/speed/web_vs_lam.py LAM_ZIP LAM_TAKE.json MODEL --json OUT [--size 512] [--frames 300]

LAM_ZIP: a LAM avatar (LAM_WebRender's asset/arkit/p2-1.zip), LAM_TAKE.json: LAM's ARKit take
(asset/test_expression_1s.json), MODEL: one of our .avatar files. LAM's side: its npm renderer
(gaussian-splat-renderer-for-lam, installed by `npm ci` in benchmarks/speed/web_vs_lam/) on
web_vs_lam/lam_page.js, which drives it as LAM's demo does: the take's weights by name, a frame
every 1/30 s (its fade-in skipped: the steady state). Ours, at `?lod=0`: `avatar export --web`
of MODEL with its `--counts`-style level of detail (web_player.level: the most contributing
Gaussians over frames of the take) at LAM's count, and of MODEL whole, the take embedded as a sequence through a Live Link CSV (lam_take.py: the same
weights, mapped as any Live Link take is). Each page plays in a `--size` square viewport, alone;
after a 2 s warm-up, until `--frames` more frames are drawn: `frame_ms`, the median wall time
between drawn frames; per drawn frame, the CPU time of the page's renderer process (`cpu_ms`:
CDP ProcessTime, its main thread, workers and compositor, as web_player.py's) and of Chromium's
GPU process (`gpu_process_ms`, /proc: where SwiftShader runs the GPU's work when there is no
GPU); `covered`, the share of the canvas the avatar covers (its fragments, the GPU's work, grow
with it). Prints a table; --json writes {"lam": {...}, "ours": {...}, "ours_full": {...},
"ratio": ours/LAM, "setup": {...}}.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from avatar.export import export_web
from avatar.model import Avatar, load_avatar
from avatar.rig import RigParams
from avatar.splat import Camera
from avatar.splat.framing import camera_path
from avatar.web.headless import CHROMIUM_ARGS, browser, find_chromium, open_player, served
from lam_take import read_lam_take, write_livelink_csv
from web_player import RECORD_FRAMES, level, page_metrics
from web_player_ab import gpu_process_seconds

PAGE = Path(__file__).resolve().parent / "web_vs_lam"
LAM_MODULE = (
    PAGE / "node_modules" / "gaussian-splat-renderer-for-lam" / "build" / "gaussian-splat-renderer-for-lam.module.js"
)
WARM_UP_S = 2.0  # the first frames compile shaders and upload
LOAD_TIMEOUT_S = 180.0
SHOTS = 12  # frames of the take the level of detail is chosen over
ROW = "{:<12} {:>9} {:>9} {:>6} {:>8} {:>12} {:>8}"
HEADER = ("renderer", "Gaussians", "frame_ms", "fps", "cpu_ms", "gpu_proc_ms", "covered")
# hides our player's counter and button, which would count as covered
_HIDE_OVERLAYS = "() => { for (const e of document.querySelectorAll('#hud, #toggle')) e.style.visibility = 'hidden'; }"
_RENDERER = """() => { const gl = document.createElement('canvas').getContext('webgl2');
  const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
  return gl ? gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) : null; }"""


def lam_gaussians(zip_path: Path) -> int:
    """The Gaussians of a LAM avatar: the vertex count of the offset.ply in its zip."""
    with zipfile.ZipFile(zip_path) as z:
        name = next((n for n in z.namelist() if n.endswith("/offset.ply") and not n.startswith("__MACOSX")), None)
        if name is None:
            raise ValueError(f"{zip_path}: no offset.ply (not a LAM avatar)")
        with z.open(name) as f:
            for line in f:
                if line.startswith(b"element vertex"):
                    return int(line.split()[2])
                if line.strip() == b"end_header":
                    break
    raise ValueError(f"{zip_path}: {name} has no vertex count")


def lam_folder(work: Path, zip_path: Path, take: Path) -> Path:
    """A folder to serve LAM's page from: the page, the renderer's module, the avatar, the take."""
    folder = work / "lam"
    folder.mkdir()
    links = {
        "index.html": PAGE / "index.html",
        "lam_page.js": PAGE / "lam_page.js",
        "renderer.module.js": LAM_MODULE,
        "avatar.zip": zip_path,
        "take.json": take,
    }
    for name, target in links.items():
        (folder / name).symlink_to(target.resolve())
    return folder


def take_shots(avatar: Avatar, take_csv: Path, size: int) -> list[tuple[RigParams, Camera]]:
    """SHOTS frames spread over the take, each seen from the player's front camera."""
    params, _ = avatar.params(take_csv)
    camera = camera_path(avatar.rig, "front", size, 1)(0)
    step = max(1, params.num_frames // SHOTS)
    return [(params.frame(t), camera) for t in range(0, params.num_frames, step)][:SHOTS]


def play(page, frames: int, timeout_s: float) -> dict:
    """Let the page play until `frames` more frames are drawn (window.frameTimes grows by one a
    drawn frame), nothing else asked of it but the count every half second; wall and CPU times."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    time.sleep(WARM_UP_S)
    page.evaluate("window.frameTimes = []")
    before, gpu_before, started = page_metrics(cdp), gpu_process_seconds(), time.perf_counter()
    while page.evaluate("window.frameTimes.length") <= frames:
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"fewer than {frames} frames drawn in {timeout_s:.0f} s")
        time.sleep(0.5)
    after, gpu_after, elapsed = page_metrics(cdp), gpu_process_seconds(), time.perf_counter() - started
    times = page.evaluate("window.frameTimes")
    drawn = len(times)
    return {
        "frames": drawn,
        "seconds": elapsed,
        "fps": drawn / elapsed,
        "frame_ms": statistics.median(np.diff(times[: frames + 1])),
        "frame_ms_mean": statistics.fmean(np.diff(times)),
        "cpu_ms": 1000 * (after["ProcessTime"] - before["ProcessTime"]) / drawn,
        "gpu_process_ms": 1000 * (gpu_after - gpu_before) / drawn,
    }


def covered(page, size: int) -> float:
    """The share of the top-left size x size pixels (the canvas) unlike its top-left pixel (the
    background there) by more than 8 levels."""
    page.evaluate(_HIDE_OVERLAYS)
    shot = Image.open(io.BytesIO(page.screenshot(clip={"x": 0, "y": 0, "width": size, "height": size})))
    rgb = np.asarray(shot.convert("RGB"), dtype=np.int16)
    return float((np.abs(rgb - rgb[0, 0]).max(axis=2) > 8).mean())


def measure_lam(b, folder: Path, size: int, frames: int) -> dict:
    with served(folder) as url:
        page = b.new_page(viewport={"width": size, "height": size})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}index.html?size={size}")
        page.wait_for_function(
            "window.lamPage && (window.lamPage.ready || window.lamPage.error)",
            timeout=1000 * LOAD_TIMEOUT_S,
            polling=500,
        )
        failure = page.evaluate("window.lamPage.error")
        if failure is not None or errors:
            raise RuntimeError(f"LAM's page failed: {failure or '; '.join(errors)}")
        row = play(page, frames, 60 + 5 * frames)
        row |= {"gaussians": page.evaluate("window.lamPage.gaussians"), "covered": covered(page, size)}
        page.close()
    return row


def measure_ours(b, avatar: Avatar, take_csv: Path, size: int, frames: int, folder: Path) -> dict:
    manifest = export_web(avatar, folder, [take_csv])
    with served(folder) as url:
        # lod=0: the exported avatar itself, never a coarser level the player might step down to
        page = open_player(b, url, f"size={size}&lod=0&seq={manifest['sequences'][0]['name']}", LOAD_TIMEOUT_S)
        page.set_viewport_size({"width": size, "height": size})  # the canvas at its drawing size, as LAM's
        page.evaluate(RECORD_FRAMES)
        row = play(page, frames, 60 + 5 * frames)
        row |= {
            "gaussians": avatar.model.num_gaussians,
            "lod": page.evaluate("window.avatarPlayer.level ?? null"),  # players with levels: 0
            "covered": covered(page, size),
        }
        page.close()
    return row


def _print_row(name: str, row: dict) -> None:
    print(
        ROW.format(
            name,
            f"{row['gaussians']:,}",
            f"{row['frame_ms']:.1f}",
            f"{row['fps']:.2f}",
            f"{row['cpu_ms']:.1f}",
            f"{row['gpu_process_ms']:.1f}",
            f"{100 * row['covered']:.1f}%",
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lam_zip", type=Path, help="a LAM avatar (.zip)")
    parser.add_argument("take", type=Path, help="LAM's ARKit take (.json)")
    parser.add_argument("model", type=Path, help="our avatar (.avatar)")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--size", type=int, default=512, help="the canvas's side, px")
    parser.add_argument("--frames", type=int, default=300, help="drawn frames measured per renderer")
    args = parser.parse_args(argv)
    executable = find_chromium()
    if executable is None:
        print("no system chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    if not LAM_MODULE.is_file():
        print(f"LAM's renderer is not installed: run `npm ci` in {PAGE}", file=sys.stderr)
        return 2
    torch.set_grad_enabled(False)
    count = lam_gaussians(args.lam_zip)
    avatar = load_avatar(args.model, backend="cpu")
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as work, browser(executable) as b:
        work = Path(work)
        take_csv = work / f"{args.take.stem}.csv"
        write_livelink_csv(take_csv, read_lam_take(args.take))
        print(f"{args.take} -> {take_csv}; LAM {args.lam_zip} ({count:,} Gaussians), ours {args.model}")
        ours = level(avatar, count, take_shots(avatar, take_csv, args.size))
        page = b.new_page()
        gl = page.evaluate(_RENDERER)
        page.close()
        print(f"{args.frames} frames at {args.size} px in {executable} {b.version}, WebGL: {gl}")
        print(ROW.format(*HEADER))
        result = {"lam": measure_lam(b, lam_folder(work, args.lam_zip, args.take), args.size, args.frames)}
        _print_row("LAM", result["lam"])
        result["ours"] = measure_ours(b, ours, take_csv, args.size, args.frames, work / "ours")
        _print_row("ours", result["ours"])
        result["ours_full"] = measure_ours(b, avatar, take_csv, args.size, args.frames, work / "ours_full")
        _print_row("ours (full)", result["ours_full"])
        version = b.version
    load.append(os.getloadavg()[0])
    result["ratio"] = {k: result["ours"][k] / result["lam"][k] for k in ("frame_ms", "cpu_ms", "gpu_process_ms")}
    print(
        "ours/LAM at the same count: "
        + ", ".join(f"{k} {v:.2f}" for k, v in result["ratio"].items())
        + f"; load average {load[0]:.1f} -> {load[1]:.1f}"
    )
    result["setup"] = {
        "size": args.size,
        "frames": args.frames,
        "chromium": version,
        "chromium_args": list(CHROMIUM_ARGS),
        "webgl_renderer": gl,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "load_average": load,
        "lam_zip": str(args.lam_zip),
        "take": str(args.take),
        "model": str(args.model),
    }
    args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
