"""LPIPS in plain torch: the network's structure, the standard weight files' layout, the distance's
properties, and agreement with the published network when its weights are on this machine."""

import math

import pytest
import torch

from avatar.training.image_metrics import LpipsMetric
from avatar.training.lpips import ALEXNET_FILE, CHANNELS, HEADS_FILE, Lpips, find_weights, load_lpips


def _standard_files(folder, seed=0):
    """Weight files laid out exactly as torchvision's AlexNet and lpips' v0.1 heads (random values)."""
    g = torch.Generator().manual_seed(seed)
    shapes = {0: (64, 3, 11, 11), 3: (192, 64, 5, 5), 6: (384, 192, 3, 3), 8: (256, 384, 3, 3), 10: (256, 256, 3, 3)}
    alexnet = {}
    for layer, shape in shapes.items():
        alexnet[f"features.{layer}.weight"] = 0.05 * torch.randn(shape, generator=g)
        alexnet[f"features.{layer}.bias"] = 0.01 * torch.randn(shape[0], generator=g)
    alexnet["classifier.1.weight"] = torch.zeros(4, 9216)  # present in the real file, unused
    heads = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) for i, c in enumerate(CHANNELS)}
    torch.save(alexnet, folder / ALEXNET_FILE)
    torch.save(heads, folder / HEADS_FILE)
    return alexnet, heads


def test_features_have_alexnets_shapes():
    feats = Lpips().features(torch.zeros(1, 3, 224, 224))
    assert [tuple(f.shape[1:]) for f in feats] == [(64, 55, 55), (192, 27, 27), (384, 13, 13), (256, 13, 13),
                                                   (256, 13, 13)]


def test_standard_weight_files_load_and_give_a_distance(tmp_path, monkeypatch):
    alexnet, heads = _standard_files(tmp_path)
    monkeypatch.setenv("AVATAR_LPIPS_WEIGHTS", str(tmp_path))
    net = load_lpips()
    assert isinstance(net, Lpips)
    assert torch.equal(net.convs[3].weight, alexnet["features.8.weight"])
    assert torch.equal(net.heads[2].weight, heads["lin2.model.1.weight"])
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    a, b = a[None], b[None]
    with torch.no_grad():
        same, ab, ba = float(net(a, a)), float(net(a, b)), float(net(b, a))
        slightly = float(net(a, (a + 0.05 * torch.randn(a.shape, generator=g)).clamp(-1, 1)))
    assert same == 0.0 and ab > 0 and math.isclose(ab, ba, rel_tol=1e-5)
    assert 0 < slightly < ab  # a small change is nearer than another image
    metric = LpipsMetric()
    assert metric.reason is None and metric(torch.rand(32, 32, 3), torch.rand(32, 32, 3)) > 0


def test_missing_or_broken_weights_give_a_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("AVATAR_LPIPS_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    reason = find_weights()
    assert isinstance(reason, str) and ALEXNET_FILE in reason
    (tmp_path / ALEXNET_FILE).write_bytes(b"not a checkpoint")
    (tmp_path / HEADS_FILE).write_bytes(b"nor this")
    assert "unreadable" in load_lpips()
    metric = LpipsMetric()
    assert metric(torch.rand(8, 8, 3), torch.rand(8, 8, 3)) is None and metric.reason


def test_agrees_with_the_published_values_when_the_weights_are_here():
    net = load_lpips()
    if isinstance(net, str):
        pytest.skip(net)
    # Known property of the published network: a uniformly grey image against itself shifted by
    # one grey level is far closer than against a checkerboard.
    grey = torch.zeros(1, 3, 64, 64)
    checker = ((torch.arange(64)[:, None] // 8 + torch.arange(64)[None] // 8) % 2).float().expand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert float(net(grey, grey + 2 / 255)) < 0.01 < float(net(grey, checker))
