"""`FrameStats`: per displayed frame timings and driven parameters; rolling numbers for the
stats panel and the summary (medians) that `--stats` writes."""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar.rig import RigParams

ROLLING = 60  # frames behind the numbers the panel shows


@dataclass
class FrameRecord:
    displayed_at: float  # perf_counter after the swap
    blend_ms: float
    splat_ms: float
    frame_ms: float  # whole window frame: panels, blend, splat, swap
    tracker_ms: float | None  # landmarks + fit of the frame shown (None: no tracker)
    latency_ms: float | None  # source frame captured -> displayed
    source_frame: int | None


class FrameStats:
    def __init__(self):
        self.records: list[FrameRecord] = []
        self.params: list[RigParams] = []  # [1] each, as rendered
        self._recent: deque[FrameRecord] = deque(maxlen=ROLLING)

    def add(self, record: FrameRecord, params: RigParams) -> None:
        self.records.append(record)
        self.params.append(params)
        self._recent.append(record)

    def rolling(self) -> dict[str, float | None]:
        """Medians over the last frames, and the frame rate over them."""
        recent = list(self._recent)
        out = {k: _median([getattr(r, k) for r in recent])
               for k in ("blend_ms", "splat_ms", "frame_ms", "tracker_ms", "latency_ms")}
        span = recent[-1].displayed_at - recent[0].displayed_at if len(recent) > 1 else 0.0
        out["fps"] = (len(recent) - 1) / span if span > 0 else None
        return out

    def summary(self) -> dict:
        """Medians over every frame, the overall frame rate, and how many distinct source
        frames were shown (the rest of the camera's frames were skipped or not tracked)."""
        recs = self.records
        span = recs[-1].displayed_at - recs[0].displayed_at if len(recs) > 1 else 0.0
        shown = {r.source_frame for r in recs if r.source_frame is not None}
        return {
            "frames": len(recs),
            "fps": (len(recs) - 1) / span if span > 0 else None,
            "tracker_ms": _median([r.tracker_ms for r in recs]),
            "blend_ms": _median([r.blend_ms for r in recs]),
            "splat_ms": _median([r.splat_ms for r in recs]),
            "render_ms": _median([r.blend_ms + r.splat_ms for r in recs]),
            "frame_ms": _median([r.frame_ms for r in recs]),
            "latency_ms": _median([r.latency_ms for r in recs]),
            "source_frames_shown": len(shown),
            "driven_updates_per_s": len(shown) / span if span > 0 else None,
        }

    def save_params(self, path: Path, expr_names: list[str] | None) -> None:
        """Per displayed frame: the rig parameters rendered and the source frame they come from."""
        arrays = [p.to_numpy() for p in self.params]
        stacked = {k: np.stack([a[k] for a in arrays]) if k == "shape" else np.concatenate([a[k] for a in arrays])
                   for k in (arrays[0] if arrays else {})}  # shape [T, S], the rest [T, ...]
        source = np.array([-1 if r.source_frame is None else r.source_frame for r in self.records])
        extra = {} if expr_names is None else {"expr_names": np.array(expr_names, dtype=str)}
        np.savez(path, source_frame=source, **stacked, **extra)


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None
