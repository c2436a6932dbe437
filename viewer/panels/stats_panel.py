"""Live stats: avatar frame rate (new frames shown) and window redraw rate, tracker / blend /
splat milliseconds, capture-to-display latency, and which avatar is drawn (full or a level of
detail, with what it costs)."""

from __future__ import annotations

from typing import Callable

from imgui_bundle import imgui

from viewer.detail import DetailSwitch
from viewer.panels.base import Panel
from viewer.state import ViewerState
from viewer.stats import FrameStats


def _fmt(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.1f} {unit}"


class StatsPanel(Panel):
    title = "Stats"
    height = 230.0

    def __init__(self, stats: FrameStats, state: ViewerState, detail: DetailSwitch | None = None,
                 backend_choice: Callable[[], str] | None = None):
        self.stats, self.state, self.detail, self.backend_choice = stats, state, detail, backend_choice

    @property
    def size(self) -> int:
        return self.state.size

    def draw(self) -> None:
        r = self.stats.rolling() if self.stats.records else {}
        imgui.text(f"avatar fps   {_fmt(r.get('fps'), '')}")
        imgui.text(f"window fps   {_fmt(r.get('display_fps'), '')}")
        imgui.text(f"tracker      {_fmt(r.get('tracker_ms'), 'ms')}")
        imgui.text(f"blend        {_fmt(r.get('blend_ms'), 'ms')}")
        imgui.text(f"splat        {_fmt(r.get('splat_ms'), 'ms')}")
        imgui.text(f"latency      {_fmt(r.get('latency_ms'), 'ms')}")
        if self.backend_choice is not None:
            imgui.text_wrapped(f"backend: {self.backend_choice()}")
        if self.detail is not None:
            imgui.text_wrapped(f"drawn: {self.detail.drawn(self.size)}")
