"""avatar.training.frame_memory: training keeps the decoded frames that fit its budget
(`frame_memory_gb`) and decodes the others when a step draws them, with the same values, so a
long clip trains in bounded memory."""

import pytest
import torch

from avatar.data.capture import load_capture
from avatar.data.synthetic import make_synthetic_capture
from avatar.rig.loaders import load_rig
from avatar.training.config import load_config
from avatar.training.frame_memory import FrameMemory, KeptOrMade, tensor_bytes
from avatar.training.trainer import Trainer


def test_kept_until_the_budget_then_made_on_each_access():
    made = []

    def make(frame: int) -> torch.Tensor:
        made.append(frame)
        return torch.full((10,), frame, dtype=torch.uint8)  # 10 bytes

    store = KeptOrMade([3, 1, 4, 5, 9], make, tensor_bytes, FrameMemory(35), "frames")
    assert list(store.kept) == [3, 1, 4] and store.made_on_demand == 2
    made.clear()
    assert int(store[4][0]) == 4 and made == []  # kept
    assert int(store[9][0]) == 9 and int(store[9][0]) == 9 and made == [9]  # made once for reads in a row
    assert int(store[5][0]) == 5 and int(store[9][0]) == 9 and made == [9, 5, 9]  # and again later


def test_first_come_first_kept():
    memory = FrameMemory(15)
    assert memory.take(10) and not memory.take(10) and not memory.take(1)  # a smaller one does not slip in


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    root = tmp_path_factory.mktemp("frame_memory") / "cap"
    make_synthetic_capture(load_rig("builtin"), root, num_train=5, num_test=1, size=40, progress=False)
    return load_capture(root)


def _trainer(capture, tmp_path, gb: float) -> Trainer:
    cfg = load_config(
        "fast", iterations=4, eval_every=0, checkpoint_every=0, backend="torch", mirror_fraction=1.0, frame_memory_gb=gb
    )
    return Trainer(
        capture, load_rig("builtin"), cfg, tmp_path / f"{gb}.avatar", False, None, False, torch.device("cpu")
    )


def test_a_trainer_over_its_budget_trains_on_the_same_frames(capture, tmp_path):
    unlimited = _trainer(capture, tmp_path, 1.0)
    frames = capture.splits["train"]
    one_frame = tensor_bytes(*unlimited.targets.frames.kept[frames[0]])
    bounded = _trainer(capture, tmp_path, 2.5 * one_frame / 1e9)  # two targets fit, nothing mirrored
    assert len(unlimited.targets.frames.kept) == len(frames) and unlimited.mirrored.frames.made_on_demand == 0
    assert len(bounded.targets.frames.kept) == 2 and bounded.targets.frames.made_on_demand == len(frames) - 2
    assert bounded.mirrored.frames.kept == {}
    for f in frames:
        assert torch.equal(bounded.targets[f], unlimited.targets[f])
        assert torch.equal(bounded.targets.mask(f), unlimited.targets.mask(f))
        a, b = bounded.mirrored[f], unlimited.mirrored[f]
        assert torch.equal(a.image(), b.image()) and torch.equal(a.weights, b.weights)
        assert torch.equal(a.drivers, b.drivers) and torch.equal(a.camera.K, b.camera.K)
    assert float(bounded.mirrored_loss(frames[-1]).detach()) == pytest.approx(
        float(unlimited.mirrored_loss(frames[-1]).detach())
    )
