"""The driving source: status, camera preview with the tracked landmarks, One-Euro smoothing
strength, and "set neutral" (the driver's current face becomes the resting face)."""

from __future__ import annotations

import math

import moderngl
import numpy as np
from imgui_bundle import imgui

from viewer.drivers import DrivenSample, LiveDriver
from viewer.panels.base import COLUMN_WIDTH, Panel

PREVIEW_WIDTH = COLUMN_WIDTH - 20
LANDMARK_COLOUR = imgui.IM_COL32(40, 255, 80, 255)


class SourcePanel(Panel):
    title = "Source"
    height = 330.0

    def __init__(self, driver, ctx: moderngl.Context):
        self.driver, self.ctx = driver, ctx
        self.sample: DrivenSample | None = None  # set by the app each frame
        self._texture: moderngl.Texture | None = None
        self._uploaded_frame = -1

    def draw(self) -> None:
        if self.driver is None:
            imgui.text_wrapped("no source: sliders only (--source webcam:N | video:PATH | expr:FILE)")
            return
        imgui.text_wrapped(f"{self.driver.name}: {self.driver.status}")
        if isinstance(self.driver, LiveDriver):
            self._live_controls(self.driver)
        if self.sample is not None and self.sample.rgb is not None:
            self._preview(self.sample)

    def _live_controls(self, driver: LiveDriver) -> None:
        smoothing = driver.tracker.filter
        _, smoothing.strength = imgui.slider_float("smoothing", smoothing.strength, 0.0, 1.0, "%.2f")
        if imgui.button("set neutral"):
            driver.tracker.request_neutral()
        imgui.same_line()
        imgui.text_disabled(f"dropped {driver.source.frames.dropped} frames")

    def _preview(self, sample: DrivenSample) -> None:
        height, width = sample.rgb.shape[:2]
        step = max(1, math.ceil(width / PREVIEW_WIDTH))  # subsample: the preview is small
        if sample.source_frame != self._uploaded_frame:
            small = np.ascontiguousarray(sample.rgb[::step, ::step])  # [h, w, 3]
            size = (small.shape[1], small.shape[0])
            if self._texture is None or self._texture.size != size:
                if self._texture is not None:
                    self._texture.release()
                self._texture = self.ctx.texture(size, 3, dtype="f1", alignment=1)
            self._texture.write(small.tobytes(), alignment=1)
            self._uploaded_frame = sample.source_frame
        w, h = self._texture.size
        origin = imgui.get_cursor_screen_pos()
        imgui.image(imgui.ImTextureRef(self._texture.glo), imgui.ImVec2(w, h))
        if sample.landmarks is not None:
            draw = imgui.get_window_draw_list()
            for x, y in sample.landmarks[:, :2] / step:
                draw.add_circle_filled(imgui.ImVec2(origin.x + x, origin.y + y), 1.0, LANDMARK_COLOUR)
