"""`LatestSlot`: a one-value mailbox between threads that keeps only the newest value.

Producers never wait (a value nobody read yet is replaced and counted as dropped); a consumer
can wait for something newer than what it last saw. This is what keeps a slow consumer from
building a queue of stale frames.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    def __init__(self):
        self._cond = threading.Condition()
        self._value: T | None = None
        self._seq = 0  # number of values ever put
        self._read_seq = 0  # seq of the newest value handed out
        self.dropped = 0  # values replaced before anyone read them
        self.closed = False
        self._listeners: list[threading.Event] = []

    def notify(self, event: threading.Event) -> None:
        """Set `event` at every put: a consumer that also waits for other things (its own event)
        hears of a new value at once instead of polling for it."""
        with self._cond:
            self._listeners.append(event)

    def put(self, value: T) -> None:
        with self._cond:
            if self._seq > self._read_seq:
                self.dropped += 1
            self._value, self._seq = value, self._seq + 1
            self._cond.notify_all()
            for event in self._listeners:
                event.set()

    def close(self) -> None:
        """No more values will come: waiting consumers return."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def newest(self) -> tuple[int, T | None]:
        """(sequence number, value) without waiting; (0, None) before the first put."""
        with self._cond:
            self._read_seq = max(self._read_seq, self._seq)
            return self._seq, self._value

    def wait_newer(self, seen: int, timeout: float) -> tuple[int, T | None]:
        """The newest value once its sequence number exceeds `seen`; (seen, None) on timeout
        or when closed with nothing newer."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > seen or self.closed, timeout)
            if self._seq <= seen:
                return seen, None
            self._read_seq = max(self._read_seq, self._seq)
            return self._seq, self._value
