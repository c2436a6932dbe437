"""Adam with one parameter group per attribute (named, so densification can find them)."""

from __future__ import annotations

import torch

from avatar.gaussians import GaussianAvatar
from avatar.training.camera_colour import CameraColours
from avatar.training.config import TrainConfig


def make_optimizer(model: GaussianAvatar, cfg: TrainConfig, colours: CameraColours | None = None) -> torch.optim.Adam:
    base = {"xyz": cfg.lr_xyz, "rot": cfg.lr_rot, "log_scale": cfg.lr_scale, "opacity_logit": cfg.lr_opacity,
            "sh_dc": cfg.lr_color, "sh_rest": cfg.lr_color / 20}
    offsets = {"d_xyz": "xyz", "d_rot": "rot", "d_log_scale": "log_scale", "d_opacity": "opacity_logit",
               "d_color": "sh_dc"}
    groups = [{"name": k, "params": [getattr(model, k)], "lr": lr} for k, lr in base.items()]
    groups += [{"name": k, "params": [getattr(model, k)], "lr": base[b] * cfg.lr_offset_scale}
               for k, b in offsets.items()]
    if colours is not None:
        groups.append({"name": "camera_colour", "params": list(colours.parameters()), "lr": cfg.lr_camera_colour})
    # fused: one kernel over all tensors, ~9x faster than the default on CPU for the offset tensors.
    return torch.optim.Adam(groups, eps=1e-15, fused=True)
