"""Training-settings sweep: every (settings, capture, seed) trained and evaluated, several at once.

    python benchmarks/quality/train_sweep.py --out SWEEP --capture woman=CAPTURE_DIR [--capture ...] \
        --config base= --config reg3="offset_reg=3" --config "few=num_blend_expr=6 offset_reg=1" \
        [--seeds 0,1] [--workers 6] [--device cuda] [--deadline 540] [--iterations N] [--preset P]

Each run is `avatar train CAPTURE --out SWEEP/<config>_<capture>_s<seed>/model.avatar --set
seed=S --set K=V ...` then `avatar eval` of it (`eval.json`), `--workers` of them at once: on a GPU
the runs of these small scenes are bound by the host (Python, kernel launches), so several share
one card (an H100: 8000 steps of the shared clips in 158-163 s with 4 at once, 199-214 s with 6,
about 200 and 240 steps/s in all; one run alone made 142 steps/s on an H200). A run
already evaluated in SWEEP is not run again, so a sweep cut short resumes. With `--deadline`
(seconds) no run starts within a fifth of it of the end and runs still going at it are killed and
reported as such: one call of the device tool (10 minutes) returns with what finished.

On the device tool's GPU machine: pack the captures into an ignored folder of the repository
(`benchmarks/gpu/pack_captures.py`: lossless WebP frames, half the bytes, inside the 64 MiB a call
carries), carry it and run the sweep there with `--device cuda --deadline 540`, then copy
SWEEP/results.jsonl and the runs' eval.json files to $OUT (the runs' folders also hold the
models and evaluation images: too large to come back whole).

Writes SWEEP/results.jsonl (one row a run: settings, exit codes, seconds, train and held-out
PSNR / SSIM) and prints a table: a row a config, a column a capture, "train / held-out" PSNR (the
mean over the seeds that finished).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from avatar.training.config import TrainConfig  # noqa: E402  (after the repository is on the path)

AVATAR = [sys.executable, "-m", "avatar.cli"]
START_MARGIN = 0.2  # of the deadline: no run starts this close to it


@dataclass(frozen=True)
class Run:
    config: str
    settings: tuple[str, ...]  # KEY=VALUE, as `avatar train --set` takes them
    capture_name: str
    capture: Path
    seed: int

    @property
    def name(self) -> str:
        return f"{self.config}_{self.capture_name}_s{self.seed}"


def named(text: str, what: str) -> tuple[str, str]:
    """NAME=VALUE -> (NAME, VALUE); a clear error for anything else."""
    name, sep, value = text.partition("=")
    if not sep or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"--{what} {text!r}: expected NAME=..., NAME of letters, digits, '_' or '-'")
    return name, value


def parse_settings(config: str, text: str) -> tuple[str, ...]:
    """'k=v k2=v2' -> ('k=v', 'k2=v2'), each key a training setting (`TrainConfig`)."""
    known = {f.name for f in fields(TrainConfig)}
    settings = tuple(text.split())
    for item in settings:
        key, sep, _ = item.partition("=")
        if not sep or key not in known:
            raise ValueError(f"--config {config}: {item!r} is not KEY=VALUE with KEY a training setting "
                             f"(`avatar train --print-config` lists them)")
    if any(item.partition("=")[0] == "seed" for item in settings):
        raise ValueError(f"--config {config}: the seed comes from --seeds")
    return settings


def planned_runs(args: argparse.Namespace) -> list[Run]:
    captures = [named(c, "capture") for c in args.capture]
    configs = [named(c, "config") for c in args.config]
    for what, pairs in (("capture", captures), ("config", configs)):
        names = [n for n, _ in pairs]
        if len(set(names)) != len(names):
            raise ValueError(f"--{what}: a name is given twice ({', '.join(names)})")
    for name, path in captures:
        if not (Path(path) / "capture.json").is_file():
            raise ValueError(f"--capture {name}: {path} is not a capture directory (no capture.json)")
    seeds = [int(s) for s in args.seeds.split(",")]
    return [Run(config, parse_settings(config, text), cname, Path(path), seed)
            for config, text in configs for seed in seeds for cname, path in captures]


def summary(eval_json: Path) -> dict:
    """Each split's whole-split figures from `avatar eval --json`, without the per-frame lists (nor
    the per-camera table of captures with several cameras)."""
    data = json.loads(eval_json.read_text())
    return {split: {k: v for k, v in figures.items() if not isinstance(v, (list, dict))}
            for split, figures in data.items() if split != "per_camera"}


class Sweep:
    """The runs left, the processes running and the results file, shared by the worker threads."""

    def __init__(self, runs: list[Run], args: argparse.Namespace):
        self.args, self.out = args, args.out
        self.pending = [r for r in runs if not (self.out / r.name / "eval.json").is_file()]
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.processes: list[subprocess.Popen] = []
        self.stopping = False
        threads = max(1, (os.cpu_count() or 1) // max(1, args.workers))
        self.env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": os.pathsep.join(
            [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def next_run(self) -> Run | None:
        with self.lock:
            late = self.args.deadline and self.elapsed() > self.args.deadline * (1 - START_MARGIN)
            if self.stopping or late or not self.pending:
                return None
            return self.pending.pop(0)

    def command(self, cmd: list[str], log: Path) -> int:
        with open(log, "w") as f:
            with self.lock:
                if self.stopping:
                    return -9
                process = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=self.env)
                self.processes.append(process)
            return process.wait()

    def train_and_eval(self, run: Run) -> dict:
        folder = self.out / run.name
        folder.mkdir(parents=True, exist_ok=True)
        model = folder / "model.avatar"
        train = AVATAR + ["train", str(run.capture), "--out", str(model), "--device", self.args.device,
                          "--resume", "--set", f"seed={run.seed}"]
        for item in run.settings:
            train += ["--set", item]
        if self.args.iterations:
            train += ["--iterations", str(self.args.iterations)]
        if self.args.preset:
            train += ["--preset", self.args.preset]
        began = time.monotonic()
        train_rc = self.command(train, folder / "train.log")
        trained = time.monotonic()
        eval_rc = None
        if train_rc == 0:
            eval_rc = self.command(AVATAR + ["eval", str(model), str(run.capture), "--device", self.args.device,
                                             "--json", str(folder / "eval.json.partial")], folder / "eval.log")
            if eval_rc == 0:
                (folder / "eval.json.partial").replace(folder / "eval.json")
        row = {"run": run.name, "config": run.config, "settings": list(run.settings), "capture": run.capture_name,
               "seed": run.seed, "train_rc": train_rc, "eval_rc": eval_rc,
               "train_s": round(trained - began, 1), "eval_s": round(time.monotonic() - trained, 1)}
        if eval_rc == 0:
            row["figures"] = summary(folder / "eval.json")
        return row

    def worker(self) -> None:
        while (run := self.next_run()) is not None:
            row = self.train_and_eval(run)
            with self.lock:
                with open(self.out / "results.jsonl", "a") as f:
                    f.write(json.dumps(row) + "\n")
            status = "ok" if row["eval_rc"] == 0 else f"failed (train {row['train_rc']}, eval {row['eval_rc']})"
            print(f"[{self.elapsed():6.0f} s] {run.name}: {status}", flush=True)

    def kill(self) -> None:
        with self.lock:
            self.stopping = True
            for process in self.processes:
                if process.poll() is None:
                    process.kill()


def table(out: Path, runs: list[Run]) -> str:
    """'train / held-out' PSNR a config and capture, the mean over the seeds evaluated."""
    rows: dict[tuple[str, str], list[dict]] = {}
    results = out / "results.jsonl"
    for line in results.read_text().splitlines() if results.is_file() else []:
        row = json.loads(line)
        if "figures" in row:
            rows.setdefault((row["config"], row["capture"]), []).append(row["figures"])
    configs = list(dict.fromkeys(r.config for r in runs))
    captures = list(dict.fromkeys(r.capture_name for r in runs))
    lines = ["| config | " + " | ".join(captures) + " |", "|---" * (len(captures) + 1) + "|"]
    for config in configs:
        cells = []
        for capture in captures:
            found = rows.get((config, capture), [])
            if not found:
                cells.append("-")
                continue
            train = sum(f["train"]["psnr"] for f in found) / len(found)
            held = [f["test"]["psnr"] for f in found if "test" in f]
            cell = f"{train:.2f} / " + (f"{sum(held) / len(held):.2f}" if held else "-")
            cells.append(cell + (f" ({len(found)} seeds)" if len(found) > 1 else ""))
        lines.append(f"| {config} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the sweep's folder (resumed if it exists)")
    parser.add_argument("--capture", action="append", required=True, help="NAME=CAPTURE_DIR (repeatable)")
    parser.add_argument("--config", action="append", required=True,
                        help="NAME='KEY=VALUE ...' training settings (repeatable; NAME= for the defaults)")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds (default: 0)")
    parser.add_argument("--workers", type=int, default=1, help="runs at once (default: 1)")
    parser.add_argument("--device", default="auto", help="as `avatar train --device` (default: auto)")
    parser.add_argument("--deadline", type=float, default=0.0, help="seconds; 0: none (default)")
    parser.add_argument("--iterations", type=int, default=0, help="training steps (default: each preset's)")
    parser.add_argument("--preset", help="as `avatar train --preset` (default: each capture's own)")
    args = parser.parse_args(argv)
    try:
        if args.workers < 1:
            raise ValueError(f"--workers {args.workers}: at least 1")
        runs = planned_runs(args)
    except ValueError as e:
        print(f"train_sweep: {e}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    sweep = Sweep(runs, args)
    print(f"{len(runs)} runs, {len(runs) - len(sweep.pending)} already evaluated, {args.workers} at once", flush=True)
    threads = [threading.Thread(target=sweep.worker) for _ in range(args.workers)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        time.sleep(1.0)
        if args.deadline and sweep.elapsed() > args.deadline:
            print(f"deadline of {args.deadline:.0f} s: killing the runs still going", flush=True)
            sweep.kill()
            break
    for thread in threads:
        thread.join()
    print(table(args.out, runs))
    left = [r.name for r in runs if not (args.out / r.name / "eval.json").is_file()]
    if left:
        print(f"not evaluated: {', '.join(left)}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
