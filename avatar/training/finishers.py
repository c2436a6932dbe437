"""What other packages add to a trained avatar before it is written, found through the entry
points group "avatar.train_finishers" (capture's live map: `capture.live_map_fit.attach_live_map`),
so that avatar never imports them. Each entry point is a function capture -> Finisher."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from avatar.data.capture import Capture
from avatar.model import Avatar

GROUP = "avatar.train_finishers"

# Completes a trained avatar in place (it was trained on the capture's own tracking).
Finisher = Callable[[Avatar], None]


def registered_finishers(capture: Capture) -> Finisher:
    """One function that runs every registered finisher for `capture` on an avatar, by name order."""
    steps = [entry.load()(capture) for entry in sorted(entry_points(group=GROUP), key=lambda e: e.name)]

    def finish(avatar: Avatar) -> None:
        for step in steps:
            step(avatar)
    return finish
