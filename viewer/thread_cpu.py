"""CPU time of this process's threads by name, for the stats: where the cores went per frame.

The viewer's workers name their system threads (`viewer.worker`: "tracker", "avatar render",
"calibration", "capture ...") and the libraries name theirs (llvmpipe-N, mediapipe/...); threads
a thread starts inherit its name (the render thread's OpenMP team is "avatar render"); the
window's thread and unnamed Python threads carry the process's name. CPU time (user + system)
does not depend on what else the machine runs, unlike wall time, so a loaded machine still shows
how much of the two cores each stage needs per frame. Linux only (/proc); elsewhere empty.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

TASKS = Path("/proc/self/task")
STAT_UTIME, STAT_STIME = 11, 12  # fields of a /proc stat file after the ")" that ends the name


def stat_cpu_seconds(stat: Path) -> float:
    """User + system CPU seconds from a /proc/PID/stat or /proc/PID/task/TID/stat file (OSError
    when the process or thread has ended)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()  # after the ")" that ends the name
    return (int(fields[STAT_UTIME]) + int(fields[STAT_STIME])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds() -> dict[int, tuple[str, float]]:
    """Thread id -> (name, CPU seconds used so far) for the live threads of this process."""
    if not TASKS.is_dir():
        return {}
    threads = {}
    for task in TASKS.iterdir():
        try:
            threads[int(task.name)] = ((task / "comm").read_text().strip(), stat_cpu_seconds(task / "stat"))
        except OSError:  # the thread ended between the listing and the read
            continue
    return threads


def cpu_ms_per_frame(readings: list[dict[int, tuple[str, float]]], frames: int) -> dict[str, float]:
    """Milliseconds of CPU per frame by thread name over a series of `thread_cpu_seconds` readings
    (the first is the period's start), largest first, with their sum as "total". A thread started
    during the period counts from zero; one that ended counts up to the last reading that saw it."""
    if frames <= 0 or len(readings) < 2:
        return {}
    first, last = readings[0], {}
    for reading in readings:
        last.update(reading)
    used: Counter[str] = Counter()
    for tid, (name, seconds) in last.items():
        used[name] += seconds - (first[tid][1] if tid in first else 0.0)
    ranked = {name: 1e3 * seconds / frames for name, seconds in used.most_common() if seconds > 0}
    return {**ranked, "total": sum(ranked.values())}
