"""Two builds of the web player, playing in turns in one headless Chromium, on one exported folder:

    python benchmarks/speed/web_player_ab.py FOLDER --players DIR_A DIR_B [--windows 4] [--window 6]

FOLDER: an `avatar export --web` folder (its avatar and first sequence); each DIR: a build of the
player (its index.html and player.js, e.g. `git show REV:avatar/web/player/player.js`). Each build
gets a copy of FOLDER and a page; the pages play the sequence in turns, `--windows` windows of
`--window` seconds each, so that the machine's load (two shared cores here) falls on both alike.
Per build: frames drawn, the median and mean wall time between them, and per drawn frame the CPU
time of its page's renderer process (CDP ProcessTime: main thread, workers, compositor) and of
Chromium's GPU process (from /proc: where SwiftShader runs the GPU's work when there is no GPU;
Linux only).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from avatar.web.headless import browser, find_chromium, open_player, served
from viewer.thread_cpu import stat_cpu_seconds

# wraps the player's per-frame counter to keep each drawn frame's time (builds old and new have it)
_RECORD = """() => { const p = window.avatarPlayer; window.frameTimes = [];
  const count = p.count.bind(p); p.count = (...a) => { window.frameTimes.push(performance.now()); return count(...a); };
  p.setPaused(true); }"""


def gpu_process_seconds() -> float:
    """CPU seconds the GPU processes of the Chromiums this process started have used so far (0
    where /proc does not tell); other programs' browsers on the machine are left out."""
    total = 0.0
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not pid.isdigit():
            continue
        try:
            if b"--type=gpu-process" not in Path(f"/proc/{pid}/cmdline").read_bytes() or not _descends(int(pid)):
                continue
            total += stat_cpu_seconds(Path(f"/proc/{pid}/stat"))
        except OSError:
            pass
    return total


def _descends(pid: int) -> bool:
    """Whether process `pid` was started by this process, directly or not (OSError once it ended)."""
    while pid > 1:
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])  # its parent
        if pid == os.getpid():
            return True
    return False


def _process_time(cdp) -> float:
    return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "ProcessTime")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--players", nargs="+", type=Path, required=True)
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args(argv)
    executable = find_chromium()
    if executable is None:
        print("no system chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    sequence = json.loads((args.folder / "manifest.json").read_text())["sequences"][0]["name"]
    with tempfile.TemporaryDirectory() as work, browser(executable) as b, contextlib.ExitStack() as stack:
        pages = []
        for k, player in enumerate(args.players):
            folder = Path(work) / f"build{k}"
            shutil.copytree(args.folder, folder)
            for name in ("index.html", "player.js"):
                shutil.copyfile(player / name, folder / name)
            # lod=0: the full avatar (newer players choose a level of detail by the frame time; older ones
            # ignore the parameter)
            page = open_player(b, stack.enter_context(served(folder)), f"size={args.size}&seq={sequence}&lod=0")
            time.sleep(2.0)  # the first frames compile and upload
            page.evaluate(_RECORD)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            pages.append((page, cdp, {"intervals": [], "cpu": 0.0, "gpu": 0.0, "frames": 0}))
        for _ in range(args.windows):
            for page, cdp, stats in pages:
                page.evaluate("window.avatarPlayer.setPaused(false)")
                time.sleep(0.8)  # into its stride
                page.evaluate("window.frameTimes = []")
                cpu, gpu = _process_time(cdp), gpu_process_seconds()
                time.sleep(args.window)
                stats["gpu"] += gpu_process_seconds() - gpu
                stats["cpu"] += _process_time(cdp) - cpu
                times = page.evaluate("window.frameTimes")
                page.evaluate("window.avatarPlayer.setPaused(true)")
                time.sleep(1.0)  # its queued GPU work drains
                stats["intervals"] += list(np.diff(times))
                stats["frames"] += len(times)
        for player, (_, _, s) in zip(args.players, pages):
            n = max(s["frames"], 1)
            print(
                f"{player}: {s['frames']} frames, median {statistics.median(s['intervals']):.1f} ms, "
                f"mean {statistics.fmean(s['intervals']):.1f} ms; CPU a frame: page {1000 * s['cpu'] / n:.1f} ms, "
                f"GPU process {1000 * s['gpu'] / n:.1f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
