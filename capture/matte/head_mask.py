"""Restrict the person matte to what the avatar models: the whole head with its hair, and the
neck down to a cut that follows the fitted rig, not the torso.

The rig ends at the neck, so shoulders and clothes move with nothing the avatar can bind to; left
in the targets, they are smeared over whichever neck Gaussians are nearest. The cut is a ring of
the rig's neck a fixed distance below its chin (`neck_ring`), posed with each frame's fitted
parameters and projected: the matte is kept on the head's side of the straight line along the
ring's projection through its vertex nearest the camera (the neck's front, where the ring's
plane meets what the camera sees of the neck). Between that line and a second one, through the
sides of the head at the height of the bottom of the nose (`head_sides`), only the rig itself is
kept (its jaw, chin and neck: its own coverage, grown by a small margin): collars and shoulders
beside the neck go.
On a rig whose mesh runs on past the neck into the shoulders (ICT's: 11 cm wide at its narrowest,
16 cm at the ring, 24 cm 3 cm lower), the rig's own pixels between the lines would keep the
shoulders' slope and with it the collar; the triangles there (`shoulder_faces`) are left out of
the rig's pixels. The ring stays where it is: raised above the slope, its line climbs over the chin
of a head bent forward.
Above the second line nothing is clipped, so hair, ears and glasses keep their full outline.
It runs at nose height, not at the chin, because a head bent forward brings the chin down to the
collar, and the shoulders beside it then rise above a chin line (a band of shirt kept). It runs
through the sides of the head, not through the nose, because the hair it cuts hangs there: the
nose sits far in front of the neck's pivot, so nodding moves a line through it up and down the
hair, and the same strands would be kept in some frames and cut in others (docs/tracking.md,
"Matte and the cut below the head").
Hair that hangs beside the jaw, below the line and beyond the margin, is cut, unless the video's
hair hangs there in most frames (`capture.matte.hanging_hair`: then the masks keep it, and the cut says
so). Both lines move only as the fitted head and neck move, so the cut is the same part of the
head in every frame.
Which side of a line is the head's is decided by the top of the skull (`skull_top`), never by a
point of the face: on a head bent forward the sides project up to the eyes' height, and a point
between the eyes can then lie on the line (within a pixel), so a small change of pose would keep
the shirt and cut the hair instead.
The vertices chosen here make a `HeadCut`, which the capture records: its region
(`avatar.splat.cut_region`) cuts the masks here and every render of the avatar trained on them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.rig import HeadRig
from avatar.rig.cut_vertices import HeadCut
from avatar.runtime.errors import InputError

NECK_DROP = 0.04  # metres below the chin (rig space, neutral) where the cut runs
RING_BAND = 0.004  # half-height of the band of neck vertices that make the ring
NECK_MARGIN = 0.02  # of the image size: how far the matte may reach beyond the rig's neck
SIDE_BAND = 0.005  # metres: half-height of the band of vertices searched for the head's sides
NECK_FLARE = 1.1  # below the neck's narrowest height, beyond this times its half-width from its middle: shoulders
NECK_STEP = 0.002  # metres between the heights at which the neck's width is measured


def neck_ring(rig: HeadRig, chin: Tensor) -> Tensor:
    """Vertex ids [R] around the neck NECK_DROP below the chin [3] (rest pose, rig space), or just
    above the rig's lowest point, for a rig with a shorter neck."""
    rest = rig.v_template
    cut_y = max(float(chin[1]) - NECK_DROP, float(rest[:, 1].min()) + 2 * RING_BAND)
    near = (rest[:, 1] - cut_y).abs() < RING_BAND
    ring = torch.nonzero(near & (rest[:, 2] < chin[2])).flatten()  # the neck, not the chin's front
    if len(ring) < 3:
        raise InputError(f"rig '{rig.name}' has no neck {NECK_DROP} m below its chin to cut the matte at")
    return ring


def head_sides(rig: HeadRig, height: float) -> Tensor:
    """Vertex ids [2] of the rig's outermost points to the subject's left and right at `height`
    (rest pose, rig space, metres): the depth at which hair hangs beside the face."""
    rest = rig.v_template
    band = torch.nonzero((rest[:, 1] - height).abs() < SIDE_BAND).flatten()
    if len(band) < 2:
        raise InputError(f"rig '{rig.name}' has no vertices at height {height:.3f} m to place the mask's cut")
    return torch.stack([band[rest[band, 0].argmax()], band[rest[band, 0].argmin()]])


def skull_top(rig: HeadRig) -> int:
    """Vertex id of the rig's highest point (rest pose): far on the head's side of both cuts in
    any pose a tracker follows."""
    return int(rig.v_template[:, 1].argmax())


def shoulder_faces(rig: HeadRig, chin: Tensor, ring: Tensor) -> Tensor:
    """Face ids [S] of the rig's shoulders (rest pose): triangles whose corners all lie below the
    neck's narrowest height between the chin [3] and the ring [R] (vertex ids), and farther from
    its middle, sideways, than NECK_FLARE times its half-width there. Above that height the jaw is
    as wide; a rig that ends in a neck has none."""
    rest = rig.v_template
    behind = rest[rest[:, 2] < chin[2]]  # [B, 3]: the neck, not the chin's front
    bottom = float(rest[ring, 1].mean())
    narrowest, middle, waist = float("inf"), 0.0, bottom
    for y in torch.arange(float(chin[1]) - RING_BAND, bottom, -NECK_STEP).tolist():
        xs = behind[(behind[:, 1] - y).abs() < RING_BAND, 0]
        if len(xs) >= 3 and float(xs.max() - xs.min()) < narrowest:
            narrowest, middle, waist = float(xs.max() - xs.min()), float(xs.max() + xs.min()) / 2, y
    if narrowest == float("inf"):
        return torch.zeros(0, dtype=torch.long)
    outside = (rest[:, 1] < waist) & ((rest[:, 0] - middle).abs() > NECK_FLARE * narrowest / 2)  # [V]
    return torch.nonzero(outside[rig.faces].all(1)).flatten()


def place_cut(rig: HeadRig, chin: Tensor, nose_height: float) -> HeadCut:
    """The cut below the head of `rig` (chin [3]: rest pose, rig space; nose_height: the bottom
    of the nose, metres)."""
    ring = neck_ring(rig, chin)
    return HeadCut(tuple(ring.tolist()), tuple(head_sides(rig, nose_height).tolist()), skull_top(rig), NECK_MARGIN,
                   tuple(shoulder_faces(rig, chin, ring).tolist()))
