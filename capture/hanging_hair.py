"""Hair that hangs below the line through the head's sides: kept in a tracked video's masks.

Between the cut's two lines (`avatar.render.head_cut`: the neck line, and the line through the
sides of the head at the bottom of the nose) a mask keeps only the rig's own pixels, so that the
collar and the shoulders beside the neck go. Long hair hangs there too, and cut with them it ended
on that straight line in every mask and every render (talking_woman_512: a bob at nose height).

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

Whether a video keeps them at all is decided once for the video (`hair_hangs`): hair that hangs
below the line does so in most frames, while what a short-haired head's frames show there comes
and goes with the pose: talking_man_glasses_512 looks up and turns in some held-out frames until
his ear, outside the rig's pixels, meets his shirt, and the shirt then hangs from it as one piece
(kept, his targets gained a shirt the training frames never showed, and his avatar's held-out PSNR
fell from 25.9 to 21.7 dB). A video whose hair does not hang keeps the cut at the upper line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from avatar.render.head_cut import CutParts, ellipse_kernel

SOLID = 0.5  # the matte is the person where alpha reaches this
EDGE_PX_AT_256 = 2  # pixels of a 256-pixel crop: the soft edge kept around a piece (the guided filter's fuzz)
HANGING_FRACTION = 0.01  # of the frame: a video's hair hangs when its frames mostly keep this much below the line


def hanging_hair(matte: np.ndarray, parts: CutParts) -> np.ndarray:
    """[H, W] bool: the pixels between the cut's lines that hang from the matte above them.
    matte [H, W] in [0, 1]: the person's alpha before the cut; parts: the frame's cut."""
    solid = matte >= SOLID
    band = parts.band
    loose = band & solid & ~parts.neck  # [H, W]: what the rig's pixels do not already keep
    pieces, count = ndimage.label(loose, structure=np.ones((3, 3), bool))  # 8-connected
    if count == 0:
        return loose
    above = parts.above_ring & parts.above_sides & solid  # [H, W]: the head's matte above the upper line
    under_above = np.zeros_like(above)
    under_above[1:] = above[:-1]  # the pixel right above is the head's matte
    hanging = np.unique(pieces[under_above & loose])
    kept = np.isin(pieces, hanging[hanging > 0])
    if not kept.any():
        return kept
    edge = max(1, round(EDGE_PX_AT_256 * max(matte.shape) / 256))
    return ndimage.binary_dilation(kept, structure=ellipse_kernel(edge)) & band


def hair_hangs(fractions: Sequence[float] | np.ndarray) -> bool:
    """Whether a video's hair hangs below the line through the head's sides: in at least half of
    its frames what `hanging_hair` keeps covers HANGING_FRACTION of the frame or more (fractions:
    one a frame; talking_woman_512: 9% in the median frame, the other shared clips 0 to 0.4%)."""
    return len(fractions) > 0 and float(np.median(np.asarray(fractions, dtype=np.float64))) >= HANGING_FRACTION
