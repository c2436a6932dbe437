"""The hair's shell for training: how far the person reaches past the rig's skull, at every rig vertex.

`head_outline` grows the rig's skull by a hair thickness that varies smoothly over the head
(spherical harmonics of the direction from the skull's centre) until its outline meets the
person's matte. Training starts the scalp's Gaussians on that shell instead of on the bare skull
(`avatar.training.hair_lift`): where the training frames showed the hair's outline, they start
where it was; where none did (the back of the head of a clip that never turns that far), the
smooth thickness carries the hair on over the head, so a view turned past the clip's turns finds
hair there rather than the skull's outline. The fit weighs the shell's mean squared thickness too
(THINNESS), so what no outline shows thins towards the skull instead of keeping the thickest
outline's: with 1.0, each single camera's shell of the shared three-camera clip comes closest to
the one fitted to all three (docs/novel_views.md).

Fitted on the training frames alone (a held-out frame's outline must not shape the avatar),
with the poses held as tracked and the rays' origin and eye line taken from the rig's own iBUG
landmarks: every capture has tracked parameters and masks, not all have the detector's
landmarks (an imported one). Registered with training through the `avatar.hair_shell` entry
point (pyproject.toml).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from avatar.data.capture import Capture
from avatar.data.splits import spread
from avatar.rig import HeadRig
from avatar.rig.face_region import nose_bottom_height
from capture.head_outline import MatteOutline, OutlineTerm, outline_along_rays
from capture.ibug68 import OUTER_EYE_CORNERS

MAX_FRAMES = 200  # frames fitted on, evenly spread over the training frames (60 Adam steps over all of them)
TAPER = 0.02  # metres below the shell's start (the bottom of the nose) over which the thickness fades to 0
BETWEEN_EYES = 27  # iBUG 68
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = OUTER_EYE_CORNERS  # image left, image right
THINNESS = 1.0  # weight of the shell's mean squared thickness (metres²) in its fit (`OutlineTerm.fit_hair`)


def hair_thickness(capture: Capture, frames: list[int], rig: HeadRig, thinness: float = THINNESS) -> Tensor | None:
    """[V] metres: the hair's thickness over each rig vertex's rest-pose normal, fitted to the
    outline of the person's matte in `frames` (capture frame indices); 0 below the shell's start
    (fading over TAPER). None when no frame has a mask or the rig has no iBUG landmarks."""
    height = nose_bottom_height(rig)
    if height is None:
        return None
    frames = [f for f in spread(list(frames), MAX_FRAMES) if capture.frames[f].mask is not None]
    if not frames:
        return None
    rig = rig.to(device="cpu", dtype=torch.float32)
    rest = rig.v_template.detach()  # [V, 3]
    params = capture.params.select([capture.frames[f].time for f in frames]).to(dtype=torch.float32)
    with torch.no_grad():
        landmarks = rig.landmarks(rig.forward(params))  # [T, 68, 3]
    cameras = [capture.camera(f) for f in frames]
    pixels = torch.stack([c.project(p) for c, p in zip(cameras, landmarks)])  # [T, 68, 2]
    outline = _outlines(capture, frames, pixels)
    k_mats = torch.stack([c.K for c in cameras])  # [T, 3, 3]
    w2c = torch.stack([c.world_to_cam for c in cameras])  # [T, 4, 4]
    iod = (pixels[:, LEFT_EYE_OUTER] - pixels[:, RIGHT_EYE_OUTER]).norm(dim=-1).clamp_min(1.0)  # [T]
    term = OutlineTerm(rig, height, outline, k_mats, w2c, iod)
    term.fit_hair(params, thinness)
    thickness = term.thickness_at(rest)  # [V]
    fade = ((rest[:, 1] - (height - TAPER)) / TAPER).clamp(0.0, 1.0)  # [V]
    return thickness * fade


def _outlines(capture: Capture, frames: list[int], pixels: Tensor) -> MatteOutline:
    """The matte's outline along the rays of each frame (one at a time: the views of a multiview
    capture differ in size), from between the eyes of the rig's landmarks pixels [T, 68, 2]."""
    parts = []
    for i, f in enumerate(frames):
        mask, known = capture.load_mask_and_known(f)
        matte = mask[..., 0].numpy()[None]  # [1, H, W]
        inside = np.ones_like(matte) if known is None else known[..., 0].numpy()[None]
        eye_line = pixels[i : i + 1, LEFT_EYE_OUTER] - pixels[i : i + 1, RIGHT_EYE_OUTER]  # image left to right
        parts.append(outline_along_rays(matte, inside, pixels[i : i + 1, BETWEEN_EYES], eye_line))
    return MatteOutline(*(torch.cat([getattr(p, k) for p in parts]) for k in ("centres", "ups", "radii", "valid")))
