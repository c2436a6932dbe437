"""The train / val / test splits of a capture directory: held out in time for captures made from
videos, and the training splits restricted to chosen cameras (`avatar train --cameras`).

A capture's `splits` list frame indices (`avatar.data.capture`). For frames tracked from videos,
each video's last frames are its test split and the frames just before them its val split, so
that both lie after (never between) the frames trained on: settings are chosen on val and the
test frames stay unseen by every choice.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from avatar.data.capture import Capture
from avatar.data.errors import VideoError
from avatar.runtime.errors import InputError

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
            raise VideoError(
                paths[v] if paths else Path(f"video {v}"),
                f"{len(idx)} tracked frame(s): too few for a training, a val and a test split (lower --val-fraction)",
            )
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
    test = np.sort(order[len(turn) - num_test :])
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


TRAINING_SPLITS = ("train", "val")  # what training fits and chooses settings on; the rest is held out


def split_cameras(capture: Capture, frames: list[int]) -> list[int]:
    """The indices of the cameras that `frames` come from, ascending."""
    return sorted({capture.frames[f].camera for f in frames})


def train_on_cameras(capture: Capture, cameras: list[int]) -> Capture:
    """The capture with its training splits (TRAINING_SPLITS) restricted to the frames of `cameras`
    (indices into capture.cameras); the held-out splits stay whole, so evaluation still sees every
    camera. A ValueError names the camera: one the capture does not have, one without training
    frames (a held-out camera: its frames are in "test_camera"), or any, when the capture is one
    camera's video (`Capture.monocular`: its per-frame cameras are crops, not views to choose)."""
    chosen = list(dict.fromkeys(cameras))  # in the order given, once each
    asked = f"{capture.root}: training cameras {' '.join(str(c) for c in chosen)}"
    if not chosen:
        raise InputError(f"{capture.root}: no training cameras chosen")
    if capture.monocular:
        raise InputError(
            f"{asked}: the capture is one camera's video (extra.monocular), whose cameras are "
            "per-frame crops; cameras are chosen from the views of a multiview capture"
        )
    names = ", ".join(f"{i} {c.name}" for i, c in enumerate(capture.cameras))
    unknown = [c for c in chosen if not 0 <= c < len(capture.cameras)]
    if unknown:
        raise InputError(
            f"{asked}: the capture has no camera {', '.join(map(str, unknown))} (it has "
            f"{len(capture.cameras)}: {names})"
        )
    splits = {
        name: [f for f in frames if capture.frames[f].camera in chosen] if name in TRAINING_SPLITS else frames
        for name, frames in capture.splits.items()
    }
    trained = split_cameras(capture, splits.get("train", []))
    idle = [c for c in chosen if c not in trained]
    if idle:
        raise InputError(f"{asked}: " + "; ".join(_no_training_frames(capture, c) for c in idle))
    return dataclasses.replace(capture, splits=splits)


def _no_training_frames(capture: Capture, camera: int) -> str:
    """Why `camera` has no training frames: which splits hold its frames instead."""
    held = [name for name, frames in capture.splits.items() if any(capture.frames[f].camera == camera for f in frames)]
    where = f"its frames are in split {', '.join(held)}" if held else "it has no frames in any split"
    return f"camera {camera} '{capture.cameras[camera].name}' has no training frames ({where})"


def spread(items: list[int], count: int) -> list[int]:
    """items, or `count` of them spread evenly from the first on when there are more."""
    if len(items) <= count:
        return list(items)
    return [items[int(i * len(items) / count)] for i in range(count)]
