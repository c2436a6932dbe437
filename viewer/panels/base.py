"""`Panel`: an imgui window at a fixed place in a side column that reports where it was drawn
(so tests and --stats can check the panels are there)."""

from __future__ import annotations

from dataclasses import dataclass, field

from imgui_bundle import imgui

COLUMN_WIDTH = 300


@dataclass
class PanelLayout:
    """Stacks panels top to bottom in two columns (0: left edge, 1: right edge of the window),
    in the order they are shown; the avatar's view is the space between them."""

    window_width: float = 0.0
    rects: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)  # title -> x, y, w, h
    _next_y: list[float] = field(default_factory=lambda: [0.0, 0.0])

    def start_frame(self, window_width: float) -> None:
        self.window_width = window_width
        self._next_y = [0.0, 0.0]

    def place(self, height: float, column: int) -> tuple[float, float]:
        y = self._next_y[column]
        self._next_y[column] += height
        return (0.0 if column == 0 else self.window_width - COLUMN_WIDTH), y

    def free_area(self, window_height: float) -> tuple[float, float, float, float]:
        """x, y, width, height (top-left origin) between the columns."""
        return COLUMN_WIDTH, 0.0, max(1.0, self.window_width - 2 * COLUMN_WIDTH), window_height


class Panel:
    title = "panel"
    height = 150.0  # pixels in its column
    column = 0

    def show(self, layout: PanelLayout) -> None:
        x, y = layout.place(self.height, self.column)
        imgui.set_next_window_pos(imgui.ImVec2(x, y), imgui.Cond_.always)
        imgui.set_next_window_size(imgui.ImVec2(COLUMN_WIDTH, self.height), imgui.Cond_.always)
        flags = imgui.WindowFlags_.no_move | imgui.WindowFlags_.no_resize | imgui.WindowFlags_.no_collapse
        expanded, _ = imgui.begin(self.title, None, flags)
        if expanded:
            self.draw()
        pos, size = imgui.get_window_pos(), imgui.get_window_size()
        layout.rects[self.title] = (pos.x, pos.y, size.x, size.y)
        imgui.end()

    def draw(self) -> None:
        raise NotImplementedError
