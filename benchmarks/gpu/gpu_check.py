"""Everything that needs a CUDA machine, in one call: build, CUDA tests, sanitizers, bench, train, eval.

A CUDA machine is rarely at hand (a session gets one for 30 minutes, 10 minutes a command), so this
script does in one run what every CUDA figure waits for, each step under its own time limit, a
failed step never stopping the others:

    environment  python, torch, the GPU, nvcc, compute-sanitizer, gsplat, missing packages
    build        cuda_ext.load("cpu") then cuda_ext.load("cuda"): compile time, compiled or cached
    pytest       pytest -m cuda (the `cuda` marker of pyproject.toml): passed / failed / skipped
    bench        avatar bench --device cuda --backends torch cuda [gsplat] at 256x256 / 30k Gaussians
                 and 512x512 / 100k (the table is printed and kept in bench-table.txt)
    train        avatar train CAPTURE --device cuda --iterations N (needs --capture)
    eval         avatar eval on the trained model (needs train)
    memcheck     compute-sanitizer --tool memcheck over a few quick cuda tests (SANITIZER_TESTS)
    racecheck    compute-sanitizer --tool racecheck over the same tests

The sanitizers come last: they are the slowest steps, so they are what the time budget drops. Both
instrument only the project's kernels (`--kernel-name kns=avatar_ext`, the namespace of every
kernel in cuda_ext/csrc), and memcheck runs with torch's caching allocator off so that an access
past a tensor's end is past an allocation's end.

Usage, from the repository root:

    python benchmarks/gpu/gpu_check.py --out DIR [--capture CAPTURE] [--train-steps 300] [--budget 540]
                                   [--steps bench,train,...] [--dry-run]

DIR receives one log per step (<step>.log), pytest-cuda.xml, bench.json, bench-table.txt,
eval.json, train-run/ (the run's config.yaml and metrics.jsonl), work/model.avatar (the trained
model, large), and summary.json and summary.md: every step with its status (ok / failed /
skipped), wall time, key figures and, in plain words, what it could not do and why. The summary
is rewritten after every step, so a run killed from outside still leaves one. `--steps` picks
steps; environment and build always run (every other step needs the CUDA module).

`--dry-run` runs on any machine, GPU or not, and checks the steps instead of running them: the
`avatar` commands' --help lists every option the steps pass, `pytest --collect-only -m cuda`
collects and holds the sanitizer tests, a given capture loads and its training settings resolve
(`avatar train --print-config`), and nvcc and compute-sanitizer are found or reported missing. It
writes the same summary, with the commands it would run. Without --dry-run, a machine with no
CUDA device gets the summary and exit status 2 with the message "no CUDA device: ...". Exit
status 1: a step failed (in a dry run: a check); 143: terminated; 0: no step failed.

On the device tool's GPU machine (`run`; the repository root is carried there, its `.venv` is not:
the machine's python3 has a CUDA torch). A capture travels only from inside the repository, and
an ignored folder only when `carry` names it, so first, here, track a shared clip into the ignored
/out/ folder (the capture extra is needed for tracking):

    avatar track ../shared/data/videos/wojtek_512.mp4 --out out/gpu-capture --size 256 --max-frames 96

then call `run` with carry ["out/gpu-capture"], timeout_s 600 and the command

    PYTHONUNBUFFERED=1 python3 benchmarks/gpu/gpu_check.py --out /tmp/gpu-check --capture out/gpu-capture;
    rc=$?; tar czf $OUT/gpu-check.tgz --exclude=work -C /tmp gpu-check;
    cp /tmp/gpu-check/summary.md /tmp/gpu-check/summary.json $OUT/; exit $rc

(one line). What the first runs there (an H200, 2026-11-26) taught: `export TORCH_CUDA_ARCH_LIST=9.0
MAX_JOBS=16` first (both modules build in about 50 s); the image lacks av, plyfile and websockets
(carry their cp312 wheels); the whole check with 4,000 training steps takes about 150 s, so one
call has room for `avatar bench ... --backends torch cuda gsplat` after it (gsplat built in 49 s). --out is not $OUT itself because the tool brings back at most 8 files, 16 MiB each and
2 folders down: the archive (without work/, the model) and the two summaries come back. The
default --budget of 540 s ends the check inside the tool's 600 s limit; steps it leaves out are
reported as skipped (the message names them), and a second call with `--steps memcheck,racecheck`
(say) does them. Python packages the machine's image lacks (its package list in the device tool's
KINDS.md has no av, plyfile or gsplat; the environment step lists what is missing) travel as
wheels: download them into an ignored .whl/ folder, add ".whl" to carry and begin the command
with the device README's `python3 -m pip install ... --target /tmp/site .whl/*.whl && export
PYTHONPATH=/tmp/site;` (the steps keep PYTHONPATH, with the repository in front).

The live viewer on the GPU (`avatar view` under Xvfb with `--backend cuda` and `gl`, 512² and
1024², driven by a clip) is benchmarks/gpu/viewer_check.py, a command of its own: it carries
other things (Xvfb and Mesa, the window's wheels, a model and a clip) and fills a call of its own,
so a session runs one or the other; its docstring has its command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]
AVATAR = [sys.executable, "-m", "avatar.cli"]  # the `avatar` command, also where the package is not installed
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]

BENCH_SIZES = "256x256:30000:20,512x512:100000:50"  # WxH:GAUSSIANS:EXPRESSIONS, as `avatar bench --sizes` reads
# Quick cuda tests whose kernels cover the blend, the projection, the rasterizer (float64 and float32,
# empty and tied-depth scenes) and the head cut. --dry-run checks that they are collected by `pytest -m cuda`.
SANITIZER_TESTS = (
    "tests/test_ext_blend.py::test_forward_and_gradients_match_reference[tiny-dtype1-cuda]",
    "tests/test_ext_splat.py::test_float64_matches_reference[7-17-13-1-cuda]",
    "tests/test_ext_splat.py::test_float32_close_to_reference_except_counted_threshold_flips[auto-cuda]",
    "tests/test_ext_splat.py::test_equal_depths_composite_in_index_order[True-cuda]",
    "tests/test_ext_splat.py::test_no_gaussians_renders_the_background[auto-cuda]",
    "tests/test_head_cut.py::test_the_cuda_cut_is_the_cpu_cut[hair-cut-at-the-sides-pose1]",
)
SANITIZER_KERNELS = "kns=avatar_ext"  # every kernel of cuda_ext/csrc is in namespace avatar_ext
SANITIZER_ERROR_EXIT = 86  # compute-sanitizer's exit status when it found errors (tests failing give 1)
# The [project] dependencies of pyproject.toml and pytest, by import name.
REQUIRED_MODULES = ("torch", "numpy", "scipy", "safetensors", "plyfile", "av", "PIL", "yaml", "tqdm", "ninja", "pytest")
RESULT_MARK = "GPU_CHECK_RESULT "  # prefix of the JSON line the python snippets below print
MIN_STEP_S = 15.0  # a step is not started with less of the budget left than this
LEFT_OUT = "left out by --steps"
# Files of --out that a check writes (an earlier check's are removed first).
OUTPUTS = (
    "summary.json",
    "summary.md",
    "environment.log",
    "build.log",
    "pytest.log",
    "pytest-cuda.xml",
    "bench.log",
    "bench-table.txt",
    "bench.json",
    "train.log",
    "train-run/metrics.jsonl",
    "eval.log",
    "eval.json",
    "memcheck.log",
    "racecheck.log",
)


# --------------------------------------------------------------------------------------------------
# The record of a step and of the whole run


@dataclass
class Step:
    """One step's outcome, as summary.json lists it."""

    name: str
    title: str
    status: str = "pending"  # ok | failed | skipped (in a dry run: ok = its checks passed)
    seconds: float = 0.0
    figures: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # in plain words: what it could not do, and why
    commands: list[str] = field(default_factory=list)  # run, or in a dry run: would run
    checks: list[str] = field(default_factory=list)  # a dry run's commands that checked the step
    logs: list[str] = field(default_factory=list)  # files in --out

    def finish(self, ok: bool, note: str | None = None) -> None:
        """ok or failed; a failure's reason goes first among the notes."""
        self.status = "ok" if ok else "failed"
        if note:
            self.notes.insert(len(self.notes) if ok else 0, note)

    def skip(self, reason: str) -> None:
        self.status = "skipped"
        self.notes.insert(0, reason)


@dataclass
class Context:
    """What the steps share: options, the budget, the environment probe and the finished steps."""

    out: Path
    dry_run: bool
    capture: Path | None
    train_steps: int
    budget_s: float
    deadline: float  # time.monotonic() at which the budget ends
    machine: dict = field(default_factory=dict)  # the environment step's probe
    steps: dict[str, Step] = field(default_factory=dict)
    collected: dict[tuple, set[str]] = field(default_factory=dict)  # pytest --collect-only results
    terminated: bool = False  # SIGTERM arrived: no further step starts

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def timeout(self, limit_s: float) -> float:
        """A command's time limit: its step's limit, or what is left of the budget if less."""
        return max(1.0, min(limit_s, self.remaining()))

    @property
    def model(self) -> Path:
        return self.out / "work" / "model.avatar"


# --------------------------------------------------------------------------------------------------
# Running commands: logged, time-limited, killed with their children


@dataclass
class Outcome:
    returncode: int | None  # None: killed at its time limit
    seconds: float
    output: str  # what the command printed (stdout only when stdout_to is given)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Terminated(Exception):
    """SIGTERM: the running command is killed and the summary written before exiting."""


def _new_process_group() -> dict:
    """Popen arguments putting the child in its own process group (not a new session, so that
    whoever kills this script's session kills the child too)."""
    return {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}


def _kill_group(process: subprocess.Popen) -> None:
    """End the command and what it started (ninja and nvcc, pytest's workers): TERM, then KILL."""
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment with the repository importable and Python's output unbuffered."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", **(extra or {})}


def run_logged(
    step: Step,
    ctx: Context,
    argv: list[str],
    log_name: str,
    limit_s: float,
    env: dict[str, str] | None = None,
    stdout_to: Path | None = None,
    label: str | None = None,
) -> Outcome:
    """Run argv from the repository root, appending its output to --out/log_name (its stdout to
    stdout_to instead, when given), killed after `limit_s` or at the end of the budget. The step
    records it (as `label` when given) among its commands, or in a dry run its checks."""
    log_path = ctx.out / log_name
    if log_name not in step.logs:
        step.logs.append(log_name)
    command = label or shlex.join(argv)
    (step.checks if ctx.dry_run else step.commands).append(command)
    timeout = ctx.timeout(limit_s)
    start = log_path.stat().st_size if log_path.is_file() else 0
    with open(log_path, "a") as log:
        log.write(f"$ {command}\n")
        log.flush()
        stdout = open(stdout_to, "w") if stdout_to else log
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                argv,
                cwd=REPO,
                env=child_env(env),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=log if stdout_to else subprocess.STDOUT,
                text=True,
                **_new_process_group(),
            )
            try:
                returncode: int | None = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                returncode = None
            except BaseException:
                _kill_group(process)
                raise
        except OSError as e:  # the executable is missing or not runnable
            log.write(f"could not start: {e}\n")
            returncode = 127
        finally:
            if stdout_to:
                stdout.close()
        seconds = time.monotonic() - started
        log.write(
            f"[exit status {returncode if returncode is not None else f'none: killed after {timeout:.0f} s'}, "
            f"{seconds:.1f} s]\n\n"
        )
    output = stdout_to.read_text() if stdout_to else log_path.read_bytes()[start:].decode(errors="replace")
    return Outcome(returncode, seconds, output)


def describe_failure(outcome: Outcome, what: str, log_name: str) -> str:
    """'`what` timed out / exited with N', pointing at the log."""
    if outcome.returncode is None:
        return f"{what} was stopped at its time limit after {outcome.seconds:.0f} s (see {log_name})"
    return f"{what} exited with status {outcome.returncode} (see {log_name})"


def result_line(output: str) -> dict | None:
    """The JSON a python snippet printed after RESULT_MARK, if it got that far."""
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    return None


def find_tool(name: str) -> str | None:
    """An executable of the CUDA toolkit: on PATH, else in the usual toolkit folders."""
    found = shutil.which(name)
    if found:
        return found
    roots = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    for root in filter(None, roots):
        for folder in ("bin", name):  # older toolkits keep compute-sanitizer in its own folder
            candidate = Path(root) / folder / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def cli_problem(step: Step, ctx: Context, argv: list[str]) -> str | None:
    """Dry run: why `avatar argv...` would not parse, if it would not: `avatar COMMAND --help`
    (the parser the real run uses) fails, or does not list one of argv's options."""
    command, options = argv[0], list(dict.fromkeys(a for a in argv if a.startswith("--")))
    outcome = run_logged(step, ctx, [*AVATAR, command, "--help"], f"{step.name}.log", 120)
    if not outcome.ok:
        return describe_failure(outcome, f"`avatar {command} --help`", f"{step.name}.log")
    missing = [o for o in options if not re.search(rf"(^|\s){re.escape(o)}\b", outcome.output)]
    if missing:
        return f"`avatar {command}` has no option {', '.join(missing)}: this script's command is out of date"
    step.figures["options checked"] = " ".join(options)
    return None


def collect(step: Step, ctx: Context, args: tuple[str, ...]) -> set[str] | None:
    """Test ids `pytest --collect-only -q ARGS` lists (cached per ARGS), or None when it fails."""
    command = [*PYTEST, "--collect-only", "-q", *args]
    if args in ctx.collected:
        step.checks.append(shlex.join(command) + "  (its result from an earlier step)")
        return ctx.collected[args]
    outcome = run_logged(step, ctx, command, f"{step.name}.log", 180)
    if not outcome.ok:
        return None
    ctx.collected[args] = {line.strip() for line in outcome.output.splitlines() if "::" in line}
    return ctx.collected[args]


# --------------------------------------------------------------------------------------------------
# Step 0: the environment


PROBE = f"""
import importlib.metadata, importlib.util, json, platform, sys
info = {{"python": platform.python_version(),
        "missing_modules": [m for m in {REQUIRED_MODULES!r} if importlib.util.find_spec(m) is None]}}
try:
    info["gsplat"] = importlib.metadata.version("gsplat")
except importlib.metadata.PackageNotFoundError:
    info["gsplat"] = None
import torch
info.update(torch=torch.__version__, torch_cuda=torch.version.cuda, cuda_available=torch.cuda.is_available())
if info["cuda_available"]:
    info["gpu"] = torch.cuda.get_device_name(0)
    info["capability"] = "sm_%d%d" % torch.cuda.get_device_capability(0)
print({RESULT_MARK!r} + json.dumps(info))
"""


def no_cuda_reason(machine: dict) -> str | None:
    """Why this machine cannot run the CUDA steps, or None when it can."""
    if machine.get("cuda_available"):
        return None
    reason = "no CUDA device: torch.cuda.is_available() is False"
    if machine.get("torch") and machine.get("torch_cuda") is None:
        reason += f" (torch {machine['torch']} is a CPU-only build)"
    return reason


def step_environment(step: Step, ctx: Context) -> None:
    """Probe python, torch and the GPU in a child (a broken torch fails this step, not the script)."""
    label = f"{sys.executable} -c <PROBE: versions of python, torch, CUDA, gsplat; the GPU>"
    if ctx.dry_run:
        step.commands.append(label)
    outcome = run_logged(step, ctx, [sys.executable, "-c", PROBE], "environment.log", 120, label=label)
    info = result_line(outcome.output)
    if info is None:
        step.finish(False, describe_failure(outcome, "the python/torch probe", "environment.log"))
        return
    ctx.machine = info
    nvcc, sanitizer = find_tool("nvcc"), find_tool("compute-sanitizer")
    info.update(nvcc=nvcc, compute_sanitizer=sanitizer)
    if nvcc:
        version = run_logged(step, ctx, [nvcc, "--version"], "environment.log", 30)
        release = re.search(r"release ([\d.]+)", version.output)
        info["nvcc_release"] = release.group(1) if release else None
    step.figures = {
        k: info.get(k)
        for k in (
            "python",
            "torch",
            "torch_cuda",
            "cuda_available",
            "gpu",
            "capability",
            "nvcc",
            "nvcc_release",
            "compute_sanitizer",
            "gsplat",
        )
    }
    if info["missing_modules"]:
        step.figures["missing_modules"] = info["missing_modules"]
        step.notes.append(
            f"Python packages missing here: {', '.join(info['missing_modules'])} (the steps that "
            "import them fail; carry them as wheels, see the module docstring)"
        )
    reason = no_cuda_reason(info)
    if reason and not ctx.dry_run:
        step.finish(False, reason)
    else:
        if reason:
            step.notes.append(reason + "; a dry run only checks the steps")
        step.finish(True)


# --------------------------------------------------------------------------------------------------
# Step 1: the CUDA module


BUILD = f"""
import json, logging, os, shutil, sys, time
logging.basicConfig(level=logging.INFO, format="%(message)s")
import torch
from torch.utils import cpp_extension
import cuda_ext
from cuda_ext import _sources, build
info = {{"cuda_sources": len(_sources.sources("cuda")), "ninja": cpp_extension.is_ninja_available(),
        "cxx": shutil.which(os.environ.get("CXX", "c++")), "load": callable(getattr(cuda_ext, "load", None)),
        "TORCH_CUDA_ARCH_LIST": os.environ.get("TORCH_CUDA_ARCH_LIST")}}
if sys.argv[1] == "build":
    for kind in ("cpu", "cuda"):  # the tests use both
        stamp = _sources.build_stamp(kind, torch.__version__, _sources.debug_build())
        cached = build.cached_library(kind, stamp) is not None
        started = time.perf_counter()
        try:
            cuda_ext.load(kind)
        except cuda_ext.ExtensionUnavailable as e:
            info[kind + "_error"] = str(e)
            compiler_log = build.build_dir(kind, stamp) / build.LOG_NAME
            if compiler_log.is_file():
                print(f"--- {{compiler_log}}:", compiler_log.read_text(), sep="\\n")
            continue
        info[kind + "_seconds"] = round(time.perf_counter() - started, 1)
        library = cuda_ext.loaded()[kind]
        info[kind + "_from"] = ("installed module" if os.path.dirname(library) == str(_sources.PACKAGE_DIR)
                                else "earlier build" if cached else "compiled now")
        info[kind + "_library"] = library
print({RESULT_MARK!r} + json.dumps(info))
"""


def step_build(step: Step, ctx: Context) -> None:
    """Compile (or find cached) the cpu and cuda modules of cuda_ext, in a child with a time limit."""
    mode = "check" if ctx.dry_run else "build"
    label = f"{sys.executable} -c <BUILD: cuda_ext.load('cpu'), cuda_ext.load('cuda')> {{}}"
    outcome = run_logged(step, ctx, [sys.executable, "-c", BUILD, mode], "build.log", 480, label=label.format(mode))
    info = result_line(outcome.output)
    if info is None:
        step.finish(False, describe_failure(outcome, "the build", "build.log"))
        return
    step.figures = {k: v for k, v in info.items() if v is not None}
    if ctx.dry_run:
        step.commands.append(label.format("build"))
        problems = [
            what
            for what, bad in (
                ("no .cu sources in cuda_ext/csrc", not info["cuda_sources"]),
                ("ninja is not installed", not info["ninja"]),
                ("no C++ compiler on PATH", not info["cxx"]),
                ("cuda_ext.load is missing", not info["load"]),
            )
            if bad
        ]
        if not ctx.machine.get("nvcc"):
            step.notes.append("nvcc is not here: the build needs it on the GPU machine")
        step.finish(not problems, "; ".join(problems) or None)
        return
    errors = [
        f"the {kind} module did not load: {info[f'{kind}_error']} (see build.log)"
        for kind in ("cpu", "cuda")
        if info.get(f"{kind}_error")
    ]
    if errors:
        step.finish(False, "; ".join(errors))
        return
    step.finish(outcome.ok, None if outcome.ok else describe_failure(outcome, "the build", "build.log"))


# --------------------------------------------------------------------------------------------------
# Step 2: pytest -m cuda


def junit_counts(path: Path) -> dict:
    """tests / failures / errors / skipped (and the failed tests' names) of a pytest --junitxml file."""
    root = ElementTree.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    failed = [
        f"{case.get('classname')}::{case.get('name')}"
        for case in root.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    ]
    if failed:
        counts["failed_tests"] = failed[:10]
    return counts


def step_pytest(step: Step, ctx: Context) -> None:
    """The whole `cuda`-marked suite on the GPU (a dry run: it collects)."""
    if ctx.dry_run:
        tests = collect(step, ctx, ("-m", "cuda"))
        if tests is None:
            step.finish(False, "pytest --collect-only -m cuda failed (see pytest.log)")
            return
        step.figures["collected"] = len(tests)
        step.commands.append(
            shlex.join(
                [
                    *PYTEST,
                    "-m",
                    "cuda",
                    "-q",
                    "-rfEs",
                    "--continue-on-collection-errors",
                    "--junitxml",
                    str(ctx.out / "pytest-cuda.xml"),
                ]
            )
        )
        step.finish(bool(tests), None if tests else "no test carries the cuda marker")
        return
    junit = ctx.out / "pytest-cuda.xml"
    # A test module that fails to import is counted as an error, and the other modules' cuda tests still run.
    outcome = run_logged(
        step,
        ctx,
        [*PYTEST, "-m", "cuda", "-q", "-rfEs", "--continue-on-collection-errors", "--junitxml", str(junit)],
        "pytest.log",
        360,
    )
    if not junit.is_file():
        step.finish(False, describe_failure(outcome, "pytest -m cuda", "pytest.log") + "; no junit report was written")
        return
    step.logs.append(junit.name)
    counts = step.figures = junit_counts(junit)
    if counts["skipped"]:
        step.notes.append(
            f"{counts['skipped']} cuda tests were skipped on a CUDA machine: their reasons are at the end of pytest.log"
        )
    bad = counts["failures"] + counts["errors"]
    if bad or not outcome.ok:
        step.finish(
            False, f"{bad} cuda tests failed or errored; " + describe_failure(outcome, "pytest -m cuda", "pytest.log")
        )
    else:
        step.finish(counts["passed"] > 0, None if counts["passed"] else "no cuda test passed: none ran on the GPU")


# --------------------------------------------------------------------------------------------------
# Step 3: bench


def bench_backends(ctx: Context) -> list[str]:
    """torch and cuda, and gsplat where it is installed."""
    return ["torch", "cuda"] + (["gsplat"] if ctx.machine.get("gsplat") else [])


def bench_figures(rows: list[dict]) -> dict:
    """Median ms of a whole frame and of a training step, per size and backend, from bench.json."""
    figures: dict[str, dict] = {}
    for row in rows:
        if row["op"] in ("frame", "train_step") and row["backend"] == row["requested"]:
            size = f"{row['width']}x{row['height']}/{row['num_gaussians'] / 1000:g}k"
            figures.setdefault(f"{row['op']} ms {size}", {})[row["backend"]] = round(row["ms_median"], 3)
    return figures


def step_bench(step: Step, ctx: Context) -> None:
    """`avatar bench` on the GPU at the two standard sizes; the table goes to stdout and the summary."""
    json_path = ctx.out / "bench.json"
    argv = [
        "bench",
        "--device",
        "cuda",
        "--backends",
        *bench_backends(ctx),
        "--sizes",
        BENCH_SIZES,
        "--json",
        str(json_path),
    ]
    if not ctx.machine.get("gsplat"):
        step.notes.append(
            'gsplat is not installed: its column was not measured (pip install --no-build-isolation -e ".[gsplat]")'
        )
    if ctx.dry_run:
        step.commands.append(shlex.join([*AVATAR, *argv]))
        problem = cli_problem(step, ctx, argv)
        step.finish(problem is None, problem)
        return
    table = ctx.out / "bench-table.txt"
    outcome = run_logged(step, ctx, [*AVATAR, *argv], "bench.log", 300, stdout_to=table)
    step.logs.append(table.name)
    if outcome.output.strip():
        print(outcome.output.rstrip(), flush=True)
    not_measured = outcome.output.partition("\nnot measured:")[2].strip()
    if not_measured:
        step.notes.append("not measured: " + "; ".join(line.strip() for line in not_measured.splitlines()))
    if not outcome.ok or not json_path.is_file():
        step.finish(False, describe_failure(outcome, "avatar bench", "bench.log"))
        return
    step.logs.append(json_path.name)
    step.figures = bench_figures(json.loads(json_path.read_text()))
    step.finish(True)


# --------------------------------------------------------------------------------------------------
# Steps 4 and 5: train and eval on a capture


def train_argv(ctx: Context, device: str) -> list[str]:
    """`avatar train` for a short run: no evaluations or checkpoints during it."""
    return [
        "train",
        str(ctx.capture),
        "--out",
        str(ctx.model),
        "--device",
        device,
        "--iterations",
        str(ctx.train_steps),
        "--log-dir",
        str(ctx.out / "train-run"),
        "--set",
        "eval_every=0",
        "--set",
        "checkpoint_every=0",
    ]


def last_metrics(run_dir: Path) -> dict:
    """Loss, Gaussians and steps per second of the training run's last logged step."""
    path = run_dir / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    row = json.loads(lines[-1]) if lines else {}
    return {
        k: round(row[k], 4) if isinstance(row[k], float) else row[k]
        for k in ("step", "loss_total", "gaussians", "steps_per_second")
        if k in row
    }


def step_train(step: Step, ctx: Context) -> None:
    """Train the capture briefly on the GPU (a dry run: resolve its settings on the CPU)."""
    if ctx.capture is None:
        step.skip("no capture was given (--capture DIR): training and evaluation need a tracked capture directory")
        return
    if not (ctx.capture / "capture.json").is_file():
        step.finish(False, f"{ctx.capture} is not a capture directory (it has no capture.json)")
        return
    argv = train_argv(ctx, "cuda")
    if ctx.dry_run:
        step.commands.append(shlex.join([*AVATAR, *argv]))
        problem = cli_problem(step, ctx, argv)
        if problem is None:  # the capture loads and the settings resolve (on the CPU: nothing is trained)
            settings = run_logged(step, ctx, [*AVATAR, *train_argv(ctx, "cpu"), "--print-config"], "train.log", 120)
            if not settings.ok:
                problem = describe_failure(settings, "`avatar train --print-config` on the capture", "train.log")
        step.finish(problem is None, problem)
        return
    ctx.model.parent.mkdir(parents=True, exist_ok=True)
    outcome = run_logged(step, ctx, [*AVATAR, *argv], "train.log", 300)
    step.figures = {"iterations": ctx.train_steps, **last_metrics(ctx.out / "train-run")}
    wrote = re.search(r"wrote .*: (\d+) Gaussians in (\d+) s", outcome.output)  # cmd_train's last line
    if wrote:
        step.figures.update(gaussians=int(wrote.group(1)), training_seconds=int(wrote.group(2)))
    if (ctx.out / "train-run" / "metrics.jsonl").is_file():
        step.logs.append("train-run/metrics.jsonl")
    ok = outcome.ok and ctx.model.is_file()
    step.finish(ok, None if ok else describe_failure(outcome, "avatar train", "train.log"))


def eval_splits(metrics: dict) -> dict:
    """The splits of `avatar eval --json`: all but its per-camera table (captures of several cameras)."""
    return {split: m for split, m in metrics.items() if split != "per_camera"}


def eval_figures(metrics: dict) -> dict:
    """PSNR / SSIM / LPIPS per split of `avatar eval --json`."""
    return {
        split: {
            k: round(m[k], 4) if isinstance(m.get(k), float) else m.get(k) for k in ("frames", "psnr", "ssim", "lpips")
        }
        for split, m in eval_splits(metrics).items()
    }


def step_eval(step: Step, ctx: Context) -> None:
    """Evaluate the trained model on its capture, on the GPU."""
    json_path = ctx.out / "eval.json"
    argv = ["eval", str(ctx.model), str(ctx.capture), "--device", "cuda", "--json", str(json_path)]
    if ctx.dry_run:
        step.commands.append(shlex.join([*AVATAR, *argv]))
        problem = cli_problem(step, ctx, argv)
        step.finish(problem is None, problem)
        return
    outcome = run_logged(step, ctx, [*AVATAR, *argv], "eval.log", 180)
    if not outcome.ok or not json_path.is_file():
        step.finish(False, describe_failure(outcome, "avatar eval", "eval.log"))
        return
    step.logs.append(json_path.name)
    metrics = eval_splits(json.loads(json_path.read_text()))
    step.figures = eval_figures(metrics)
    if any(m.get("lpips") is None for m in metrics.values()):
        reason = next((m.get("lpips_reason") for m in metrics.values() if m.get("lpips_reason")), None)
        step.notes.append(f"no LPIPS: {reason or 'unavailable'}")
    step.finish(True)


# --------------------------------------------------------------------------------------------------
# Steps 6 and 7: compute-sanitizer


def sanitizer_argv(tool: str, sanitizer: str) -> list[str]:
    """compute-sanitizer TOOL, on the project's kernels only, over pytest of SANITIZER_TESTS."""
    return [
        sanitizer,
        "--tool",
        tool,
        "--kernel-name",
        SANITIZER_KERNELS,
        "--error-exitcode",
        str(SANITIZER_ERROR_EXIT),
        *PYTEST,
        "-q",
        *SANITIZER_TESTS,
    ]


def sanitizer_errors(output: str) -> int | None:
    """Errors in compute-sanitizer's summary line ('ERROR SUMMARY: 3 errors', racecheck's
    'RACECHECK SUMMARY: 2 hazards displayed (1 error, 1 warning)'), None when it printed none."""
    found = re.findall(r"ERROR SUMMARY: (\d+) error", output) or re.findall(
        r"RACECHECK SUMMARY: .*?\((\d+) error", output
    )
    return sum(int(n) for n in found) if found else None


def pytest_counts(output: str) -> dict[str, int]:
    """passed / failed / skipped / error counts from pytest's closing line ('5 passed, 1 skipped in 3.2s'),
    not from lines printed after it (compute-sanitizer's '========= ERROR SUMMARY: 0 errors')."""
    closing = next(
        (
            line
            for line in reversed(output.splitlines())
            if re.search(r"\d+ (passed|failed|skipped|errors?)\b.* in [\d.]+s", line)
        ),
        "",
    )
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?)", closing)}


def sanitizer_step(tool: str) -> Callable[[Step, Context], None]:
    """The memcheck or the racecheck step: the same tests, another tool."""

    def step_sanitizer(step: Step, ctx: Context) -> None:
        """compute-sanitizer --tool TOOL over SANITIZER_TESTS (a dry run: they are collected as cuda tests)."""
        sanitizer = ctx.machine.get("compute_sanitizer")
        log_name = f"{tool}.log"
        if ctx.dry_run:
            tests = collect(step, ctx, ("-m", "cuda"))  # the cuda tests, collected once for three steps
            missing = [t for t in SANITIZER_TESTS if tests is not None and t not in tests]
            step.figures["tests"] = len(SANITIZER_TESTS)
            step.commands.append(shlex.join(sanitizer_argv(tool, sanitizer or "compute-sanitizer")))
            if sanitizer is None:
                step.notes.append("compute-sanitizer is not here: the step needs it on the GPU machine")
            if tests is None:
                step.finish(False, f"pytest --collect-only -m cuda failed (see {log_name})")
            else:
                step.finish(
                    not missing,
                    f"these SANITIZER_TESTS are no cuda tests (any more): {', '.join(missing)}" if missing else None,
                )
            return
        if sanitizer is None:
            step.finish(False, "compute-sanitizer was not found (PATH, $CUDA_HOME, /usr/local/cuda)")
            return
        # memcheck: without torch's caching allocator, reading past a tensor is reading past an allocation
        env = {"PYTORCH_NO_CUDA_MEMORY_CACHING": "1"} if tool == "memcheck" else None
        outcome = run_logged(step, ctx, sanitizer_argv(tool, sanitizer), log_name, 300, env=env)
        errors = sanitizer_errors(outcome.output)
        step.figures = {"tests": len(SANITIZER_TESTS), "errors": errors, **pytest_counts(outcome.output)}
        if outcome.returncode == SANITIZER_ERROR_EXIT or errors:
            step.finish(
                False, f"compute-sanitizer {tool} reported {errors} errors in the avatar_ext kernels (see {log_name})"
            )
        elif not outcome.ok:
            step.finish(False, describe_failure(outcome, f"the tests under compute-sanitizer {tool}", log_name))
        elif not step.figures.get("passed"):
            step.finish(False, f"no test passed under compute-sanitizer {tool}: nothing was checked (see {log_name})")
        else:
            step.finish(True)

    return step_sanitizer


# --------------------------------------------------------------------------------------------------
# The steps in order, and the run


@dataclass(frozen=True)
class StepSpec:
    name: str
    title: str
    run: Callable[[Step, Context], None]
    needs: tuple[str, ...] = ()  # steps that must be ok first
    always: bool = False  # run also when --steps leaves it out


STEPS = (
    StepSpec("environment", "python, torch, GPU, CUDA tools", step_environment, always=True),
    StepSpec("build", "build the CUDA module (cuda_ext.load)", step_build, ("environment",), always=True),
    StepSpec("pytest", "pytest -m cuda", step_pytest, ("build",)),
    StepSpec("bench", "avatar bench at 256x256/30k and 512x512/100k", step_bench, ("build",)),
    StepSpec("train", "avatar train on the capture (short)", step_train, ("build",)),
    StepSpec("eval", "avatar eval of the trained model", step_eval, ("train",)),
    StepSpec("memcheck", "compute-sanitizer memcheck over a few cuda tests", sanitizer_step("memcheck"), ("build",)),
    StepSpec("racecheck", "compute-sanitizer racecheck over a few cuda tests", sanitizer_step("racecheck"), ("build",)),
)


def blocked_by(spec: StepSpec, ctx: Context) -> str | None:
    """Why a step cannot start: a needed step did not succeed, or the budget is spent."""
    for need in spec.needs:
        done = ctx.steps.get(need)
        if done is None:
            return f"needs the {need} step, which did not run"
        if done.status == "skipped":  # the same reason: it already says why
            return f"needs the {need} step, which --steps left out" if done.notes[0] == LEFT_OUT else done.notes[0]
        if done.status != "ok":
            return f"needs the {need} step, which failed" + (f": {done.notes[0]}" if done.notes else "")
    if ctx.remaining() < MIN_STEP_S:
        return f"the time budget (--budget {ctx.budget_s:.0f} s) was spent before this step"
    return None


def run_step(spec: StepSpec, ctx: Context) -> Step:
    """One step, never raising: a bug in a step fails that step only."""
    step = Step(spec.name, spec.title)
    reason = blocked_by(spec, ctx)
    if reason:
        step.skip(reason)
        return step
    started = time.monotonic()
    try:
        spec.run(step, ctx)
    except Terminated:
        step.finish(False, "the check was terminated (SIGTERM) during this step")
        ctx.terminated = True
    except Exception as e:  # noqa: BLE001 - reported in the summary, the other steps go on
        step.finish(False, f"the step raised {type(e).__name__}: {e}")
    finally:
        step.seconds = round(time.monotonic() - started, 1)
    if step.status == "pending":
        step.finish(True)
    return step


# --------------------------------------------------------------------------------------------------
# The summary


def format_figures(figures: dict) -> str:
    """'key=value, ...' on one line (nested values as compact JSON)."""
    return ", ".join(
        f"{k}={json.dumps(v, separators=(',', ':')) if isinstance(v, (dict, list)) else v}" for k, v in figures.items()
    )


def summary_markdown(summary: dict) -> str:
    """summary.md: a table of the steps, what could not be done and why, the bench table, the commands."""
    m = summary["machine"]
    kind = "dry run: checked, nothing ran on a GPU" if summary["dry_run"] else "run"
    lines = [
        f"# GPU check ({kind})",
        "",
        f"{summary['started']}, {summary['seconds']:.0f} s of a {summary['budget_s']:.0f} s budget; "
        f"{m.get('gpu') or 'no GPU'}, torch {m.get('torch')} (CUDA {m.get('torch_cuda')}), "
        f"python {m.get('python')}",
        "",
    ]
    if summary.get("message"):
        lines += [f"**{summary['message']}**", ""]
    lines += ["| step | status | time | key figures |", "| --- | --- | --- | --- |"]
    for s in summary["steps"]:
        figures = format_figures(s["figures"]).replace("|", "\\|")
        lines.append(f"| {s['name']} | {s['status']} | {s['seconds']:.1f} s | {figures} |")
    notes = [(s["name"], n) for s in summary["steps"] for n in s["notes"]]
    if notes:
        lines += ["", "## What it could not do, and why", ""]
        lines += [f"- **{name}**: {note}" for name, note in notes]
    table = summary.get("bench_table")
    if table:
        lines += ["", "## avatar bench", "", "```", table.strip("\n"), "```"]
    for key, title in (
        ("commands", "Commands it would run" if summary["dry_run"] else "Commands run"),
        ("checks", "Checks the dry run ran"),
    ):
        listed = [f"- {s['name']}: `{c}`" for s in summary["steps"] for c in s[key]]
        if listed:
            lines += ["", f"## {title}", "", *listed]
    return "\n".join(lines) + "\n"


def write_summary(
    ctx: Context, steps: list[Step], started: str, run_s: float, message: str | None, exit_code: int | None
) -> None:
    """summary.json and summary.md in --out (rewritten after every step)."""
    table_path = ctx.out / "bench-table.txt"
    summary = {
        "dry_run": ctx.dry_run,
        "started": started,
        "seconds": round(run_s, 1),
        "budget_s": ctx.budget_s,
        "exit_code": exit_code,
        "message": message,
        "machine": ctx.machine,
        "capture": str(ctx.capture) if ctx.capture else None,
        "steps": [asdict(s) for s in steps],
        "bench_table": table_path.read_text() if table_path.is_file() else None,
    }
    (ctx.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (ctx.out / "summary.md").write_text(summary_markdown(summary))


# --------------------------------------------------------------------------------------------------
# The command


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="See the module docstring for the device tool's command."
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the logs and summary.json / summary.md")
    parser.add_argument("--dry-run", action="store_true", help="check every step without a GPU instead of running it")
    parser.add_argument(
        "--capture",
        type=Path,
        default=None,
        help="tracked capture directory to train and evaluate (without it those steps are skipped)",
    )
    parser.add_argument("--train-steps", type=int, default=300, help="training iterations (default 300)")
    parser.add_argument(
        "--budget",
        type=float,
        default=540.0,
        help="seconds for the whole check; steps that would start after it are skipped (default 540, "
        "inside the device tool's 600 s per command)",
    )
    parser.add_argument(
        "--steps",
        default=None,
        help=f"comma-separated steps to run (environment and build always run): {', '.join(s.name for s in STEPS)}",
    )
    args = parser.parse_args(argv)
    names = {s.name for s in STEPS}
    if args.steps:
        unknown = sorted(set(args.steps.split(",")) - names)
        if unknown:
            parser.error(f"--steps: unknown {', '.join(unknown)}; choose from {', '.join(s.name for s in STEPS)}")
    if args.train_steps < 1 or args.budget <= 0:
        parser.error("--train-steps and --budget must be positive")
    return args


def exit_status(ctx: Context, steps: list[Step]) -> tuple[int, str | None]:
    """(exit status, message): 2 with the reason when there is no CUDA device to run on, 143 when
    terminated, 1 when a step failed, else 0 (with a message when the budget left steps out)."""
    reason = no_cuda_reason(ctx.machine) if ctx.machine else None
    if reason and not ctx.dry_run:
        return 2, reason
    if ctx.terminated:
        return 143, "terminated (SIGTERM)"
    failed = [s.name for s in steps if s.status == "failed"]
    if failed:
        return 1, f"failed: {', '.join(failed)}"
    late = [s.name for s in steps if s.status == "skipped" and "time budget" in s.notes[0]]
    if late:
        return 0, f"not done within the time budget: {', '.join(late)} (run again with --steps {','.join(late)})"
    return 0, None


def clear_previous(out: Path) -> None:
    """Remove what an earlier check wrote to `out` (logs are appended to, reports read back)."""
    for name in OUTPUTS:
        path = out / name
        if path.is_file():
            path.unlink()


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        out=args.out.resolve(),
        dry_run=args.dry_run,
        capture=args.capture.resolve() if args.capture else None,
        train_steps=args.train_steps,
        budget_s=args.budget,
        deadline=time.monotonic() + args.budget,
    )
    clear_previous(ctx.out)
    chosen = set(args.steps.split(",")) if args.steps else {s.name for s in STEPS}
    started, t0 = datetime.now(timezone.utc).isoformat(timespec="seconds"), time.monotonic()
    signal.signal(signal.SIGTERM, _terminate)
    steps: list[Step] = []
    for spec in STEPS:
        if ctx.terminated or not (spec.always or spec.name in chosen):
            step = Step(spec.name, spec.title)
            step.skip("the check was terminated (SIGTERM) before this step" if ctx.terminated else LEFT_OUT)
        else:
            print(f"[{spec.name}] {spec.title} ...", flush=True)
            step = run_step(spec, ctx)
            print(
                f"    {step.status} ({step.seconds:.1f} s) {format_figures(step.figures)}"
                + "".join(f"\n    - {n}" for n in step.notes),
                flush=True,
            )
        ctx.steps[step.name] = step
        steps.append(step)
        write_summary(ctx, steps, started, time.monotonic() - t0, None, None)
    code, message = exit_status(ctx, steps)
    write_summary(ctx, steps, started, time.monotonic() - t0, message, code)
    print(f"\n{(ctx.out / 'summary.md').read_text()}", flush=True)
    if message:
        print(f"gpu_check: {message}; summary in {ctx.out / 'summary.md'}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
