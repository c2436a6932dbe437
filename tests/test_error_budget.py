"""benchmarks/diagnostics/error_budget.py: the regions split every pixel once, the budget's PSNR is `avatar
eval`'s, and fitting a frame's parameters through the avatar wins back what a wrong pose lost."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import avatar
from avatar.data.synthetic import make_synthetic_capture
from avatar.rig.loaders import load_rig

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "diagnostics"))
from error_budget import error_budget, face_parts, region_masks  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(capture, model): a synthetic capture (4 training and 2 held-out frames of 48 px) and an
    avatar trained on it for 60 steps."""
    root = tmp_path_factory.mktemp("budget")
    make_synthetic_capture(
        load_rig("builtin"), root / "capture", num_train=4, num_test=2, size=48, random_identity=True, progress=False
    )
    avatar.train(
        root / "capture",
        root / "me.avatar",
        preset="fast",
        iterations=60,
        backend="torch",
        eval_every=0,
        progress=False,
    )
    return root / "capture", root / "me.avatar"


@pytest.mark.parametrize("with_landmarks", [False, True])
@pytest.mark.parametrize("with_rig", [False, True])
def test_the_regions_cover_every_pixel_once(with_landmarks, with_rig):
    rng = np.random.default_rng(0)
    mask = np.zeros((40, 40))
    mask[8:34, 10:30] = 1.0
    alpha = np.clip(mask + rng.uniform(-0.6, 0.6, mask.shape), 0, 1)  # disagrees with the matte here and there
    landmarks = rng.uniform(10, 30, (68, 2)) if with_landmarks else None
    past_rig = None
    if with_rig:
        past_rig = np.ones((40, 40), bool)
        past_rig[14:40, 10:30] = False  # a rig that stops short of the matte's top rows
    regions = region_masks(mask, alpha, past_rig)
    if with_landmarks:
        regions |= face_parts(regions.pop("person"), landmarks)
    count = sum(r.astype(int) for r in regions.values())
    assert (count == 1).all()
    assert ("person" in regions) != with_landmarks and ("face" in regions) == with_landmarks
    assert regions["over background"].any()
    if with_rig:
        past, on = regions["missing, past the rig"], regions["missing, on the rig"]
        assert past.any() and on.any() and not past[14:].any() and "missing" not in regions
    else:
        assert regions["missing"].any()


def test_a_frame_whose_view_lost_the_face_puts_its_person_in_the_rest():
    person = np.zeros((20, 20), bool)
    person[4:16, 5:15] = True
    parts = face_parts(person, None)
    assert (parts["hair, forehead, neck"] == person).all()
    assert not (parts["mouth"] | parts["eyes"] | parts["face"]).any()
    assert list(parts) == list(face_parts(person, np.full((68, 2), 10.0)))  # the same regions as a frame with a face


def test_the_budget_scores_as_avatar_eval_and_its_shares_add_up(trained):
    capture, model = trained
    budget = error_budget(model, capture, "test")
    assert budget["frames"] == 2
    assert budget["psnr"] == pytest.approx(avatar.evaluate(model, capture, ["test"])["test"]["psnr"], abs=1e-3)
    rows = budget["regions"].values()
    assert sum(r["error_share"] for r in rows) == pytest.approx(1.0)
    assert sum(r["pixel_share"] for r in rows) == pytest.approx(1.0)
    assert all(r["psnr_if_exact"] >= budget["psnr"] - 1e-9 for r in rows)


def test_fitting_the_parameters_wins_back_a_wrong_pose(trained, tmp_path):
    capture, model = trained
    moved = tmp_path / "moved"
    shutil.copytree(capture, moved)
    params = dict(np.load(moved / "params.npz"))
    params["translation"] = params["translation"] + np.array([0.01, -0.006, 0.0], np.float32)  # 10 mm, 6 mm
    np.savez(moved / "params.npz", **params)
    right = error_budget(model, capture, "test")["psnr"]
    wrong = error_budget(model, moved, "test", fit_steps=30, fit_keys=("rotation", "translation"))
    assert wrong["psnr"] < right - 1.0
    assert wrong["psnr_params_fitted"] > right


def script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "diagnostics" / "error_budget.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_script_prints_its_table_and_refuses_what_it_cannot_do(trained):
    capture, model = trained
    run = script(str(model), str(capture))
    assert run.returncode == 0, run.stderr
    assert "PSNR if exact" in run.stdout and "outline" in run.stdout
    refused = script(str(model), str(capture), "--fit-params", "2", "--fit-keys", "rotation,shape")
    assert refused.returncode != 0 and "--fit-keys: shape" in refused.stderr
    no_camera = script(str(model), str(capture), "--camera", "3")
    assert no_camera.returncode != 0 and "no frames of split 'test' from camera 3" in no_camera.stderr


def test_a_tracked_capture_splits_the_face_by_its_landmarks(real_capture, real_avatar):
    budget = error_budget(real_avatar, real_capture, "test")
    assert {"mouth", "eyes", "face", "hair, forehead, neck"} <= set(budget["regions"]) and "person" not in budget[
        "regions"
    ]
    assert budget["regions"]["face"]["pixel_share"] > 0.02 and budget["regions"]["mouth"]["pixel_share"] > 0
    assert budget["psnr_if_face_exact"] >= budget["psnr"] and budget["psnr_if_all_but_face_exact"] >= budget["psnr"]
