"""`ViewerApp`: the window. hello_imgui runs the loop; each frame the panels are drawn and the
newest avatar image is drawn behind them (custom background). The images come from
`RenderWorker`, which blends and splats on its own thread while this one builds and draws the
panels; the window waits for a new image (at most IDLE_FRAME_S) before each frame, so it does
not spend the shared cores redrawing an unchanged avatar. The `gl` backend draws on this thread.
The same loop serves the interactive window and the headless `--frames N` runs (see RunLimits).
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import moderngl
import numpy as np
import torch
from imgui_bundle import hello_imgui, imgui

from avatar.gaussians import GaussianAvatar
from avatar.renderer import AvatarRenderer
from avatar.rig import RigParams
from viewer.avatar_view import AvatarView
from viewer.detail import DetailSwitch
from viewer.orbit import OrbitCamera
from viewer.panels import PanelLayout
from viewer.panels.base import COLUMN_WIDTH
from viewer.panels.expression_panel import ExpressionPanel
from viewer.panels.pose_panel import PosePanel
from viewer.panels.render_panel import RenderPanel
from viewer.panels.source_panel import SourcePanel
from viewer.panels.stats_panel import StatsPanel
from viewer.recorder import Recorder
from viewer.render_worker import RenderedFrame, RenderWorker, settings_key
from viewer.state import ViewerState
from viewer.stats import FrameRecord, FrameStats, latency_parts

WINDOW_MIN_HEIGHT = 765  # the left column's panels: source 330 + render 175 + stats 260
CANVAS_GREY = (0.16, 0.16, 0.18)  # the window behind the avatar's viewport
IDLE_FRAME_S = 1 / 30  # longest wait for a new avatar image: panels stay responsive at 30 Hz
TIMED_FRAMES = 3  # frames per backend when `auto` times them
# While a live source drives the avatar and nobody has touched the window for INPUT_QUIET_S, new
# images come often enough to keep the panels current: the window redraws only for them (and at
# least every DRIVEN_IDLE_FRAME_S), so it is not busy redrawing an unchanged image when a new one
# arrives (at 512 px on 2 cores that wait was a fifth of the capture -> display latency).
DRIVEN_IDLE_FRAME_S = 0.25
INPUT_QUIET_S = 0.5


@dataclass
class RunLimits:
    # Stop after this many new avatar frames shown (headless runs); with no source the avatar only
    # changes when the panels are used, so then after this many window frames.
    frames: int | None = None
    record_stem: Path | None = None  # record from the first frame (mp4 + expression file)


class ViewerApp:
    def __init__(
        self,
        model: GaussianAvatar,
        identity_shape: torch.Tensor,
        state: ViewerState,
        driver,
        backends: list[str],
        limits: RunLimits,
        detail: DetailSwitch | None = None,
        timed_backends: list[str] | None = None,
        publish: Callable[[RigParams], None] | None = None,
    ):
        """timed_backends: candidates to time on the first frame; the fastest is used (auto).
        publish: called on this thread with the parameters [1] of every new frame shown (--serve);
        it must return at once."""
        self.model, self.identity_shape, self.state, self.driver = model, identity_shape, state, driver
        self.backends, self.limits = backends, limits
        self.orbit = OrbitCamera(model.rig)
        self.stats = FrameStats(model.pose_drivers)
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
        self.detail = detail
        self.timed_backends = timed_backends or []
        self.publish = publish
        self.backend_choice = f"{state.backend} (asked for)" if not self.timed_backends else ""
        self.worker = RenderWorker(model, identity_shape, driver, self.stats.rendered, detail)
        # hello_imgui draws the background after show_gui: the avatar frame drawn is remembered
        # as _new (when it was not shown before) until the swap, which records it.
        self._new: RenderedFrame | None = None
        self._shown_seq = 0  # worker output sequence number of the image on screen
        self._gl_key: tuple | None = None  # gl backend: what the last drawn frame showed
        self._last_source_frame: int | None = None
        self._frame_started = time.perf_counter()
        self._last_input = 0.0  # perf_counter of the last mouse input over the window

    def run(self) -> np.ndarray | None:
        """Open the window and loop until closed (or the limits are reached); returns the last
        frame's screenshot [H, W, 3] uint8."""
        params = hello_imgui.RunnerParams()
        params.app_window_params.window_title = "avatar view"
        width = 2 * COLUMN_WIDTH + max(self.state.size, 256) + 40
        params.app_window_params.window_geometry.size = (width, max(WINDOW_MIN_HEIGHT, self.state.size + 40))
        params.imgui_window_params.default_imgui_window_type = hello_imgui.DefaultImGuiWindowType.no_default_window
        params.fps_idling.enable_idling = False  # live driving: draw every frame, no idle throttling
        # No multisampling: imgui anti-aliases its own shapes and the avatar is a pixel-aligned
        # image, while hello_imgui's default (the most samples the driver offers) multiplied
        # llvmpipe's cost per window frame (measured: ~28 -> ~9 ms of CPU per frame).
        params.renderer_backend_options.open_gl_options.anti_aliasing_samples = 0
        params.ini_disable = True  # fixed layout; nothing written next to the user's files
        params.callbacks.post_init = self._post_init
        params.callbacks.pre_new_frame = self._wait_for_image
        params.callbacks.show_gui = self._show_gui
        params.callbacks.custom_background = self._draw_avatar
        params.callbacks.after_swap = self._after_swap
        params.callbacks.before_exit = self._before_exit
        if self.limits.record_stem is not None:
            self.recorder = Recorder(self.limits.record_stem, self._driver_fps(), self.expr_names())
        self.worker.start()
        try:
            hello_imgui.run(params)
        finally:
            self.worker.stop()
            if self.driver is not None:
                self.driver.stop()
            if self.detail is not None:
                self.detail.stop()
        return hello_imgui.final_app_window_screenshot()

    def _post_init(self) -> None:
        self._ctx = moderngl.create_context()  # the window's own GL context, made current by hello_imgui
        self.gl_renderer = self._ctx.info["GL_RENDERER"]
        self._view = AvatarView(self._ctx, self.model)
        self._source_panel = SourcePanel(self.driver, self._ctx)
        self._expr_panel = ExpressionPanel(
            self.state, self.expr_names() or [f"expr {i}" for i in range(self.model.rig.num_expr)]
        )
        self._panels = [
            self._source_panel,
            RenderPanel(self.state, self.backends, self.orbit, self._toggle_recording),
            StatsPanel(
                self.stats,
                self.state,
                self.detail,
                lambda: self.backend_choice,
                self.driver.clamp_stats if self.driver is not None else None,
            ),
            self._expr_panel,
            PosePanel(self.state),
        ]
        if self.timed_backends:
            self._choose_backend()
        # Everything loaded so far (torch, the model, the window's libraries) lives as long as the
        # window: out of the collector's way, so that its full collections, which stop every
        # Python thread, do not walk it (they took up to 172 ms during a live run without this).
        gc.freeze()
        # The tracker and the level of detail's build start once the backends are timed: on two
        # cores they would slow the candidates unevenly, and the choice would be theirs.
        if self.driver is not None:
            self.driver.start()
        if self.detail is not None:
            self.detail.start(self.orbit.camera(self.state.size, self.state.size))

    def _choose_backend(self) -> None:
        """The fastest of the timed backends on the rest pose at the render size (median of
        TIMED_FRAMES, the candidates taking turns after a warm-up frame each), kept for the run
        and shown in the stats."""
        size = self.state.size
        camera = self.orbit.camera(size, size)
        params = self.state.compose(None, self.model.rig, self.identity_shape)
        viewport = (0, 0, size, size)
        cpu = AvatarRenderer(self.model, tuple(self.state.background), "cpu")
        frame = {
            "cpu": lambda: cpu.render(params, camera),
            "gl": lambda: self._view.draw(params, camera, viewport, self.state.background),
        }
        timings = turns_median_ms({name: frame[name] for name in self.timed_backends}, TIMED_FRAMES)
        self.state.backend = min(timings, key=timings.get)
        self.backend_choice = f"{self.state.backend}, the faster at {size} px: " + ", ".join(
            f"{name} {ms:.0f} ms" for name, ms in timings.items()
        )

    def _wait_for_image(self) -> None:
        if self.state.backend != "gl":
            quiet = time.perf_counter() - self._last_input > INPUT_QUIET_S
            driven = self.driver is not None and not self.driver.ended and self.driver.latest() is not None
            self.worker.output.wait_newer(
                self._shown_seq, timeout=DRIVEN_IDLE_FRAME_S if driven and quiet else IDLE_FRAME_S
            )

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
        self.worker.update(self.state, self.orbit.camera(self.state.size, self.state.size))
        if self.driver is not None and self.driver.ended and self.limits.frames is not None:
            self._stop("source ended")
        if self.worker.error is not None:
            raise RuntimeError(f"avatar rendering failed: {self.worker.error}")

    def _draw_avatar(self) -> None:
        ctx = self._ctx
        ctx.screen.use()
        ctx.viewport = (0, 0, *ctx.screen.size)
        ctx.clear(*CANVAS_GREY)
        if self.state.backend == "gl":
            self._draw_gl()
            return
        seq, frame = self.worker.output.newest()
        if frame is None:
            return
        new = seq != self._shown_seq
        self._view.show(frame.rgb, self._viewport(frame.rgb.shape[0]), new)
        if new:
            self._shown_seq, self._new = seq, frame
            if self.recorder is not None:
                self.recorder.add(frame.params, frame.rgb)

    def _draw_gl(self) -> None:
        """The gl backend splats with this thread's GL context, every window frame (the window
        is cleared each frame); a frame counts as new when its parameters or settings changed."""
        sample = self.driver.latest() if self.driver is not None else None
        size = self.state.size
        camera = self.orbit.camera(size, size)
        params = self.state.compose(sample.params if sample else None, self.model.rig, self.identity_shape)
        self._view.draw(params, camera, self._viewport(size), self.state.background)
        now = time.perf_counter()
        self.stats.rendered(now)
        key = (settings_key(self.state, camera), sample.source_frame if sample else None)
        if key != self._gl_key:
            self._gl_key = key
            self._new = RenderedFrame(
                self._view.read_pixels() if self.recorder is not None else None,
                params,
                sample,
                self._view.blend_ms,
                self._view.splat_ms,
                now - 1e-3 * (self._view.blend_ms + self._view.splat_ms),
                now,
            )
            if self.recorder is not None:
                self.recorder.add(params, self._new.rgb)

    def _after_swap(self) -> None:
        now = time.perf_counter()
        self.stats.displayed(now)
        if self._new is not None:
            frame, self._new = self._new, None
            sample = frame.sample
            fresh = sample is not None and sample.source_frame != self._last_source_frame
            self.stats.add(
                FrameRecord(
                    displayed_at=now,
                    blend_ms=frame.blend_ms,
                    splat_ms=frame.splat_ms,
                    frame_ms=1e3 * (now - self._frame_started),
                    tracker_ms=sample.tracker_ms if fresh else None,
                    latency_ms=1e3 * (now - sample.captured_at) if fresh else None,
                    source_frame=sample.source_frame if sample is not None else None,
                    latency_parts=latency_parts(sample, frame, now) if fresh else None,
                    tracked_expr=sample.tracked_expr if sample is not None else None,
                ),
                frame.params,
            )
            if self.publish is not None:
                self.publish(frame.params)
            if sample is not None:
                self._last_source_frame = sample.source_frame
        self._frame_started = now
        shown = len(self.stats.records) if self.driver is not None else len(self.stats.display_times)
        if self.limits.frames is not None and shown >= self.limits.frames:
            self._stop(f"{self.limits.frames} frames")

    def _before_exit(self) -> None:
        self.stats.read_cpu(time.perf_counter())  # the last reading of the threads' CPU times
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
        delta = io.mouse_delta
        if delta.x or delta.y or io.mouse_wheel or any(imgui.is_mouse_down(b) for b in range(3)):
            self._last_input = time.perf_counter()
        if io.want_capture_mouse:
            return
        if imgui.is_mouse_down(imgui.MouseButton_.left):
            self.orbit.orbit(delta.x, delta.y)
        elif imgui.is_mouse_down(imgui.MouseButton_.right) or imgui.is_mouse_down(imgui.MouseButton_.middle):
            self.orbit.pan_by(delta.x, delta.y, self.state.size)
        if io.mouse_wheel:
            self.orbit.zoom(io.mouse_wheel)

    def _toggle_recording(self) -> str:
        if self.recorder is None:
            stem = Path(f"avatar_recording_{time.strftime('%Y%m%d_%H%M%S')}")
            self.recorder = Recorder(stem, self.stats.rolling().get("fps") or self._driver_fps(), self.expr_names())
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


def turns_median_ms(frames: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median milliseconds of each frame() over `rounds` rounds in which every candidate runs once
    in turn (after one warm-up call each), so a passing load weighs on all of them alike."""
    for frame in frames.values():
        frame()
    times: dict[str, list[float]] = {name: [] for name in frames}
    for _ in range(rounds):
        for name, frame in frames.items():
            started = time.perf_counter()
            frame()
            times[name].append(1e3 * (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in times.items()}
