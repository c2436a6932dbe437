"""The mouth's cavity: opaque, dark Gaussians on the rig's triangles deep behind the lips, added
to a trained avatar so that a mouth opened wider than its video ever opened it is dark inside.

A phone video barely opens the mouth (the shared clips' jaws: 0.4-7.6 degrees, docs/recording.md),
so the Gaussians on the rig's mouth interior learn from a slit at most and stay partly transparent
where no frame showed them. Driven wider (a Live Link take, a slider), the mouth then shows what
lies behind them: the far side of the head seen from within, in skin colour, mottled with the
teeth and lips the slit did show (docs/results.md, "The open mouth").

Which triangles: those whose rest centroids lie inside the outer lips' outline (iBUG 48-59) seen
from the front and more than CAVITY_DEPTH behind the lips' landmarks, i.e. past the teeth: the
builtin head's pouch behind its teeth rings, ICT's tongue, gums and back teeth. FLAME has no
mouth interior; there nothing is added. The triangles get flat discs that tile them
(`discs_on_triangles`), as many on each as make about CAVITY_GAUSSIANS in all (one at least: ICT's
cavity has 4,865 triangles, the builtin head's 143), nearly opaque, in the rig's own colour there where it has vertex
colours (builtin, ICT: a dark red cavity), else CAVITY_COLOUR; without offsets, they follow their
triangles (the lower ones the jaw). Behind a closed mouth the lips hide them.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import Tensor

from avatar.gaussians.model import GaussianAvatar, discs_on_triangles
from avatar.rig import HeadRig, RigParams
from avatar.rig.face_region import inside_polygon, pixels_inside, posed_landmarks, rest_landmarks
from avatar.splat import Camera
from avatar.splat.sh import SH_C0

log = logging.getLogger("avatar")

OUTER_LIPS = list(range(48, 60))  # iBUG: the outer lip outline, corner to corner and back
INNER_LIPS = list(range(60, 68))  # the mouth's opening, corner to corner and back
CAVITY_DEPTH = 0.008  # metres behind the lips' landmarks: past the front teeth of every rig
CAVITY_GAUSSIANS = 600
OPACITY = 0.99
CAVITY_COLOUR = (0.16, 0.05, 0.05)  # a mouth's dark inside, where the rig has no colours


def cavity_triangles(rig: HeadRig) -> Tensor:
    """[F] bool: the rig's triangles inside the mouth past the teeth (see the module docstring);
    none on a rig without iBUG landmarks."""
    landmarks = rest_landmarks(rig)
    if landmarks is None:
        return torch.zeros(rig.num_faces, dtype=torch.bool)
    lips = landmarks[OUTER_LIPS].numpy()  # [12, 3]
    verts = rig.v_template.detach().double().cpu()
    centroids = verts[rig.faces.cpu()].mean(1).numpy()  # [F, 3]
    inside = inside_polygon(centroids[:, :2], lips[:, :2])
    deep = centroids[:, 2] < lips[:, 2].mean() - CAVITY_DEPTH
    return torch.from_numpy(inside & deep)


def mouth_opening(rig: HeadRig, params: RigParams, camera: Camera) -> np.ndarray:
    """[H, W] bool: the pixels inside the inner lips (iBUG 60-67) of the rig posed by params [1],
    seen by camera: where an opened mouth shows its inside."""
    lips = camera.project(posed_landmarks(rig, params)[INNER_LIPS]).numpy()  # [8, 2]
    return pixels_inside([lips], camera.height, camera.width)


def cavity_parents(rig: HeadRig) -> Tensor:
    """[K] the triangle of each of the cavity's Gaussians, in the order add_mouth_cavity appends
    them (empty on a rig without a mouth interior)."""
    faces = torch.nonzero(cavity_triangles(rig))[:, 0]  # [C]
    return faces.repeat_interleave(max(1, round(CAVITY_GAUSSIANS / max(1, faces.numel()))))  # [K]


@torch.no_grad()
def add_mouth_cavity(model: GaussianAvatar) -> int:
    """Append the cavity's Gaussians to `model` (in place); returns how many."""
    rig = model.rig
    parent = cavity_parents(rig)  # [K]
    if parent.numel() == 0:
        log.info("mouth cavity: the %s rig has no triangles behind the lips; none added", rig.name)
        return 0
    faces = parent.unique()
    per_triangle = parent.numel() // faces.numel()
    local, log_scale, colour = discs_on_triangles(rig, parent, per_triangle, 0, rig.vertex_colors)
    if colour is None:
        colour = torch.tensor(CAVITY_COLOUR).expand(parent.shape[0], 3)
    count = parent.shape[0]
    added = {
        "xyz": local,
        "rot": torch.tensor([1.0, 0.0, 0.0, 0.0]).expand(count, 4),
        "log_scale": log_scale,
        "opacity_logit": torch.full((count,), math.log(OPACITY / (1 - OPACITY))),
        "sh_dc": ((colour - 0.5) / SH_C0)[:, None],
    }
    tensors = {}
    for name, value in model.attribute_tensors().items():
        value = value.detach()
        if name in GaussianAvatar.OFFSETS:  # [D, N, ...]: none for the cavity
            new = value.new_zeros(value.shape[0], count, *value.shape[2:])
            tensors[name] = torch.cat([value, new], 1)
        else:
            new = added[name].to(value) if name in added else value.new_zeros(count, *value.shape[1:])
            tensors[name] = torch.cat([value, new], 0)
    model.replace_gaussians(tensors, torch.cat([model.parent, parent.to(model.parent)]))
    log.info("mouth cavity: %d Gaussians on %d triangles behind the lips", count, faces.numel())
    return count
