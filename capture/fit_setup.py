"""What tracking fits for a given rig: free expressions, how the jaw moves, landmark weights.

Shared by the batched video fitter and the live per-frame fitter so both fit the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from avatar.data.livelink import MAX_JAW_ANGLE, default_jaw_from_jawopen
from avatar.render.camera import Camera
from avatar.rig import HeadRig
from capture.embedding import LandmarkEmbedding

# Gaze is fitted with the eye joints; these shapes would fight them (and the pupil size is invisible).
FROZEN_PREFIXES = ("eyelook", "pupildilate")
JAW_CONTOUR_WEIGHT = 0.3  # iBUG 0-16 follow the silhouette, which a fixed mesh point tracks loosely
# World-to-camera of every tracked frame: OpenCV camera at the origin looking down -z of rig
# space (y up). Head pose lives in the rig's rotation and translation.
WORLD_TO_CAM = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass
class FitModel:
    free_expr: Tensor  # [E] bool: expressions the fit may move
    jaw_mode: str  # "tied": jaw x-rotation = jawOpen * MAX_JAW_ANGLE; "fixed": zero; "free": fitted
    jaw_open: int | None  # index of jawOpen in the expressions (for "tied")
    point_weights: Tensor  # [L] landmark loss weights
    expr_bounded: bool  # ARKit-style weights live in [0, 1]; PCA expressions do not


def fit_model(rig: HeadRig, embedding: LandmarkEmbedding) -> FitModel:
    names = [n.lower() for n in rig.expr_names] if rig.expr_names else None
    free = torch.ones(rig.num_expr, dtype=torch.bool)
    if names:
        free = torch.tensor([not n.startswith(FROZEN_PREFIXES) for n in names])
    jaw_open = names.index("jawopen") if names and "jawopen" in names else None
    if jaw_open is None:
        jaw_mode = "free"
    else:
        jaw_mode = "tied" if default_jaw_from_jawopen(rig) else "fixed"
    weights = torch.ones(embedding.num_points)
    if embedding.ibug is not None:
        weights[torch.as_tensor(embedding.ibug[:17])] = JAW_CONTOUR_WEIGHT
    return FitModel(free, jaw_mode, jaw_open, weights, expr_bounded=names is not None)


def jaw_from(model: FitModel, expr: Tensor, jaw_free: Tensor) -> Tensor:
    """Jaw pose [T, 3] implied by the fitted expressions [T, E] and free jaw parameters [T, 3]."""
    if model.jaw_mode == "free":
        return jaw_free
    jaw = torch.zeros_like(jaw_free)
    if model.jaw_mode == "tied":
        jaw = torch.cat([expr[:, model.jaw_open:model.jaw_open + 1] * MAX_JAW_ANGLE, jaw[:, 1:]], dim=1)
    return jaw


def project(points: Tensor, focal: Tensor, centre: Tensor) -> Tensor:
    """Rig-space points [T, L, 3] -> pixels [T, L, 2] through the WORLD_TO_CAM camera.

    focal [T] in pixels, centre [T, 2] principal point in pixels.
    """
    x, y, z = points[..., 0], -points[..., 1], (-points[..., 2]).clamp_min(1e-3)
    return torch.stack([x / z, y / z], dim=-1) * focal[:, None, None] + centre[:, None, :]


def initial_translation(rest: Tensor, target: Tensor, focal: Tensor, centre: Tensor) -> Tensor:
    """Translations [T, 3] that place the unposed landmarks rest [L, 3] facing the camera where
    the detected ones target [T, L, 2] are: depth from their spread, x/y from their centre.
    focal [T], centre [T, 2] in pixels."""
    spread_rig = (rest[:, :2] - rest[:, :2].mean(0)).norm(dim=-1).mean()
    spread_img = (target - target.mean(1, keepdim=True)).norm(dim=-1).mean(-1).clamp_min(1.0)  # [T]
    depth = focal * spread_rig / spread_img  # [T]
    mid = target.mean(1)  # [T, 2]
    cam = torch.stack([(mid[:, 0] - centre[:, 0]) * depth / focal, (mid[:, 1] - centre[:, 1]) * depth / focal,
                       depth], dim=-1)  # [T, 3] camera coordinates
    return cam * torch.tensor([1.0, -1.0, -1.0], dtype=cam.dtype) - rest.mean(0)  # WORLD_TO_CAM is its own inverse


def camera_for(focal: float, centre: tuple[float, float], width: int, height: int) -> Camera:
    k = torch.tensor([[focal, 0, centre[0]], [0, focal, centre[1]], [0, 0, 1]], dtype=torch.float32)
    return Camera(k, torch.as_tensor(WORLD_TO_CAM, dtype=torch.float32), width, height)
