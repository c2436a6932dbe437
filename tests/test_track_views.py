"""`avatar track --views`: the shared three-camera clip (when ../shared/data is present), and
mismatched videos and bad arguments refused before any output."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from avatar.cli.main import main
from avatar.data.capture import load_capture
from avatar.data.video import VideoWriter, probe_video

pytest.importorskip("mediapipe", reason="avatar track needs mediapipe==0.10.21 (the capture extra)")
DATA = Path(os.environ.get("AVATAR_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
VIEWS = [DATA / "videos" / "multiview" / f"nersemble_038_view{c}.mp4" for c in range(3)]
needs_views = pytest.mark.skipif(not all(v.is_file() for v in VIEWS), reason="the shared multiview clip is not present")


def _no_output_left(out: Path) -> bool:
    return not out.exists() and not out.with_name(out.name + ".partial").exists()


def _video(path: Path, frames: int, fps: float = 25.0, size: tuple[int, int] = (64, 96)) -> Path:
    with VideoWriter(path, fps, *size) as writer:
        for i in range(frames):
            writer.write(np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8))
    return path


def _track_views(videos: list[Path], out: Path, *options: str) -> int:
    """`avatar track --views` of the videos' first 16 frames at 96 px, without the photometric stage."""
    argv = ["track", "--views", *map(str, videos), "--out", str(out), "--size", "96", "--max-frames", "16"]
    return main([*argv, "--no-photometric", *options])


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> Path:
    """The shared clip's first 16 moments tracked with the cameras estimated from the face."""
    out = tmp_path_factory.mktemp("views") / "mv"
    assert _track_views(VIEWS, out, "--test-camera", "1") == 0
    return out


@needs_views
def test_three_views_one_head(tracked):
    out = tracked
    report = json.loads((out / "report.json").read_text())
    assert report["tracked"] == 16 and len(report["views"]) == 3
    for view in report["views"]:
        assert view["frames_with_face"] == 16
        assert view["nme_inner51_mean"] < 0.09  # a camera placed wrong gives several times this
    # One studio rig: the cameras stand at about the same distance from the head.
    assert report["distance_spread"] < 0.25
    capture = load_capture(out)
    assert len(capture.cameras) == 3 and capture.params.num_frames == 16 and len(capture.frames) == 48
    assert capture.extra["monocular"] is False
    held_out = capture.splits["test_camera"]
    assert {capture.frames[f].camera for f in held_out} == {1} and len(held_out) == 16
    trained = {capture.frames[f].camera for f in capture.splits["train"] + capture.splits["test"]}
    assert trained == {0, 2}
    assert max(capture.frames[f].time for f in capture.splits["train"]) < min(
        capture.frames[f].time for f in capture.splits["test"]
    )  # held out in time
    # Every view's camera puts the shared head's landmarks where that view's detector found them
    # (kept in each video's pixels, read in the view's crop by `capture.crop_landmarks`).
    from avatar.rig.loaders import load_rig
    from capture.crop_landmarks import crop_landmarks
    from capture.ibug68 import MP_TO_IBUG68

    landmarks = crop_landmarks(out, capture)

    rig = load_rig("builtin")
    pts = rig.landmarks(rig.forward(capture.params.frame(5)))[0].numpy()  # [68, 3]
    for c in range(3):
        frame = next(f for f, info in enumerate(capture.frames) if info.time == 5 and info.camera == c)
        cam = capture.camera(frame)
        pix = (np.c_[pts, np.ones(68)] @ cam.world_to_cam.numpy().T)[:, :3] @ cam.K.numpy().T
        detected = landmarks(frame)[MP_TO_IBUG68]
        iod = np.linalg.norm(detected[36] - detected[45])
        assert np.linalg.norm(pix[:, :2] / pix[:, 2:] - detected, axis=-1)[17:].mean() / iod < 0.12
    assert probe_video(out / "overlay.mp4")["width"] == 3 * 96  # the views side by side


@needs_views
def test_the_photometric_stage_refines_the_shared_head_of_every_view(tmp_path):
    """End to end with the photometric stage (its windows alone: tests/test_photometric_windows.py):
    it runs over every view's crops, changes the fit, and keeps each view's landmarks where the
    landmark fit had them (a refinement that slid the head would move them away)."""
    out = tmp_path / "photometric"
    argv = ["track", "--views", *map(str, VIEWS), "--out", str(out), "--size", "64", "--max-frames", "8"]
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["seconds_photometric"] > 0
    moved = []
    for view in report["views"]:
        assert view["nme_inner51_mean"] < 1.1 * view["nme_inner51_landmark_fit_mean"] + 1e-3
        moved.append(abs(view["nme_inner51_mean"] - view["nme_inner51_landmark_fit_mean"]))
    assert max(moved) > 1e-4  # the refined fit, not the landmark fit, was written
    capture = load_capture(out)
    assert capture.params.num_frames == 8 and len(capture.frames) == 24
    assert all(capture.load_mask(f) is not None for f in range(len(capture.frames)))


@needs_views
def test_a_live_map_from_a_training_view(tracked):
    """A webcam drives a multiview avatar too: its live map is fitted on one training view's landmarks."""
    from avatar.gaussians import GaussianAvatar
    from avatar.model import Avatar
    from avatar.rig.loaders import load_rig
    from capture.live_map_fit import _live_view, fit_live_map, live_fits

    capture = load_capture(tracked)
    assert _live_view(capture) in (0, 2)  # view 1 is the held-out test camera
    avatar = Avatar(GaussianAvatar.on_mesh(load_rig("builtin")), backend="cpu")
    assert sorted(live_fits(avatar, capture)) == list(range(16))
    assert fit_live_map(avatar, capture) is not None


@needs_views
def test_a_lower_rate_and_the_coverage_of_every_view(tmp_path):
    """--max-fps thins the time steps of every view alike; the report's coverage pools the head's
    turns as each camera saw it (left, centre-below and right cameras: a wide yaw), and says what
    the videos lack against a Live Link take."""
    take = DATA / "expressions" / "livelink_happy.csv"
    out = tmp_path / "half"
    options = ["--max-fps", "12.5"] + (["--coverage-take", str(take)] if take.is_file() else [])
    assert _track_views(VIEWS, out, *options) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["tracked"] == 8 and report["fps"] == pytest.approx(12.5)
    capture = load_capture(out)
    assert capture.fps == pytest.approx(12.5) and capture.extra["source_frames"] == list(range(0, 16, 2))
    yaw = report["coverage"]["head_yaw_deg"]
    assert yaw[1] - yaw[0] > 40, yaw  # one camera of this clip sees the head turn by a few degrees
    assert isinstance(report["coverage_missing"], list)
    if take.is_file():
        assert report["coverage_against"] == str(take)


def _write_calibration(path: Path, views: list[dict], distortion: np.ndarray | None = None) -> Path:
    """The cameras of a tracked capture's report as an OpenCV calibration in centimetres, each with
    `distortion` if given."""
    import cv2

    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    for c, view in enumerate(views):
        w2c = np.array(view["world_to_cam"])
        fx, fy = view["focal_px"]
        width, height = 246, 360
        storage.write(f"K_{c}", np.array([[fx, 0, width / 2 - 0.5], [0, fy, height / 2 - 0.5], [0, 0, 1]]))
        storage.write(f"R_{c}", w2c[:3, :3])
        storage.write(f"t_{c}", 100 * w2c[:3, 3:])
        if distortion is not None:
            storage.write(f"dist_{c}", distortion)
    storage.release()
    return path


@pytest.fixture(scope="module")
def calibrated(tracked, tmp_path_factory) -> Path:
    """The same moments tracked with the cameras the face gave, read from a calibration file."""
    folder = tmp_path_factory.mktemp("calibrated")
    rig = _write_calibration(folder / "rig.yml", json.loads((tracked / "report.json").read_text())["views"])
    out = folder / "calibrated"
    assert _track_views(VIEWS, out, "--calibration", str(rig)) == 0
    return out


@needs_views
def test_cameras_from_a_calibration_file(tracked, calibrated):
    """The cameras found from the face, written as an OpenCV calibration in other units (cm) and
    read back: the same camera geometry, the scale found from the head, the same landmark error."""
    found = json.loads((tracked / "report.json").read_text())["views"]
    again = json.loads((calibrated / "report.json").read_text())["views"]
    for before, after in zip(found, again):
        assert np.allclose(np.array(after["world_to_cam"])[:3, :3], np.array(before["world_to_cam"])[:3, :3], atol=1e-4)
        assert after["distance_to_head"] == pytest.approx(before["distance_to_head"], rel=0.1)
        assert after["nme_inner51_mean"] < before["nme_inner51_mean"] + 0.01


@needs_views
def test_a_lens_with_distortion_is_taken_out(tracked, calibrated, tmp_path):
    """The three videos filmed again through a distorting lens (each frame resampled so that a pixel
    shows what the pinhole camera saw where the lens bends its ray), tracked with the calibration
    that says so: the same cameras, landmark error and crops as the pinhole videos."""
    from avatar.data.video import read_video_frames
    from capture.lens import Lens

    views = json.loads((tracked / "report.json").read_text())["views"]
    distortion = np.array([-0.4, 0.1, 0.002, -0.002, 0.0])
    videos = []
    for c, (path, view) in enumerate(zip(VIEWS, views)):
        fx, fy = view["focal_px"]
        lens = Lens(np.array([[fx, 0, 123.0], [0, fy, 180.0], [0, 0, 1]]), distortion)
        centres = np.stack(np.meshgrid(np.arange(246) + 0.5, np.arange(360) + 0.5), -1)  # [360, 246, 2]
        source = lens.undistort_points(centres) - 0.5  # where the pinhole image holds each distorted pixel
        moved = np.linalg.norm(source + 0.5 - centres, axis=-1)
        assert moved.max() > 8  # a lens that bends the frame by several pixels
        videos.append(tmp_path / f"lens{c}.mp4")
        with VideoWriter(videos[-1], probe_video(path)["fps"], 246, 360) as writer:
            for frame in read_video_frames(path, 16):
                writer.write(cv2_remap(frame, source))
    rig = _write_calibration(tmp_path / "lens.yml", views, distortion)
    out = tmp_path / "lens"
    assert _track_views(videos, out, "--calibration", str(rig)) == 0
    report = json.loads((out / "report.json").read_text())["views"]
    pinhole = json.loads((calibrated / "report.json").read_text())["views"]
    for before, after in zip(pinhole, report):
        assert after["lens_distortion"] == pytest.approx(distortion.tolist())
        assert after["nme_inner51_mean"] < before["nme_inner51_mean"] + 0.005
        assert np.allclose(np.array(after["world_to_cam"])[:3, :3], np.array(before["world_to_cam"])[:3, :3], atol=1e-3)
        for key in ("x0", "y0", "side"):
            assert after["crop_box"][key] == pytest.approx(before["crop_box"][key], abs=1.0)
    lens_capture, pinhole_capture = load_capture(out), load_capture(calibrated)
    for f in (0, 20, 40):  # a moment of each view
        a, b = lens_capture.load_image(f).numpy(), pinhole_capture.load_image(f).numpy()
        assert 10 * np.log10(1 / np.mean((a - b) ** 2)) > 27  # the same crop, twice resampled and encoded


def cv2_remap(frame: np.ndarray, source: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.remap(
        frame,
        source[..., 0].astype(np.float32),
        source[..., 1].astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def test_hostile_calibration_refused(tmp_path, capsys):
    a, b = _video(tmp_path / "a.mp4", 4), _video(tmp_path / "b.mp4", 4)
    broken = tmp_path / "rig.yml"
    broken.write_text("%YAML:1.0\nK_0: [1, 2\n")
    out = tmp_path / "cap"
    assert main(["track", "--views", str(a), str(b), "--out", str(out), "--calibration", str(broken)]) == 2
    assert "rig.yml" in capsys.readouterr().err
    assert _no_output_left(out)


@pytest.mark.parametrize("case", ["count", "rate", "one", "same", "test_camera", "offsets", "take"])
def test_mismatched_views_refused(tmp_path, case, capsys):
    a, b = _video(tmp_path / "a.mp4", 10), _video(tmp_path / "b.mp4", 10)
    argv, says = {
        "count": ([str(a), str(_video(tmp_path / "c12.mp4", 12))], "has 12 frames"),
        "rate": ([str(a), str(_video(tmp_path / "c30.mp4", 10, fps=30.0))], "fps"),
        "one": ([str(a)], "2 to 16 videos"),
        "same": ([str(a), str(a)], "same video twice"),
        "test_camera": ([str(a), str(b), "--test-camera", "2"], "--test-camera"),
        "offsets": ([str(a), str(b), "--offsets", "0"], "--offsets"),
        "take": ([str(a), str(b), "--coverage-take", str(tmp_path / "no_take.csv")], "no_take.csv"),
    }[case]
    out = tmp_path / "cap"
    assert main(["track", "--views", *argv, "--out", str(out)]) == 2
    assert says in capsys.readouterr().err
    assert _no_output_left(out)


def test_offsets_line_up_videos_of_other_lengths(tmp_path):
    from capture.track_views import _common_length

    videos = [_video(tmp_path / "a.mp4", 10), _video(tmp_path / "b.mp4", 13)]
    probes = [probe_video(v) for v in videos]
    assert _common_length(videos, probes, [0, 3], None) == 10
    assert _common_length(videos, probes, [2, 0], None) == 8
    assert _common_length(videos, probes, [2, 0], 5) == 5


def test_view_options_need_views(tmp_path, capsys):
    a = _video(tmp_path / "a.mp4", 4)
    assert main(["track", str(a), "--out", str(tmp_path / "c"), "--test-camera", "0"]) == 2
    assert "go with --views" in capsys.readouterr().err


@needs_views
def test_landmark_errors_reads_a_multiview_capture(tracked):
    """benchmarks/diagnostics/landmark_errors.py on a capture of several cameras: per point, the
    rig's error against each frame's own view (as report.json's NME, every view included)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "diagnostics"))
    from landmark_errors import landmark_errors

    error, offset = landmark_errors(tracked, every=1)
    report = json.loads((tracked / "report.json").read_text())
    expected = np.mean([view["nme_inner51_mean"] for view in report["views"]])
    assert error.shape == (68,) and offset.shape == (68, 2)
    assert abs(error[17:].mean() - expected) < 0.1 * expected
