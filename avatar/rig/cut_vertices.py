"""Where an avatar ends: the rig vertices that place the cut below its head.

A tracked video's masks keep the whole head with its hair and cut the rest (shoulders, clothes)
along lines through projected rig vertices, so the cut moves with the fitted head and is the same
part of it in every frame (`capture.matte.head_mask` picks the vertices, `avatar.splat.cut_region` draws
the region). The avatar trained on them is rendered with the same cut: what lies beyond it was
never shown, and Gaussians there cannot follow a straight image-space line through a new pose
(what it gained: docs/results.md, "The cut below the head").
Between its two lines the cut keeps the rig's own pixels; `shoulders` names the triangles left out
of them, on a rig whose mesh runs on past its neck into the shoulders (ICT's), whose pixels would
otherwise keep the collar beside the neck.
A cut with `hanging_hair` also keeps, in a tracked video's masks, the hair that hangs down between
the two lines (`capture.matte.hanging_hair`), and cuts a render at the neck line alone: the avatar's hair
then ends where its own Gaussians do, as the video's hair ends where its matte does, instead of on
the straight line through the head's sides. Cuts recorded before it existed have it off.
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
    hanging_hair: bool = False  # masks keep hair hanging between the lines; renders are cut at the neck line alone

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
        counts; ValueError says what is wrong. Cuts recorded before `shoulders` or `hanging_hair`
        existed have no shoulders and the hair cut at the line through the head's sides."""
        required = {"ring", "sides", "top", "neck_margin"}
        if not isinstance(data, dict) or not required <= set(data) <= required | {"shoulders", "hanging_hair"}:
            raise ValueError("head_cut must be an object with ring, sides, top, neck_margin and optionally "
                             "shoulders and hanging_hair")
        ring, sides, top, margin = data["ring"], data["sides"], data["top"], data["neck_margin"]
        shoulders, hanging_hair = data.get("shoulders", []), data.get("hanging_hair", False)
        ids = [*ring, *sides, top] if isinstance(ring, list) and isinstance(sides, list) else None
        if ids is None or len(ring) < 3 or len(sides) != 2:
            raise ValueError("head_cut: ring must list 3 or more vertices and sides exactly 2")
        if not all(_index(i, num_vertices) for i in ids):
            raise ValueError(f"head_cut: vertex ids must be integers in 0..{num_vertices - 1}")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin <= 0.5:
            raise ValueError(f"head_cut: neck_margin {margin!r} is not a fraction of the image in [0, 0.5]")
        if not isinstance(shoulders, list) or not all(_index(i, num_faces) for i in shoulders):
            raise ValueError(f"head_cut: shoulders must list face ids, integers in 0..{num_faces - 1}")
        if not isinstance(hanging_hair, bool):
            raise ValueError(f"head_cut: hanging_hair {hanging_hair!r} is not true or false")
        return cls(tuple(ring), (sides[0], sides[1]), top, float(margin), tuple(shoulders), hanging_hair)


def _index(value: object, count: int) -> bool:
    """Whether value is an int id into `count` items (bools are not)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < count
