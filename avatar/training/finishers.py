"""What other packages add to a trained avatar before it is written, found through the entry
points group "avatar.train_finishers" (capture's live map: `capture.live_map.attach_live_map`),
so that avatar never imports them. Each entry point is a function capture -> (avatar -> None)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from avatar.data.capture import Capture
from avatar.model import Avatar

GROUP = "avatar.train_finishers"


def registered_finishers(capture: Capture) -> Callable[[Avatar], None]:
    """One function that runs every registered finisher for `capture` on an avatar, by name order."""
    steps = [entry.load()(capture) for entry in sorted(entry_points(group=GROUP), key=lambda e: e.name)]

    def finish(avatar: Avatar) -> None:
        for step in steps:
            step(avatar)
    return finish
