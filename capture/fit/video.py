"""Batched rig fitting to the landmarks of whole videos: one identity, one focal length per video.

All frames are optimised together (Adam on the landmark-only rig, `landmark_rig`): a rigid stage
(head rotation and translation) and then everything: identity, focal lengths, expressions, jaw,
eyes (from the irises) and neck, with priors and temporal smoothness between consecutive frames.
Residuals are in units of the frame's inter-ocular distance, so every video weighs the same
whatever its resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from avatar.rig import HeadRig, RigParams
from capture.embedding import LandmarkEmbedding
from capture.fit.setup import (FitModel, eyes_only, fit_model, fit_points, initial_translation, jaw_from,
                               landmark_residuals, outline_choice, project)
from capture.ibug68 import MP_TO_IBUG68, inter_ocular
from capture.fit.landmark_rig import LandmarkRig
from capture.fit.silhouette import outline_normals

FOCAL_PRIOR = 1.2  # initial focal length in units of the frame's longer side (phone-like field of view)


@dataclass
class FitWeights:
    shape: float = 1e-4  # identity coefficients (unit = about 1 cm or one PCA std)
    expr: float = 1e-4  # expression weights towards zero
    neck: float = 1.0  # the neck is nearly redundant with the head rotation for face landmarks: keep it small
    eyes: float = 1e-3
    jaw: float = 1e-3
    focal: float = 1e-3  # log focal length towards the prior
    smooth_expr: float = 2e-3  # temporal, per consecutive pair of frames
    smooth_pose: float = 1e-1  # radians
    smooth_eyes: float = 1e-3  # radians: gaze jumps (a saccade takes a frame or two); tied like the head, it lagged
    smooth_translation: float = 1e1  # metres
    rigid_steps: int = 150
    full_steps: int = 800


@dataclass
class VideoFit:
    params: RigParams  # [T] one time step per tracked frame
    focal: np.ndarray  # [num_videos] pixels
    nme: np.ndarray  # [T] mean 68-point error over the inter-ocular distance
    projected: np.ndarray  # [T, 68, 2] the fitted rig's iBUG landmarks in pixels


def fit_videos(rig: HeadRig, embedding: LandmarkEmbedding, landmarks: np.ndarray, video: np.ndarray,
               sequence: np.ndarray, sizes: list[tuple[int, int]], weights: FitWeights | None = None,
               progress: bool = True) -> VideoFit:
    """Fit tracked frames.

    landmarks [T, 478, 2] MediaPipe points in pixels of their video; video [T] which video each
    frame comes from; sequence [T] its place in that video's frames (consecutive numbers are neighbours in
    time, whose parameters the fit keeps close; gaps = frames skipped);
    sizes[v] = (width, height) of video v.
    """
    w = weights or FitWeights()
    rig = rig.to(dtype=torch.float32)
    model = fit_model(rig, embedding)
    lrig = fit_points(rig, embedding)
    target = torch.as_tensor(landmarks[:, embedding.mp_index], dtype=torch.float32)  # [T, L, 2]
    normals = torch.as_tensor(outline_normals(landmarks))  # [T, S, 2]
    video_t = torch.as_tensor(video, dtype=torch.long)
    centre = torch.tensor([[s[0] / 2, s[1] / 2] for s in sizes], dtype=torch.float32)[video_t]  # [T, 2]
    iod = torch.as_tensor(inter_ocular(landmarks), dtype=torch.float32).clamp_min(1.0)  # [T]
    focal0 = torch.tensor([FOCAL_PRIOR * max(s) for s in sizes], dtype=torch.float32)
    log_focal = torch.log(focal0).clone().requires_grad_(True)
    pairs = continuing_frames(video, sequence)
    var = _initial_variables(rig, lrig, target, focal0[video_t], centre, model, embedding.num_points)
    eye_rig, eye_target = lrig.subset(model.eye_points), target[:, model.eye_points]  # the irises

    def loss_of(full: bool) -> Tensor:
        p = variables_to_params(var, model)
        points, point_normals = lrig.posed(p)  # [T, L + candidates, 3]
        focal = torch.exp(log_focal)[video_t]  # [T]
        pts = project(points, focal, centre)
        pick = outline_choice(embedding, points, point_normals)
        err = (landmark_residuals(embedding, pts, target, normals, pick) / iod[:, None, None]).pow(2).sum(-1)  # [T, L]
        eye_pts = project(eye_rig(eyes_only(p)), focal.detach(), centre)  # [T, K, 2]
        eye_err = ((eye_pts - eye_target) / iod[:, None, None]).pow(2).sum(-1)  # [T, K]
        data = (err * model.point_weights).sum(-1).mean() + (eye_err * model.eye_weights).sum(-1).mean()
        if not full:
            return data
        smooth = lambda x, k: k * (x[pairs] - x[pairs - 1]).pow(2).sum(-1).mean() if len(pairs) else 0  # noqa: E731
        return (data + w.shape * p.shape.pow(2).sum() / max(1, len(sizes))
                + w.expr * p.expr.pow(2).sum(-1).mean() + w.neck * p.neck.pow(2).sum(-1).mean()
                + w.eyes * p.eyes.pow(2).sum(-1).mean() + w.jaw * var["jaw"].pow(2).sum(-1).mean()
                + w.focal * (log_focal - torch.log(focal0)).pow(2).sum()
                + smooth(p.expr, w.smooth_expr) + smooth(p.rotation, w.smooth_pose)
                + smooth(p.jaw, w.smooth_pose) + smooth(p.eyes, w.smooth_eyes)
                + smooth(p.translation, w.smooth_translation))

    bar = tqdm(total=w.rigid_steps + w.full_steps, desc="fitting rig", disable=not progress, leave=False)
    _run(loss_of, [var["rotation"], var["translation"]], False, w.rigid_steps, 2e-2, model, var, bar)
    everything = [var[k] for k in ("rotation", "translation", "shape", "expr", "jaw", "neck", "eyes")] + [log_focal]
    _run(loss_of, everything, True, w.full_steps, 1e-2, model, var, bar)
    bar.close()
    with torch.no_grad():
        params = variables_to_params(var, model).detach()
    return video_fit(rig, params, torch.exp(log_focal).detach().numpy(), landmarks, video, sizes)


def video_fit(rig: HeadRig, params: RigParams, focal: np.ndarray, landmarks: np.ndarray, video: np.ndarray,
              sizes: list[tuple[int, int]]) -> VideoFit:
    """The fit `params` [T] with its iBUG landmarks projected and their NME against landmarks
    [T, 478, 2+] (pixels of each frame's video; focal [num_videos])."""
    if rig.lmk_faces is None:
        return VideoFit(params, focal, np.full(params.num_frames, np.nan), None)
    centre = torch.tensor([[s[0] / 2, s[1] / 2] for s in sizes], dtype=torch.float32)[video]
    with torch.no_grad():
        points = LandmarkRig(rig, rig.lmk_faces, rig.lmk_bary)(params.to(dtype=torch.float32))
        projected = project(points, torch.as_tensor(focal, dtype=torch.float32)[video], centre).numpy()
    return VideoFit(params, focal, nme_68(projected, landmarks), projected)


def continuing_frames(video: np.ndarray, sequence: np.ndarray) -> torch.Tensor:
    """Indices t [P] of the tracked frames that directly follow frame t - 1 of the same video
    (skipped frames break the chain): the pairs that temporal smoothness ties together. sequence
    [T]: each frame's place among its video's frames as sampled (`Detections.kept`), not its
    decoded number, which a frame-rate cap steps by more than 1."""
    same = np.concatenate([[False], (np.diff(sequence) == 1) & (np.diff(video) == 0)])
    return torch.as_tensor(np.flatnonzero(same), dtype=torch.long)


def nme_68(projected: np.ndarray, landmarks: np.ndarray, first: int = 0) -> np.ndarray:
    """[T] mean distance between rig iBUG points [T, 68, 2] and the detected ones, over the
    distance between the detected outer eye corners. first=17 leaves out the jaw contour (the
    inner 51 points): the fitters let the contour slide along the rig's outline, since a detector's
    contour is the silhouette, not fixed skin points."""
    detected = landmarks[:, MP_TO_IBUG68, :2]  # [T, 68, 2]
    return np.linalg.norm(projected[:, first:] - detected[:, first:], axis=-1).mean(-1) / inter_ocular(landmarks)


def _initial_variables(rig: HeadRig, lrig: LandmarkRig, target: Tensor, focal: Tensor, centre: Tensor,
                       model: FitModel, count: int) -> dict[str, Tensor]:
    """Neutral face, facing the camera, placed so its `count` landmarks' spread and centre match
    (the face's: the irises place the eyes only)."""
    t = len(target)
    face = model.point_weights[:count] > 0  # [L]
    with torch.no_grad():
        rest = lrig(rig.zero_params(1))[0, :count]  # [L, 3]
    translation = initial_translation(rest[face], target[:, face], focal, centre)
    var = {"rotation": torch.zeros(t, 3), "translation": translation, "shape": torch.zeros(rig.num_shape),
           "expr": torch.zeros(t, rig.num_expr), "jaw": torch.zeros(t, 3), "neck": torch.zeros(t, 3),
           "eyes": torch.zeros(t, 6)}
    return {k: v.clone().requires_grad_(True) for k, v in var.items()}


def variables_to_params(var: dict[str, Tensor], model: FitModel) -> RigParams:
    expr = var["expr"] * model.free_expr
    eyes = var["eyes"] * torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0, 0.0])  # no eye roll
    return RigParams(var["shape"], expr, jaw_from(model, expr, var["jaw"]), var["neck"], var["rotation"],
                     eyes, var["translation"])


def _run(loss_of, tensors: list[Tensor], full: bool, steps: int, lr: float, model: FitModel,
         var: dict[str, Tensor], bar: tqdm) -> None:
    optimizer = torch.optim.Adam(tensors, lr=lr)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(full)
        loss.backward()
        optimizer.step()
        if model.expr_bounded:
            with torch.no_grad():
                var["expr"].clamp_(0.0, 1.0)
        bar.update(1)
    bar.set_postfix(loss=f"{loss.item():.2e}")
