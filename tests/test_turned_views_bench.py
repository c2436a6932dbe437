"""benchmarks/quality/turned_views.py: sheets and outside shares, at the head's level or above it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from avatar.cli.main import main as avatar
from avatar.data.synthetic import make_synthetic_capture
from avatar.rig.loaders import load_rig

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "quality"))
from turned_views import main  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(a tiny avatar, the capture it was trained on)."""
    root = tmp_path_factory.mktemp("turned")
    make_synthetic_capture(load_rig("builtin"), root / "capture", num_train=4, num_test=1, size=32, progress=False)
    model = root / "tiny.avatar"
    assert avatar(["train", str(root / "capture"), "--out", str(model), "--iterations", "20"]) == 0
    return model, root / "capture"


def test_an_elevation_turns_the_camera_up_and_names_its_sheets(trained, tmp_path, capsys):
    model, capture = trained
    sheets = {}
    for elevation in ("0", "25"):
        out = tmp_path / elevation
        argv = ["--avatar", f"a={model}", "--driver", f"own={capture}", "--angles=-20,20", "--frames", "1"]
        argv += ["--size", "48", "--out", str(out), "--elevation", elevation, "--json", str(out / "t.json")]
        assert main(argv) == 0
        assert torch.is_grad_enabled()  # the benchmark leaves the caller's grad mode alone
        name = "sheet_a_by_own.png" if elevation == "0" else "sheet_a_by_own_el+25.png"
        sheets[elevation] = np.asarray(Image.open(out / name))
        recorded = json.loads((out / "t.json").read_text())[0]["drivers"]["own"]
        assert recorded["elevation"] == float(elevation) and recorded["angles"] == [-20.0, 20.0]
    assert "+25° above the head's level" in capsys.readouterr().out
    assert sheets["0"].shape == sheets["25"].shape and not np.array_equal(sheets["0"], sheets["25"])
