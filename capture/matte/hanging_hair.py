"""Hair that hangs below the line through the head's sides: kept in a tracked video's masks.

Between the cut's two lines (`avatar.splat.cut_region`: the neck line, and the line through the
sides of the head at the bottom of the nose) a mask keeps only the rig's own pixels, so that the
collar and the shoulders beside the neck go. Long hair hangs there too, and cut with them it would
end on that straight line in every mask and every render: a bob at nose height.

Hair hangs from above; a collar or a shoulder rises from below. The matte between the lines,
outside the rig's own pixels (grown by the neck margin), falls into connected pieces; a piece
with a pixel right under the matte on the head's side of the upper line hangs from it, and is
kept whole, down to where the matte ends or to the neck line. A piece that meets the head only
through the rig's pixels (a collar under the jaw) or not at all (shoulders beside a short-haired
head, where there is background or the rig's own ear at nose height) goes. Whole pieces rather
than columns below the line: under the cheek, where the rig's pixels reach the line, hair fills
the space beside the narrower jaw without hanging straight from above it, and runs per column
cut it out in vertical strips. What a piece cannot tell apart is a collar that touches hanging
hair: long hair lying on a shirt keeps the shirt down to the neck line.
The kept pieces are grown by the matte's soft edge, so hair keeps the fuzz it has elsewhere.
In a video whose hair hangs, a piece that overlaps what the frame before or after kept is the
same hair and is kept too (`carried_over`): where the rig's ear reaches past the line's end of the
matte (a tilted head), hair hanging on beside the jaw meets the head only through the rig's pixels
for runs of frames, and those frames' masks lost it while the avatar, trained on the others, draws it.

Whether a video keeps them at all is decided once for the video (`hair_hangs`): hair that hangs
below the line does so in most frames, while what a short-haired head's frames show there comes
and goes with the pose: a head that looks up and turns can bring its ear, outside the rig's
pixels, onto the shirt, which then hangs from it as one piece (kept, the targets of those frames
gain a shirt the training frames never showed, and the held-out score drops: docs/results.md,
"Hair that hangs below the head's sides"). A video whose hair does not hang keeps the cut at the
upper line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

from avatar.splat.cut_region import CutParts, ellipse_kernel

SOLID = 0.5  # the matte is the person where alpha reaches this
EDGE_PX_AT_256 = 2  # pixels of a 256-pixel crop: the soft edge kept around a piece (the guided filter's fuzz)
HANGING_FRACTION = 0.01  # of the frame: a video's hair hangs when its frames mostly keep this much below the line


def hanging_hair(matte: np.ndarray, parts: CutParts, kept_nearby: np.ndarray | None = None) -> np.ndarray:
    """[H, W] bool: the pixels between the cut's lines that hang from the matte above them.
    matte [H, W] in [0, 1]: the person's alpha before the cut; parts: the frame's cut;
    kept_nearby [H, W] bool or None: what the neighbouring frame of the same video kept
    (`carried_over`): a piece that overlaps it is kept too."""
    solid = matte >= SOLID
    band = parts.band
    loose = loose_matte(matte, parts)
    pieces, count = ndimage.label(loose, structure=np.ones((3, 3), bool))  # 8-connected
    if count == 0:
        return loose
    above = parts.above_ring & parts.above_sides & solid  # [H, W]: the head's matte above the upper line
    under_above = np.zeros_like(above)
    under_above[1:] = above[:-1]  # the pixel right above is the head's matte
    joined = under_above if kept_nearby is None else under_above | kept_nearby
    hanging = np.unique(pieces[joined & loose])
    kept = np.isin(pieces, hanging[hanging > 0])
    if not kept.any():
        return kept
    edge = max(1, round(EDGE_PX_AT_256 * max(matte.shape) / 256))
    return ndimage.binary_dilation(kept, structure=ellipse_kernel(edge)) & band


def loose_matte(matte: np.ndarray, parts: CutParts) -> np.ndarray:
    """[H, W] bool: the matte between the cut's lines that the rig's pixels do not already keep,
    where hanging pieces are looked for."""
    return parts.band & (matte >= SOLID) & ~parts.neck


def hair_hangs(fractions: Sequence[float] | np.ndarray) -> bool:
    """Whether a video's hair hangs below the line through the head's sides: in at least half of
    its frames what `hanging_hair` keeps covers HANGING_FRACTION of the frame or more (fractions:
    one a frame, the kept pixels' share of the frame in [0, 1]; what long and short hair give:
    docs/tracking.md, "Matte and the cut below the head")."""
    return len(fractions) > 0 and float(np.median(np.asarray(fractions, dtype=np.float64))) >= HANGING_FRACTION


def carried_over(hanging: np.ndarray, left: np.ndarray, follows: np.ndarray,
                 keep_again: Callable[[int, np.ndarray], np.ndarray]) -> np.ndarray:
    """Each frame's hanging hair [T, H, W] bool with the pieces that overlap what the frame before
    or after it kept: hair hangs on from frame to frame where it meets the head only through the
    rig's pixels for a while (a head looking up or turning, whose rig ear then reaches under the
    line beside the hair that hangs below it).
    left [T, H, W] bool: each frame's `loose_matte` that `hanging_hair` did not keep; follows [T]
    bool: frame t directly follows frame t - 1 of the same video; keep_again(t, kept_nearby):
    `hanging_hair` of frame t given what its neighbour kept, asked only where a piece left over
    meets the neighbour's. Forward, then backward; `hanging` and `left` are updated in place (a
    long video's [T, H, W] arrays are large) and `hanging` is returned."""
    order = [(t, t - 1) for t in range(1, len(hanging)) if follows[t]]
    order += [(t, t + 1) for t in range(len(hanging) - 2, -1, -1) if follows[t + 1]]
    for t, neighbour in order:
        if (left[t] & hanging[neighbour]).any():
            hanging[t] = keep_again(t, hanging[neighbour])
            left[t] &= ~hanging[t]
    return hanging
