"""Live stats: avatar frame rate (new frames shown) and window redraw rate, tracker / blend /
splat milliseconds, capture-to-display latency."""

from __future__ import annotations

from imgui_bundle import imgui

from viewer.panels.base import Panel
from viewer.stats import FrameStats


def _fmt(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.1f} {unit}"


class StatsPanel(Panel):
    title = "Stats"
    height = 160.0

    def __init__(self, stats: FrameStats):
        self.stats = stats

    def draw(self) -> None:
        r = self.stats.rolling() if self.stats.records else {}
        imgui.text(f"avatar fps   {_fmt(r.get('fps'), '')}")
        imgui.text(f"window fps   {_fmt(r.get('display_fps'), '')}")
        imgui.text(f"tracker      {_fmt(r.get('tracker_ms'), 'ms')}")
        imgui.text(f"blend        {_fmt(r.get('blend_ms'), 'ms')}")
        imgui.text(f"splat        {_fmt(r.get('splat_ms'), 'ms')}")
        imgui.text(f"latency      {_fmt(r.get('latency_ms'), 'ms')}")
