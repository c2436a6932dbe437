"""LAM's ARKit take (LAM_WebRender's asset/test_expression_1s.json) as a Live Link Face CSV, so
that our exporter and player map it exactly as they map any Live Link take:

    python benchmarks/speed/lam_take.py TAKE.json OUT.csv

LAM's file: {"names": [ARKit blendshape names, camelCase], "frames": [{"weights": [one per
name], "time": seconds, ...}, ...], "head_pose": [[3], ...]}. LAM's renderer is given the
weights by name, a frame every 1/30 s (LAM_WebRender's driver, src/gaussianAvatar.ts, steps
the frames by the clock at 30 a second and passes neither `head_pose` nor `rotation`). The CSV
holds those weights in Live Link's columns (PascalCase, its column order; names the take lacks
at 0), the head and eye angles at 0 (as LAM's renderer gets none) and timecodes 1/30 s apart.
Then `avatar export MODEL --web DIR --expr OUT.csv` (or `avatar render`) maps the weights onto
the avatar's rig by name, opens the jaw from jawOpen where the rig wants it and shares the
(zero) head turn with the torso, as for a take recorded on a phone (avatar.data.livelink).
Gaze: Live Link carries it as eye angles, which LAM's take has not; its eyeLook* weights go
into their columns, where rigs without eyeLook* shapes (the builtin one) leave them unused.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from avatar.data.arkit import ARKIT_NAMES
from avatar.data.livelink import BLENDSHAPE_COLUMNS, HEAD_COLUMNS, LEFT_EYE_COLUMNS, RIGHT_EYE_COLUMNS

LAM_FPS = 30.0  # LAM's players step a take's frames at 30 a second, whatever its "time" says
# Timecodes count 60 frames a second, with a fraction, as Live Link Face writes them: the reader
# then finds 30 fps in a take of any length (avatar.data.livelink.fps_from_timecodes).
_TIMECODE_RATE = 60


def read_lam_take(path: str | Path) -> np.ndarray:
    """[T, 52] float32: the take's weights by name in ARKIT_NAMES order (names it lacks at 0);
    ValueError naming the file when it is not such a take."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a readable JSON file ({e})") from None
    names, frames = (doc.get("names"), doc.get("frames")) if isinstance(doc, dict) else (None, None)
    if not isinstance(names, list) or not isinstance(frames, list) or not frames:
        raise ValueError(f"{path}: not a LAM take (expected 'names' and a non-empty 'frames')")
    unknown = [n for n in names if n not in ARKIT_NAMES]
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"{path}: 'names' must be distinct ARKit blendshape names; unknown: {unknown or 'none'}")
    try:
        weights = np.array([frame["weights"] for frame in frames], dtype=np.float32)  # [T, len(names)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path}: every frame needs 'weights', one number per name") from None
    if weights.shape != (len(frames), len(names)) or not np.isfinite(weights).all():
        raise ValueError(f"{path}: every frame needs {len(names)} finite weights, got an array of {weights.shape}")
    out = np.zeros((len(frames), len(ARKIT_NAMES)), np.float32)
    out[:, [ARKIT_NAMES.index(n) for n in names]] = weights
    return out


def timecode(seconds: float) -> str:
    """``HH:MM:SS:FF.fff`` of a time since the take's start, frames counted at _TIMECODE_RATE."""
    milliframes = round(seconds * _TIMECODE_RATE * 1000)
    frames, fraction = divmod(milliframes, 1000)
    whole, frame = divmod(frames, _TIMECODE_RATE)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}:{frame:02d}.{fraction:03d}"


def write_livelink_csv(path: str | Path, weights: np.ndarray, fps: float = LAM_FPS) -> None:
    """Live Link Face CSV of blendshape weights [T, 52] (ARKIT_NAMES order), `fps` rows a second,
    the head and eye angles at 0."""
    angles = ["0"] * len(HEAD_COLUMNS + LEFT_EYE_COLUMNS + RIGHT_EYE_COLUMNS)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["Timecode", "BlendshapeCount", *BLENDSHAPE_COLUMNS, *HEAD_COLUMNS, *LEFT_EYE_COLUMNS, *RIGHT_EYE_COLUMNS]
        )
        count = str(len(BLENDSHAPE_COLUMNS) + len(angles))
        for t, row in enumerate(weights):
            writer.writerow([timecode(t / fps), count, *(repr(float(w)) for w in row), *angles])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("take", type=Path, help="LAM's take (.json)")
    parser.add_argument("out", type=Path, help="the Live Link Face .csv to write")
    args = parser.parse_args(argv)
    weights = read_lam_take(args.take)
    write_livelink_csv(args.out, weights)
    print(f"{args.out}: {len(weights)} frames at {LAM_FPS:g} fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
