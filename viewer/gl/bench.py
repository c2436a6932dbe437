"""`bench_gl`: milliseconds per frame of the GL splatting renderer on `avatar bench`'s scene.

The scene is avatar.bench.bench_scene (the builtin head with exactly N Gaussians, random
attribute offsets, a frontal camera), blended once with the torch blend; only splatting is
timed. Rows: the CPU depth sort alone, a frame without readback (sort, pack, upload, draw,
glFinish), a frame read back as rgb/alpha/depth tensors, and the full RenderOutput of the `gl`
backend (adds means2d/radii from the torch projection). Median of `repeats` after `warmup`.

Run: `python -m viewer.gl.bench [--size 512x512] [--gaussians 100000] [--sh-degree 0]`; on
llvmpipe, LP_NUM_THREADS sets its rasterizer threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable

import torch

from avatar.bench.backends import BenchSize, bench_scene
from avatar.gaussians import blend
from viewer.gl.splat import GLSplatRenderer, back_to_front

BENCH_NUM_EXPR = 50  # as avatar bench's 512x512 size


def bench_gl(width: int = 512, height: int = 512, num_gaussians: int = 100_000, sh_degree: int = 0,
             repeats: int = 20, warmup: int = 3) -> tuple[list[dict], str]:
    """(rows with op, ms_median, ms_min; the GL renderer's description). sh_degree > 0 appends
    small random higher SH bands to the scene's colours (more work per Gaussian)."""
    model, params, camera = bench_scene(BenchSize(width, height, num_gaussians, BENCH_NUM_EXPR))
    with torch.no_grad():
        gaussians = blend(model, params, backend="torch")
    rest = 0.1 * torch.randn(num_gaussians, (sh_degree + 1) ** 2 - 1, 3, generator=torch.Generator().manual_seed(0))
    gaussians.sh = torch.cat([gaussians.sh, rest], dim=1)
    renderer = GLSplatRenderer(width, height)
    background = torch.ones(3)
    ops: dict[str, Callable[[], object]] = {
        "depth sort (CPU torch)": lambda: back_to_front(gaussians, camera),
        "frame, no readback": lambda: renderer.render_offscreen(gaussians, camera, background),
        "frame + readback": lambda: renderer.render_image(gaussians, camera, background),
        "gl backend RenderOutput": lambda: renderer.render(gaussians, camera, background),
    }
    rows = []
    for op, fn in ops.items():
        median, fastest = _timed(fn, repeats, warmup)
        rows.append({"op": op, "width": width, "height": height, "num_gaussians": num_gaussians, "sh_degree": sh_degree,
                     "ms_median": median, "ms_min": fastest, "repeats": repeats})
    description = f"{renderer.ctx.info['GL_RENDERER']}, LP_NUM_THREADS={os.environ.get('LP_NUM_THREADS', 'unset')}"
    renderer.release()
    return rows, description


def format_table(rows: list[dict], description: str) -> str:
    first = rows[0]
    lines = [f"gl splat, {first['width']}x{first['height']}, {first['num_gaussians']} Gaussians, SH degree "
             f"{first['sh_degree']} (median of {first['repeats']}); {description}",
             f"{'op':<26}{'ms median':>11}{'ms min':>9}{'fps':>8}"]
    lines += [f"{r['op']:<26}{r['ms_median']:>11.2f}{r['ms_min']:>9.2f}{1e3 / r['ms_median']:>8.1f}" for r in rows]
    return "\n".join(lines)


def _timed(fn: Callable[[], object], repeats: int, warmup: int) -> tuple[float, float]:
    """(median, fastest) milliseconds of fn() over `repeats` calls after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - started))
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description="Time the GL splatting renderer.")
    parser.add_argument("--size", default="512x512", help="WIDTHxHEIGHT")
    parser.add_argument("--gaussians", type=int, default=100_000)
    parser.add_argument("--sh-degree", type=int, default=0, choices=range(4))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size '{args.size}' is not WIDTHxHEIGHT (e.g. 512x512)")
    print(format_table(*bench_gl(width, height, args.gaussians, args.sh_degree, args.repeats, args.warmup)))


if __name__ == "__main__":
    main()
