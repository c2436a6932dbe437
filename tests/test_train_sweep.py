"""benchmarks/quality/train_sweep.py: every (settings, capture, seed) trained and evaluated, two at once,
a table of what came out, a second call resuming instead of training again, and bad settings
refused before anything runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "quality" / "train_sweep.py"


def sweep(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--device", "cpu", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    """A tiny synthetic capture (3 training and 1 held-out frame of 24 px)."""
    from avatar.data.synthetic import make_synthetic_capture
    from avatar.rig.builtin import build_builtin_head

    path = tmp_path_factory.mktemp("sweep") / "capture"
    make_synthetic_capture(build_builtin_head(), path, num_train=3, num_test=1, size=24, progress=False)
    return path


def test_each_run_is_trained_evaluated_and_tabled_and_a_second_call_resumes(tmp_path, capture):
    out = tmp_path / "sweep"
    args = ["--capture", f"synth={capture}", "--config", "base=", "--config", "strong=offset_reg=3 sh_degree=1",
            "--workers", "2", "--iterations", "3", "--preset", "fast"]
    first = sweep(out, *args)
    assert first.returncode == 0, first.stderr + first.stdout
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["run"] for r in rows) == ["base_synth_s0", "strong_synth_s0"]
    strong = next(r for r in rows if r["config"] == "strong")
    assert strong["settings"] == ["offset_reg=3", "sh_degree=1"] and strong["train_rc"] == 0
    config = (out / "strong_synth_s0" / "model.avatar.run" / "config.yaml").read_text()
    assert "offset_reg: 3" in config and "sh_degree: 1" in config  # the settings reached the training
    for r in rows:
        assert 0 < r["figures"]["train"]["psnr"] < 100 and 0 < r["figures"]["test"]["psnr"] < 100
    line = next(row for row in first.stdout.splitlines() if row.startswith("| strong |"))
    assert f"{strong['figures']['train']['psnr']:.2f} / {strong['figures']['test']['psnr']:.2f}" in line

    again = sweep(out, *args)
    assert again.returncode == 0 and "2 already evaluated" in again.stdout
    assert len((out / "results.jsonl").read_text().splitlines()) == 2  # nothing trained twice


@pytest.mark.parametrize("config, message", [
    ("bad=offset_regg=3", "'offset_regg=3' is not KEY=VALUE with KEY a training setting"),
    ("bad=seed=3", "the seed comes from --seeds"),
    ("no name", "expected NAME=..."),
])
def test_bad_settings_are_refused_before_anything_runs(tmp_path, capture, config, message):
    result = sweep(tmp_path / "sweep", "--capture", f"synth={capture}", "--config", config)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "sweep").exists()


def test_a_folder_that_is_not_a_capture_is_refused(tmp_path):
    result = sweep(tmp_path / "sweep", "--capture", f"x={tmp_path}", "--config", "base=")
    assert result.returncode == 2 and "is not a capture directory" in result.stderr
