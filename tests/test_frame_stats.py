"""viewer/stats.py's rates: `fps_from` counts the frames driven from a source frame on."""

from __future__ import annotations

import pytest

from avatar.rig.loaders import load_rig
from viewer.stats import FrameRecord, FrameStats


def test_fps_from_counts_only_the_frames_driven_from_a_source_frame_on():
    stats = FrameStats()
    params = load_rig("builtin").zero_params(1)
    # 10 frames at 10 fps (source frames 0-9, the calibration), then 21 at 30 fps (source 10-30)
    times = [0.1 * i for i in range(10)] + [1.0 + i / 30 for i in range(21)]
    for source, at in enumerate(times):
        stats.add(FrameRecord(at, 1.0, 1.0, 1.0, None, None, source), params)
    stats.add(FrameRecord(5.0, 1.0, 1.0, 1.0, None, None, None), params)  # a slider change: not driven
    assert stats.fps_from(10) == pytest.approx(30.0)
    assert stats.fps_from(0) == pytest.approx(30 / (1.0 + 20 / 30))
    assert stats.fps_from(30) is None  # one frame: no rate
