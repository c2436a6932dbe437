"""Subjects and stages of `avatar batch`: what a subject is, where its outputs go, and which of
its stages are finished, decided by the finished outputs alone (every output is written
atomically, so an output that exists is complete).

A folder holding VIEWS_FILE is one subject filmed by synchronized cameras (`avatar track
--views`): the file says which videos are the views, in order, and optionally the calibration,
offsets and held-out camera (docs/batch.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from avatar.data.errors import CaptureError

from avatar.runtime.errors import InputError

STAGES = ("track", "train", "eval")
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm"}
VIEWS_FILE = "views.json"  # in a subject's folder: its videos are synchronized cameras
VIEWS_KEYS = {"videos", "calibration", "offsets", "test_camera"}


@dataclass(frozen=True)
class Views:
    """How a multiview subject's videos are tracked together (`capture.track_views.track_views`)."""

    calibration: Path | None = None
    offsets: tuple[int, ...] | None = None
    test_camera: int | None = None


@dataclass(frozen=True)
class Subject:
    """One person: a name (the video's stem, or the folder's name) and their videos; views: set
    when the videos are synchronized cameras (in view order), None for one camera's clips."""

    name: str
    videos: tuple[Path, ...]
    views: Views | None = None


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def multiview_subject(folder: Path) -> Subject:
    """The subject of a folder holding VIEWS_FILE: {"videos": [names, in view order] (default:
    the folder's videos sorted by name), "calibration": a file in the folder, "offsets": [one
    frame number a view], "test_camera": a view index}, each optional. What is wrong with the
    file is one CaptureError naming it (the videos' own checks come when tracking starts)."""
    path = folder / VIEWS_FILE
    try:
        spec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CaptureError(path, f"not readable JSON ({e})") from None
    if not isinstance(spec, dict) or not set(spec) <= VIEWS_KEYS:
        raise CaptureError(path, f"must be an object with some of: {', '.join(sorted(VIEWS_KEYS))}")
    names = spec.get("videos")
    if names is None:
        videos = _videos_in(folder)
    elif isinstance(names, list) and names and all(isinstance(n, str) and n and Path(n).name == n for n in names):
        videos = [folder / n for n in names]
    else:
        raise CaptureError(path, "videos must be a list of the views' file names in the folder, in view order")
    for v in videos:
        if not v.is_file():
            raise CaptureError(path, f"view {v.name}: no such video in {folder}")
    if len(videos) < 2:
        raise CaptureError(path, f"a multiview subject needs 2 or more views, {folder} has {len(videos)}")
    calibration = spec.get("calibration")
    if calibration is not None:
        if (
            not isinstance(calibration, str)
            or Path(calibration).name != calibration
            or not (folder / calibration).exists()
        ):
            raise CaptureError(path, f"calibration {calibration!r}: no such file in {folder}")
        calibration = folder / calibration
    offsets = spec.get("offsets")
    if offsets is not None and (
        not isinstance(offsets, list)
        or len(offsets) != len(videos)
        or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
    ):
        raise CaptureError(path, f"offsets must be one frame number >= 0 per view ({len(videos)})")
    test_camera = spec.get("test_camera")
    if test_camera is not None and (
        not isinstance(test_camera, int) or isinstance(test_camera, bool) or not 0 <= test_camera < len(videos)
    ):
        raise CaptureError(path, f"test_camera must be a view index in [0, {len(videos)})")
    views = Views(calibration, None if offsets is None else tuple(offsets), test_camera)
    return Subject(folder.name, tuple(videos), views)


def find_subjects(paths: list[Path]) -> list[Subject]:
    """A video file given is one subject. A folder given holds subjects: each video directly in it
    is one, and each sub-folder with videos in it is one (all its videos: one person's); a folder
    with VIEWS_FILE, given or inside one given, is one multiview subject (`multiview_subject`).
    Two subjects with the same name, or a folder with no videos, are refused before any work."""
    subjects = []
    for path in map(Path, paths):
        if path.is_file():
            subjects.append(Subject(path.stem, (path,)))
        elif path.is_dir() and (path / VIEWS_FILE).is_file():
            subjects.append(multiview_subject(path))
        elif path.is_dir():
            found = [Subject(v.stem, (v,)) for v in _videos_in(path)]
            for d in sorted(path.iterdir()):
                if d.is_dir() and (d / VIEWS_FILE).is_file():
                    found.append(multiview_subject(d))
                elif d.is_dir() and _videos_in(d):
                    found.append(Subject(d.name, tuple(_videos_in(d))))
            if not found:
                raise InputError(f"{path}: no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) in it or in its sub-folders")
            subjects += found
        else:
            raise FileNotFoundError(f"{path}: no such video or folder")
    seen: dict[str, Subject] = {}
    for s in subjects:
        if s.name in seen:
            raise InputError(
                f"two subjects named '{s.name}' ({seen[s.name].videos[0]} and {s.videos[0]}): "
                "each subject writes OUT/NAME/; rename one"
            )
        seen[s.name] = s
    return subjects


@dataclass(frozen=True)
class Layout:
    """Where one subject's outputs go: OUT/NAME/{capture/, model.avatar, eval.json, logs/}."""

    root: Path

    @property
    def capture(self) -> Path:
        return self.root / "capture"

    @property
    def model(self) -> Path:
        return self.root / "model.avatar"

    @property
    def eval_json(self) -> Path:
        return self.root / "eval.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, stage: str) -> Path:
        return self.logs / f"{stage}.log"

    def record(self, stage: str) -> Path:
        """logs/STAGE.json: what the stage's task reported (seconds, frames, Gaussians, PSNR)."""
        return self.logs / f"{stage}.json"

    def outputs(self, stage: str) -> list[Path]:
        """What running `stage` again replaces (a checkpoint included: it is of the old inputs)."""
        return {
            "track": [self.capture],
            "train": [self.model, self.model.with_name(self.model.name + ".ckpt")],
            "eval": [self.eval_json],
        }[stage]


def layout(out: Path, subject: Subject) -> Layout:
    return Layout(Path(out) / subject.name)


def read_json(path: Path) -> dict | None:
    """The JSON object in `path`, or None when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def finished(where: Layout, stage: str) -> bool:
    """Whether `stage`'s output is there and complete: track moves its capture directory into
    place only when written (and report.json with it), train and eval write atomically."""
    if stage == "track":
        return (
            read_json(where.capture / "capture.json") is not None
            and read_json(where.capture / "report.json") is not None
        )
    if stage == "train":
        return where.model.is_file()
    if stage == "eval":
        return read_json(where.eval_json) is not None
    raise ValueError(f"unknown stage {stage!r}")


def first_unfinished(where: Layout) -> int:
    """The index in STAGES of the first stage to run (len(STAGES): all finished). A stage counts as
    finished only when every stage before it is: a re-tracked capture makes the model stale."""
    for i, stage in enumerate(STAGES):
        if not finished(where, stage):
            return i
    return len(STAGES)
