"""Transparent renders: `RenderOutput.rgba`, `Avatar.render(alpha=True)` and `avatar render --alpha`
(.webm VP9 with alpha, .mov ProRes 4444), read back by ffmpeg (through PyAV) and by Chromium."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from avatar.cli.main import main
from avatar.model import load_avatar
from avatar.splat.output import MIN_ALPHA, RenderOutput
from test_cli import _write_livelink
from web_page import browser

SIZE = 64
JAW = [0.0, 0.5, 1.0]


def test_rgba_composited_over_the_background_is_the_render():
    generator = torch.Generator().manual_seed(0)
    alpha = torch.rand(8, 8, 1, generator=generator)
    alpha[0, 0] = 0.0
    alpha[0, 1] = MIN_ALPHA / 2  # too faint to carry a colour in 8 bits
    colour = torch.rand(8, 8, 3, generator=generator)
    background = (0.2, 0.9, 0.4)
    rgb = colour * alpha + (1 - alpha) * torch.tensor(background)
    out = RenderOutput(rgb, alpha, torch.zeros_like(alpha), torch.zeros(0, 2), torch.zeros(0))
    rgba = out.rgba(background)
    assert rgba.shape == (8, 8, 4)
    visible = alpha[..., 0] > MIN_ALPHA
    assert torch.allclose(rgba[..., :3][visible], colour[visible], atol=1e-5)
    assert (rgba[0, 0] == 0).all() and (rgba[0, 1, :3] == 0).all()
    recomposited = rgba[..., :3] * rgba[..., 3:] + (1 - rgba[..., 3:]) * torch.tensor(background)
    assert torch.allclose(recomposited, rgb, atol=MIN_ALPHA)


@pytest.fixture(scope="module")
def expected(demo_dir):
    """The demo avatar's RGBA frames [T, H, W, 4] in [0, 1] for the jaw take, as Avatar.render gives them."""
    avatar = load_avatar(demo_dir / "model.avatar")
    take = demo_dir / "alpha_take.csv"
    _write_livelink(take, JAW)
    frames = torch.stack([avatar.render(take, t, size=SIZE, alpha=True) for t in range(len(JAW))])
    plain = avatar.render(take, 0, size=SIZE)
    background = torch.tensor(avatar.background)
    composited = frames[0, ..., :3] * frames[0, ..., 3:] + (1 - frames[0, ..., 3:]) * background
    assert torch.allclose(composited, plain, atol=MIN_ALPHA)  # the RGBA frame is the render, uncomposited
    return take, frames.numpy()


def _render_alpha(demo_dir: Path, take: Path, out: Path) -> None:
    """`avatar render --alpha` of the demo avatar driven by take, at SIZE px, into out."""
    assert (
        main(
            [
                "render",
                str(demo_dir / "model.avatar"),
                "--expr",
                str(take),
                "--out",
                str(out),
                "--size",
                str(SIZE),
                "--alpha",
            ]
        )
        == 0
    )


def _decode_rgba(path, decoder: str | None = None) -> np.ndarray:
    """[T, H, W, 4] uint8: every frame of `path` as ffmpeg (PyAV) decodes it, with `decoder` if named."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if decoder is None:
            return np.stack([f.to_ndarray(format="rgba") for f in container.decode(stream)])
        context = av.CodecContext.create(decoder, "r")
        frames = [f for packet in container.demux(stream) for f in context.decode(packet)]  # the last packet flushes
        return np.stack([f.to_ndarray(format="rgba") for f in frames])


@pytest.mark.parametrize("suffix, decoder, tolerance", [(".mov", None, 2.0), (".webm", "libvpx-vp9", 6.0)])
def test_an_alpha_render_carries_the_avatars_coverage(demo_dir, expected, tmp_path, suffix, decoder, tolerance):
    """The alpha plane ffmpeg decodes is the avatar's coverage: 0 in the corners (no avatar), the
    render's alpha everywhere within the codec's loss (mean, in 8-bit steps), the colour too where
    the avatar covers the pixel."""
    take, frames = expected
    out = tmp_path / f"take{suffix}"
    _render_alpha(demo_dir, take, out)
    decoded = _decode_rgba(out, decoder).astype(np.float64)
    assert decoded.shape == (len(JAW), SIZE, SIZE, 4)
    want = frames * 255.0
    assert (decoded[:, :4, :4, 3] == 0).all() and decoded[:, SIZE // 2, SIZE // 2, 3].min() > 200
    assert np.abs(decoded[..., 3] - want[..., 3]).mean() < tolerance
    covered = want[..., 3] > 250
    assert np.abs(decoded[..., :3][covered] - want[..., :3][covered]).mean() < 2 * tolerance
    assert not list(tmp_path.glob("*.partial*"))


def test_alpha_needs_a_format_with_an_alpha_channel(demo_dir, expected, tmp_path, capsys):
    out = tmp_path / "take.mp4"
    assert (
        main(["render", str(demo_dir / "model.avatar"), "--expr", str(expected[0]), "--out", str(out), "--alpha"]) == 2
    )
    assert ".webm or .mov" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_chromium_plays_the_webm_with_its_transparency(demo_dir, expected, tmp_path):
    """Another reader than ffmpeg: Chromium's <video> (what OBS's browser source and web pages use)
    draws the .webm onto a canvas transparent where the avatar is not."""
    take, frames = expected
    out = tmp_path / "take.webm"
    _render_alpha(demo_dir, take, out)
    from avatar.web import headless

    with browser() as b, headless.served(tmp_path) as url:
        page = b.new_page()
        page.goto(url)
        pixels = page.evaluate(
            """async (src) => {
            const video = document.createElement('video');
            video.muted = true;
            video.src = src;
            await new Promise((ok, fail) => { video.onloadeddata = ok; video.onerror = () => fail(video.error); });
            // 'loadeddata' does not promise a drawable frame (a loaded machine's canvas came back blank):
            // draw inside the callback of a frame Chromium presented, and say which frame it was.
            const presented = new Promise((ok) => video.requestVideoFrameCallback((now, meta) => {
                video.pause();
                const canvas = document.createElement('canvas');
                canvas.width = video.videoWidth; canvas.height = video.videoHeight;
                const context = canvas.getContext('2d');
                context.drawImage(video, 0, 0);
                ok({ data: Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data),
                     time: meta.mediaTime });
            }));
            await video.play();
            return await presented;
        }""",
            f"{url}take.webm",
        )
    image = np.array(pixels["data"], dtype=np.float64).reshape(SIZE, SIZE, 4)
    import av

    with av.open(str(out)) as container:
        fps = float(container.streams.video[0].average_rate)
    shown = min(round(pixels["time"] * fps), len(JAW) - 1)  # the take's frame Chromium drew
    assert (image[:4, :4, 3] == 0).all() and image[SIZE // 2, SIZE // 2, 3] > 200
    assert np.abs(image[..., 3] - frames[shown, ..., 3] * 255).mean() < 6.0
