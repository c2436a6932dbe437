"""The live viewer on a GPU machine: `avatar view` headless, per backend and size, driven by a clip.

For each backend (default cuda and gl) and render size (default 512 and 1024), one run of

    xvfb-run -a -s "-screen 0 WxHx24" python -m avatar.cli view MODEL --source video:CLIP --size N
        --frames K --backend B [--device cpu] --stats OUT/B-N/stats.json

the window opened under Xvfb (the viewer's window needs X: GLFW's headless EGL platform failed on
the lent GPU machines, see the device tool's README), the clip played as a webcam at its frame rate
(a 30 fps clip caps fps at 30: render ms says the headroom) and tracked live, until K new avatar
frames were shown or the clip ended. `gl` draws on the CPU's device (`--device cpu`: the blend on
the CPU kernels, the splat through the window's OpenGL); `cuda` blends and splats on the GPU and
shows the image through the window's OpenGL. Which OpenGL drew (Mesa's llvmpipe, or the GPU with
`--glx-vendor nvidia`) is in each row. Before the runs, the kernels the backends need are loaded
once (`cuda_ext.load`: compiled here on a first use, about 50 s for both modules with
TORCH_CUDA_ARCH_LIST=9.0), so no run's figures include a build.

It prints one row per (backend, size), read from the run's stats JSON (viewer/stats.py): fps (new
avatar frames a second over the driven period) and, after the tracker's calibration, fps and the
median capture-to-display latency; render ms (blend + splat, median); the tracker's ms; the window
frame's ms; what was drawn (the level of detail the frame budget chose); the GL renderer. --json
(default OUT/viewer-check.json) holds the rows, the commands and the machine.

    python benchmarks/gpu/viewer_check.py MODEL --out DIR [--clip CLIP] [--sizes 512,1024]
        [--backends cuda,gl] [--frames 450] [--timeout 150] [--glx-vendor nvidia] [--json FILE]
    python benchmarks/gpu/viewer_check.py --dry-run --out DIR [MODEL]

`--dry-run` runs the same pipeline on a CPU machine (CI: tests/test_viewer_check.py): backends cpu
and gl, size 64, 8 frames, and without MODEL the demo avatar (`avatar demo` at 64 px, 30
iterations). The clip defaults to ../shared/data/videos/expressive_selfie_512.mp4 (the data
folder: $AVATAR_TEST_DATA when set), in a dry run to the demo's own video when that is absent.
Exit status 0: every run wrote its stats; 1: a run failed (its log is named); 2: bad input (no
model, no clip, no X display and no xvfb-run).

On the device tool's GPU machine (15 minutes of device time a session, the machine's start
included). Not yet run there: the time is an estimate (the kernels' build, about 50 s, then 4 runs
of about 30 s: start-up and the clip's 17.9 s), and what follows is the plan. The machine lacks
what the window needs, and one call carries 64 MiB at most, which that does not fit in: the cp312
wheels (the device README's `pip download` recipe; sizes as downloaded 2026-11-28) of mediapipe
0.10.21 (35.6 MB), av 18.1 (35.8 MB), imgui-bundle 1.93 (14.4 MB), moderngl and glcontext (0.4 MB),
plyfile and websockets; Xvfb and Mesa as .deb files unpacked there (the README's .gl/ recipe,
adding xvfb, xauth, xkb-data, x11-xkb-utils, libgl1-mesa-dri); the model (a 100k-Gaussian .avatar
is about 25 MB: trained here from a shared clip with `avatar track` and `avatar train`) and the
clip, in an ignored folder of the repository (out/viewer-gpu/). So they travel in consecutive
calls to the warm machine (it waits 30 s after a call; that /tmp survives between them is not
yet seen), each installing its share with `python3 -m pip install -q --no-index --no-deps
--target /tmp/site .whl-N/*.whl`: mediapipe; then av; then the rest with the model, the clip and
the one-line command

    for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; python3 -m pip install -q --no-index
    --no-deps --target /tmp/site .whl-3/*.whl && export PYTHONPATH=/tmp/site TORCH_CUDA_ARCH_LIST=9.0
    MAX_JOBS=16; python3 benchmarks/gpu/viewer_check.py out/viewer-gpu/model.avatar --out /tmp/vc
    --clip out/viewer-gpu/clip.mp4 --glx-vendor nvidia --json $OUT/viewer-check.json;
    rc=$?; tar czf $OUT/viewer-check.tgz -C /tmp vc; exit $rc

(carry [".whl-3", ".gl", "out/viewer-gpu"], timeout_s 420).

gpu_check.py (the kernels: build, `pytest -m cuda`, bench, train, eval, sanitizers) is the other
GPU script; each fills one call, with different carries, so they stay two commands: this one when
a session is for the viewer.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from avatar.data.atomic import dump_json  # noqa: E402
from avatar.runtime.errors import InputError  # noqa: E402

DATA = Path(os.environ.get("AVATAR_TEST_DATA", REPO.parent / "shared" / "data"))
SHARED_CLIP = DATA / "videos" / "expressive_selfie_512.mp4"
AVATAR = [sys.executable, "-m", "avatar.cli"]
GPU_PLAN = {"backends": ["cuda", "gl"], "sizes": [512, 1024], "frames": 450, "timeout": 150.0}
DRY_PLAN = {"backends": ["cpu", "gl"], "sizes": [64], "frames": 8, "timeout": 180.0}
DEMO = ["--size", "64", "--train-frames", "12", "--test-frames", "4", "--iterations", "30"]  # conftest's demo_dir
KERNELS = {"cuda": "cuda", "cpu": "cpu", "gl": "cpu", "torch": None}  # backend -> cuda_ext module it needs
ON_THE_CPU = ("cpu", "gl")  # backends that compute on the CPU's device (gl: the CPU's blend, then OpenGL)


@dataclass
class Row:
    """One run: what ran, how it ended, and its figures from the stats JSON."""

    backend: str
    size: int
    status: str = "pending"  # ok | failed: why
    seconds: float = 0.0  # the run's wall time, start-up included
    log: str = ""
    command: str = ""
    figures: dict = field(default_factory=dict)


def child_env(glx_vendor: str | None) -> dict[str, str]:
    """This environment with the repository importable, output unbuffered, the GLX vendor if asked."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
    if glx_vendor:
        env["__GLX_VENDOR_LIBRARY_NAME"] = glx_vendor
    return env


def run(argv: list[str], log: Path, timeout: float, env: dict[str, str]) -> tuple[int | None, float]:
    """argv from the repository root, its output appended to `log`; (exit status or None when
    killed at `timeout`, seconds). The command and what it starts (Xvfb) are killed together."""
    started = time.monotonic()
    with open(log, "a") as out:
        out.write(f"$ {shlex.join(argv)}\n")
        out.flush()
        # Its own process group, not a new session: whoever ends this script's session ends it too.
        group = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
        process = subprocess.Popen(
            argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, **group
        )
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            _kill_group(process)
    return code, time.monotonic() - started


def _kill_group(process: subprocess.Popen) -> None:
    """TERM, then KILL, to the process group of `process` (what is left of it)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def display_prefix(size: int) -> list[str]:
    """xvfb-run with a screen the window fits in (panels 640 px beside the image), or nothing
    where a display is already set; InputError where neither."""
    if shutil.which("xvfb-run"):
        return ["xvfb-run", "-a", "-s", f"-screen 0 {size + 800}x{max(size + 100, 900)}x24"]
    if os.environ.get("DISPLAY"):
        return []
    raise InputError("no X display for the viewer's window: install xvfb (xvfb-run) or set DISPLAY")


def view_command(model: Path, clip: Path, backend: str, size: int, frames: int, stats: Path) -> list[str]:
    device = ["--device", "cpu"] if backend in ON_THE_CPU else []
    return [
        *display_prefix(size),
        *AVATAR,
        "view",
        str(model),
        "--source",
        f"video:{clip}",
        "--size",
        str(size),
        "--frames",
        str(frames),
        "--backend",
        backend,
        *device,
        "--stats",
        str(stats),
    ]


def figures(stats: dict) -> dict:
    """The row's numbers from a stats JSON (None where the run had none)."""
    calibrated = stats.get("calibrated") or {}
    return {
        "frames": stats.get("frames"),
        "fps": stats.get("fps"),
        "fps_calibrated": calibrated.get("fps"),
        "latency_ms": stats.get("latency_ms"),
        "latency_ms_calibrated": calibrated.get("latency_ms"),
        "render_ms": stats.get("render_ms"),
        "tracker_ms": stats.get("tracker_ms"),
        "frame_ms": stats.get("frame_ms"),
        "display_fps": stats.get("display_fps"),
        "drawn": stats.get("drawn"),
        "gl_renderer": stats.get("gl_renderer"),
        "backend_ran": stats.get("backend"),
        "source_fps": stats.get("source_fps"),
        "stopped": stats.get("stopped"),
    }


def view_once(args: argparse.Namespace, model: Path, clip: Path, backend: str, size: int) -> Row:
    row = Row(backend, size)
    folder = args.out / f"{backend}-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    stats_path, log = folder / "stats.json", folder / "view.log"
    argv = view_command(model, clip, backend, size, args.frames, stats_path)
    row.command, row.log = shlex.join(argv), str(log)
    code, row.seconds = run(argv, log, args.timeout, child_env(args.glx_vendor))
    if code is None:
        row.status = f"failed: stopped at the time limit ({args.timeout:.0f} s), see {log}"
    elif code != 0 or not stats_path.is_file():
        row.status = f"failed: exit status {code}, see {log}"
    else:
        row.figures = figures(json.loads(stats_path.read_text()))
        ran = row.figures["backend_ran"]
        row.status = "ok" if ran == backend else f"failed: the viewer ran {ran}, not {backend}"
    return row


def load_kernels(args: argparse.Namespace, backends: list[str]) -> dict:
    """cuda_ext.load for the modules the backends need, once, before the runs (a first use compiles)."""
    kinds = sorted({KERNELS[b] for b in backends if KERNELS.get(b)})
    snippet = (
        "import json, time, cuda_ext\nout = {}\nfor kind in %r:\n    t = time.perf_counter()\n"
        "    cuda_ext.load(kind)\n    out[kind] = round(time.perf_counter() - t, 1)\nprint(json.dumps(out))\n" % kinds
    )
    log = args.out / "kernels.log"
    code, seconds = run([sys.executable, "-c", snippet], log, 900, child_env(None))
    if code != 0:
        raise RuntimeError(f"loading the kernels ({', '.join(kinds)}) failed, see {log}")
    return {"kinds": kinds, "seconds": round(seconds, 1)}


def make_demo(args: argparse.Namespace) -> Path:
    """The dry run's avatar: `avatar demo` at 64 px into OUT/demo (model.avatar, demo.mp4)."""
    folder = args.out / "demo"
    log = args.out / "demo.log"
    code, _ = run([*AVATAR, "demo", "--out", str(folder), *DEMO], log, 600, child_env(None))
    if code != 0 or not (folder / "model.avatar").is_file():
        raise RuntimeError(f"`avatar demo` failed, see {log}")
    return folder / "model.avatar"


def machine() -> dict:
    """What ran: the GPU (nvidia-smi) and this Python."""
    gpu = None
    if shutil.which("nvidia-smi"):
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
        gpu = listed.stdout.strip() or None
    return {"gpu": gpu, "python": sys.version.split()[0], "cpus": os.cpu_count()}


def _cell(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table(rows: list[Row]) -> str:
    """Markdown: one row per (backend, size)."""
    lines = [
        "| backend | size | fps | fps calibrated | latency ms calibrated (all) | render ms | tracker ms | "
        "window ms | drawn | GL renderer |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        f = row.figures
        if row.status != "ok":
            lines.append(f"| {row.backend} | {row.size} | {row.status} |||||||")
            continue
        latency = f"{_cell(f['latency_ms_calibrated'], 0)} ({_cell(f['latency_ms'], 0)})"
        lines.append(
            f"| {row.backend} | {row.size} | {_cell(f['fps'])} | {_cell(f['fps_calibrated'])} | {latency} | "
            f"{_cell(f['render_ms'])} | {_cell(f['tracker_ms'])} | {_cell(f['frame_ms'])} | "
            f"{f['drawn']} | {f['gl_renderer']} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, nargs="?", help="the .avatar (a dry run makes the demo's without it)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs' logs and stats")
    parser.add_argument("--clip", type=Path, help=f"the driving video (default: {SHARED_CLIP})")
    parser.add_argument("--sizes", help="render sizes, comma-separated (default: 512,1024; dry run: 64)")
    parser.add_argument("--backends", help="comma-separated (default: cuda,gl; dry run: cpu,gl)")
    parser.add_argument("--frames", type=int, help="new avatar frames a run shows (default: 450; dry run: 8)")
    parser.add_argument("--timeout", type=float, help="seconds a run may take (default: 150; dry run: 180)")
    parser.add_argument("--glx-vendor", help="__GLX_VENDOR_LIBRARY_NAME for the window (nvidia: GLX on the GPU)")
    parser.add_argument("--json", type=Path, help="the results (default: OUT/viewer-check.json)")
    parser.add_argument("--dry-run", action="store_true", help="the same pipeline on a CPU machine, small")
    args = parser.parse_args(argv)
    plan = DRY_PLAN if args.dry_run else GPU_PLAN
    args.backends = args.backends.split(",") if args.backends else plan["backends"]
    args.sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else plan["sizes"]
    args.frames = args.frames or plan["frames"]
    args.timeout = args.timeout or plan["timeout"]
    args.json = args.json or args.out / "viewer-check.json"
    return args


def inputs(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """The model and the clip as given or by default (None: the demo makes it); InputError when
    one named is missing."""
    if args.model is None and not args.dry_run:
        raise InputError("MODEL is needed (a ~100k-Gaussian .avatar); only --dry-run makes its own")
    if args.model is not None and not args.model.is_file():
        raise InputError(f"{args.model}: model file not found")
    if args.clip is not None and not args.clip.is_file():
        raise InputError(f"--clip {args.clip}: file not found")
    if args.clip is None and not SHARED_CLIP.is_file() and not args.dry_run:
        raise InputError(f"no clip: {SHARED_CLIP} is missing (pass --clip)")
    unknown = [b for b in args.backends if b not in KERNELS]
    if unknown:
        raise InputError(f"--backends: unknown {', '.join(unknown)} (choose from {', '.join(KERNELS)})")
    display_prefix(max(args.sizes))
    clip = args.clip or (SHARED_CLIP if SHARED_CLIP.is_file() else None)
    return args.model, clip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        model, clip = inputs(args)
    except InputError as e:
        print(f"viewer_check: error: {e}", file=sys.stderr)
        return 2
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    doc = {"dry_run": args.dry_run, "machine": machine(), "frames": args.frames, "rows": []}
    try:
        if model is None:
            model = make_demo(args)
        clip = clip or model.parent / "demo.mp4"
        doc.update(model=str(model), clip=str(clip))
        doc["kernels"] = load_kernels(args, args.backends)
    except RuntimeError as e:
        print(f"viewer_check: {e}", file=sys.stderr)
        return 1
    print(f"viewer_check: {model} driven by {clip}; kernels loaded in {doc['kernels']['seconds']} s", flush=True)
    rows = []
    for backend in args.backends:
        for size in args.sizes:
            row = view_once(args, model, clip, backend, size)
            print(f"  {backend} {size}: {row.status} ({row.seconds:.0f} s)", flush=True)
            rows.append(row)
    doc["rows"] = [asdict(r) for r in rows]
    doc["seconds"] = round(time.monotonic() - started, 1)
    doc["table"] = table(rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    dump_json(doc, args.json)
    print(f"\n{doc['table']}\n\n{doc['seconds']:.0f} s in all; {args.json}")
    return 0 if all(r.status == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
