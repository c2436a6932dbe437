"""The frames a diagnostic looks at: a split's, or one camera's of it (a multiview capture)."""

from __future__ import annotations

from pathlib import Path

from avatar.data.capture import Capture


def split_frames(capture: Capture, capture_dir: str | Path, split: str, camera_index: int | None) -> list[int]:
    """The frames of `split` (only camera_index's when given); one clear error when there are none."""
    frames = [f for f in capture.splits[split] if camera_index is None or capture.frames[f].camera == camera_index]
    if not frames:
        where = "" if camera_index is None else f" from camera {camera_index}"
        raise SystemExit(f"{capture_dir}: no frames of split '{split}'{where}")
    return frames
