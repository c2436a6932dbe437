"""Floaters: Gaussians further from the head than the person reaches past the rig.

A Gaussian that drifts off the head (a dark blob beside the hair, a speck in front of the face)
is hidden or harmless from the training camera and shows from any other. Beyond the capture's
hair margin (how far the person's matte reaches past the rig, `hair_margin`), nothing is the
person: `FloaterFinder` marks the Gaussians whose rest position lies further than that from the
rig's nearest vertex (with the person's identity), and training fades their opacity
(`floater_reg`). The marks are refreshed every densification interval (a KD-tree query, not a
step's cost).
"""

from __future__ import annotations

import torch
from scipy.spatial import cKDTree
from torch import Tensor

from avatar.gaussians import GaussianAvatar
from avatar.gaussians.reference import blend_reference
from avatar.rig import RigParams


class FloaterFinder:
    def __init__(self, model: GaussianAvatar, shape: Tensor, margin_m: float, lift_m: Tensor | None = None):
        """shape [S]: the person's identity; margin_m: the capture's hair margin (metres); lift_m [F]:
        metres each triangle's Gaussians start off it (the hair's shell), added to the margin."""
        self.rest = model.rig.zero_params(1)
        self.rest.shape = shape.detach().to(self.rest.shape)
        verts = model.rig.forward(self.rest)[0].detach().double().cpu().numpy()  # [V, 3]
        self.tree = cKDTree(verts)
        self.margin = margin_m
        self.lift = None if lift_m is None else lift_m.clamp_min(0.0).double().cpu().numpy()  # [F]

    @torch.no_grad()
    def __call__(self, model: GaussianAvatar) -> Tensor:
        """[N] bool on the model's device: the Gaussians at rest further than the margin from the rig."""
        params: RigParams = self.rest.to(device=model.xyz.device)
        means = blend_reference(model, params).means.detach().double().cpu().numpy()  # [N, 3]
        distance, _ = self.tree.query(means)
        margin = self.margin if self.lift is None else self.margin + self.lift[model.parent.cpu().numpy()]
        return torch.from_numpy(distance > margin).to(model.xyz.device)
