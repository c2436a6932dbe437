"""`avatar batch`: subjects found, Ray tasks per stage, failures recorded, reruns that do no work,
and a run killed in the middle that finishes with the same results when started again.

The end-to-end tests run the command in a subprocess (its own local Ray with 2 CPUs) on two real
clips cut to 12 frames at 64 px with 30 training steps, and a flat-colour video with no face.
They skip when ray, mediapipe or the shared clips are missing."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from avatar.cli.main import main
from avatar.data.capture import load_capture
from avatar.data.errors import CaptureError
from capture.batch.plan import STAGES, Views, find_subjects
from capture.batch.run import Options, StageError, run_stage, should_retry
from capture.batch.summary import subject_row
from conftest import DATA

CLIPS = [DATA / "videos" / "wojtek_512.mp4", DATA / "videos" / "talking_woman_512.mp4"]
QUICK = ["--num-cpus", "2", "--max-frames", "12", "--size", "64", "--iterations", "30"]


def _flat_video(path: Path, frames: int = 8) -> Path:
    """A short grey video: no face in any frame, so its track fails."""
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        for _ in range(frames):
            for packet in s.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8), format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def _needs_batch():
    pytest.importorskip("ray", reason='avatar batch needs ray (pip install --no-build-isolation -e ".[batch]")')
    pytest.importorskip("mediapipe", reason="tracking needs mediapipe==0.10.21 (the capture extra)")
    for clip in CLIPS:
        if not clip.is_file():
            pytest.skip(f"test video {clip} is missing (set AVATAR_TEST_DATA)")


def _batch(inputs: list[Path], out: Path, *extra: str, wait: bool = True):
    command = [sys.executable, "-m", "avatar.cli", "batch", *map(str, inputs), "--out", str(out), *QUICK, *extra]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=400)
    return done.returncode, done.stdout + done.stderr


def _summary(out: Path) -> dict:
    data = json.loads((out / "summary.json").read_text())
    return {r["subject"]: r for r in data["subjects"]} | {"": data}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    _needs_batch()
    root = tmp_path_factory.mktemp("batch")
    flat = _flat_video(root / "flat.mp4")
    started = time.perf_counter()
    code, output = _batch([*CLIPS, flat], root / "runs")
    return root / "runs", code, output, time.perf_counter() - started, flat


def test_without_ray_the_command_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install --no-build-isolation -e ".[batch]"' in err
    assert not (tmp_path / "out").exists()


def test_subjects_are_videos_and_folders_of_videos(tmp_path):
    for name in ["a.mp4", "b.MOV", "notes.txt", "person/x.mp4", "person/y.mp4", "empty/readme.md"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    subjects = find_subjects([tmp_path])
    assert [(s.name, len(s.videos)) for s in subjects] == [("a", 1), ("b", 1), ("person", 2)]
    assert [s.name for s in find_subjects([tmp_path / "a.mp4"])] == ["a"]
    with pytest.raises(ValueError, match="two subjects named 'a'"):
        find_subjects([tmp_path, tmp_path / "a.mp4"])
    with pytest.raises(ValueError, match="no videos"):
        find_subjects([tmp_path / "empty"])
    with pytest.raises(FileNotFoundError):
        find_subjects([tmp_path / "missing.mp4"])


def test_a_folder_with_views_json_is_one_multiview_subject(tmp_path):
    rig = tmp_path / "people" / "studio"
    rig.mkdir(parents=True)
    for name in ["c.mp4", "a.mp4", "b.mp4", "rig.yml"]:
        (rig / name).write_bytes(b"")
    (tmp_path / "people" / "solo.mp4").write_bytes(b"")
    (rig / "views.json").write_text(json.dumps({"calibration": "rig.yml", "offsets": [0, 1, 0], "test_camera": 2}))
    solo, studio = find_subjects([tmp_path / "people"])
    assert solo.views is None and studio.name == "studio"
    assert [v.name for v in studio.videos] == ["a.mp4", "b.mp4", "c.mp4"]  # sorted by name without "videos"
    assert studio.views == Views(rig / "rig.yml", (0, 1, 0), 2)
    (rig / "views.json").write_text(json.dumps({"videos": ["c.mp4", "a.mp4"]}))
    assert [v.name for v in find_subjects([rig])[0].videos] == ["c.mp4", "a.mp4"]  # the folder given itself
    for bad, says in [
        ("{", "not readable JSON"),
        (json.dumps({"videos": ["c.mp4"], "lens": 1}), "some of"),
        (json.dumps({"videos": ["c.mp4"]}), "2 or more views"),
        (json.dumps({"videos": ["c.mp4", "../solo.mp4"]}), "file names in the folder"),
        (json.dumps({"videos": ["c.mp4", "d.mp4"]}), "view d.mp4"),
        (json.dumps({"calibration": "other.yml"}), "calibration 'other.yml'"),
        (json.dumps({"offsets": [0, 1]}), "one frame number >= 0 per view (3)"),
        (json.dumps({"test_camera": 3}), "view index in [0, 3)"),
        (json.dumps({"test_camera": True}), "view index"),
    ]:
        (rig / "views.json").write_text(bad)
        with pytest.raises(CaptureError, match=re.escape(says)):
            find_subjects([tmp_path / "people"])


def test_a_multiview_subjects_track_stage_tracks_its_views_together(tmp_path):
    """The track stage of a multiview subject (run in this process, as a Ray worker runs it):
    `track_views` on the shared three-camera clip, its record and summary row per view."""
    pytest.importorskip("mediapipe", reason="tracking needs mediapipe==0.10.21 (the capture extra)")
    views = [DATA / "videos" / "multiview" / f"nersemble_038_view{c}.mp4" for c in range(3)]
    if not all(v.is_file() for v in views):
        pytest.skip("the shared multiview clip is not present")
    folder = tmp_path / "nersemble_038"
    folder.mkdir()
    for c, v in enumerate(views):
        (folder / f"view{c}.mp4").symlink_to(v)
    (folder / "views.json").write_text(json.dumps({"test_camera": 1}))
    subject = find_subjects([folder])[0]
    record = run_stage(
        "track", subject, tmp_path / "runs" / subject.name, Options(size=64, max_frames=8, photometric=False)
    )
    assert record["views"] == 3 and record["tracked"] == 8 and 0 < record["nme_mean"] < 0.2
    capture = load_capture(tmp_path / "runs" / subject.name / "capture")
    assert len(capture.cameras) == 3 and len(capture.splits["test_camera"]) == 8
    state = {stage: {"status": "done" if stage == "track" else "pending", "attempts": 1} for stage in STAGES}
    row = subject_row(tmp_path / "runs", subject, state)
    assert row["views"] == 3 and row["frames_tracked"] == 8 and row["nme"] == pytest.approx(record["nme_mean"])


def test_only_unexpected_failures_are_retried_and_only_so_often():
    crash = StageError("RuntimeError: out of memory", user_error=False)
    assert should_retry(crash, attempts=1, retries=1) and not should_retry(crash, attempts=2, retries=1)
    assert not should_retry(crash, attempts=1, retries=0)
    assert not should_retry(StageError("VideoError: no usable face", user_error=True), attempts=1, retries=3)


def test_three_subjects_two_models_and_one_recorded_failure(first_run):
    out, code, output, seconds, _ = first_run
    print(f"three-subject batch: {seconds:.1f} s")
    assert code == 1, output  # a subject failed: the command says so
    rows = _summary(out)
    assert rows[""]["status"] == "finished" and rows[""]["done"] == 2 and rows[""]["failed"] == 1
    for clip in CLIPS:
        row, where = rows[clip.stem], out / clip.stem
        assert row["status"] == "done" and row["error"] is None, row
        assert (where / "model.avatar").is_file() and (where / "capture" / "capture.json").is_file()
        metrics = json.loads((where / "eval.json").read_text())
        assert row["psnr_train"] == metrics["train"]["psnr"] and row["psnr_test"] == metrics["test"]["psnr"]
        report = json.loads((where / "capture" / "report.json").read_text())
        assert row["frames_tracked"] == report["tracked"] == 12 and row["nme"] == report["nme_mean"]
        assert row["gaussians"] > 0
        assert all(
            row["stages"][s]["status"] == "done" and row["stages"][s]["minutes"] >= 0
            for s in ("track", "train", "eval")
        )
        assert all((where / "logs" / f"{s}.log").is_file() for s in ("track", "train", "eval"))
    flat = rows["flat"]
    assert flat["status"] == "failed" and flat["stages"]["track"]["status"] == "failed"
    assert "VideoError" in flat["error"] and "no usable face" in flat["error"]
    assert flat["stages"]["track"]["attempts"] == 1  # a bad input fails the same way again: not retried
    assert flat["stages"]["train"]["status"] == "pending" and not (out / "flat" / "model.avatar").exists()
    assert "no usable face" in (out / "flat" / "logs" / "track.log").read_text()
    table = (out / "summary.md").read_text()
    assert all(
        f"| {name} | {status} |" in table
        for name, status in [("wojtek_512", "done"), ("talking_woman_512", "done"), ("flat", "failed")]
    )
    assert not list(out.rglob("*.partial"))


def test_a_rerun_skips_what_is_finished(first_run):
    out, _, _, _, flat = first_run
    models = {c.stem: (out / c.stem / "model.avatar").stat().st_mtime_ns for c in CLIPS}
    code, output = _batch([*CLIPS, flat], out)
    assert code == 1, output
    rows = _summary(out)
    for clip in CLIPS:
        assert {s: e["status"] for s, e in rows[clip.stem]["stages"].items()} == {
            "track": "skipped",
            "train": "skipped",
            "eval": "skipped",
        }
        assert (out / clip.stem / "model.avatar").stat().st_mtime_ns == models[clip.stem]
        assert rows[clip.stem]["psnr_test"] is not None and rows[clip.stem]["gaussians"] > 0
    assert rows["flat"]["status"] == "failed"  # a failed subject is tried again, and fails again
    assert "skipped" in (out / "summary.md").read_text()


def test_a_killed_run_started_again_finishes_with_the_same_results(first_run, tmp_path):
    reference = first_run[0]
    out = tmp_path / "runs"
    driver = _batch(CLIPS, out, wait=False)
    deadline = time.time() + 300
    while not list(out.glob("*/logs/track.json")):  # one stage done: the others are under way
        assert driver.poll() is None and time.time() < deadline, driver.stdout.read()
        time.sleep(0.2)
    driver.send_signal(signal.SIGTERM)
    output = driver.communicate(timeout=120)[0]
    assert driver.returncode != 0, output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["done"] < len(CLIPS), summary
    for clip in CLIPS:  # whatever looks complete is complete
        eval_json = out / clip.stem / "eval.json"
        assert not eval_json.exists() or json.loads(eval_json.read_text())["test"]["psnr"] > 0
    code, output = _batch(CLIPS, out)
    assert code == 0, output
    rows = _summary(out)
    assert rows[""]["status"] == "finished" and rows[""]["done"] == len(CLIPS)
    for clip in CLIPS:
        assert rows[clip.stem]["stages"]["track"]["status"] in ("skipped", "done")
        assert (out / clip.stem / "eval.json").read_text() == (reference / clip.stem / "eval.json").read_text()
        params, before = (np.load(d / clip.stem / "capture" / "params.npz") for d in (out, reference))
        assert all(np.array_equal(params[k], before[k]) for k in before.files)
    assert not list(out.rglob("*.partial"))
