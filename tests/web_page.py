"""Headless Chromium for the web player's tests: the system's browser (Debian's `chromium`, never
a downloaded one) driven by Playwright, WebGL2 on SwiftShader (software), and a folder served on
the loopback address."""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch

from avatar.render import Camera

# No network beyond loopback (the machine has none; Chromium's own calls would be refused many
# at a time), and WebGL on the CPU (SwiftShader: no GPU here; newer Chromium asks for the opt-in).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 "--ignore-gpu-blocklist"]
PARAM_KEYS = ("expr", "jaw", "neck", "rotation", "eyes", "translation")


def chromium_path() -> str:
    """The system Chromium (AVATAR_CHROMIUM, else chromium on PATH); skips the test without it."""
    path = os.environ.get("AVATAR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("no system chromium (Debian's package `chromium`; .ci/run installs it)")
    return path


@contextlib.contextmanager
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="the tests drive Chromium with playwright (dev extra)")
    executable = chromium_path()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    """http://127.0.0.1:PORT/ serving folder, for the block's duration."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join()


def open_player(b, url: str, query: str = "manual=1"):
    """A page with the player at url loaded (raises with the page's error if it failed)."""
    page = b.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}index.html?{query}")
    page.wait_for_function("(window.avatarPlayer && window.avatarPlayer.ready) || window.avatarPlayerError",
                           timeout=120_000)
    failure = page.evaluate("window.avatarPlayerError || null")
    assert failure is None and not errors, (failure, errors)
    return page


def params_json(params, frame: int = 0) -> dict:
    """One frame of RigParams as the player takes it."""
    return {k: getattr(params, k)[frame].detach().cpu().double().tolist() for k in PARAM_KEYS}


def camera_json(camera: Camera) -> dict:
    return {"K": camera.K.flatten().tolist(), "w2c": camera.world_to_cam.flatten().tolist(), "width": camera.width,
            "height": camera.height, "near": camera.near, "far": camera.far}


_RENDER = """async ([params, camera]) => {
  const r = await window.avatarPlayer.renderNow(params, camera);
  let text = "";
  for (let i = 0; i < r.pixels.length; i += 8192) text += String.fromCharCode.apply(null, r.pixels.subarray(i, i + 8192));
  return { pixels: btoa(text), workerMs: r.workerMs, drawMs: r.drawMs, splats: r.splats };
}"""


def render_in_page(page, params: dict, camera: Camera) -> tuple[np.ndarray, dict]:
    """[H, W, 3] uint8 the page draws for params (params_json) seen by camera, and its timings."""
    result = page.evaluate(_RENDER, [params, camera_json(camera)])
    rgba = np.frombuffer(base64.b64decode(result.pop("pixels")), np.uint8).reshape(camera.height, camera.width, 4)
    return rgba[..., :3].copy(), result


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """A render [H, W, 3] in [0, 1] as the canvas stores it."""
    return (image.detach().cpu().clamp(0, 1).numpy() * 255).round().astype(np.uint8)


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
