"""`RenderPace`: the tracker waits until its sample will be rendered next, and no longer."""

import threading
import time

from viewer.pacing import MARGIN_S, RenderPace


def test_the_tracker_starts_one_tracking_time_before_the_render_ends():
    pace, stop = RenderPace(), threading.Event()
    for _ in range(3):  # renders of about 60 ms
        pace.started()
        time.sleep(0.06)
        pace.finished()
    pace.started()
    began = time.perf_counter()
    pace.wait_to_track(0.02, stop)
    waited = time.perf_counter() - began
    assert 0.06 - 0.02 - MARGIN_S - 0.01 < waited < 0.06 - 0.02 + 0.01


def test_no_wait_without_a_render_in_progress_and_none_past_its_end():
    pace, stop = RenderPace(), threading.Event()
    began = time.perf_counter()
    pace.wait_to_track(0.02, stop)  # nothing rendered yet
    pace.started()
    pace.wait_to_track(0.02, stop)  # no duration known yet
    assert time.perf_counter() - began < 0.01
    pace.finished()
    waiter = threading.Thread(target=pace.wait_to_track, args=(0.0, stop))
    pace._durations.append(10.0)  # a render expected to take 10 s...
    pace.started()
    waiter.start()
    time.sleep(0.05)
    pace.finished()  # ...ends now: the tracker goes at once
    waiter.join(timeout=1.0)
    assert not waiter.is_alive()
