"""Head, jaw and eye pose: offsets in degrees on top of the driven pose."""

from __future__ import annotations

from imgui_bundle import imgui

from viewer.panels.base import Panel
from viewer.state import ViewerState


class PosePanel(Panel):
    title = "Head and eyes"
    column = 1
    height = 185.0

    def __init__(self, state: ViewerState):
        self.state = state

    def draw(self) -> None:
        s = self.state
        for i, axis in enumerate(("head pitch", "head yaw", "head roll")):
            _, s.head_offset_deg[i] = imgui.slider_float(axis, s.head_offset_deg[i], -60.0, 60.0, "%.0f deg")
        _, s.jaw_offset_deg = imgui.slider_float("jaw open", s.jaw_offset_deg, -5.0, 30.0, "%.0f deg")
        for i, axis in enumerate(("eyes pitch", "eyes yaw")):
            _, s.eye_offset_deg[i] = imgui.slider_float(axis, s.eye_offset_deg[i], -30.0, 30.0, "%.0f deg")
        if imgui.button("reset pose"):
            s.head_offset_deg[:] = [0.0, 0.0, 0.0]
            s.eye_offset_deg[:] = [0.0, 0.0]
            s.jaw_offset_deg = 0.0
