"""The web player's tests in headless Chromium (avatar.web.headless), skipping with the reason
where Playwright or the system's Chromium is missing; images compared as the canvas stores them."""

from __future__ import annotations

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
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
