"""benchmarks/quality/second_clip.py: a short second clip from another camera of a joint capture."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from avatar.data.capture import load_capture
from avatar.data.synthetic import FPS, make_synthetic_capture
from avatar.rig.loaders import load_rig

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "quality"))
from second_clip import cut_splits, main  # noqa: E402

MAIN, SECOND, OTHER = 0, 2, 1  # the synthetic capture holds camera 1 out of its training splits


@pytest.fixture(scope="module")
def joint(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("joint") / "capture"
    make_synthetic_capture(load_rig("builtin"), out, num_train=6, num_test=2, size=32, num_cameras=3, progress=False)
    return out


def test_the_second_clip_adds_only_the_second_cameras_first_training_moments(joint):
    capture = load_capture(joint)
    cut = cut_splits(joint, MAIN, [SECOND], seconds=2 / FPS)
    camera = {i: f.camera for i, f in enumerate(capture.frames)}
    time = {i: f.time for i, f in enumerate(capture.frames)}
    train_times = sorted({time[i] for i in capture.splits["train"]})
    short = set(train_times[:2])

    assert {camera[i] for i in cut["one"]["train"]} == {MAIN}
    assert sorted(time[i] for i in cut["one"]["train"]) == train_times
    added = sorted(set(cut["two"]["train"]) - set(cut["one"]["train"]))
    assert set(cut["one"]["train"]) < set(cut["two"]["train"])
    assert {camera[i] for i in added} == {SECOND} and {time[i] for i in added} == short

    for name in ("one", "two"):  # both scored on the same frames, none of them trained on
        splits = cut[name]
        assert {k: v for k, v in splits.items() if k != "train"} == {
            k: v for k, v in cut["one"].items() if k != "train"
        }
        held_out = [i for k, v in splits.items() if k != "train" for i in v]
        assert not set(held_out) & set(splits["train"])
    assert {camera[i] for i in cut["one"]["test"]} == {MAIN}
    assert {camera[i] for i in cut["one"][f"unseen_{SECOND}"]} == {SECOND}
    assert min(time[i] for i in cut["one"][f"unseen_{SECOND}"]) == max(short) + 1
    assert sorted(cut["one"][f"other_{OTHER}"]) == sorted(i for i in camera if camera[i] == OTHER)


def test_both_sides_each_add_their_first_moments_and_leave_no_other_camera(joint):
    capture = load_capture(joint)
    cut = cut_splits(joint, MAIN, [SECOND, OTHER], seconds=2 / FPS)
    added = set(cut["two"]["train"]) - set(cut["one"]["train"])
    for c in (SECOND, OTHER):
        mine = {i for i in added if capture.frames[i].camera == c}
        assert mine and {capture.frames[i].time for i in mine} <= {
            capture.frames[i].time for i in capture.splits["train"]
        }
        assert not mine & set(cut["two"][f"unseen_{c}"])
    assert not any(name.startswith("other_") for name in cut["one"])


def test_the_cameras_must_be_different_cameras_of_the_capture(joint):
    for second in ([MAIN], [7], [], [SECOND, MAIN]):
        with pytest.raises(SystemExit, match="different cameras"):
            cut_splits(joint, MAIN, second, 1.0)


def test_both_avatars_trained_and_scored_as_one_clip_each(joint, tmp_path, capsys):
    out = tmp_path / "run"
    argv = [str(joint), "--out", str(out), "--main-camera", str(MAIN), "--second-cameras", str(SECOND)]
    argv += ["--seconds", str(2 / FPS), "--set", "iterations=20", "--json", str(tmp_path / "t.json")]
    assert main(argv) == 0
    table = json.loads((tmp_path / "t.json").read_text())
    assert table["one"]["training_frames"] < table["two"]["training_frames"]
    for name in ("one", "two"):
        copy = json.loads((out / name / "capture" / "capture.json").read_text())
        assert copy["extra"]["monocular"] is True  # as `avatar track a.mp4 b.mp4` marks its clips
        assert (out / f"sheet_{name}_other_{OTHER}.png").is_file()
    assert "mean gain off the main camera" in capsys.readouterr().out
