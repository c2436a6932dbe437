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


def turn_splits(turn: np.ndarray, held_out: float = TEST_FRACTION, train_below: float = 0.75) -> dict[str, list[int]]:
    """Head turns held out: the `held_out` fraction of frames turned furthest (turn [T]: each
    frame's angle from the clip's median head orientation) are the test split, and only the
    frames turned less than the `train_below` quantile of the angles train; those in between are
    left out, so the test frames lie beyond every turn trained on."""
    order = np.argsort(turn, kind="stable")
    num_test = max(1, int(round(held_out * len(turn))))
    limit = np.quantile(turn, train_below)
    test = np.sort(order[len(turn) - num_test:])
    train = np.flatnonzero(turn < limit)
    return {"train": train.tolist(), "test": test.tolist()}


def interleaved_splits(num_frames: int, num_test: int, num_train: int, block: int) -> dict[str, list[int]]:
    """Held out between training frames, for comparison with a split of the same sizes: test is
    `num_test` frames in blocks of `block` consecutive frames spread evenly over the clip, train
    the `num_train` frames furthest in time from any test frame."""
    if not 0 < num_test < num_frames or not 0 < num_train <= num_frames - num_test:
        raise ValueError(f"{num_test} test and {num_train} training frames do not fit in {num_frames}")
    num_blocks = max(1, int(np.ceil(num_test / block)))
    starts = np.linspace(0, num_frames - block, num_blocks + 2)[1:-1].round().astype(int)  # away from the ends
    test = np.unique(np.concatenate([np.arange(s, min(s + block, num_frames)) for s in starts]))[:num_test]
    others = np.setdiff1d(np.arange(num_frames), test)
    gap = np.abs(others[:, None] - test[None, :]).min(1)  # frames to the nearest test frame
    train = np.sort(others[np.argsort(-gap, kind="stable")[:num_train]])
    return {"train": train.tolist(), "test": test.tolist()}
