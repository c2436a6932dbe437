"""`run_view(options)`: what `avatar view` does. Loads the model, opens the source, runs the
window (`ViewerApp`) and, for headless runs, writes the screenshot, the stats JSON and the
per-frame driven parameters (.npz next to the stats).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from avatar.data.atomic import atomic_path, dump_json
from avatar.runtime.backends import BackendDeviceError, BackendUnavailable
from avatar.runtime.errors import InputError
from avatar.runtime.devices import resolve_device
from avatar.model import Avatar, load_avatar
from avatar.renderer.lod import LevelOfDetail
from avatar.splat.dispatch import splat_registry
from viewer.detail import DetailSwitch
from viewer.drivers import ExpressionPlayer, LiveDriver
from viewer.livelink_stream import LiveLinkStream
from viewer.param_server import ParamServer, hello_message
from viewer.pacing import RenderPace
from viewer.gl.backend import register_gl_backend
from viewer.render_worker import RENDER_THREADS
from viewer.retarget_live import LiveRetarget
from viewer.sources import open_frame_source, parse_source
from viewer.state import ViewerState
from viewer.tracking import CALIBRATION_FRAMES, TrackerThread

register_gl_backend()  # `--backend gl` and auto's fallback on machines without the CPU kernels

MIN_SIZE, MAX_SIZE = 32, 2048


class DisplayUnavailable(BackendUnavailable):
    """No display to open a window on."""


class WindowPackagesMissing(BackendUnavailable):
    """The window's packages (the viewer extra) are not installed."""


def _check_window_packages() -> None:
    """imgui-bundle and moderngl, found without importing them (imgui loads only for a window):
    imgui-bundle has no wheel for Python 3.10, where the viewer extra leaves it out."""
    missing = [name for name in ("imgui_bundle", "moderngl") if importlib.util.find_spec(name) is None]
    if missing:
        why = (
            " (imgui-bundle has no wheel for Python 3.10: use Python 3.11 or later)"
            if "imgui_bundle" in missing and sys.version_info < (3, 11)
            else ""
        )
        raise WindowPackagesMissing(
            f'avatar view needs {", ".join(missing)}{why}: pip install --no-build-isolation -e ".[viewer]"'
        )


@dataclass
class ViewOptions:
    model: Path
    source: str | None = None
    backend: str = "auto"
    size: int = 256
    rig: str | None = None
    frames: int | None = None
    screenshot: Path | None = None
    stats: Path | None = None
    record: Path | None = None  # path stem: record from the first frame
    smoothing: float = 0.3
    device: str = "auto"  # --device: where the avatar is blended and splatted
    lod: str = "auto"  # auto: a level of detail where the full avatar misses the source's frame budget; off
    serve: int | None = None  # --serve PORT: publish the shown frames' parameters over a WebSocket (param_server)
    serve_host: str = "0.0.0.0"  # --serve-host: every interface, so a phone on the same network can connect
    arkit_map: Path | None = None  # --arkit-map: ARKit weights -> the rig's expressions (Live Link on FLAME)


def run_view(options: ViewOptions) -> dict:
    """Run the viewer; returns the stats summary (also written to options.stats)."""
    _check_arguments(options)
    _check_window_packages()
    device = resolve_device(options.device)
    avatar = load_avatar(options.model, options.rig, device)
    model, rig, identity = avatar.model, avatar.rig, avatar.identity()
    driver = _driver(options, avatar)  # a missing webcam fails here, before any window opens
    _check_display()
    backend = _resolve_backend(options.backend, device)
    state = ViewerState(rig.num_expr, backend, options.size, list(avatar.background))
    # auto on the CPU: the window times the cpu kernels against its own OpenGL (a laptop's GPU
    # splats far faster than two cores; software OpenGL far slower) and keeps the faster.
    timed = ["cpu", "gl"] if options.backend == "auto" and backend == "cpu" else []
    from viewer.app import RunLimits, ViewerApp  # imgui loads only once the inputs are known to be good

    detail = DetailSwitch(
        model, identity, tuple(state.background), _frame_budget(options, driver, device), avatar.settings.get("capture")
    )
    server = None
    if options.serve is not None:  # a port in use fails here, before the window opens
        server = ParamServer(options.serve, hello_message(rig, identity, _source_fps(driver)), options.serve_host)
    app = ViewerApp(
        model,
        identity,
        state,
        driver,
        _splat_backends(device),
        RunLimits(options.frames, options.record),
        detail,
        timed,
        publish=server.publish if server is not None else None,
    )
    if server is not None:
        server.start()
    try:
        screenshot = app.run()
    finally:
        if server is not None:
            server.stop()
    summary = app.stats.summary()
    if options.screenshot is not None and screenshot is not None:
        from PIL import Image

        image_format = Image.registered_extensions().get(options.screenshot.suffix.lower())
        if image_format is None:
            raise InputError(f"--screenshot {options.screenshot}: unknown image file extension")
        with atomic_path(options.screenshot) as partial:
            Image.fromarray(np.ascontiguousarray(screenshot)).save(partial, format=image_format)
    if options.stats is not None:
        _write_stats(options, app, driver, summary, server)
    return summary


def _frame_budget(options: ViewOptions, driver, device: torch.device) -> float | None:
    """Seconds a render may take before a level of detail replaces the full avatar: the driving
    source's frame period (None: --lod off, no source, or a GPU, which needs none)."""
    if options.lod == "off" or driver is None or device.type != "cpu":
        return None
    fps = _source_fps(driver)
    return 1.0 / fps if fps else None


def _source_fps(driver) -> float | None:
    """The driving source's frames per second (None: no source, or one that does not say)."""
    fps = float(getattr(getattr(driver, "source", driver), "fps", 0.0) or 0.0)
    return fps if fps > 0 else None


def _check_arguments(options: ViewOptions) -> None:
    if not options.model.is_file():
        raise FileNotFoundError(f"{options.model}: model file not found")
    if not MIN_SIZE <= options.size <= MAX_SIZE:
        raise InputError(f"--size must be in {MIN_SIZE}..{MAX_SIZE}, got {options.size}")
    if options.frames is not None and options.frames < 1:
        raise InputError(f"--frames must be at least 1, got {options.frames}")
    if options.lod not in ("auto", "off"):
        raise InputError(f"--lod must be auto or off, got {options.lod!r}")
    _check_arkit_map(options)


def _check_arkit_map(options: ViewOptions) -> None:
    """--arkit-map maps ARKit weights, which only Live Link Face gives (its stream, its .csv takes):
    with another source it would go unused and hide a mistake, so it is refused, as `avatar
    render` refuses it beside a non-.csv --expr."""
    if options.arkit_map is None:
        return
    spec = parse_source(options.source) if options.source is not None else None
    if spec is None or not (spec.kind == "livelink" or (spec.kind == "expr" and spec.path.suffix.lower() == ".csv")):
        raise InputError(
            f"--arkit-map {options.arkit_map}: applies only to --source livelink[:PORT] or "
            f"expr:FILE.csv (Live Link Face's ARKit weights), not "
            f"{options.source or 'the sliders (no --source)'}"
        )


def _check_display() -> None:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise DisplayUnavailable(
            "no display to open the viewer's window on (DISPLAY is not set); "
            "on a headless machine run it under Xvfb: xvfb-run -a avatar view ..."
        )


def _driver(options: ViewOptions, avatar: Avatar):
    """What drives the avatar, its expressions kept inside those it learned (`Avatar.params`,
    `ExpressionRange`) whatever the source."""
    if options.source is None:
        return None
    rig, identity, learned = avatar.rig, avatar.identity(), avatar.expression_range
    spec = parse_source(options.source)
    if spec.kind == "expr":
        params, fps = avatar.params(spec.path, options.arkit_map)  # `avatar render --expr`'s path
        return ExpressionPlayer(params, fps, spec.path.name)
    if spec.kind == "livelink":
        return LiveLinkStream(spec.port, rig, identity, learned=learned, arkit_map=options.arkit_map)
    source = open_frame_source(spec)
    retarget = LiveRetarget(rig, identity, learned, avatar.live_map)
    return LiveDriver(source, TrackerThread(source, rig, retarget, options.smoothing, pace=RenderPace()))


def _resolve_backend(name: str, device: torch.device) -> str:
    """`auto`: the splat registry's own pick for the device (cuda > torch, or cpu > torch), with
    `gl` instead of the slow torch reference on the CPU (on 2 llvmpipe cores cuda_ext's CPU build
    splats 30k Gaussians at 256x256 in ~19 ms against gl's ~47 ms, measured in the window, so gl
    does not outrank it). A backend for another device fails here, before the window opens."""
    if name == "auto":
        picked, _ = splat_registry.get("auto", device)
        return "gl" if picked == "torch" and device.type == "cpu" else picked
    if name == "gl" and device.type != "cpu":
        raise BackendDeviceError(
            f"the gl backend draws from the CPU and the run's device is {device}: "
            "use --device cpu, or --backend cuda / torch"
        )
    if name != "gl":
        splat_registry.get(name, device)  # BackendUnavailable / BackendDeviceError with the reason
    return name


def _splat_backends(device: torch.device) -> list[str]:
    """The window's menu: `gl` on the CPU (the window's own context draws it), then every other
    splat backend that loads here for the device."""
    usable = ["gl"] if device.type == "cpu" else []
    for name in splat_registry.names:
        if name == "gl":
            continue
        try:
            splat_registry.get(name, device)
        except (BackendUnavailable, BackendDeviceError):
            continue
        usable.append(name)
    return usable


def _level_stats(level: LevelOfDetail | None) -> dict | None:
    if level is None:
        return None
    return {
        "gaussians": level.kept,
        "of": level.of,
        "psnr_mean": level.psnr_mean,
        "psnr_min": level.psnr_min,
        "render_cost": level.render_cost,
    }


def _write_stats(options: ViewOptions, app, driver, summary: dict, server: ParamServer | None = None) -> None:
    params_path = options.stats.with_suffix(".params.npz")
    options.stats.parent.mkdir(parents=True, exist_ok=True)
    app.stats.save_params(params_path, app.expr_names())
    doc = {
        **summary,
        "stopped": app.stop_reason,
        "params_npz": str(params_path),
        "backend": app.state.backend,
        "backend_choice": app.backend_choice,
        "size": app.state.size,
        "gl_renderer": app.gl_renderer,
        "render_threads": RENDER_THREADS,
        "drawn": app.detail.drawn(app.state.size) if app.detail is not None else "full avatar",
        # The level drawn at the end (None: the full avatar) and every level built, finest first.
        "level_of_detail": _level_stats(app.detail.drawn_level(app.state.size)) if app.detail is not None else None,
        "levels_of_detail": [_level_stats(level) for level in app.detail.levels] if app.detail is not None else [],
        "display_frames": len(app.stats.display_times),
        "panels": {title: list(rect) for title, rect in app.layout.rects.items()},
        "avatar_rect": list(app.avatar_rect()) if app.stats.records else None,
        "recorded": [str(p) for p in app.finished],
        "source": options.source,
    }
    if isinstance(driver, LiveDriver):
        doc["dropped_source_frames"] = driver.source.frames.dropped
        doc["calibration"] = {
            **driver.tracker.calibration,
            "note": f"identity and focal calibrated on the first {CALIBRATION_FRAMES} frames with a "
            f"face, on a thread of their own; until calibrated_from_source_frame (None: "
            f"the calibration was done after the last frame) the rig's mean identity and "
            f"the prior focal drive the avatar",
        }
        calibrated = driver.tracker.calibration.get("calibrated_from_source_frame")
        # The steady state: from the first frame the calibrated fitter drove.
        doc["calibrated"] = app.stats.summary_from(calibrated) if calibrated is not None else None
        doc["source_fps"] = driver.source.fps
        doc["kept_in_training_range"] = driver.tracker.retarget.clamp_stats()
    if isinstance(driver, LiveLinkStream):
        doc["livelink"] = driver.counts()
    if server is not None:
        doc["serve"] = server.counts()
    dump_json(doc, options.stats)
