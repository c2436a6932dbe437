"""benchmarks/gpu/viewer_check.py, the GPU viewer check, runs end to end here as its --dry-run:
the demo avatar made, the CPU kernels loaded, `avatar view` under Xvfb with the cpu and gl
backends at 64 px driven by a clip, each run's stats read into the table and the JSON. Skips
without the viewer's packages, mediapipe (the clip is tracked live) or Xvfb.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from headless import viewer_missing

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu" / "viewer_check.py"
MISSING = viewer_missing("mediapipe")

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def _check(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("viewer-check")
    done = _check("--dry-run", "--out", str(out))
    return {
        "out": out,
        "done": done,
        "doc": json.loads((out / "viewer-check.json").read_text()) if (out / "viewer-check.json").is_file() else None,
    }


def test_the_dry_run_views_with_each_backend_and_tabulates_the_stats(dry_run):
    done, doc = dry_run["done"], dry_run["doc"]
    if done.returncode != 0 and "EGL" in done.stdout + done.stderr:
        pytest.skip(f"no OpenGL context under Xvfb: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert doc["dry_run"] and Path(doc["model"]).is_file() and Path(doc["clip"]).is_file()
    assert [(r["backend"], r["size"], r["status"]) for r in doc["rows"]] == [("cpu", 64, "ok"), ("gl", 64, "ok")]
    for row in doc["rows"]:
        stats = json.loads((dry_run["out"] / f"{row['backend']}-64" / "stats.json").read_text())
        assert row["figures"]["frames"] == stats["frames"] >= 8  # --frames 8: the run stopped there
        assert row["figures"]["fps"] == stats["fps"] > 0
        assert row["figures"]["gl_renderer"] == stats["gl_renderer"] != ""
        assert "--source video:" in row["command"] and f"--backend {row['backend']}" in row["command"]
        assert f"| {row['backend']} | 64 | {row['figures']['fps']:.1f} |" in done.stdout
    assert "--device cpu" in doc["rows"][1]["command"]  # gl draws from the CPU's device


def test_a_backend_that_cannot_load_fails_the_check(dry_run, tmp_path):
    """On a CPU machine the cuda backend's kernels do not load: exit status 1, the log named."""
    model = dry_run["out"] / "demo" / "model.avatar"
    if not model.is_file():
        pytest.skip("the dry run made no demo avatar")
    done = _check(str(model), "--dry-run", "--backends", "cuda", "--out", str(tmp_path))
    assert done.returncode == 1 and "kernels.log" in done.stderr


def test_bad_input_is_exit_status_2(tmp_path):
    done = _check(str(tmp_path / "missing.avatar"), "--out", str(tmp_path))
    assert done.returncode == 2 and "missing.avatar: model file not found" in done.stderr
    (tmp_path / "m.avatar").write_bytes(b"")
    done = _check(str(tmp_path / "m.avatar"), "--clip", str(tmp_path / "none.mp4"), "--out", str(tmp_path))
    assert done.returncode == 2 and "none.mp4: file not found" in done.stderr
