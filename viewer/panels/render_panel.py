"""Render settings: splat backend, resolution, background; camera reset; recording."""

from __future__ import annotations

from typing import Callable

from imgui_bundle import imgui

from viewer.orbit import OrbitCamera
from viewer.panels.base import Panel
from viewer.state import ViewerState

SIZES = [128, 192, 256, 384, 512]


class RenderPanel(Panel):
    title = "Render"
    height = 175.0

    def __init__(self, state: ViewerState, backends: list[str], orbit: OrbitCamera,
                 toggle_recording: Callable[[], str | None]):
        self.state, self.backends, self.orbit = state, backends, orbit
        self.toggle_recording = toggle_recording  # returns a status line
        self.recording_status = ""
        self.sizes = sorted(set(SIZES + [state.size]))

    def draw(self) -> None:
        s = self.state
        current = self.backends.index(s.backend) if s.backend in self.backends else 0
        changed, index = imgui.combo("backend", current, self.backends)
        if changed:
            s.backend = self.backends[index]
        changed, index = imgui.combo("resolution", self.sizes.index(s.size), [f"{v} x {v}" for v in self.sizes])
        if changed:
            s.size = self.sizes[index]
        _, s.background = imgui.color_edit3("background", s.background)
        if imgui.button("reset camera"):
            self.orbit.reset()
        imgui.same_line()
        if imgui.button("record / stop"):
            self.recording_status = self.toggle_recording() or ""
        imgui.text_wrapped(self.recording_status)
        imgui.text_disabled("drag: orbit, right-drag: pan, wheel: zoom")
