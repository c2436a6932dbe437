"""Where an avatar ends: the rig vertices that place the cut below its head.

A tracked video's masks keep the whole head with its hair and cut the rest (shoulders, clothes,
hair hanging past the jaw) along lines through projected rig vertices, so the cut moves with the
fitted head and is the same part of it in every frame (`capture.head_mask` picks the vertices,
`avatar.render.head_cut` draws the region). The avatar trained on them is rendered with the same
cut: what lies beyond it was never shown, and Gaussians there cannot follow a straight image-space
line through a new pose (what it gained: docs/results.md, "The cut below the head").
Between its two lines the cut keeps the rig's own pixels; `shoulders` names the triangles left out
of them, on a rig whose mesh runs on past its neck into the shoulders (ICT's), whose pixels would
otherwise keep the collar beside the neck.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class HeadCut:
    ring: tuple[int, ...]  # vertices around the neck: the matte is kept on the head's side of their line
    sides: tuple[int, int]  # the head's outermost points left and right at the bottom of the nose
    top: int  # the top of the skull: tells which side of each line is the head's
    neck_margin: float  # of the image size: how far beyond the rig's own pixels the neck may reach below the sides
    shoulders: tuple[int, ...] = ()  # triangles whose pixels the cut never keeps between its lines

    def coverage_faces(self, faces: Tensor) -> Tensor:
        """faces [F, 3] without the `shoulders` rows: the triangles whose pixels the cut keeps
        between its two lines (the rig's faces, on the device they are on)."""
        if not self.shoulders:
            return faces
        keep = torch.ones(faces.shape[0], dtype=torch.bool, device=faces.device)
        keep[torch.tensor(self.shoulders, dtype=torch.long, device=faces.device)] = False
        return faces[keep]

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: object, num_vertices: int, num_faces: int) -> "HeadCut":
        """The cut a capture or a model file records, checked against the rig's vertex and face
        counts; ValueError says what is wrong. Cuts recorded before `shoulders` existed have none."""
        required = {"ring", "sides", "top", "neck_margin"}
        if not isinstance(data, dict) or not required <= set(data) <= required | {"shoulders"}:
            raise ValueError("head_cut must be an object with ring, sides, top, neck_margin and optionally shoulders")
        ring, sides, top, margin = data["ring"], data["sides"], data["top"], data["neck_margin"]
        shoulders = data.get("shoulders", [])
        ids = [*ring, *sides, top] if isinstance(ring, list) and isinstance(sides, list) else None
        if ids is None or len(ring) < 3 or len(sides) != 2:
            raise ValueError("head_cut: ring must list 3 or more vertices and sides exactly 2")
        if not all(_index(i, num_vertices) for i in ids):
            raise ValueError(f"head_cut: vertex ids must be integers in 0..{num_vertices - 1}")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin <= 0.5:
            raise ValueError(f"head_cut: neck_margin {margin!r} is not a fraction of the image in [0, 0.5]")
        if not isinstance(shoulders, list) or not all(_index(i, num_faces) for i in shoulders):
            raise ValueError(f"head_cut: shoulders must list face ids, integers in 0..{num_faces - 1}")
        return cls(tuple(ring), (sides[0], sides[1]), top, float(margin), tuple(shoulders))


def _index(value: object, count: int) -> bool:
    """Whether value is an int id into `count` items (bools are not)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < count
