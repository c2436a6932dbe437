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
LANDMARK_RGB = (40, 255, 80)


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
            small = np.array(sample.rgb[::step, ::step], order="C")  # [h, w, 3], a copy to draw on
            if sample.landmarks is not None:
                _mark(small, sample.landmarks[:, :2] / step)
            size = (small.shape[1], small.shape[0])
            if self._texture is None or self._texture.size != size:
                if self._texture is not None:
                    self._texture.release()
                self._texture = self.ctx.texture(size, 3, dtype="f1", alignment=1)
            self._texture.write(small.tobytes(), alignment=1)
            self._uploaded_frame = sample.source_frame
        w, h = self._texture.size
        imgui.image(imgui.ImTextureRef(self._texture.glo), imgui.ImVec2(w, h))


def _mark(image: np.ndarray, points: np.ndarray) -> None:
    """Colour the pixels under points [P, 2] (x, y in image pixels) of image [h, w, 3] uint8: the
    landmarks drawn into the preview in one numpy step rather than as hundreds of imgui shapes a
    window frame."""
    cols, rows = np.floor(points).astype(np.int64).T  # [P] each
    inside = (cols >= 0) & (cols < image.shape[1]) & (rows >= 0) & (rows < image.shape[0])
    image[rows[inside], cols[inside]] = LANDMARK_RGB
