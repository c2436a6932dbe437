"""cuda_ext's one-pass image op of the CPU inference path against the torch expression it replaces."""

import pytest
import torch



pytestmark = pytest.mark.usefixtures("cpu_extension")


@pytest.mark.parametrize("simd", ["auto", "sse2"])
def test_rgb_to_uint8_rounds_and_clamps_as_torch(simd, monkeypatch):
    from cuda_ext.image import rgb_to_uint8

    monkeypatch.setenv("AVATAR_EXT_SIMD", simd)
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(37, 53, 3, generator=g) * 1.4 - 0.2
    rgb[0, 0] = torch.tensor([0.5 / 255, 1.5 / 255, 2.5 / 255])  # halves: to even, as torch.round
    rgb[1, 1] = torch.tensor([float("nan"), float("inf"), -float("inf")])
    assert torch.equal(rgb_to_uint8(rgb), rgb.clamp(0, 1).mul(255).round().to(torch.uint8))
