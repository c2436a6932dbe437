"""Expression sliders by name: offsets added to the driven expression weights."""

from __future__ import annotations

from imgui_bundle import imgui

from viewer.panels.base import Panel
from viewer.state import ViewerState


class ExpressionPanel(Panel):
    title = "Expressions"
    column = 1
    height = 430.0

    def __init__(self, state: ViewerState, names: list[str]):
        self.state, self.names = state, names
        self.driven: list[float] = [0.0] * len(names)  # what the source drives, shown beside

    def draw(self) -> None:
        imgui.text_disabled("offsets on top of the source")
        if imgui.button("zero all"):
            self.state.expr_offsets[:] = 0.0
        for i, name in enumerate(self.names):
            _, value = imgui.slider_float(f"{name}##expr{i}", float(self.state.expr_offsets[i]), -1.0, 1.0,
                                          f"%.2f (src {self.driven[i]:.2f})")
            self.state.expr_offsets[i] = value
