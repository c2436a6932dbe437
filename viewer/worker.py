"""`Worker`: the daemon-thread lifecycle shared by the capture, tracker and render threads.

`_run` does the work until `_stop` is set. An exception ends the thread and is kept in `error`
(a panel shows it) instead of taking the window down; `_finished` runs either way, so consumers
waiting on the worker's outputs are released. On Linux the thread also carries its name for the
system (top -H, perf, /proc/PID/task/TID/comm), so each stage's CPU time can be told apart.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading

PR_SET_NAME = 15  # prctl option: the calling thread's name, 15 bytes at most


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
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=self._join_timeout)

    def _run_guarded(self) -> None:
        name_os_thread(self._thread.name)
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


def name_os_thread(name: str) -> None:
    """Give the calling thread this name for the system (Linux; 15 characters kept)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)
