"""`ViewerApp`: the window. hello_imgui runs the loop; each frame the panels are drawn, the
newest driven parameters are composed with the panels' offsets, and the avatar is blended and
splatted into the window's framebuffer behind the panels (custom background). The same loop
serves the interactive window and the headless `--frames N` runs (which just stop after N).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import moderngl
import numpy as np
import torch
from imgui_bundle import hello_imgui, imgui

from avatar.gaussians import GaussianAvatar
from avatar.rig import RigParams
from viewer.avatar_view import AvatarView
from viewer.drivers import DrivenSample
from viewer.orbit import OrbitCamera
from viewer.panels import PanelLayout
from viewer.panels.base import COLUMN_WIDTH
from viewer.panels.expression_panel import ExpressionPanel
from viewer.panels.pose_panel import PosePanel
from viewer.panels.render_panel import RenderPanel
from viewer.panels.source_panel import SourcePanel
from viewer.panels.stats_panel import StatsPanel
from viewer.recorder import Recorder
from viewer.state import ViewerState
from viewer.stats import FrameRecord, FrameStats

WINDOW_MIN_HEIGHT = 680
CANVAS_GREY = (0.16, 0.16, 0.18)  # the window behind the avatar's viewport


@dataclass
class RunLimits:
    frames: int | None = None  # stop after this many displayed frames (headless runs)
    record_stem: Path | None = None  # record from the first frame (mp4 + expression file)


class ViewerApp:
    def __init__(self, model: GaussianAvatar, identity_shape: torch.Tensor, state: ViewerState, driver,
                 backends: list[str], limits: RunLimits):
        self.model, self.identity_shape, self.state, self.driver = model, identity_shape, state, driver
        self.backends, self.limits = backends, limits
        self.orbit = OrbitCamera(model.rig)
        self.stats = FrameStats()
        self.layout = PanelLayout()
        self.recorder: Recorder | None = None
        self.finished: list[Path] = []  # files written by recordings
        self.stop_reason = "window closed"
        self.gl_renderer = ""
        self._ctx: moderngl.Context | None = None
        self._view: AvatarView | None = None
        self._panels: list = []
        self._source_panel: SourcePanel | None = None
        self._expr_panel: ExpressionPanel | None = None
        # hello_imgui draws the background before calling show_gui: a frame draws what the previous
        # frame's show_gui composed (_pending), and remembers it as _shown until the swap.
        self._pending: tuple[RigParams, DrivenSample | None, bool] | None = None
        self._shown: tuple[RigParams, DrivenSample | None, bool] | None = None
        self._last_shown_frame: int | None = None
        self._frame_started = time.perf_counter()

    def run(self) -> np.ndarray | None:
        """Open the window and loop until closed (or the limits are reached); returns the last
        frame's screenshot [H, W, 3] uint8."""
        params = hello_imgui.RunnerParams()
        params.app_window_params.window_title = "avatar view"
        width = 2 * COLUMN_WIDTH + max(self.state.size, 256) + 40
        params.app_window_params.window_geometry.size = (width, max(WINDOW_MIN_HEIGHT, self.state.size + 40))
        params.imgui_window_params.default_imgui_window_type = hello_imgui.DefaultImGuiWindowType.no_default_window
        params.fps_idling.enable_idling = False  # live driving: draw every frame, no idle throttling
        params.ini_disable = True  # fixed layout; nothing written next to the user's files
        params.callbacks.post_init = self._post_init
        params.callbacks.show_gui = self._show_gui
        params.callbacks.custom_background = self._draw_avatar
        params.callbacks.after_swap = self._after_swap
        params.callbacks.before_exit = self._before_exit
        if self.limits.record_stem is not None:
            self.recorder = Recorder(self.limits.record_stem, self._driver_fps(), self.expr_names())
        if self.driver is not None:
            self.driver.start()
        try:
            hello_imgui.run(params)
        finally:
            if self.driver is not None:
                self.driver.stop()
        return hello_imgui.final_app_window_screenshot()

    def _post_init(self) -> None:
        self._ctx = moderngl.create_context()  # the window's own GL context, made current by hello_imgui
        self.gl_renderer = self._ctx.info["GL_RENDERER"]
        self._view = AvatarView(self._ctx, self.model)
        self._source_panel = SourcePanel(self.driver, self._ctx)
        self._expr_panel = ExpressionPanel(self.state, self.expr_names() or
                                           [f"expr {i}" for i in range(self.model.rig.num_expr)])
        self._panels = [self._source_panel, RenderPanel(self.state, self.backends, self.orbit, self._toggle_recording),
                        StatsPanel(self.stats), self._expr_panel, PosePanel(self.state)]

    def _show_gui(self) -> None:
        io = imgui.get_io()
        self.layout.start_frame(io.display_size.x)
        sample = self.driver.latest() if self.driver is not None else None
        self._source_panel.sample = sample
        if sample is not None:
            self._expr_panel.driven = sample.params.expr[0].tolist()
        for panel in self._panels:
            panel.show(self.layout)
        self._mouse(io)
        fresh = sample is not None and sample.source_frame != self._last_shown_frame
        self._pending = (self.state.compose(sample.params if sample else None, self.model.rig, self.identity_shape),
                         sample, fresh)
        if self.driver is not None and self.driver.ended and self.limits.frames is not None:
            self._stop("source ended")

    def _draw_avatar(self) -> None:
        ctx = self._ctx
        ctx.screen.use()
        ctx.viewport = (0, 0, *ctx.screen.size)
        ctx.clear(*CANVAS_GREY)
        if self._pending is None:
            return
        size = self.state.size
        camera = self.orbit.camera(size, size)
        self._view.draw(self._pending[0], camera, self._viewport(size), self.state.backend, self.state.background)
        self._shown = self._pending
        if self.recorder is not None:
            self.recorder.add(self._pending[0], self._view.read_pixels())

    def _after_swap(self) -> None:
        now = time.perf_counter()
        if self._shown is not None:
            params, sample, fresh = self._shown
            self._shown = None
            self.stats.add(FrameRecord(
                displayed_at=now, blend_ms=self._view.blend_ms, splat_ms=self._view.splat_ms,
                frame_ms=1e3 * (now - self._frame_started),
                tracker_ms=sample.tracker_ms if fresh else None,
                latency_ms=1e3 * (now - sample.captured_at) if fresh else None,
                source_frame=sample.source_frame if sample is not None else None), params)
            if sample is not None:
                self._last_shown_frame = sample.source_frame
        self._frame_started = now
        if self.limits.frames is not None and len(self.stats.records) >= self.limits.frames:
            self._stop(f"{self.limits.frames} frames")

    def _before_exit(self) -> None:
        if self.recorder is not None:
            self._toggle_recording()

    def _stop(self, reason: str) -> None:
        self.stop_reason = reason
        hello_imgui.get_runner_params().app_shall_exit = True

    def _viewport(self, size: int) -> tuple[int, int, int, int]:
        """The avatar's rectangle in framebuffer pixels (GL: y from the bottom), centred
        between the panel columns."""
        x, y, w, h = self.layout.free_area(imgui.get_io().display_size.y)
        scale = imgui.get_io().display_framebuffer_scale
        left, top = x + (w - size / scale.x) / 2, y + (h - size / scale.y) / 2  # window coordinates
        fb_height = self._ctx.screen.size[1]
        return int(left * scale.x), int(fb_height - top * scale.y - size), size, size

    def avatar_rect(self) -> tuple[int, int, int, int]:
        """The avatar's rectangle in screenshot pixels: x, y from the top, width, height."""
        x, y, w, h = self._view.viewport
        return x, self._ctx.screen.size[1] - y - h, w, h

    def _mouse(self, io) -> None:
        if io.want_capture_mouse:
            return
        delta = io.mouse_delta
        if imgui.is_mouse_down(imgui.MouseButton_.left):
            self.orbit.orbit(delta.x, delta.y)
        elif imgui.is_mouse_down(imgui.MouseButton_.right) or imgui.is_mouse_down(imgui.MouseButton_.middle):
            self.orbit.pan_by(delta.x, delta.y, self.state.size)
        if io.mouse_wheel:
            self.orbit.zoom(io.mouse_wheel)

    def _toggle_recording(self) -> str:
        if self.recorder is None:
            stem = Path(f"avatar_recording_{time.strftime('%Y%m%d_%H%M%S')}")
            self.recorder = Recorder(stem, self.stats.rolling().get("fps") or self._driver_fps(),
                                     self.expr_names())
            return f"recording to {stem}.mp4 / .npz"
        recorder, self.recorder = self.recorder, None
        written = recorder.finish()
        if written is None:
            return "nothing recorded"
        self.finished.extend(written)
        return f"wrote {written[0]} and {written[1]} ({recorder.frames} frames)"

    def _driver_fps(self) -> float:
        return float(getattr(getattr(self.driver, "source", self.driver), "fps", 30.0) or 30.0)

    def expr_names(self) -> list[str] | None:
        names = self.model.rig.expr_names
        return list(names) if names else None
