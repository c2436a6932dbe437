"""cuda_ext's one-pass image ops of the CPU inference path against the torch expressions they replace."""

import pytest
import torch

import cuda_ext
from avatar.render.head_cut import clip_to_region
from avatar.render.output import RenderOutput


@pytest.fixture(scope="module", autouse=True)
def extension():
    try:
        cuda_ext.load("cpu")
    except cuda_ext.ExtensionUnavailable as e:
        pytest.skip(f"the cuda_ext cpu module cannot be built/loaded: {e}")


@pytest.mark.parametrize("simd", ["auto", "sse2"])
def test_rgb_to_uint8_rounds_and_clamps_as_torch(simd, monkeypatch):
    from cuda_ext.image import rgb_to_uint8

    monkeypatch.setenv("AVATAR_EXT_SIMD", simd)
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(37, 53, 3, generator=g) * 1.4 - 0.2
    rgb[0, 0] = torch.tensor([0.5 / 255, 1.5 / 255, 2.5 / 255])  # halves: to even, as torch.round
    rgb[1, 1] = torch.tensor([float("nan"), float("inf"), -float("inf")])
    assert torch.equal(rgb_to_uint8(rgb), rgb.clamp(0, 1).mul(255).round().to(torch.uint8))


def test_clip_in_place_is_clip_to_region():
    from cuda_ext.image import clip_to_region_

    g = torch.Generator().manual_seed(1)
    rgb, alpha, depth = (torch.rand(40, 30, c, generator=g) for c in (3, 1, 1))
    region = (torch.rand(40, 30, 1, generator=g) > 0.3).float()
    region[0, :5, 0] = 0.25  # a partial coverage, as the gl window blends it
    background = torch.tensor([0.9, 0.2, 0.4])
    want = clip_to_region(RenderOutput(rgb, alpha, depth, None, None), region, background)
    clip_to_region_(rgb, alpha, depth, region, background)
    assert torch.equal(rgb, want.rgb) and torch.equal(alpha, want.alpha) and torch.equal(depth, want.depth)
    with pytest.raises(ValueError, match="region has shape"):
        clip_to_region_(rgb, alpha, depth, region[:, :5], background)
