"""`avatar bench`: milliseconds per blend and splat for each backend, at fixed scene sizes.

Scene per size: a GaussianAvatar on the builtin head with exactly N Gaussians (enough per
face, then a seeded random subset), random attribute and blendshape offsets, `num_blend_expr`
= the size's expression count, seen by a frontal camera framing the head. The builtin head has
43 expressions; larger counts use a copy of the rig whose exprdirs are padded with extra small
random blendshapes (seeded, at most about 2 mm), so the blend cost scales as with a richer rig.

Ops: `blend` (rig parameters -> world Gaussians), `splat_fwd`, `splat_fwd_bwd` (a
random-weighted image loss, gradients to every world-space Gaussian tensor), `frame` (one frame
through the avatar's renderer, `AvatarRenderer.render`: what one rendered frame costs; on the
CPU the inference path that fuses the blend with the splat's projection) and `train_step` (blend + splat forward, then the
backward of that loss to every parameter of the avatar: a training step without the optimiser
update and the SSIM term). Inference ops run under no_grad. Times are the median
of `repeats` runs after `warmup` runs, synchronising CUDA around each.

Every backend runs on the one device of the run (`--device`): on a GPU, torch, cuda and gsplat
are compared on the same CUDA tensors. Rows name what ran (`backend`, `blend_backend`), which
differs from what was asked (`requested`) only when the CUDA kernels failed their self-check.
"""

from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, replace
from typing import Callable

import torch

from avatar.runtime.backends import RENDER_BACKENDS, BackendUnavailable
from avatar.runtime.cpu_threads import ThreadBudget
from avatar.runtime.errors import InputError
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.blend import blend_registry
from avatar.splat.world import Gaussians
from avatar.splat.framing import FRAMING_FOV_Y_DEG, framing_distance, head_target
from avatar.splat import Camera
from avatar.splat.dispatch import splat_registry
from avatar.renderer import AvatarRenderer
from avatar.rig import HeadRig
from avatar.rig.builtin import build_builtin_head

BACKENDS = tuple(b for b in RENDER_BACKENDS if b != "auto")
DEFAULT_BACKENDS = {"cpu": ("torch", "cpu"), "cuda": ("torch", "cuda", "gsplat")}  # per device type
OPS = ("blend", "splat_fwd", "splat_fwd_bwd", "frame", "train_step")


@dataclass(frozen=True)
class BenchSize:
    width: int
    height: int
    num_gaussians: int
    num_expr: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}, {self.num_gaussians} Gaussians, {self.num_expr} expressions"


DEFAULT_SIZES = (BenchSize(256, 256, 30_000, 20), BenchSize(512, 512, 100_000, 50))
# Bounds of --sizes, checked before anything is allocated (a scene of 10^20 Gaussians overflows).
SIZE_BOUNDS = {"pixels": (8, 4096), "gaussians": (1, 5_000_000), "expressions": (1, 1000)}


def parse_sizes(text: str) -> list[BenchSize]:
    """'WxH:N:E[,WxH:N:E...]' (e.g. '64x64:2000:5') -> sizes."""
    sizes = []
    for item in text.split(","):
        try:
            resolution, n, e = item.strip().split(":")
            w, h = resolution.lower().split("x")
            size = BenchSize(int(w), int(h), int(n), int(e))
        except ValueError:
            raise InputError(f"--sizes: '{item}' is not WxH:GAUSSIANS:EXPRESSIONS (e.g. 256x256:30000:20)") from None
        for value, (low, high), what in ((size.width, SIZE_BOUNDS["pixels"], "width"),
                                         (size.height, SIZE_BOUNDS["pixels"], "height"),
                                         (size.num_gaussians, SIZE_BOUNDS["gaussians"], "Gaussian count"),
                                         (size.num_expr, SIZE_BOUNDS["expressions"], "expression count")):
            if not low <= value <= high:
                raise InputError(f"--sizes: the {what} in '{item}' must be in [{low}, {high}], got {value}")
        sizes.append(size)
    return sizes


def bench_rig(num_expr: int, seed: int = 0) -> HeadRig:
    """The builtin head with at least `num_expr` expressions (extra ones random and small)."""
    rig = build_builtin_head()
    extra = num_expr - rig.num_expr
    if extra <= 0:
        return rig
    g = torch.Generator().manual_seed(seed)
    shapes = torch.randn(rig.num_vertices, 3, extra, generator=g)  # [V, 3, extra]
    shapes = 0.002 * shapes / shapes.abs().amax(dim=(0, 1), keepdim=True)  # at most 2 mm per coordinate
    return replace(rig, exprdirs=torch.cat([rig.exprdirs, shapes], dim=-1),
                   expr_names=list(rig.expr_names or []) + [f"bench_extra_{i}" for i in range(extra)])


def bench_scene(size: BenchSize, seed: int = 0):
    """(model, params, camera) on the CPU for one benchmark size."""
    rig = bench_rig(size.num_expr, seed)
    per_face = math.ceil(size.num_gaussians / rig.faces.shape[0])
    model = GaussianAvatar.on_mesh(rig, per_face=per_face, blend_expr=size.num_expr, seed=seed)
    g = torch.Generator().manual_seed(seed)
    keep = torch.randperm(model.num_gaussians, generator=g)[: size.num_gaussians].sort().values
    tensors = {k: v.detach()[:, keep] if k.startswith("d_") else v.detach()[keep]
               for k, v in model.attribute_tensors().items()}
    noise = {"xyz": 0.05, "rot": 0.05, "log_scale": 0.1, "sh_dc": 0.5, "d_xyz": 0.02, "d_rot": 0.02,
             "d_log_scale": 0.02, "d_opacity": 0.05, "d_color": 0.05}
    for name, sigma in noise.items():
        tensors[name] = tensors[name] + sigma * torch.randn(tensors[name].shape, generator=g)
    model.replace_gaussians(tensors, model.parent[keep])
    params = rig.zero_params(1)
    params.expr[0, : size.num_expr] = 0.5 * torch.rand(size.num_expr, generator=g)
    params.jaw[0, 0] = 0.1
    params.rotation[0] = torch.tensor([0.05, 0.2, 0.0])
    centre, extent = head_target(rig)
    camera = Camera.orbit(0.0, 0.0, framing_distance(extent), centre, size.width, size.height, FRAMING_FOV_Y_DEG)
    return model, params, camera


def _device_string(backend: str, device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    text = f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    if backend == "cpu":
        text += f", {torch.ops.avatar_ext.cpu_simd()} kernels"  # the module is loaded: its ops ran
    return text


def _timed(fn: Callable[[], object], repeats: int, warmup: int, device: torch.device) -> tuple[float, float]:
    """(median, min) milliseconds of fn(), with the CPU threads the other processes leave free
    (`cpu_threads`), as the commands run."""
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    threads = ThreadBudget(interval=0.2)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        threads.update()
        started = time.perf_counter()
        fn()
        sync()
        times.append(1e3 * (time.perf_counter() - started))
    times.sort()
    mid = len(times) // 2
    median = times[mid] if len(times) % 2 else 0.5 * (times[mid - 1] + times[mid])
    return median, times[0]


def _resolve(registry, name: str, device: torch.device) -> tuple[str, Callable | None, str | None]:
    """(name of what runs, implementation, None) or (name, None, why it is unavailable); a
    backend for another device raises BackendDeviceError."""
    try:
        ran, fn = registry.get(name, device)
        return ran, fn, None
    except BackendUnavailable as e:
        return name, None, str(e)


def _op_functions(backend: str, blend_fn, splat_fn, model, params, camera) -> dict[str, Callable[[], object]]:
    ops: dict[str, Callable[[], object]] = {}
    background = torch.ones(3, device=model.xyz.device)
    if blend_fn is not None:
        ops["blend"] = lambda: _no_grad(lambda: blend_fn(model, params))
    if splat_fn is not None:
        with torch.no_grad():
            world = (blend_fn or blend_registry.get("torch", model.xyz.device)[1])(model, params)
        leaves = Gaussians(*(t.detach().clone().requires_grad_(True) for t in
                             (world.means, world.quats, world.scales, world.opacities, world.sh)))
        g = torch.Generator().manual_seed(0)
        weights = torch.rand(camera.height, camera.width, 3, generator=g).to(model.xyz.device)

        def forward_backward():
            loss = (splat_fn(leaves, camera, background).rgb * weights).sum()
            return torch.autograd.grad(loss, [leaves.means, leaves.quats, leaves.scales, leaves.opacities, leaves.sh],
                                       allow_unused=True)

        ops["splat_fwd"] = lambda: _no_grad(lambda: splat_fn(leaves, camera, background))
        ops["splat_fwd_bwd"] = forward_backward
    if blend_fn is not None and splat_fn is not None:
        renderer = AvatarRenderer(model, backend=backend)
        ops["frame"] = lambda: renderer.render(params, camera)
        trainable = [p for p in model.parameters() if p.requires_grad]

        def train_step():
            loss = (splat_fn(blend_fn(model, params), camera, background).rgb * weights).sum()
            return torch.autograd.grad(loss, trainable, allow_unused=True)

        ops["train_step"] = train_step
    return ops


def _no_grad(fn: Callable[[], object]) -> object:
    with torch.no_grad():
        return fn()


def run_bench(sizes=DEFAULT_SIZES, backends: list[str] | None = None, repeats: int = 5, warmup: int = 1,
              log: Callable[[str], None] = print, device: str | torch.device = "cpu") -> tuple[list[dict], dict[str, str]]:
    """Measure every available (backend, op) at every size, all on `device` (backends: default
    those of DEFAULT_BACKENDS for its type; one that does not run there is BackendDeviceError).

    Returns the rows (see module doc; one per measured op) and backend -> why it was skipped,
    for backends where an op could not run (e.g. "splat: ...").
    """
    device = torch.device(device)
    backends = list(backends or DEFAULT_BACKENDS.get(device.type, ("torch",)))
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        raise InputError(f"--backends: unknown {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    rows, missing = [], {}
    for size in sizes:
        model_cpu, params_cpu, camera = bench_scene(size)
        model = model_cpu.to(device)  # the camera stays on the host: the kernels read it as numbers
        params = params_cpu.to(device=device)
        for backend in backends:
            splat_ran, splat_fn, splat_reason = _resolve(splat_registry, backend, device)
            blend_ran, blend_fn, blend_reason = _resolve(blend_registry, "cuda" if backend == "gsplat" else backend,
                                                         device)
            reasons = [f"{op}: {r}" for op, r in (("blend", blend_reason), ("splat", splat_reason)) if r]
            if reasons:
                missing[backend] = "; ".join(reasons)
            if blend_fn is None and splat_fn is None:
                continue
            for op, fn in _op_functions(backend, blend_fn, splat_fn, model, params, camera).items():
                median, fastest = _timed(fn, repeats, warmup, device)
                rows.append({"backend": splat_ran if op != "blend" else blend_ran, "requested": backend, "op": op,
                             "width": size.width, "height": size.height,
                             "num_gaussians": size.num_gaussians, "num_expr": size.num_expr,
                             "ms_median": median, "ms_min": fastest, "repeats": repeats,
                             "device": _device_string(backend, device),
                             "blend_backend": blend_ran if op in ("blend", "frame", "train_step") else None})
            log(f"  measured {backend} on {device} at {size}")
    _add_speedups(rows)
    return rows, missing


def _add_speedups(rows: list[dict]) -> None:
    """speedup_vs_torch / speedup_vs_gsplat: baseline ms / this ms for the same op and size."""
    key = lambda r: (r["op"], r["width"], r["height"], r["num_gaussians"], r["num_expr"])  # noqa: E731
    baseline = {(r["backend"], key(r)): r["ms_median"] for r in rows if r["backend"] == r["requested"]}
    for r in rows:
        for ref in ("torch", "gsplat"):
            ms = baseline.get((ref, key(r)))
            r[f"speedup_vs_{ref}"] = ms / r["ms_median"] if ms and r["ms_median"] > 0 else None


def format_report(rows: list[dict], missing: dict[str, str], sizes, repeats: int, warmup: int) -> str:
    """One table per size: ms per op, then × speed-up against torch and gsplat when measured."""
    lines = []
    for size in sizes:
        mine = [r for r in rows if (r["width"], r["height"], r["num_gaussians"], r["num_expr"]) ==
                (size.width, size.height, size.num_gaussians, size.num_expr)]
        lines.append(f"\n{size} (ms, median of {repeats} after {warmup} warm-up)")
        lines.append(f"{'backend':<8} {'device':<8}" + "".join(f"{op:>18}" for op in OPS))
        for requested in dict.fromkeys(r["requested"] for r in mine):
            cells = {r["op"]: r for r in mine if r["requested"] == requested}
            ran = {r["backend"] for r in cells.values()} - {requested}
            label = requested + (f"->{'/'.join(sorted(ran))}" if ran else "")  # a kernel failed its self-check
            device = next(iter(cells.values()))["device"].split(":")[0]
            lines.append(f"{label:<8} {device:<8}" + "".join(f"{_cell(cells.get(op)):>18}" for op in OPS))
    lines.append("\n'2.0xt' / '2.0xg': 2.0 times faster than torch / gsplat on the same op and size")
    lines.extend(f"{device}" for device in dict.fromkeys(r["device"] for r in rows))
    if missing:
        lines.append("\nnot measured:")
        lines.extend(f"  {backend}: {reason}" for backend, reason in missing.items())
    return "\n".join(lines)


def _cell(row: dict | None) -> str:
    if row is None:
        return "-"
    text = f"{row['ms_median']:.2f}"
    for ref, mark in (("torch", "t"), ("gsplat", "g")):
        ratio = row[f"speedup_vs_{ref}"]
        if ratio is not None and row["backend"] != ref:
            text += f" {ratio:.1f}x{mark}"
    return text
