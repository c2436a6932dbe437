"""Per-frame training data kept in memory up to a budget, made again each time beyond it.

A training step draws a frame at random and needs its target, mask and cut region (and, when it
also trains mirrored, the mirrored frame's): 1.3 MB a frame at 512 px, plus 0.6 MB mirrored.
Decoded once and kept, a short clip's frames cost a few hundred megabytes; a 3-minute clip's
would be 9 GB. `FrameMemory` shares one budget (`TrainConfig.frame_memory_gb`) between the kinds
of per-frame data; `KeptOrMade` keeps the frames that fit it, in the order given, and makes the
others again whenever a step asks for them (decoding a frame is milliseconds; a CPU step is
hundreds). The values are the same either way.
"""

from __future__ import annotations

import logging
from typing import Callable, Generic, Hashable, TypeVar

import torch
from tqdm import tqdm

log = logging.getLogger("avatar")
Value = TypeVar("Value")


def tensor_bytes(*values) -> int:
    """Bytes held by the tensors among `values` (None and other values count 0)."""
    return sum(v.element_size() * v.nelement() for v in values if isinstance(v, torch.Tensor))


class FrameMemory:
    """The bytes the kept frames may still take."""

    def __init__(self, budget_bytes: float):
        self.left = budget_bytes

    def take(self, size: int) -> bool:
        """True, and `size` bytes fewer left, when they fit."""
        if size > self.left:
            self.left = 0  # first come, first kept: later (smaller) values do not slip in
            return False
        self.left -= size
        return True


class KeptOrMade(Generic[Value]):
    """make(frame) for each of `frames`: kept where `memory` allows, made again on each access
    beyond it (the last one made is remembered, for the several reads of one step)."""

    def __init__(
        self,
        frames: list[Hashable],
        make: Callable[[Hashable], Value],
        size: Callable[[Value], int],
        memory: FrameMemory,
        what: str,
    ):
        self.make = make
        self.kept: dict[Hashable, Value] = {}
        self.last: tuple[Hashable, Value] | None = None
        for frame in tqdm(frames, desc=what, leave=False, disable=None):
            value = make(frame)
            if not memory.take(size(value)):
                break
            self.kept[frame] = value
        self.made_on_demand = len(frames) - len(self.kept)
        if self.made_on_demand:
            log.info(
                "%s: %d of %d frames kept in memory (the budget is the config's frame_memory_gb); "
                "the others are made again when a step draws them",
                what,
                len(self.kept),
                len(frames),
            )

    def __getitem__(self, frame: Hashable) -> Value:
        value = self.kept.get(frame)
        if value is not None:
            return value
        if self.last is None or self.last[0] != frame:
            self.last = (frame, self.make(frame))
        return self.last[1]
