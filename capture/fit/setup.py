"""What tracking fits for a given rig: free expressions, how the jaw moves, landmark weights.

Shared by the batched video fitter and the live per-frame fitter so both fit the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from avatar.data.livelink import MAX_JAW_ANGLE, default_jaw_from_jawopen
from avatar.splat.camera import Camera
from avatar.rig import HeadRig, RigParams
from capture.embedding import LandmarkEmbedding
from capture.face_model import IRIS_RINGS
from capture.ibug68 import IRIS_CENTRES
from capture.fit.landmark_rig import LandmarkRig
from capture.fit.silhouette import outline_offsets, outline_pick, outline_residuals, picked_candidate

# Gaze is fitted with the eye joints; these shapes would fight them (and the pupil size is invisible).
FROZEN_PREFIXES = ("eyelook", "pupildilate")
SILHOUETTE_WEIGHT = 0.3  # the face's outline, which a fixed mesh point tracks loosely
IRIS_POINTS = np.concatenate([IRIS_CENTRES, IRIS_RINGS])  # MediaPipe's points on the irises
# Weight of each pupil, against 1 for a face point: the pupils alone place the eyes' rotation; among 478 points
# at weight 1 the eye prior and smoothing held the fitted gaze back, pixels off the detected irises
# (with this and FitWeights.smooth_eyes it follows them). Every iris point (pupil and ring, at
# weight 1) moves the eyes only (`FitModel.eye_weights`): weighed like face points, an iris detected
# a few pixels off (a glint, a squint, the rig's eyeball not the person's) would also turn and move
# the head (docs/tracking.md, "Dense correspondence"; figures: docs/results.md, "Tracking").
PUPIL_WEIGHT = 8.0
# The landmark term is a weighted mean over the points times this: about the weight that the
# sum over the former 70 sparse points had, against which the priors and smoothing are set.
LANDMARK_SCALE = 60.0
# World-to-camera of every tracked frame: OpenCV camera at the origin looking down -z of rig
# space (y up). Head pose lives in the rig's rotation and translation.
WORLD_TO_CAM = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass
class FitModel:
    free_expr: Tensor  # [E] bool: expressions the fit may move
    jaw_mode: str  # "tied": jaw x-rotation = jawOpen * MAX_JAW_ANGLE; "fixed": zero; "free": fitted
    jaw_open: int | None  # index of jawOpen in the expressions (for "tied")
    point_weights: Tensor  # [L] landmark loss weights (with eye_weights, summing to LANDMARK_SCALE; 0 on the irises)
    expr_bounded: bool  # ARKit-style weights live in [0, 1]; PCA expressions do not
    eye_points: Tensor  # [K] rows of the L points that place the eyes alone (the irises: pupils and rings)
    eye_weights: Tensor  # [K] their weight in a term whose gradient reaches the eyes only (`eyes_only`)


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
    if embedding.outline_index is not None:
        weights[torch.as_tensor(embedding.outline_index)] = SILHOUETTE_WEIGHT
    # The irises place the eyes, the face the head.
    eye_points = torch.as_tensor(np.flatnonzero(np.isin(embedding.mp_index, IRIS_POINTS)), dtype=torch.long)
    weights[eye_points] = 0.0
    eye_weights = torch.where(torch.isin(eye_points, torch.as_tensor(embedding.pupils)), PUPIL_WEIGHT, 1.0)
    scale = LANDMARK_SCALE / (weights.sum() + eye_weights.sum())
    return FitModel(free, jaw_mode, jaw_open, weights * scale, expr_bounded=names is not None,
                    eye_points=eye_points, eye_weights=eye_weights * scale)


def eyes_only(params: RigParams) -> RigParams:
    """params with every part but the eyes detached: a loss on points posed with them moves the
    eyes alone (the irises' eye-only term)."""
    return RigParams(params.shape.detach(), params.expr.detach(), params.jaw.detach(), params.neck.detach(),
                     params.rotation.detach(), params.eyes, params.translation.detach())


def fit_points(rig: HeadRig, embedding: LandmarkEmbedding) -> LandmarkRig:
    """The rig evaluated at the L embedded points, then at the outline's candidate paths (whose
    normals it turns too)."""
    faces, bary, normals = embedding.faces, embedding.bary, None
    if embedding.outline is not None:
        paths = embedding.outline
        faces = torch.cat([faces, paths.faces.reshape(-1)])
        bary = torch.cat([bary, paths.bary.reshape(-1, 3)])
        normals = torch.cat([torch.zeros(embedding.num_points, 3), paths.normals.reshape(-1, 3)])
    return LandmarkRig(rig, faces, bary, normals)


def outline_choice(embedding: LandmarkEmbedding, points: Tensor, normals: Tensor | None) -> Tensor | None:
    """[B, S] the candidate each outline path picks (`silhouette.outline_pick`) from the posed
    `fit_points` [B, L + candidates, 3] and their normals; None without outline paths."""
    if embedding.outline is None or normals is None:
        return None
    shape = (len(points), *embedding.outline.faces.shape, 3)
    count = embedding.num_points
    return outline_pick(points[:, count:].reshape(shape), normals[:, count:].reshape(shape))


def landmark_residuals(embedding: LandmarkEmbedding, projected: Tensor, target: Tensor, normals: Tensor,
                       pick: Tensor | None) -> Tensor:
    """Residual vectors [B, L, 2] in pixels: projected [B, L + candidates, 2] (`fit_points`,
    projected) against the detected target [B, L, 2]; the outline points measured across the
    detected outline (normals [B, S, 2], `silhouette.outline_normals`) from the candidate each
    path picks (pick [B, S], `outline_choice`; None: no outline paths)."""
    count = embedding.num_points
    residual = projected[:, :count] - target
    if pick is None:
        return residual
    s, k = embedding.outline.faces.shape
    candidates = projected[:, count:].reshape(len(projected), s, k, 2)
    index = torch.as_tensor(embedding.outline_index)
    outline = outline_residuals(candidates, target[:, index], normals, pick)
    return residual.index_copy(1, index, outline)


def picked_rows(embedding: LandmarkEmbedding, pick: Tensor) -> Tensor:
    """[L + S] rows of `fit_points` to evaluate when one frame's outline picks pick [S]
    (`outline_choice`) are known: the L embedded points, then the candidate each path is measured
    from. A fitter that differentiates with the picks held fixed poses only these."""
    count = embedding.num_points
    s, k = embedding.outline.faces.shape
    return torch.cat([torch.arange(count), count + torch.arange(s) * k + picked_candidate(pick)])


def picked_residuals(embedding: LandmarkEmbedding, projected: Tensor, target: Tensor, normals: Tensor,
                     pick: Tensor) -> Tensor:
    """`landmark_residuals` of the `picked_rows` [B, L + S, 2] (projected) with one frame's picks [S]."""
    count = embedding.num_points
    index = torch.as_tensor(embedding.outline_index)
    outline = outline_offsets(projected[:, count:], target[:, index], normals, pick >= 0)
    return (projected[:, :count] - target).index_copy(1, index, outline)


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


def project_cameras(points: Tensor, k_mats: Tensor, w2c: Tensor) -> Tensor:
    """Rig-space points [T, N, 3] -> pixels [T, N, 2] through per-frame cameras."""
    cam = torch.einsum("tij,tnj->tni", w2c[:, :3, :3], points) + w2c[:, None, :3, 3]
    pix = torch.einsum("tij,tnj->tni", k_mats, cam)
    return pix[..., :2] / pix[..., 2:].clamp_min(1e-6)


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
