"""How every command renders a trained avatar: blend, splat, and the avatar's cut below the head.

The trainer, evaluation, `avatar render`, the Python API and the viewer's splat backends all
render with the cut, so a held-out frame shows what the avatar shows a user, and training never
teaches a Gaussian to vanish where the cut hides it in some frames but not in others.
"""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.gaussians import GaussianAvatar, blend
from avatar.render import Camera, RenderOutput, splat
from avatar.render.head_cut import clip_to_region, cut_region
from avatar.rig import RigParams


def render_avatar(model: GaussianAvatar, params: RigParams, camera: Camera, background: Tensor,
                  backend: str = "auto") -> RenderOutput:
    """One time step of params (on the model's device) seen by camera, background [3]."""
    return clip_to_head(model, params, splat(blend(model, params, backend), camera, background, backend),
                        camera, background)


def clip_to_head(model: GaussianAvatar, params: RigParams, out: RenderOutput, camera: Camera,
                 background: Tensor) -> RenderOutput:
    """out, a render of model at params, cut where the model's head ends (unchanged without a cut)."""
    region = head_cut_region(model, params, camera)
    return out if region is None else clip_to_region(out, region, background)


def head_cut_region(model: GaussianAvatar, params: RigParams, camera: Camera) -> Tensor | None:
    """[H, W, 1] the region model's cut keeps at params (one time step) seen by camera; None
    for a model without a cut."""
    if model.head_cut is None:
        return None
    with torch.no_grad():
        verts = model.rig.forward(params)[0]  # [V, 3]
    return cut_region(model.head_cut, verts, model.rig.faces, camera)
