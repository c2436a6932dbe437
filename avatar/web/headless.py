"""The exported player in headless Chromium, for its tests and its benchmark: the system's
browser (Debian's `chromium`; never one a test tool downloads) driven by Playwright (the dev
extra), WebGL2 on SwiftShader where there is no GPU, the folder served on the loopback address.
Nothing here runs unless asked: importing it loads neither Playwright nor a browser."""

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

from avatar.splat import Camera
from avatar.rig import RigParams

# No network beyond loopback (Chromium's own calls home would be refused many at a time on a
# closed machine), and WebGL on the CPU where there is no GPU (newer Chromium asks for the opt-in).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
)
PARAM_KEYS = ("expr", "jaw", "neck", "rotation", "eyes", "translation")


def find_chromium() -> str | None:
    """The system Chromium: AVATAR_CHROMIUM, else chromium / chromium-browser on PATH, else None."""
    return os.environ.get("AVATAR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def browser(executable: str) -> Iterator[object]:
    """A headless Chromium (Playwright's Browser) started from `executable`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        try:
            yield b
        finally:
            b.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    """http://127.0.0.1:PORT/ serving folder for the block's duration."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join()


class PlayerFailed(RuntimeError):
    """The page could not load the player; the message is the page's."""


def open_player(b, url: str, query: str = "manual=1", timeout_s: float = 120.0):
    """A page (Playwright's Page) with the player at url loaded; PlayerFailed with the page's error."""
    page = b.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}index.html?{query}")
    page.wait_for_function(
        "(window.avatarPlayer && window.avatarPlayer.ready) || window.avatarPlayerError", timeout=1000 * timeout_s
    )
    failure = page.evaluate("window.avatarPlayerError || null")
    if failure is not None or errors:
        raise PlayerFailed(f"{url}: {failure or '; '.join(errors)}")
    return page


def params_json(params: RigParams, frame: int = 0) -> dict:
    """One frame of params as the player takes it."""
    return {k: getattr(params, k)[frame].detach().cpu().double().tolist() for k in PARAM_KEYS}


def camera_json(camera: Camera) -> dict:
    return {
        "K": camera.K.flatten().tolist(),
        "w2c": camera.world_to_cam.flatten().tolist(),
        "width": camera.width,
        "height": camera.height,
        "near": camera.near,
        "far": camera.far,
    }


_RENDER = """async ([params, camera, inLastOrder]) => {
  const player = window.avatarPlayer;
  const r = await (inLastOrder ? player.renderInLastOrder(params, camera) : player.renderNow(params, camera));
  let text = "";
  for (let i = 0; i < r.pixels.length; i += 8192) text += String.fromCharCode.apply(null, r.pixels.subarray(i, i + 8192));
  return { pixels: btoa(text), workerMs: r.workerMs, pageMs: r.pageMs, splats: r.splats };
}"""


def render_in_page(
    page, params: dict, camera: Camera, alpha: bool = False, in_last_order: bool = False
) -> tuple[np.ndarray, dict]:
    """[H, W, 3] uint8 that the page draws for params (params_json) seen by camera ([H, W, 4] with
    alpha: a transparent page's premultiplied colour and coverage), and its timings: workerMs (the
    sort's), pageMs (the page's work, waiting for the GPU included: the frame is drawn at once),
    splats. in_last_order: drawn in the order of the page's last sorted frame, as the frames
    between sorts are (the player's SORT_EVERY), not in its own."""
    result = page.evaluate(_RENDER, [params, camera_json(camera), in_last_order])
    rgba = np.frombuffer(base64.b64decode(result.pop("pixels")), np.uint8).reshape(camera.height, camera.width, 4)
    return (rgba if alpha else rgba[..., :3]).copy(), result
