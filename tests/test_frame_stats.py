"""viewer/stats.py's steady-state summary (`summary_from`: the frames driven from a source frame
on) and viewer/thread_cpu.py's CPU time per thread."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from avatar.rig.loaders import load_rig
from viewer.stats import FrameRecord, FrameStats
from viewer.thread_cpu import cpu_ms_per_frame, thread_cpu_seconds


def test_summary_from_counts_only_the_frames_driven_from_a_source_frame_on():
    stats = FrameStats()
    params = load_rig("builtin").zero_params(1)
    # 10 frames at 10 fps (source frames 0-9, the calibration), then 21 at 30 fps (source 10-30)
    times = [0.1 * i for i in range(10)] + [1.0 + i / 30 for i in range(21)]
    for source, at in enumerate(times):
        latency = 100.0 if source < 10 else 50.0
        parts = {
            "before_tracking_ms": 1.0,
            "tracking_ms": 9.0,
            "before_render_ms": 2.0,
            "render_ms": latency - 20,
            "before_display_ms": 8.0,
        }
        stats.add(FrameRecord(at, 1.0, 1.0, 1.0, 9.0, latency, source, parts), params)
    stats.add(FrameRecord(5.0, 1.0, 1.0, 1.0, None, None, None), params)  # a slider change: not driven
    steady = stats.summary_from(10)
    assert steady["frames"] == 21 and steady["fps"] == pytest.approx(30.0)
    assert steady["latency_ms"] == 50.0 and steady["latency_parts_ms"]["render_ms"] == 30.0
    assert stats.summary_from(0)["fps"] == pytest.approx(30 / (1.0 + 20 / 30))
    assert stats.summary_from(0)["latency_ms"] == 50.0  # 21 of 31 frames at 50 ms
    assert stats.summary_from(30)["fps"] is None  # one frame: no rate


def test_cpu_per_frame_adds_each_threads_time_by_name_over_the_period():
    first = {1: ("tracker", 10.0), 2: ("avatar render", 20.0), 3: ("llvmpipe-0", 1.0)}
    middle = {1: ("tracker", 10.5), 2: ("avatar render", 21.0), 3: ("llvmpipe-0", 1.2), 4: ("llvmpipe-1", 0.1)}
    last = {2: ("avatar render", 22.0), 3: ("llvmpipe-0", 1.4), 4: ("llvmpipe-1", 0.2)}  # the tracker ended
    cpu = cpu_ms_per_frame([first, middle, last], frames=100)
    # ms per frame: render (22 - 20) s / 100, the tracker up to the last reading that saw it,
    # llvmpipe-1 from zero (started during the period), largest first, with their sum.
    assert list(cpu) == ["avatar render", "tracker", "llvmpipe-0", "llvmpipe-1", "total"]
    assert cpu["avatar render"] == pytest.approx(20.0) and cpu["tracker"] == pytest.approx(5.0)
    assert cpu["llvmpipe-0"] == pytest.approx(4.0) and cpu["llvmpipe-1"] == pytest.approx(2.0)
    assert cpu["total"] == pytest.approx(31.0)
    assert cpu_ms_per_frame([first], frames=100) == {} and cpu_ms_per_frame([first, last], frames=0) == {}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread CPU times are read from /proc (Linux)")
def test_thread_cpu_seconds_sees_a_busy_named_thread():
    from viewer.worker import Worker

    class Busy(Worker):
        def _run(self) -> None:
            end = time.thread_time() + 0.3
            while time.thread_time() < end:
                pass
            self.done.set()
            self._stop.wait(10.0)  # alive until stopped, so that it is read while it lives

    busy = Busy("busy test", join_timeout=5.0)
    busy.done = threading.Event()
    before = thread_cpu_seconds()
    busy.start()
    assert busy.done.wait(10.0)
    after = thread_cpu_seconds()
    busy.stop()
    names = {name: seconds for name, seconds in after.values()}
    assert names.get("busy test", 0.0) >= 0.25  # its own CPU time, by its system name
    assert all(name != "busy test" for name, _ in before.values())
