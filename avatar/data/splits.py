"""The train / val / test splits of a capture directory made from videos: held out in time.

A capture's `splits` list frame indices (`avatar.data.capture`). For frames tracked from videos,
each video's last frames are its test split and the frames just before them its val split, so
that both lie after (never between) the frames trained on: settings are chosen on val and the
test frames stay unseen by every choice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatar.data.errors import VideoError

TEST_FRACTION = 0.15  # the last 15% of each video's tracked frames are held out in time


def time_splits(video: np.ndarray, val_fraction: float = 0.0, paths: list[Path] | None = None) -> dict[str, list[int]]:
    """Frame indices per split, held out in time within each video (video [T]: which video each
    tracked frame comes from): "train" first, then "val" (val_fraction of the video's frames, at
    least one when above 0; only when asked for), then "test" (the last TEST_FRACTION, at least
    one). paths name the videos in the error a video too short for a val split gets."""
    splits = {"train": [], "val": [], "test": []}
    for v in np.unique(video):
        idx = np.flatnonzero(video == v)
        test_at = len(idx) - max(1, int(round(TEST_FRACTION * len(idx))))
        num_val = max(1, int(round(val_fraction * len(idx)))) if val_fraction > 0 else 0
        val_at = test_at - num_val
        if num_val and val_at < 1:
            raise VideoError(paths[v] if paths else Path(f"video {v}"), f"{len(idx)} tracked frame(s): too few "
                             f"for a training, a val and a test split (lower --val-fraction)")
        splits["train"] += idx[:val_at].tolist()
        splits["val"] += idx[val_at:test_at].tolist()
        splits["test"] += idx[test_at:].tolist()
    if not splits["val"]:
        del splits["val"]
    return splits
