"""Where an avatar ends: the rig vertices that place the cut below its head.

A tracked video's masks keep the whole head with its hair and cut the rest (shoulders, clothes,
hair hanging past the jaw) along lines through projected rig vertices, so the cut moves with the
fitted head and is the same part of it in every frame (`capture.head_mask` picks the vertices,
`avatar.render.head_cut` draws the region). The avatar trained on them is rendered with the same
cut: what lies beyond it was never shown, and Gaussians there cannot follow a straight image-space
line through a new pose (what it gained: docs/results.md, "The cut below the head").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class HeadCut:
    ring: tuple[int, ...]  # vertices around the neck: the matte is kept on the head's side of their line
    sides: tuple[int, int]  # the head's outermost points left and right at the bottom of the nose
    top: int  # the top of the skull: tells which side of each line is the head's
    neck_margin: float  # of the image size: how far beyond the rig's own pixels the neck may reach below the sides

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: object, num_vertices: int) -> "HeadCut":
        """The cut a capture or a model file records, checked against the rig's vertex count;
        ValueError says what is wrong."""
        if not isinstance(data, dict) or set(data) != {"ring", "sides", "top", "neck_margin"}:
            raise ValueError("head_cut must be an object with ring, sides, top and neck_margin")
        ring, sides, top, margin = data["ring"], data["sides"], data["top"], data["neck_margin"]
        ids = [*ring, *sides, top] if isinstance(ring, list) and isinstance(sides, list) else None
        if ids is None or len(ring) < 3 or len(sides) != 2:
            raise ValueError("head_cut: ring must list 3 or more vertices and sides exactly 2")
        if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < num_vertices for i in ids):
            raise ValueError(f"head_cut: vertex ids must be integers in 0..{num_vertices - 1}")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin <= 0.5:
            raise ValueError(f"head_cut: neck_margin {margin!r} is not a fraction of the image in [0, 0.5]")
        return cls(tuple(ring), (sides[0], sides[1]), top, float(margin))
