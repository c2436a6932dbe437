"""capture.fit.frame_sampling: the photometric refinement's frames sampled from 8- and 16-bit
storage give F.grid_sample's values and gradients on float32 frames, and the blur is the float32
blur rounded to float16."""

import math

import pytest
import torch
import torch.nn.functional as F

from capture.fit import frame_sampling
from capture.fit.frame_sampling import blurred_frames, sample_frames, widened

FRAMES = 70  # for the blur: more than two chunks, the last one short


@pytest.fixture
def frames() -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    return torch.randint(0, 256, (FRAMES, 3, 24, 20), generator=gen, dtype=torch.uint8)  # [T, 3, H, W]


def _grid(seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(FRAMES, 50, 1, 2, generator=gen, dtype=torch.float64) * 2.4 - 1.2).float()  # [T, N, 1, 2]


@pytest.mark.parametrize("padding_mode", ["border", "zeros"])
def test_sampling_uint8_frames_matches_grid_sample_and_its_gradient(frames, padding_mode):
    weights = torch.randn(FRAMES, 3, 50, 1, generator=torch.Generator().manual_seed(4))
    grid = _grid(1).requires_grad_(True)
    ours = sample_frames(frames, grid, padding_mode)
    (ours * weights).sum().backward()
    ours_grad = grid.grad.clone()

    grid.grad = None
    theirs = F.grid_sample(frames.float() / 255, grid, align_corners=False, padding_mode=padding_mode)
    (theirs * weights).sum().backward()
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-6)
    assert torch.allclose(ours_grad, grid.grad, rtol=0, atol=1e-4)
    assert ours_grad.abs().sum() > 0


def test_sampling_channels_last_view_of_decoded_frames(frames):
    """The tracker hands over its [T, H, W, 3] crops; the refinement samples a permuted view."""
    stored = frames.permute(0, 2, 3, 1).contiguous()  # [T, H, W, 3], as decoded
    grid = _grid(2)
    assert torch.allclose(
        sample_frames(stored.permute(0, 3, 1, 2), grid),
        F.grid_sample(frames.float() / 255, grid, align_corners=False),
        rtol=0,
        atol=1e-6,
    )


def test_sampling_float16_frames():
    frames = torch.rand(3, 2, 9, 7).half()
    grid = torch.rand(3, 11, 1, 2) * 2 - 1
    assert torch.allclose(
        sample_frames(frames, grid, "border"),
        F.grid_sample(frames.float(), grid, align_corners=False, padding_mode="border"),
        atol=1e-6,
    )


def test_blur_is_the_float_blur_in_float16(frames):
    assert FRAMES > 2 * frame_sampling.CHUNK
    sigma = 1.5
    out = blurred_frames(frames, sigma)
    assert out.dtype == torch.float16 and out.shape == frames.shape
    radius = math.ceil(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-x * x / (2 * sigma * sigma))
    g = g / g.sum()
    kernel = (g[:, None] * g[None, :]).expand(3, 1, -1, -1)  # the separable blur as one 2-D kernel
    padded = F.pad(widened(frames), (radius,) * 4, mode="replicate")
    reference = F.conv2d(padded, kernel, groups=3)
    assert (out.float() - reference).abs().max() < 5e-4  # float16's rounding in [0, 1]
    assert torch.equal(blurred_frames(frames, 0.0), frames)
