"""Photometric refinement of a landmark fit: the rig follows the face to the pixel.

Landmarks say where a few hundred points are, to a few pixels, and nothing about the skin between
them; an avatar trained on such a fit sees each Gaussian's texture slide from frame to frame and
learns the blur. Here the face itself is the measurement (as metrical-tracker and VHAP refine
their landmark fits): the rig's face-region vertices carry one colour each for the whole video
(an albedo), lit by second-order spherical harmonics shared by all frames, with a colour gain per
frame for the camera's exposure. Every frame's pose, expression, jaw and eyes move so that the
frame, sampled where the posed vertices project, agrees with that model, while the landmark
term, the priors and the temporal smoothness of the landmark fit stay on. The head's outline
above the ears (`head_outline`: the skull grown by a hair thickness fitted for the video,
against the matte) gives the pose a cue that an expression does not move.

All frames are optimised together (Adam), coarse to fine: first against the frames blurred by a
few pixels (wide basins), then sharper. Gradients come through the image: bilinear sampling at
the projected vertices. Which vertices a frame shows is decided by z-buffering the posed mesh
(`mesh_raster`) at the start of each level; hidden or back-facing vertices, and those off the
person's matte, do not count. Identity and focal length stay as the landmark fit found them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from avatar.render.camera import Camera
from avatar.render.mesh_raster import rasterize_mesh
from avatar.render.sh import SH_C0, sh_basis
from avatar.rig import HeadRig, RigParams
from capture.embedding import LandmarkEmbedding
from capture.fit_setup import fit_model, fit_points, jaw_from, landmark_residuals, outline_choice, project_cameras
from capture.fit_video import FitWeights
from capture.head_outline import HAIR_LR, OutlineTerm, matte_outline
from capture.ibug68 import inter_ocular
from capture.landmark_rig import LandmarkRig
from capture.silhouette import outline_normals
from capture.surface import VertexSamples, vertex_normals, vertex_samples

FACE_RADIUS = 0.008  # metres: vertices this close to a registered landmark are the face region
VISIBLE_TOLERANCE = 0.003  # metres behind the z-buffer's surface that still counts as visible
FACING = 0.1  # min cosine between a vertex normal and the direction to the camera
CHARBONNIER = 0.02  # robust loss scale (colour units): shadows, hair strands and specularities cost less
GAIN_PRIOR = 1e-2  # on the squared log of each frame's colour gain
POSE_BATCH = 16  # frames posed at once for the z-buffer (full-mesh LBS memory grows with it)


@dataclass
class PhotometricWeights:
    photo: float = 1.0  # Charbonnier colour error, mean over visible samples and channels
    landmarks: float = 1.0  # times the landmark term of the landmark fit
    levels: tuple[tuple[float, int], ...] = ((2.0, 40), (1.0, 40))  # (blur sigma in pixels, Adam steps)
    lr_pose: float = 2e-3  # radians / metres per step
    lr_expr: float = 1e-2
    lr_appearance: float = 2e-2
    max_samples: int = 4000  # face-region vertices sampled (evenly thinned on dense rigs; the cost scales with it)
    outline: float = 1.0  # the head's outline above the ears (`head_outline`), against the landmark term's 1


@dataclass
class PhotometricFit:
    params: RigParams  # [T] refined
    error_before: np.ndarray  # [T] texture consistency (`_consistency`) of the landmark fit, 0..1
    error: np.ndarray  # [T] the same after refinement
    outline_before: np.ndarray | None = None  # [T] mean |head outline error| in pixels (`head_outline`)
    outline: np.ndarray | None = None  # [T] the same after refinement


def refine_photometric(rig: HeadRig, embedding: LandmarkEmbedding, params: RigParams, cameras: list[Camera],
                       images: np.ndarray, mattes: np.ndarray, landmarks: np.ndarray, pairs: Tensor,
                       weights: PhotometricWeights | None = None, fit_weights: FitWeights | None = None,
                       progress: bool = True, shell_height: float | None = None,
                       in_frame: np.ndarray | None = None) -> PhotometricFit:
    """Refine `params` [T] against the frames: images [T, H, W, 3] uint8 seen by `cameras` (one
    per frame, rig space to pixels), mattes [T, H, W] in [0, 1] (the person), landmarks
    [T, 478, 2] MediaPipe points in the same pixels; pairs [P]: the frames t that follow t - 1
    in time (`fit_video.continuing_frames`), kept smooth. shell_height (rest pose, metres):
    where the head's outline term starts (`head_outline`; None: no outline term); in_frame
    [T, H, W]: 1 where the images show the video (default everywhere)."""
    w = weights or PhotometricWeights()
    fw = fit_weights or FitWeights()
    rig = rig.to(dtype=torch.float32)
    model = fit_model(rig, embedding)
    samples = _face_samples(rig, embedding, w.max_samples)
    srig = LandmarkRig(rig, samples.faces, samples.bary, samples.normals)
    lrig = fit_points(rig, embedding)
    t = params.num_frames
    k_mats = torch.stack([c.K for c in cameras]).float()  # [T, 3, 3]
    w2c = torch.stack([c.world_to_cam for c in cameras]).float()  # [T, 4, 4]
    height, width = images.shape[1:3]
    frames = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255  # [T, 3, H, W]
    matte = torch.as_tensor(mattes, dtype=torch.float32)[:, None]  # [T, 1, H, W]
    target = torch.as_tensor(landmarks[:, embedding.mp_index, :2], dtype=torch.float32)  # [T, L, 2]
    outline = torch.as_tensor(outline_normals(landmarks))  # [T, S, 2]
    iod = torch.as_tensor(inter_ocular(landmarks), dtype=torch.float32).clamp_min(1.0)  # [T]

    base = params.detach().to(dtype=torch.float32)
    var = {k: torch.zeros_like(getattr(base, k), requires_grad=True)
           for k in ("rotation", "translation", "expr", "jaw", "eyes")}
    albedo = torch.zeros(samples.count, 3, requires_grad=True)  # logit of the colour, set below
    sh = torch.zeros(9, 3)
    sh[0] = 1.0 / SH_C0  # shading 1 everywhere
    sh.requires_grad_(True)
    log_gain = torch.zeros(t, 3, requires_grad=True)

    def current() -> RigParams:
        expr = base.expr + var["expr"] * model.free_expr
        if model.expr_bounded:
            expr = expr.clamp(0.0, 1.0)
        eyes = base.eyes + var["eyes"] * torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0, 0.0])
        jaw = jaw_from(model, expr, base.jaw + var["jaw"])
        return RigParams(base.shape, expr, jaw, base.neck, base.rotation + var["rotation"], eyes,
                         base.translation + var["translation"])

    def observe(p: RigParams, blurred: Tensor, visible: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Observed colours [T, N, 3], shading normals [T, N, 3] and sample weights [T, N]."""
        points, normals = srig.posed(p)
        pix = project_cameras(points, k_mats, w2c)  # [T, N, 2]
        grid = torch.stack([pix[..., 0] / width * 2 - 1, pix[..., 1] / height * 2 - 1], -1)[:, :, None]
        seen = F.grid_sample(blurred, grid, align_corners=False, padding_mode="border")[..., 0]  # [T, 3, N]
        on_person = F.grid_sample(matte, grid.detach(), align_corners=False)[:, 0, :, 0]  # [T, N]
        return seen.transpose(1, 2), F.normalize(normals, dim=-1), visible * on_person

    def predicted(normals: Tensor) -> Tensor:
        shading = torch.einsum("tnk,kc->tnc", sh_basis(2, normals), sh)  # [T, N, 3]
        return torch.sigmoid(albedo)[None] * shading * torch.exp(log_gain)[:, None, :]

    def landmark_loss(p: RigParams) -> Tensor:
        points, point_normals = lrig.posed(p)
        pix = project_cameras(points, k_mats, w2c)
        residual = landmark_residuals(embedding, pix, target, outline, outline_choice(embedding, points, point_normals))
        err = (residual / iod[:, None, None]).pow(2).sum(-1)  # [T, L]
        return (err * model.point_weights).sum(-1).mean()

    def regularisers(p: RigParams) -> Tensor:
        smooth = lambda x, k: k * (x[pairs] - x[pairs - 1]).pow(2).sum(-1).mean() if len(pairs) else 0  # noqa: E731
        return (fw.expr * p.expr.pow(2).sum(-1).mean() + fw.eyes * p.eyes.pow(2).sum(-1).mean()
                + fw.jaw * p.jaw.pow(2).sum(-1).mean() + smooth(p.expr, fw.smooth_expr)
                + smooth(p.rotation, fw.smooth_pose) + smooth(p.jaw, fw.smooth_pose)
                + smooth(p.eyes, fw.smooth_pose) + smooth(p.translation, fw.smooth_translation))

    def consistency(p: RigParams, visible: Tensor) -> Tensor:
        """[T] how far each frame's colours at the visible face vertices are from those vertices'
        median colour over the video: low when the mesh stays on the same skin in every frame."""
        seen, _, weight = observe(p, frames, visible)
        return _colour_error(seen, _weighted_median(seen, weight)[None], weight)

    head = None
    if shell_height is not None and w.outline > 0:
        seen_outline = matte_outline(mattes, np.ones_like(mattes) if in_frame is None else in_frame, landmarks)
        head = OutlineTerm(rig, shell_height, seen_outline, k_mats, w2c, iod)
        head.fit_hair(current().detach())

    def outline_loss(p: RigParams) -> Tensor:
        return 0.0 if head is None else w.outline * model.point_weights.sum() * head.loss(p)

    with torch.no_grad():
        p0 = current()
        outline_before = None if head is None else head.mean_abs_error(p0)
        visible = _visibility(rig, p0, samples, cameras)  # also the first level's
        seen, normals, weight = observe(p0, frames, visible)
        albedo.copy_(torch.logit(_weighted_median(seen, weight).clamp(0.02, 0.98)))
        error_before = consistency(p0, visible)

    optimizer = torch.optim.Adam([
        {"params": [var["rotation"], var["translation"], var["jaw"], var["eyes"]], "lr": w.lr_pose},
        {"params": [var["expr"]], "lr": w.lr_expr},
        {"params": [albedo, sh, log_gain], "lr": w.lr_appearance}]
        + ([{"params": [head.hair], "lr": HAIR_LR}] if head is not None else []))
    bar = tqdm(total=sum(steps for _, steps in w.levels), desc="photometric refinement", disable=not progress,
               leave=False)
    for level, (sigma, steps) in enumerate(w.levels):
        blurred = _blur(frames, sigma)
        if level:
            visible = _visibility(rig, current().detach(), samples, cameras)
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            p = current()
            seen, normals, weight = observe(p, blurred, visible)
            residual = seen - predicted(normals)
            photo = (weight[..., None] * (residual.pow(2) + CHARBONNIER ** 2).sqrt()).sum() / (3 * weight.sum() + 1e-6)
            loss = (w.photo * photo + w.landmarks * landmark_loss(p) + outline_loss(p) + regularisers(p)
                    + GAIN_PRIOR * log_gain.pow(2).sum(-1).mean())
            loss.backward()
            optimizer.step()
            bar.update(1)
        bar.set_postfix(photo=f"{photo.item():.4f}")
    bar.close()
    with torch.no_grad():
        final = current()
        error = consistency(final, _visibility(rig, final, samples, cameras))
        outline_after = None if head is None else head.mean_abs_error(final)
    return PhotometricFit(final.detach(), error_before.numpy(), error.numpy(), outline_before, outline_after)


def _face_samples(rig: HeadRig, embedding: LandmarkEmbedding, max_samples: int) -> VertexSamples:
    """The rig's vertices within FACE_RADIUS of a registered landmark (the face, lids, lips,
    irises), thinned evenly to at most max_samples."""
    rest = rig.v_template
    landmarks = torch.einsum("lkd,lk->ld", rest[rig.faces[embedding.faces]], embedding.bary)  # [L, 3]
    near = torch.cdist(rest, landmarks).amin(1) < FACE_RADIUS  # [V]
    vertices = torch.nonzero(near).flatten()
    if len(vertices) > max_samples:
        vertices = vertices[torch.linspace(0, len(vertices) - 1, max_samples).round().long()]
    return vertex_samples(rig, vertices)


@torch.no_grad()
def _visibility(rig: HeadRig, params: RigParams, samples: VertexSamples, cameras: list[Camera]) -> Tensor:
    """[T, N] 1 where a sampled vertex is the nearest surface at its pixel and faces the camera."""
    out = torch.zeros(params.num_frames, samples.count)
    for start in range(0, params.num_frames, POSE_BATCH):
        times = list(range(start, min(start + POSE_BATCH, params.num_frames)))
        verts = rig.forward(params.select(times))  # [B, V, 3]
        normals = torch.stack([vertex_normals(v, rig.faces) for v in verts])
        for i, t in enumerate(times):
            camera = cameras[t]
            depth = rasterize_mesh(verts[i], rig.faces, camera, torch.zeros_like(verts[i]), shading=False).depth[..., 0]
            points = verts[i, samples.vertices]  # [N, 3]
            cam = points @ camera.world_to_cam[:3, :3].T + camera.world_to_cam[:3, 3]
            pix = camera.project(points)
            col, row = pix[:, 0].floor().long(), pix[:, 1].floor().long()
            inside = (col >= 0) & (col < camera.width) & (row >= 0) & (row < camera.height)
            z = depth[row.clamp(0, camera.height - 1), col.clamp(0, camera.width - 1)]
            front = cam[:, 2] <= z + VISIBLE_TOLERANCE
            to_camera = F.normalize(camera.position - points, dim=1)
            facing = (normals[i, samples.vertices] * to_camera).sum(1) > FACING
            out[t] = (inside & front & facing & (z > 0)).float()
    return out


def _blur(frames: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of [T, C, H, W] (sigma in pixels; 0: unchanged)."""
    if sigma <= 0:
        return frames
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=frames.dtype)
    g = torch.exp(-x * x / (2 * sigma * sigma))
    g = g / g.sum()
    c = frames.shape[1]
    out = F.conv2d(F.pad(frames, (radius, radius, 0, 0), mode="replicate"), g.view(1, 1, 1, -1).expand(c, 1, 1, -1),
                   groups=c)
    return F.conv2d(F.pad(out, (0, 0, radius, radius), mode="replicate"), g.view(1, 1, -1, 1).expand(c, 1, -1, 1),
                    groups=c)


def _weighted_median(values: Tensor, weight: Tensor) -> Tensor:
    """Per sample, the median over frames [N, 3] of values [T, N, 3] where weight [T, N] > 0.5
    (mid-grey where no frame shows it)."""
    masked = torch.where((weight > 0.5)[..., None], values, torch.full_like(values, float("nan")))
    median = torch.nanmedian(masked, dim=0).values
    return torch.nan_to_num(median, nan=0.5)


def _colour_error(seen: Tensor, pred: Tensor, weight: Tensor) -> Tensor:
    """[T] weighted mean absolute colour difference over the visible samples of each frame."""
    err = (seen - pred).abs().mean(-1)  # [T, N]
    return (err * weight).sum(1) / weight.sum(1).clamp_min(1e-6)
