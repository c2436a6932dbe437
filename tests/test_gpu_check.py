"""benchmarks/gpu/gpu_check.py, the one-call GPU check, on this CPU machine: its --dry-run checks every
step here (the `avatar` commands' options, the cuda tests' collection, the sanitizer tests' ids, a
capture's training settings), a bad capture fails its step, a real run without CUDA stops with one
"no CUDA device" message after writing its summary, and the readers of the GPU tools' outputs
(junit, compute-sanitizer, pytest, bench and eval JSON) read canned outputs right."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu" / "gpu_check.py"
STEPS = ["environment", "build", "pytest", "bench", "train", "eval", "memcheck", "racecheck"]


def run_check(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=240)


def summary_of(out: Path) -> tuple[dict, dict[str, dict]]:
    """summary.json, and its steps by name."""
    summary = json.loads((out / "summary.json").read_text())
    return summary, {s["name"]: s for s in summary["steps"]}


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    """A tiny synthetic capture (3 frames of 16 px): enough for `avatar train --print-config`."""
    from avatar.data.synthetic import make_synthetic_capture
    from avatar.rig.builtin import build_builtin_head

    path = tmp_path_factory.mktemp("gpu_check") / "capture"
    make_synthetic_capture(build_builtin_head(), path, num_train=2, num_test=1, size=16, progress=False)
    return path


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory, capture) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("gpu_check") / "dry"
    return run_check(out, "--dry-run", "--capture", str(capture), "--train-steps", "50"), out


@pytest.fixture(scope="module")
def gpu_check():
    """The script as a module, for its output readers."""
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["gpu_check"]


def test_dry_run_checks_every_step_here(dry_run):
    done, out = dry_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    summary, steps = summary_of(out)
    assert summary["dry_run"] and summary["exit_code"] == 0 and list(steps) == STEPS
    failed = {name: s["notes"] for name, s in steps.items() if s["status"] != "ok"}
    assert not failed, f"dry-run checks that did not pass here: {failed}"
    assert steps["pytest"]["figures"]["collected"] > 0
    for name, options in (("bench", "--device --backends --sizes --json"),
                          ("train", "--out --device --iterations --log-dir --set"),
                          ("eval", "--device --json")):
        assert steps[name]["figures"]["options checked"] == options
    assert any("--print-config" in c for c in steps["train"]["checks"])  # the capture loaded, settings resolved
    for name, step in steps.items():  # what the real run would run, and its log
        assert step["commands"] and all((out / log).is_file() for log in step["logs"]), name
    assert "--iterations 50" in steps["train"]["commands"][0] and "--device cuda" in steps["train"]["commands"][0]
    assert "compute-sanitizer" in steps["memcheck"]["commands"][0]
    assert "--tool racecheck" in steps["racecheck"]["commands"][0]
    markdown = (out / "summary.md").read_text()
    assert all(f"| {name} | ok |" in markdown for name in STEPS)


def test_without_a_capture_training_and_evaluation_are_skipped_with_the_reason(tmp_path):
    done = run_check(tmp_path, "--dry-run", "--steps", "train,eval")
    assert done.returncode == 0, done.stderr
    summary, steps = summary_of(tmp_path)
    assert list(steps) == STEPS
    assert [steps[n]["status"] for n in ("train", "eval")] == ["skipped", "skipped"]
    assert all("--capture" in steps[n]["notes"][0] for n in ("train", "eval"))
    assert steps["bench"]["status"] == "skipped" and steps["bench"]["notes"] == ["left out by --steps"]


def test_a_folder_that_is_no_capture_fails_the_training_check(tmp_path):
    folder = tmp_path / "not-a-capture"
    folder.mkdir()
    done = run_check(tmp_path / "out", "--dry-run", "--steps", "train,eval", "--capture", str(folder))
    assert done.returncode == 1
    summary, steps = summary_of(tmp_path / "out")
    assert summary["exit_code"] == 1 and steps["train"]["status"] == "failed"
    assert "no capture.json" in steps["train"]["notes"][0]
    assert steps["eval"]["status"] == "skipped" and "needs the train step, which failed" in steps["eval"]["notes"][0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_without_cuda_a_real_run_stops_with_one_message_and_a_summary(tmp_path):
    done = run_check(tmp_path)
    assert done.returncode == 2
    message = done.stderr.strip().splitlines()
    assert len(message) == 1 and "no CUDA device: torch.cuda.is_available() is False" in message[0], done.stderr
    summary, steps = summary_of(tmp_path)
    assert not summary["dry_run"] and summary["exit_code"] == 2 and "no CUDA device" in summary["message"]
    assert list(steps) == STEPS and steps["environment"]["status"] == "failed"
    for name in STEPS[1:]:
        assert steps[name]["status"] == "skipped" and "no CUDA device" in steps[name]["notes"][0], name
    assert "no CUDA device" in (tmp_path / "summary.md").read_text()


def test_readers_of_the_gpu_outputs(gpu_check, tmp_path):
    g = gpu_check
    assert g.sanitizer_errors("========= COMPUTE-SANITIZER\n...\n========= ERROR SUMMARY: 0 errors\n") == 0
    assert g.sanitizer_errors("========= Invalid __global__ read\n========= ERROR SUMMARY: 3 errors\n") == 3
    assert g.sanitizer_errors("========= RACECHECK SUMMARY: 2 hazards displayed (1 error, 1 warning)\n") == 1
    assert g.sanitizer_errors("Segmentation fault\n") is None
    assert g.pytest_counts("...\n4 passed, 1 skipped, 1 failed in 3.20s\n[exit status 1]\n") == \
        {"passed": 4, "skipped": 1, "failed": 1}
    # under compute-sanitizer its summary follows pytest's closing line
    assert g.pytest_counts("========= COMPUTE-SANITIZER\n......   [100%]\n6 passed in 6.04s\n"
                           "========= ERROR SUMMARY: 0 errors\n[exit status 0, 7.5 s]\n") == {"passed": 6}
    assert g.pytest_counts("1 error in 2.10s\n") == {"error": 1}

    junit = tmp_path / "j.xml"
    junit.write_text('<?xml version="1.0"?><testsuites><testsuite name="pytest" errors="0" failures="1" '
                     'skipped="1" tests="4"><testcase classname="tests.test_a" name="test_x[cuda]">'
                     '<failure message="m"/></testcase></testsuite></testsuites>')
    assert g.junit_counts(junit) == {"tests": 4, "failures": 1, "errors": 0, "skipped": 1, "passed": 2,
                                     "failed_tests": ["tests.test_a::test_x[cuda]"]}

    row = {"width": 256, "height": 256, "num_gaussians": 30000, "num_expr": 20}
    rows = [{**row, "op": "frame", "backend": "cuda", "requested": "cuda", "ms_median": 1.23456},
            {**row, "op": "frame", "backend": "torch", "requested": "torch", "ms_median": 9.0},
            {**row, "op": "frame", "backend": "torch", "requested": "cuda", "ms_median": 9.5},  # a fallback: left out
            {**row, "op": "blend", "backend": "cuda", "requested": "cuda", "ms_median": 0.1}]
    assert g.bench_figures(rows) == {"frame ms 256x256/30k": {"cuda": 1.235, "torch": 9.0}}

    metrics = {"test": {"split": "test", "frames": 30, "psnr": 31.23456, "ssim": 0.95, "lpips": None, "per_frame": []}}
    assert g.eval_figures(metrics) == {"test": {"frames": 30, "psnr": 31.2346, "ssim": 0.95, "lpips": None}}
