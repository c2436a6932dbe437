"""Live stats: avatar frame rate (new frames shown) and window redraw rate, tracker / blend /
splat milliseconds, capture-to-display latency, how often the driving source left what the avatar
learned (expressions clamped to their training range, a head turned beyond the trained poses),
and which avatar is drawn (full or a level of detail, with what it costs)."""

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
    height = 260.0

    def __init__(self, stats: FrameStats, state: ViewerState, detail: DetailSwitch | None = None,
                 backend_choice: Callable[[], str] | None = None, clamps: Callable[[], dict | None] | None = None):
        """clamps: the driver's expression clamp counts (`clamp_stats`), when it has a driver."""
        self.stats, self.state, self.detail, self.backend_choice = stats, state, detail, backend_choice
        self.clamps = clamps

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
        clamped = self.clamps() if self.clamps is not None else None
        if clamped is not None and clamped["frames"]:
            imgui.text(f"expr clamped {100 * clamped['fraction']:.0f}% of frames")
        pose = self.stats.pose_beyond_training()
        if pose is not None and pose["frames"]:
            imgui.text(f"head beyond  {100 * pose['fraction']:.0f}% of frames "
                       f"(max {pose['largest_excess_deg']:.1f} deg)")
        if self.backend_choice is not None:
            imgui.text_wrapped(f"backend: {self.backend_choice()}")
        if self.detail is not None:
            imgui.text_wrapped(f"drawn: {self.detail.drawn(self.size)}")
