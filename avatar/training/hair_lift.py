"""The scalp's Gaussians start on the hair's shell, not on the bare skull.

A rig has a skull, not hair. The person's hair reaches past it by a thickness the capture's
mattes show (`capture.hair_shell`, registered through the entry points group
"avatar.hair_shell" so that avatar never imports capture: a function (capture, training frames,
rig) -> [V] metres or None). Each triangle off the face (not the face the landmarks enclose, not
the eyeballs) gets its vertices' mean thickness as a lift along its normal, in triangle units:
its Gaussians start there, and the pull towards the triangle (`xyz_reg`) and the floaters'
margin count from there. Where the training frames saw the hair's outline the photometric loss
refines it; where none did, the Gaussians stay on the shell's smooth continuation instead of on
the skull.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import torch
from torch import Tensor

from avatar.data.capture import Capture
from avatar.gaussians.binding import triangle_frames
from avatar.rig import HeadRig
from avatar.rig.face_region import eyeball_triangles, face_triangles

GROUP = "avatar.hair_shell"


def registered_hair_thickness(capture: Capture, frames: list[int], rig: HeadRig) -> Tensor | None:
    """[V] metres from the first registered hair shell (by name) that gives one, or None."""
    for entry in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        thickness = entry.load()(capture, frames, rig)
        if thickness is not None:
            return thickness
    return None


def triangle_thickness(rig: HeadRig, thickness: Tensor) -> Tensor:
    """[F] metres: each triangle's lift along its normal, the mean thickness [V] (metres) of its
    vertices; 0 on the face and the eyeballs."""
    if thickness.shape != rig.v_template.shape[:1]:
        raise ValueError(
            f"hair thickness has shape {list(thickness.shape)}, rig '{rig.name}' has {rig.v_template.shape[0]} vertices"
        )
    lift = thickness.float().cpu()[rig.faces.cpu()].mean(-1)  # [F]
    off_face = ~(face_triangles(rig) | eyeball_triangles(rig))
    return torch.where(off_face, lift, torch.zeros_like(lift))


def triangle_units(rig: HeadRig) -> Tensor:
    """[F] metres: each triangle's unit length (its mean edge, rest pose), what Gaussians' local
    positions count in (`avatar.gaussians.binding.triangle_frames`)."""
    _, _, unit = triangle_frames(rig.v_template.detach().float().cpu()[None], rig.faces.cpu())  # [1, F]
    return unit[0]
