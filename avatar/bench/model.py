"""`avatar bench --model MODEL`: what a trained avatar's frames cost, stage by stage.

The avatar is rendered as the viewer shows it (the front camera that frames its head, its own
identity and background, its cut) through `AvatarRenderer.render_timed`, driven by the rig
parameters the command picks (real ones where it can: see `avatar.cli.handlers`). Each size and
backend gets the median and 90th percentile of every stage over the frames, after one warm-up
pass; the thread count is the one torch has (AVATAR_THREADS / OMP_NUM_THREADS).
"""

from __future__ import annotations

import platform
import statistics
from typing import Callable

import torch

from avatar.gaussians import GaussianAvatar
from avatar.splat.framing import camera_path
from avatar.renderer.renderer import AvatarRenderer, StageTimes
from avatar.rig import RigParams

STAGES = ("pose_ms", "blend_ms", "splat_ms", "cut_ms", "total_ms")
DEFAULT_MODEL_SIZES = (256, 512)


def bench_model(model: GaussianAvatar, background: tuple[float, float, float], params: RigParams, sizes: list[int],
                backends: list[str], log: Callable[[str], None] = print) -> list[dict]:
    """Rows, one per size and backend: median and p90 ms per stage over the frames of params [T]
    (on the model's device, with the avatar's identity)."""
    rows = []
    for size in sizes:
        camera = camera_path(model.rig, "front", size, 1)(0)
        for backend in backends:
            renderer = AvatarRenderer(model, background, backend)
            for i in range(params.num_frames):  # warm-up: kernels loaded, the grouped copy made, caches warm
                renderer.render(params.frame(i), camera)
            times = [renderer.render_timed(params.frame(i), camera)[1] for i in range(params.num_frames)]
            row = {"size": size, "backend": backend, "ran": renderer.backends(),
                   "num_gaussians": model.num_gaussians, "frames": len(times),
                   "threads": torch.get_num_threads(), "device": _device(renderer)}
            for stage in STAGES:
                values = sorted(_value(t, stage) for t in times)
                row[stage] = {"median": statistics.median(values), "p90": values[int(0.9 * (len(values) - 1))]}
            row["fps"] = 1e3 / row["total_ms"]["median"]
            rows.append(row)
            log(f"  measured {backend} at {size}x{size}")
    return rows


def format_model_rows(rows: list[dict], model: str, driven_by: str) -> str:
    lines = [f"{model}: {rows[0]['num_gaussians']} Gaussians, driven by {driven_by}",
             "ms per frame, median / p90 " + f"({rows[0]['threads']} thread(s); {rows[0]['device']})",
             f"{'size':>5} {'backend':<12}" + "".join(f"{s[:-3]:>14}" for s in STAGES) + f"{'fps':>8}"]
    for r in rows:
        ran = r["backend"] if r["ran"]["splat"] == r["backend"] else f"{r['backend']}->{r['ran']['splat']}"
        cells = "".join(f"{r[s]['median']:>7.2f} /{r[s]['p90']:>5.1f}" for s in STAGES)
        lines.append(f"{r['size']:>5} {ran:<12}{cells}{r['fps']:>8.1f}")
    lines.append("blend: posed rig -> Gaussians (on the CPU's inference path fused with the splat's projection "
                 "and colours); splat: rasterisation; cut: the region below the head")
    return "\n".join(lines)


def _value(times: StageTimes, stage: str) -> float:
    return getattr(times, stage)


def _device(renderer: AvatarRenderer) -> str:
    if renderer.device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(renderer.device)}"
    simd = torch.ops.avatar_ext.cpu_simd() if renderer.backends()["splat"] == "cpu" else "-"
    return f"cpu: {platform.processor() or platform.machine()}, {simd} kernels"
