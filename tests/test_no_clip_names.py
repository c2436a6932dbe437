"""No module of the library names one of the shared test clips.

A docstring or comment of avatar/, capture/, viewer/ or cuda_ext/ says what the code does and
links to the page that says why (docs/results.md, docs/tracking.md, ...); which clip a behaviour
was seen on belongs there or in docs/experiments/notes-from-code.md, not in the code. The clips'
names come from the files under ../shared/data/videos (or $AVATAR_TEST_DATA/videos) when they are
present, and from a fixed list otherwise, so the check runs without the data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("AVATAR_TEST_DATA", ROOT.parent / "shared" / "data"))
LIBRARY = ("avatar", "capture", "viewer", "cuda_ext")
SUFFIXES = {".py", ".h", ".cpp", ".cu", ".cuh"}
SKIPPED_DIRS = {"__pycache__", "build", "node_modules"}
# The shared clips (and the names the docs shorten them to), for a checkout without ../shared/data.
KNOWN_CLIPS = ("wojtek", "talking_woman", "talking_man_glasses", "expressive_selfie", "phone_selfie",
               "mead_w040", "nersemble_038")
_VIEW = re.compile(r"_view\d+$")  # a multi-view clip's camera: nersemble_038_view0
_SIZE = re.compile(r"_(\d{3,4}x\d{3,4}|\d{3,4}p|\d{3,4})$")  # a single clip's resolution: _512, _1080p


def clip_names(videos: Path) -> set[str]:
    """KNOWN_CLIPS and, per file under `videos` (recursively), its stem and the shorter name it is
    called by: without a multi-view clip's `_viewN`, or else without a resolution suffix when
    what is left still has an underscore (a bare word such as `face` would match ordinary code)."""
    names = set(KNOWN_CLIPS)
    if videos.is_dir():
        for path in videos.rglob("*"):
            if not path.is_file() or path.name.startswith("."):
                continue
            stem = path.name.split(".")[0]
            names.add(stem)
            short = _VIEW.sub("", stem) if _VIEW.search(stem) else _SIZE.sub("", stem)
            if short != stem and "_" in short:
                names.add(short)
    return {name.lower() for name in names if name}


def library_files(root: Path = ROOT, packages: tuple[str, ...] = LIBRARY) -> list[Path]:
    """The library's source files: .py, .h, .cpp, .cu and .cuh under `packages` of `root`."""
    files = []
    for package in packages:
        for path in sorted((root / package).rglob("*")):
            parts = path.relative_to(root).parts
            if path.suffix in SUFFIXES and path.is_file() and \
                    not any(p in SKIPPED_DIRS or p.startswith(".") for p in parts[:-1]):
                files.append(path)
    return files


def clip_mentions(files: list[Path], names: set[str], root: Path = ROOT) -> list[str]:
    """'path:line: name: the line' for every line of `files` that names one of `names` (case
    apart; not preceded by a letter or digit, so `read_nersemble` is not `nersemble_038`)."""
    pattern = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
                         + ")", re.IGNORECASE)
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            match = pattern.search(line)
            if match:
                found.append(f"{path.relative_to(root)}:{number}: {match.group(1)}: {line.strip()}")
    return found


def test_no_library_module_names_a_test_clip():
    names = clip_names(DATA / "videos")
    files = library_files()
    assert len(files) > 50, f"found only {len(files)} library files under {ROOT}"
    found = clip_mentions(files, names)
    assert not found, ("library modules name a shared test clip; say the contract and link the docs "
                       "(docs/results.md, docs/experiments/notes-from-code.md) instead:\n" + "\n".join(found))


def test_scanner_catches_a_planted_name(tmp_path):
    package = tmp_path / "avatar" / "sub"
    package.mkdir(parents=True)
    (package / "clean.py").write_text('"""Reads NeRSemble calibration."""\n\ndef read_nersemble(path):\n    pass\n')
    (package / "planted.py").write_text("x = 1\n# seen on Talking_Woman_512, frames 320-345\n")
    (package / "kernel.cu").write_text("// tuned on\n// phone_selfie_720x1280\n")
    (package / "notes.txt").write_text("wojtek_512\n")  # not a source file
    cache = tmp_path / "avatar" / "__pycache__"
    cache.mkdir()
    (cache / "planted.py").write_text("# wojtek_512\n")

    files = library_files(tmp_path, ("avatar",))
    assert sorted(p.name for p in files) == ["clean.py", "kernel.cu", "planted.py"]
    found = clip_mentions(files, clip_names(tmp_path / "no_videos"), tmp_path)
    assert found == [
        f"{Path('avatar/sub/kernel.cu')}:2: phone_selfie: // phone_selfie_720x1280",
        f"{Path('avatar/sub/planted.py')}:2: Talking_Woman: # seen on Talking_Woman_512, frames 320-345",
    ]


def test_clip_names_come_from_the_video_files(tmp_path):
    videos = tmp_path / "videos"
    (videos / "multiview").mkdir(parents=True)
    for name in ("street_take_720x1280.mp4", "solo_512.mp4", "multiview/studio_007_view2.mp4", ".hidden.mp4"):
        (videos / name).write_bytes(b"")
    names = clip_names(videos)
    assert {"street_take_720x1280", "street_take", "solo_512", "studio_007_view2", "studio_007"} <= names
    assert "solo" not in names and "studio" not in names and ".hidden" not in names
    assert set(KNOWN_CLIPS) <= names
    found = clip_mentions([_write(tmp_path / "m.py", "# the studio_007 rig\n# a solo run\n")], names, tmp_path)
    assert found == ["m.py:1: studio_007: # the studio_007 rig"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
