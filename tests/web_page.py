"""The web player's tests in headless Chromium (avatar.web.headless), skipping with the reason
where Playwright or the system's Chromium is missing; images compared as the canvas stores them."""

from __future__ import annotations

import base64
import contextlib
from typing import Iterator

import numpy as np
import pytest
import torch

from avatar.web import headless


@contextlib.contextmanager
def browser() -> Iterator[object]:
    pytest.importorskip("playwright.sync_api", reason="the tests drive Chromium with playwright (dev extra)")
    executable = headless.find_chromium()
    if executable is None:
        pytest.skip("no system chromium (Debian's package `chromium`; .ci/run installs it)")
    with headless.browser(executable) as b:
        yield b


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """A render [H, W, 3] in [0, 1] as the canvas stores it."""
    return (image.detach().cpu().clamp(0, 1).numpy() * 255).round().astype(np.uint8)


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


_STAGES = """async ([params, camera]) => {
  const s = await window.avatarPlayer.stages(params, camera);
  const encode = (a) => {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    let text = "";
    for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    return { data: btoa(text), dtype: a.constructor.name };
  };
  const out = {};
  for (const [name, a] of Object.entries(s)) out[name] = a && encode(a);
  return out;
}"""
_DTYPES = {"Float32Array": np.float32, "Uint32Array": np.uint32, "Uint8Array": np.uint8}


def stages_in_page(page, params: dict, camera) -> dict[str, np.ndarray | None]:
    """What the page's GPU computes of params (headless.params_json) seen by camera, read back
    (Player.stages): verts, means, opacities, quats, scales, colours, order, region."""
    result = page.evaluate(_STAGES, [params, headless.camera_json(camera)])
    return {
        name: None if entry is None else np.frombuffer(base64.b64decode(entry["data"]), _DTYPES[entry["dtype"]])
        for name, entry in result.items()
    }
