"""viewer/latest.py's one-value mailbox, and the render worker hearing of new samples through it."""

from __future__ import annotations

import threading

from viewer.latest import LatestSlot


def test_the_newest_value_wins_and_replaced_ones_are_counted():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.newest() == (0, None)
    slot.put(1)
    slot.put(2)  # 1 was never read
    assert slot.newest() == (2, 2) and slot.dropped == 1
    assert slot.wait_newer(2, timeout=0.0) == (2, None)  # nothing newer
    slot.put(3)
    assert slot.wait_newer(2, timeout=0.0) == (3, 3)


def test_a_listener_is_set_at_every_put():
    slot: LatestSlot[int] = LatestSlot()
    event = threading.Event()
    slot.notify(event)
    assert not event.is_set()
    slot.put(1)
    assert event.is_set()
    event.clear()
    slot.put(2)
    assert event.is_set()


def test_the_render_worker_is_woken_by_a_live_drivers_new_samples():
    """A live driver's new sample sets the worker's own wake event (which settings changes set too),
    so the worker starts on it at once instead of at its next poll."""
    from viewer.render_worker import RenderWorker

    class Driver:  # a live driver's interface, as far as the worker uses it
        def __init__(self):
            self.samples: LatestSlot[object] = LatestSlot()

        def notify(self, event: threading.Event) -> None:
            self.samples.notify(event)

        def latest(self):
            return self.samples.newest()[1]

    driver = Driver()
    worker = RenderWorker(model=None, identity_shape=None, driver=driver, on_rendered=lambda at: None)
    assert not worker._wake.is_set()
    driver.samples.put(object())
    assert worker._wake.is_set()
