"""CPU threads that fit the cores other processes leave free.

The CPU kernels (cuda_ext's and torch's own) split each parallel loop evenly over an OpenMP team
and wait at its end. Beside another busy process on the same cores, a preempted thread holds up
the whole team while the others spin on cores the other process needs, and a frame can take many
times as long (docs/results.md, "CPU threads"). `ThreadBudget` looks
at /proc/stat every `interval` seconds, works out how many cores other processes kept busy since
its last look, and sets torch's thread count (which the kernels' OpenMP loops use too) to the
cores left, at least one and at most the count torch had when this module was imported (each new
budget starts from it). Long loops (training, rendering a video, the benchmark) call `update()`
every iteration; between looks it costs a clock read.
AVATAR_THREADS=N fixes the count instead; on systems without /proc/stat nothing changes.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable

import torch

log = logging.getLogger("avatar")
PROC_STAT = Path("/proc/stat")
FIXED_VARIABLE = "AVATAR_THREADS"
MOST_THREADS = torch.get_num_threads()  # what torch had at import (OMP_NUM_THREADS or every core): never exceeded


def read_cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all CPUs since boot from /proc/stat, or None without it."""
    try:
        fields = PROC_STAT.read_text().split("\n", 1)[0].split()[1:9]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields)
    total = user + nice + system + idle + iowait + irq + softirq + steal
    return total - idle - iowait, total


def own_cpu_ticks() -> int:
    """Clock ticks of CPU time this process (all its threads) has used."""
    t = os.times()
    return int((t.user + t.system) * os.sysconf("SC_CLK_TCK"))


class ThreadBudget:
    def __init__(self, interval: float = 0.5, cpu_ticks: Callable[[], tuple[int, int] | None] = read_cpu_ticks,
                 own_ticks: Callable[[], int] = own_cpu_ticks, clock: Callable[[], float] = time.monotonic,
                 cores: int | None = None):
        """The sources are parameters so tests can play a machine's load."""
        self.interval = interval
        self.cpu_ticks, self.own_ticks, self.clock = cpu_ticks, own_ticks, clock
        self.cores = cores or os.cpu_count() or 1
        self.most = MOST_THREADS
        fixed = os.environ.get(FIXED_VARIABLE)
        self.fixed = int(fixed) if fixed and fixed.isdigit() and int(fixed) > 0 else None
        torch.set_num_threads(self.fixed or self.most)
        self._last = self._sample()

    def _sample(self) -> tuple[float, tuple[int, int] | None, int]:
        return self.clock(), self.cpu_ticks(), self.own_ticks()

    def update(self) -> int:
        """Adjust torch's thread count if `interval` has passed since the last look; returns it."""
        last = self._last
        if self.fixed or last[1] is None or self.clock() - last[0] < self.interval:
            return torch.get_num_threads()
        now = self._sample()
        self._last = now
        if now[1] is None or now[1][1] <= last[1][1]:
            return torch.get_num_threads()
        busy, total = now[1][0] - last[1][0], now[1][1] - last[1][1]
        others = max(0, busy - (now[2] - last[2]))  # ticks other processes ran
        busy_elsewhere = others / total * self.cores  # cores they kept busy
        threads = max(1, min(self.most, int(self.cores - busy_elsewhere + 0.3)))
        if threads != torch.get_num_threads():
            log.debug("cpu threads: %d (other processes busy on %.1f of %d cores)", threads, busy_elsewhere,
                      self.cores)
            torch.set_num_threads(threads)
        return threads
