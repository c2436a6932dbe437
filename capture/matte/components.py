"""Keep only the parts of a person matte that are the person's head: the matte's connected pieces
that touch the fitted rig.

The selfie segmenter now and then calls a thing near the person "person" too: an object on a shelf
beside the head (far more often with its general model than with the landscape one that
`SelfieMatte` runs), a hand, a second face. Left in the mask, it is a
target the avatar must fit with Gaussians bound to the nearest triangles; they float beside the
head in every render and follow it as it turns. Pieces of the matte that do not touch the rig's own
pixels, nor come near a piece that does, are not the head: they go. A piece that touches it stays
whole (hair reaches far beyond the rig), with its soft edge, and so does one within NEAR_PX of it
(a lock of hair that the matte's threshold parts from the rest).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from avatar.splat.cut_region import ellipse_kernel

SOLID = 0.5  # the matte's pieces are where alpha reaches this
NEAR_PX_AT_256 = 8  # pixels of a 256-pixel crop: a piece this close to the head's is the head's
EDGE_PX_AT_256 = 4  # pixels of a 256-pixel crop: the soft edge around a piece (the guided filter's and the segmenter's fuzz)


def head_pieces(alpha: np.ndarray, rig_pixels: np.ndarray) -> np.ndarray:
    """alpha [H, W] in [0, 1] with every connected piece of (alpha >= SOLID) that neither touches
    rig_pixels [H, W] bool (the posed rig's coverage) nor comes within NEAR_PX of a piece that
    does set to 0, together with its soft edge."""
    pieces, count = ndimage.label(alpha >= SOLID, structure=np.ones((3, 3), bool))  # 8-connected
    if count == 0:
        return alpha
    scale = max(alpha.shape) / 256
    touching = np.isin(pieces, np.unique(pieces[rig_pixels & (pieces > 0)]))
    near = ndimage.binary_dilation(touching, structure=ellipse_kernel(max(1, round(NEAR_PX_AT_256 * scale))))
    kept = np.isin(pieces, np.unique(pieces[near & (pieces > 0)]))
    if kept.sum() == (pieces > 0).sum():
        return alpha  # nothing to drop
    # The soft edge belongs to the nearest piece: grow the kept pieces by the edge's width and
    # clear what the dropped pieces (grown the same) cover beyond them.
    grow = np.ones((2 * max(1, round(EDGE_PX_AT_256 * scale)) + 1,) * 2, bool)
    dropped = ndimage.binary_dilation((pieces > 0) & ~kept, structure=grow)
    kept_zone = ndimage.binary_dilation(kept, structure=grow)
    return np.where(dropped & ~kept_zone, 0.0, alpha).astype(alpha.dtype)

