"""`RenderWorker`: blends and splats the avatar on its own thread, so the window's thread (imgui,
llvmpipe, the swap) and torch run at the same time instead of one after the other.

It renders only when something new is to be shown: a newer driven sample, or settings the
window changed (sliders, camera, backend, size, background). Each image goes into a
`LatestSlot`; the window shows the newest one, so a slow window skips images instead of
queueing them. The `gl` backend draws with the window's GL context and stays on its thread:
the worker ignores settings for it.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from avatar.gaussians import GaussianAvatar
from avatar.splat.camera import Camera
from avatar.renderer import AvatarRenderer
from avatar.rig import RigParams
from viewer.detail import DetailSwitch
from viewer.drivers import DrivenSample
from viewer.latest import LatestSlot
from viewer.state import ViewerState
from viewer.worker import Worker

# How often the worker looks for a newer driven sample when idle, where the driver does not say
# (an expression file's samples come with the clock); live drivers wake it at once (`notify`).
POLL_S = 0.002
RENDER_THREADS = 1  # torch threads for blend + splat (why one: see _run)


def settings_key(state: ViewerState, camera: Camera) -> tuple:
    """Equal keys render the same image for the same driven sample."""
    return (
        state.backend,
        state.size,
        tuple(state.background),
        state.expr_offsets.tobytes(),
        tuple(state.head_offset_deg),
        tuple(state.eye_offset_deg),
        state.jaw_offset_deg,
        camera.K.numpy().tobytes(),
        camera.world_to_cam.numpy().tobytes(),
        camera.width,
        camera.height,
    )


@dataclass
class RenderSettings:
    state: ViewerState  # a copy: the window's thread keeps editing its own
    camera: Camera


@dataclass
class RenderedFrame:
    rgb: np.ndarray | None  # [H, W, 3] uint8, row 0 at the top (None: gl drew it, nobody read it back)
    params: RigParams  # [1] as rendered
    sample: DrivenSample | None  # what drove it (None: rest pose)
    blend_ms: float  # posing and blending (with the CPU's projection)
    splat_ms: float  # rasterising and the cut below the head
    started_at: float  # perf_counter when the render began
    rendered_at: float  # perf_counter when the image was ready


class RenderWorker(Worker):
    def __init__(
        self,
        model: GaussianAvatar,
        identity_shape: torch.Tensor,
        driver,
        on_rendered: Callable[[float], None],
        detail: DetailSwitch | None = None,
    ):
        """detail: draws a level of detail instead of the full avatar where it misses the budget."""
        super().__init__("avatar render", join_timeout=5.0)
        self.model, self.identity_shape, self.driver, self.detail = model, identity_shape, driver, detail
        self.on_rendered = on_rendered  # called with each image's perf_counter time, on this thread
        self.output: LatestSlot[RenderedFrame] = LatestSlot()
        self._settings: LatestSlot[RenderSettings] = LatestSlot()
        self._last_key: tuple | None = None
        self._wake = threading.Event()
        self._renderers: dict[tuple[int, str], AvatarRenderer] = {}
        if hasattr(driver, "notify"):
            driver.notify(self._wake)  # a new sample wakes the worker, as new settings do

    def stop(self) -> None:
        self._wake.set()  # out of its wait, to see the stop
        super().stop()

    def update(self, state: ViewerState, camera: Camera) -> None:
        """Window thread, every frame: hand over the settings when they changed."""
        key = settings_key(state, camera)
        if key != self._last_key:
            self._last_key = key
            self._settings.put(RenderSettings(copy.deepcopy(state), camera))
            self._wake.set()

    def _finished(self) -> None:
        self.output.close()

    def _run(self) -> None:
        # One thread: on 2 cores shared with the tracker and llvmpipe, a second OpenMP thread
        # mostly spins and waits (measured: more avatar frames per second with 1 than with 2).
        torch.set_num_threads(RENDER_THREADS)
        rendered: tuple[int, int | None] | None = None  # (settings seq, source frame) of the last image
        while not self._stop.is_set():
            seq, settings = self._settings.newest()
            sample = self.driver.latest() if self.driver is not None else None
            current = (seq, sample.source_frame if sample is not None else None)
            if settings is None or current == rendered or settings.state.backend == "gl":
                self._wake.wait(POLL_S)
                self._wake.clear()
                continue
            pace = getattr(self.driver, "pace", None) if sample is not None else None
            if pace is not None:
                pace.started()
            frame = self._render(settings, sample)
            if pace is not None:
                pace.finished()
            self.output.put(frame)
            self.on_rendered(frame.rendered_at)
            rendered = current

    @torch.no_grad()
    def _render(self, settings: RenderSettings, sample: DrivenSample | None) -> RenderedFrame:
        state = settings.state
        started = time.perf_counter()
        model = self.detail.model_for(state.size) if self.detail is not None else self.model
        renderer = self._renderer(model, state.backend)
        params = state.compose(sample.params if sample else None, self.model.rig, self.identity_shape)
        out, times = renderer.render_timed(params.to(device=renderer.device), settings.camera, tuple(state.background))
        image = _to_uint8(out.rgb).numpy()  # [H, W, 3]
        done = time.perf_counter()
        if self.detail is not None:
            self.detail.rendered(model, state.size, 1e3 * (done - started))
        return RenderedFrame(
            image, params, sample, times.pose_ms + times.blend_ms, times.splat_ms + times.cut_ms, started, done
        )

    def _renderer(self, model: GaussianAvatar, backend: str) -> AvatarRenderer:
        """One renderer per avatar (full, level of detail) and backend the window picks."""
        key = (id(model), backend)
        if key not in self._renderers:
            self._renderers[key] = AvatarRenderer(model, backend=backend)
        return self._renderers[key]


def _to_uint8(rgb: torch.Tensor) -> torch.Tensor:
    """[H, W, 3] uint8 on the CPU: cuda_ext's one-pass conversion where it loads, else torch's."""
    if rgb.is_cpu and rgb.dtype == torch.float32 and AvatarRenderer._extension_loads():
        from cuda_ext.image import rgb_to_uint8

        return rgb_to_uint8(rgb)
    return rgb.clamp(0, 1).mul(255).round().to(torch.uint8).cpu()
