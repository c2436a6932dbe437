"""`Worker`: the daemon-thread lifecycle shared by the capture, tracker and render threads.

`_run` does the work until `_stop` is set. An exception ends the thread and is kept in `error`
(a panel shows it) instead of taking the window down; `_finished` runs either way, so consumers
waiting on the worker's outputs are released.
"""

from __future__ import annotations

import threading


class Worker:
    def __init__(self, name: str, join_timeout: float):
        self.error: str | None = None
        self._stop = threading.Event()
        self._join_timeout = join_timeout
        self._thread = threading.Thread(target=self._run_guarded, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._join_timeout)

    def _run_guarded(self) -> None:
        try:
            self._run()
        except Exception as e:  # shown in a panel; the window keeps running
            self.error = f"{type(e).__name__}: {e}"
            self._failed()
        finally:
            self._finished()

    def _run(self) -> None:
        raise NotImplementedError

    def _failed(self) -> None:
        """After `_run` raised (error is set)."""

    def _finished(self) -> None:
        """After `_run` returned or raised: close the outputs."""
