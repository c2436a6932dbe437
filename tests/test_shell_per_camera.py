"""benchmarks/diagnostics/shell_per_camera.py: each camera's hair shell against every camera's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from avatar.data.synthetic import make_synthetic_capture
from avatar.rig.loaders import load_rig
from capture.hair_shell import THINNESS

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "diagnostics"))
from shell_per_camera import main, shell_per_camera  # noqa: E402


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> dict[int, Path]:
    """{number of cameras: a synthetic capture}."""
    root = tmp_path_factory.mktemp("shells")
    rig = load_rig("builtin")
    out = {}
    for cameras in (1, 2):
        make_synthetic_capture(
            rig, root / f"c{cameras}", num_train=6, num_test=1, size=64, num_cameras=cameras, progress=False
        )
        out[cameras] = root / f"c{cameras}"
    return out


def test_one_camera_alone_is_every_camera_and_two_differ(captures, capsys):
    alone = shell_per_camera(str(captures[1]), [THINNESS])
    assert list(alone) == [0] and alone[0][THINNESS] == (0.0, 0.0)
    two = shell_per_camera(str(captures[2]), [0.0, THINNESS])
    assert list(two) == [0, 1] and all(rms > 0 for row in two.values() for rms, _ in row.values())
    assert main([str(captures[2]), "--thinness", "0", "1"]) == 0
    table = capsys.readouterr().out
    assert "| 0 |" in table and "| 1 |" in table and "thinness 1" in table
