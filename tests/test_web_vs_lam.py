"""benchmarks/speed/web_vs_lam.py, LAM's web renderer beside ours: LAM's ARKit take becomes a Live
Link CSV of the same weights, which our reader maps as any Live Link take (always run); and the
benchmark end to end at a few frames, both renderers drawing visibly (skips without LAM's
assets, the npm package or the system's Chromium)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from avatar.data.arkit import ARKIT_NAMES
from avatar.data.expressions import load_expression_file
from avatar.data.livelink import MAX_JAW_ANGLE, read_livelink_csv
from avatar.gaussians import GaussianAvatar
from avatar.model import Avatar
from avatar.rig.builtin import build_builtin_head
from avatar.web.headless import find_chromium

REPO = Path(__file__).resolve().parents[1]
SPEED = REPO / "benchmarks" / "speed"
sys.path.insert(0, str(SPEED))
from lam_take import LAM_FPS, read_lam_take, timecode, write_livelink_csv  # noqa: E402
from web_vs_lam import LAM_MODULE, lam_gaussians  # noqa: E402

# Where LAM_WebRender's asset/arkit/p2-1.zip and asset/test_expression_1s.json are (never in the
# repository: MIT, but LAM's).
LAM_ASSETS = Path(os.environ.get("AVATAR_LAM_ASSETS", REPO.parent / "shared" / "data" / "lam"))

# A LAM take by hand: names in LAM's own order (not Live Link's), fewer than 52.
TWO_FRAMES = {
    "names": ["browInnerUp", "eyeBlinkLeft", "jawOpen", "mouthSmileRight"],
    "frames": [
        {"weights": [0.25, 0.5, 0.75, 0.125], "time": 0.0, "rotation": []},
        {"weights": [0.0, 1.0, 0.5, 0.0625], "time": 1 / 30, "rotation": []},
    ],
    "head_pose": [[0.01, 0.0, 0.0], [0.02, 0.0, 0.0]],
}


def _write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_the_take_becomes_a_live_link_csv_of_its_weights(tmp_path):
    csv = tmp_path / "take.csv"
    write_livelink_csv(csv, read_lam_take(_write(tmp_path / "take.json", TWO_FRAMES)))
    recording = read_livelink_csv(csv)
    assert recording.fps == pytest.approx(LAM_FPS)
    want = np.zeros((2, 52), np.float32)
    for k, name in enumerate(TWO_FRAMES["names"]):
        want[:, ARKIT_NAMES.index(name)] = [frame["weights"][k] for frame in TWO_FRAMES["frames"]]
    np.testing.assert_array_equal(recording.blendshapes, want)
    # LAM's renderer gets no head pose: neither do we
    for angles in (recording.head, recording.left_eye, recording.right_eye):
        np.testing.assert_array_equal(angles, 0.0)
    # ... and our reader maps it as any Live Link take: by name, the jaw opened from jawOpen
    rig = build_builtin_head()
    params, fps = load_expression_file(csv, rig)
    np.testing.assert_allclose(params.expr[:, rig.expr_names.index("eyeBlink_L")], [0.5, 1.0])
    np.testing.assert_allclose(params.expr[:, rig.expr_names.index("browInnerUp")], [0.25, 0.0])
    np.testing.assert_allclose(params.expr[:, rig.expr_names.index("mouthSmile_R")], [0.125, 0.0625])
    np.testing.assert_allclose(params.jaw[:, 0], [0.75 * MAX_JAW_ANGLE, 0.5 * MAX_JAW_ANGLE], rtol=1e-6)
    assert fps == pytest.approx(LAM_FPS)


def test_a_long_take_keeps_30_fps_across_seconds(tmp_path):
    assert timecode(1 / 30) == "00:00:00:02.000" and timecode(3661 + 29 / 30) == "01:01:01:58.000"
    csv = tmp_path / "long.csv"
    write_livelink_csv(csv, np.zeros((95, 52), np.float32))
    assert read_livelink_csv(csv).fps == pytest.approx(LAM_FPS)


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"names": ["eyeBlinkLeft", "notAShape"], "frames": [{"weights": [0, 0]}]}, "unknown: ['notAShape']"),
        ({"names": ["eyeBlinkLeft"], "frames": [{"weights": [0, 1]}]}, "1 finite weights"),
        ({"names": ["eyeBlinkLeft"], "frames": []}, "not a LAM take"),
    ],
)
def test_a_malformed_take_is_refused_by_name(tmp_path, doc, message):
    path = _write(tmp_path / "bad.json", doc)
    with pytest.raises(ValueError, match=r"bad\.json") as e:
        read_lam_take(path)
    assert message in str(e.value)


def test_the_lam_avatars_gaussians_come_from_its_ply_header(tmp_path):
    path = tmp_path / "someone.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__MACOSX/someone/._offset.ply", b"\x00\x05")
        z.writestr("someone/offset.ply", b"ply\nformat binary_little_endian 1.0\nelement vertex 1234\nend_header\n")
    assert lam_gaussians(path) == 1234


def test_both_renderers_play_the_take_in_one_browser(tmp_path):
    zip_path, take = LAM_ASSETS / "p2-1.zip", LAM_ASSETS / "test_expression_1s.json"
    if not (zip_path.is_file() and take.is_file()):
        pytest.skip(
            f"LAM's assets are not in {LAM_ASSETS} (set AVATAR_LAM_ASSETS; from github.com/aigc3d/LAM_WebRender)"
        )
    if not LAM_MODULE.is_file():
        pytest.skip(f"LAM's renderer is not installed (`npm ci` in {LAM_MODULE.parents[3]})")
    pytest.importorskip("playwright.sync_api", reason="the benchmark drives Chromium with playwright (dev extra)")
    if find_chromium() is None:
        pytest.skip("no system chromium (Debian's package `chromium`)")
    # more Gaussians than LAM's 20,018, so that ours is cut to its count
    model = GaussianAvatar.on_mesh(build_builtin_head(), per_face=2, seed=0)
    Avatar(model, torch.zeros(model.rig.num_shape)).save(tmp_path / "small.avatar")
    out = tmp_path / "out.json"
    args = [str(zip_path), str(take), str(tmp_path / "small.avatar"), "--json", str(out), "--size", "96"]
    run = subprocess.run(
        [sys.executable, str(SPEED / "web_vs_lam.py"), *args, "--frames", "3"],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | {"OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert set(result) == {"lam", "ours", "ours_full", "ratio", "setup"}
    count = lam_gaussians(zip_path)
    expected = {"lam": count, "ours": count, "ours_full": model.num_gaussians}
    for side, gaussians in expected.items():
        row = result[side]
        assert row["gaussians"] == gaussians, side
        assert row["frames"] > 3 and row["frame_ms"] > 0 and row["cpu_ms"] > 0, (side, row)
        assert row["covered"] > 0.02, (side, row)  # an avatar on the canvas, not only the background
    assert set(result["ratio"]) >= {"frame_ms", "cpu_ms"}
    assert "LAM" in run.stdout and "ours (full)" in run.stdout
