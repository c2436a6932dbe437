"""Subjects and stages of `avatar batch`: what a subject is, where its outputs go, and which of
its stages are finished, decided by the finished outputs alone (every output is written
atomically, so an output that exists is complete)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from avatar.runtime.errors import InputError

STAGES = ("track", "train", "eval")
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm"}


@dataclass(frozen=True)
class Subject:
    """One person: a name (the video's stem, or the folder's name) and their videos."""
    name: str
    videos: tuple[Path, ...]


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def find_subjects(paths: list[Path]) -> list[Subject]:
    """A video file given is one subject. A folder given holds subjects: each video directly in it
    is one, and each sub-folder with videos in it is one (all its videos: one person's).
    Two subjects with the same name, or a folder with no videos, are refused before any work."""
    subjects = []
    for path in map(Path, paths):
        if path.is_file():
            subjects.append(Subject(path.stem, (path,)))
        elif path.is_dir():
            found = [Subject(v.stem, (v,)) for v in _videos_in(path)]
            found += [Subject(d.name, tuple(_videos_in(d))) for d in sorted(path.iterdir())
                      if d.is_dir() and _videos_in(d)]
            if not found:
                raise InputError(f"{path}: no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) in it or in its sub-folders")
            subjects += found
        else:
            raise FileNotFoundError(f"{path}: no such video or folder")
    seen: dict[str, Subject] = {}
    for s in subjects:
        if s.name in seen:
            raise InputError(f"two subjects named '{s.name}' ({seen[s.name].videos[0]} and {s.videos[0]}): "
                             "each subject writes OUT/NAME/; rename one")
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
        return {"track": [self.capture],
                "train": [self.model, self.model.with_name(self.model.name + ".ckpt")],
                "eval": [self.eval_json]}[stage]


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
        return read_json(where.capture / "capture.json") is not None and \
            read_json(where.capture / "report.json") is not None
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
