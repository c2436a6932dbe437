"""Outputs: a path that cannot become a file, a full disk and SIGTERM each give one clear error
(or a clean exit) and leave nothing behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from avatar.cli.main import main
from avatar.data.expressions import save_expression_file
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import save_avatar
from avatar.rig.loaders import load_rig


@pytest.fixture(scope="module")
def model_and_take(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    rig = load_rig("builtin")
    save_avatar(GaussianAvatar.on_mesh(rig), root / "m.avatar", {})
    params = rig.zero_params(400)
    params.expr[:, 0] = torch.linspace(0, 1, 400)
    save_expression_file(root / "take.npz", params, 25.0, rig.expr_names)
    return root / "m.avatar", root / "take.npz"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "partial" in p.name)


@pytest.mark.parametrize("command", ["render", "export", "eval-json", "train"])
def test_an_output_path_that_is_a_directory_is_one_clear_error(model_and_take, tmp_path, capsys, command):
    model, take = model_and_take
    out = tmp_path / "taken"
    out.mkdir()
    argv = {"render": ["render", str(model), "--expr", str(take), "--out", str(out), "--size", "32"],
            "export": ["export", str(model), "--ply", str(out)],
            "eval-json": ["eval", str(model), str(tmp_path / "no-capture"), "--json", str(out)],
            "train": ["train", str(tmp_path / "no-capture"), "--out", str(out)]}[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "taken: is a directory" in err  # checked before anything else
    assert not _leftovers(tmp_path) and not any(out.iterdir())


def test_a_full_disk_is_one_clear_error_and_leaves_nothing(model_and_take, tmp_path, capsys):
    model, _ = model_and_take
    out = tmp_path / "full.ply"
    (tmp_path / "full.ply.partial").symlink_to("/dev/full")  # every write there fails with ENOSPC
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    assert main(["export", str(model), "--ply", str(out)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert not out.exists() and not _leftovers(tmp_path)


def test_sigterm_during_a_render_leaves_no_partial_video(model_and_take, tmp_path):
    model, take = model_and_take
    out = tmp_path / "r.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "avatar.cli", "render", str(model), "--expr", str(take), "--out",
                             str(out), "--size", "64", "--backend", "torch"], stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    deadline = time.time() + 120
    while not _leftovers(tmp_path) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert _leftovers(tmp_path), "the render never started writing"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM and "terminated" in err
    assert not out.exists() and not _leftovers(tmp_path)
