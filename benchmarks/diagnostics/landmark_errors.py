"""Where a tracked capture's rig misses MediaPipe's landmarks: NME per part of the face.

    python benchmarks/diagnostics/landmark_errors.py CAPTURE [CAPTURE ...] [--every 4] [--points brows,outer_mouth]

For every `--every`-th frame, the fitted rig's 68 iBUG landmarks are projected with the frame's
camera and compared with MediaPipe's matching points (capture/ibug68.py), in outer-eye-corner
distances as report.json's NME. Prints the mean per part (jaw, brows, nose, eyes, outer and inner
mouth) and, for the parts named by --points, each point's mean error and mean signed offset (x, y:
the rig's point minus MediaPipe's, image axes), which tells a shape the rig cannot take (a mouth
too wide: corners 48 and 54 off outwards) from noise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from avatar.data.capture import load_capture
from avatar.rig.face_region import posed_landmarks
from avatar.rig.loaders import load_rig
from capture.crop_landmarks import crop_landmarks
from capture.ibug68 import MP_TO_IBUG68

PARTS = {
    "jaw": range(0, 17),
    "brows": range(17, 27),
    "nose": range(27, 36),
    "eyes": range(36, 48),
    "outer_mouth": range(48, 60),
    "inner_mouth": range(60, 68),
}
EYE_CORNERS = (33, 263)  # MediaPipe's outer eye corners: the NME's unit


def landmark_errors(capture_dir: Path, every: int) -> tuple[np.ndarray, np.ndarray]:
    """Per iBUG point, over every `every`-th frame: mean error [68] and mean signed offset [68, 2]."""
    capture = load_capture(capture_dir)
    rig = load_rig(capture.rig)
    landmarks = crop_landmarks(capture_dir, capture)
    if landmarks is None:
        raise SystemExit(f"{capture_dir}: no landmarks.npz")
    errors, offsets = [], []
    by_view = sorted(range(len(capture.frames)), key=lambda f: (capture.frames[f].camera, capture.frames[f].time))
    for frame in by_view[::every]:  # every N-th moment of each view (a multiview capture lists them time-major)
        mediapipe = landmarks(frame)  # [478, 2] or None: the frame's view lost the face
        if mediapipe is None:
            continue
        with torch.no_grad():
            points = posed_landmarks(rig, capture.frame_params(frame))  # [68, 3]
        projected = capture.camera(frame).project(points).numpy()  # [68, 2]
        target = mediapipe[MP_TO_IBUG68]  # [68, 2]
        unit = np.linalg.norm(mediapipe[EYE_CORNERS[0]] - mediapipe[EYE_CORNERS[1]])
        offsets.append((projected - target) / unit)
        errors.append(np.linalg.norm(offsets[-1], axis=1))
    return np.mean(errors, 0), np.mean(offsets, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("captures", nargs="+", type=Path)
    parser.add_argument("--every", type=int, default=4, help="every N-th frame (default 4)")
    parser.add_argument("--points", default="", help="parts whose points to list, comma-separated")
    args = parser.parse_args()
    for capture_dir in args.captures:
        error, offset = landmark_errors(capture_dir, args.every)
        parts = " ".join(f"{name} {error[list(ids)].mean():.4f}" for name, ids in PARTS.items())
        print(f"{capture_dir}: all {error.mean():.4f}, inner 51 {error[17:].mean():.4f}; {parts}")
        for name in filter(None, args.points.split(",")):
            points = " ".join(f"{i}:{error[i]:.3f}({offset[i, 0]:+.3f},{offset[i, 1]:+.3f})" for i in PARTS[name])
            print(f"  {name}: {points}")


if __name__ == "__main__":
    main()
