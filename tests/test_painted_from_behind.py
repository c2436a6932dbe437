"""benchmarks/diagnostics/painted_from_behind.py: a solid head is painted from its surface, a face
made transparent is painted from the head's far side, a head made transparent is left transparent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import avatar
from avatar.data.synthetic import make_synthetic_capture
from avatar.model import load_avatar
from avatar.rig.face_region import face_triangles
from avatar.rig.loaders import load_rig

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "diagnostics"))
from painted_from_behind import main, painted_from_behind  # noqa: E402


@pytest.fixture(scope="module")
def heads(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """(capture, {name: model}): one avatar of a synthetic capture with its opacities set three ways."""
    root = tmp_path_factory.mktemp("behind")
    rig = load_rig("builtin")
    make_synthetic_capture(rig, root / "capture", num_train=2, num_test=1, size=64, progress=False)
    avatar.train(
        root / "capture", root / "me.avatar", preset="fast", iterations=2, backend="torch", eval_every=0, progress=False
    )
    models = {}
    for name in ("solid", "hollow_face", "transparent"):
        loaded = load_avatar(root / "me.avatar", backend="cpu")
        model = loaded.renderer.model
        face = face_triangles(rig)[model.parent]  # [N]
        with torch.no_grad():
            model.opacity_logit[:] = 6.0 if name != "transparent" else -12.0
            if name == "hollow_face":
                model.opacity_logit[face] = -12.0  # the face gone: the head's far side shows through
        loaded.save(root / f"{name}.avatar")
        models[name] = root / f"{name}.avatar"
    return root / "capture", models


def test_shares_of_the_rigs_pixels(heads):
    capture, models = heads
    share = {name: painted_from_behind(str(path), str(capture), "test", 1, 0.03) for name, path in models.items()}
    behind, hollow, excess = share["solid"]
    assert behind < 0.02 and hollow < 0.05 and excess < 1e-3
    behind, hollow, excess = share["hollow_face"]
    assert behind > 0.2 and excess > 0.005  # metres past the margin, a mean over the rig's pixels
    behind, hollow, _ = share["transparent"]
    assert behind == 0.0 and hollow > 0.95


def test_a_camera_with_no_frames_of_the_split_is_one_clear_error(heads, capsys):
    capture, models = heads
    with pytest.raises(SystemExit, match="no frames of split 'test' from camera 3"):
        main([str(models["solid"]), str(capture), "--camera", "3"])
