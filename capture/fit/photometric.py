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

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from avatar.splat.camera import Camera
from avatar.splat.mesh_raster import rasterize_mesh
from avatar.splat.sh import SH_C0, sh_basis
from avatar.rig import HeadRig, RigParams
from capture.embedding import LandmarkEmbedding
from capture.fit.frame_sampling import blurred_frames, sample_frames
from capture.fit.setup import (
    LANDMARK_SCALE,
    eyes_only,
    fit_model,
    fit_points,
    jaw_from,
    landmark_residuals,
    outline_choice,
    project_cameras,
)
from capture.fit.video import FitWeights
from capture.head_outline import HAIR_LR, OutlineTerm, matte_outline
from capture.ibug68 import inter_ocular
from capture.fit.landmark_rig import LandmarkRig
from capture.fit.silhouette import outline_normals
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
    error_before: np.ndarray  # [T] texture consistency of the landmark fit, 0..1 (`PhotometricRefinement.consistency`)
    error: np.ndarray  # [T] the same after refinement
    outline_before: np.ndarray | None = None  # [T] mean |head outline error| in pixels (`head_outline`)
    outline: np.ndarray | None = None  # [T] the same after refinement


def refine_photometric(
    rig: HeadRig,
    embedding: LandmarkEmbedding,
    params: RigParams,
    cameras: list[Camera],
    images: np.ndarray,
    mattes: np.ndarray,
    landmarks: np.ndarray,
    pairs: Tensor,
    weights: PhotometricWeights | None = None,
    fit_weights: FitWeights | None = None,
    progress: bool = True,
    shell_height: float | None = None,
    in_frame: np.ndarray | None = None,
    time: np.ndarray | None = None,
) -> PhotometricFit:
    """Refine `params` [T] against the frames (the other arguments: `PhotometricRefinement`);
    progress: show a progress bar over the optimisation steps."""
    return PhotometricRefinement(
        rig,
        embedding,
        params,
        cameras,
        images,
        mattes,
        landmarks,
        pairs,
        weights,
        fit_weights,
        shell_height,
        in_frame,
        time,
    ).run(progress)


class PhotometricRefinement:
    """One video's refinement problem: the frames and landmarks it is measured against, the rig
    parameters it moves (offsets from the landmark fit), and the appearance model (per-vertex
    albedo, shared lighting, per-frame gain) those parameters are judged with.

    images [T, H, W, 3] uint8 seen by `cameras` (one per frame, rig space to pixels); mattes
    [T, H, W] in [0, 1] (the person); landmarks [T, 478, 2] MediaPipe points in the same pixels;
    pairs [P]: the frames t that follow t - 1 in time (`fit_video.continuing_frames`), kept
    smooth. shell_height (rest pose, metres): where the head's outline term starts
    (`head_outline`; None: no outline term); in_frame [T, H, W]: 1 where the images show the
    video (default everywhere); time [F]: the time step (row of params) each image shows, when
    several cameras see each moment (default: image t shows time step t). Then cameras, images,
    mattes, landmarks and in_frame are per image [F], params and pairs per time step, and the
    error arrays of the result per image.
    """

    def __init__(
        self,
        rig: HeadRig,
        embedding: LandmarkEmbedding,
        params: RigParams,
        cameras: list[Camera],
        images: np.ndarray,
        mattes: np.ndarray,
        landmarks: np.ndarray,
        pairs: Tensor,
        weights: PhotometricWeights | None = None,
        fit_weights: FitWeights | None = None,
        shell_height: float | None = None,
        in_frame: np.ndarray | None = None,
        time: np.ndarray | None = None,
    ) -> None:
        self.weights = weights or PhotometricWeights()
        self.fit_weights = fit_weights or FitWeights()
        self.rig = rig.to(dtype=torch.float32)
        self.embedding = embedding
        self.cameras = cameras
        self.pairs = pairs  # [P]
        self.model = fit_model(self.rig, embedding)
        self.samples = _face_samples(self.rig, embedding, self.weights.max_samples)
        self.sample_rig = LandmarkRig(self.rig, self.samples.faces, self.samples.bary, self.samples.normals)
        self.point_rig = fit_points(self.rig, embedding)
        self.eye_rig = self.point_rig.subset(self.model.eye_points)  # the irises' eye-only term
        self.k_mats = torch.stack([c.K for c in cameras]).float()  # [T, 3, 3]
        self.w2c = torch.stack([c.world_to_cam for c in cameras]).float()  # [T, 4, 4]
        self.height, self.width = images.shape[1:3]
        # Kept as stored, widened a chunk at a time where sampled (`frame_sampling`): a long clip's
        # frames as float32 would not fit.
        self.frames = torch.as_tensor(images).permute(0, 3, 1, 2)  # [T, 3, H, W] uint8, the caller's memory
        self.matte = torch.as_tensor(mattes).to(torch.float16)[:, None]  # [T, 1, H, W]
        self.target = torch.as_tensor(landmarks[:, embedding.mp_index, :2], dtype=torch.float32)  # [T, L, 2]
        self.outline_normals = torch.as_tensor(outline_normals(landmarks))  # [T, S, 2]
        self.iod = torch.as_tensor(inter_ocular(landmarks), dtype=torch.float32).clamp_min(1.0)  # [T]

        self.time = None if time is None else torch.as_tensor(time, dtype=torch.long)  # [F]
        self.base = params.detach().to(dtype=torch.float32)  # [T] the landmark fit
        # What the optimiser moves: offsets from the landmark fit (identity and neck stay).
        self.delta = {
            k: torch.zeros_like(getattr(self.base, k), requires_grad=True)
            for k in ("rotation", "translation", "expr", "jaw", "eyes")
        }
        self.albedo = torch.zeros(self.samples.count, 3, requires_grad=True)  # [N, 3] logit of the colour
        sh = torch.zeros(9, 3)  # [9, 3] degree-2 lighting, shared by all frames
        sh[0] = 1.0 / SH_C0  # shading 1 everywhere
        self.sh = sh.requires_grad_(True)
        self.log_gain = torch.zeros(len(images), 3, requires_grad=True)  # [F, 3] exposure

        self.head: OutlineTerm | None = None
        if shell_height is not None and self.weights.outline > 0:
            seen = matte_outline(mattes, np.ones_like(mattes) if in_frame is None else in_frame, landmarks)
            self.head = OutlineTerm(self.rig, shell_height, seen, self.k_mats, self.w2c, self.iod)
            self.head.fit_hair(self.per_image(self.current().detach()))

    def run(self, progress: bool = True) -> PhotometricFit:
        """Optimise all frames together, one Adam run through the blur levels (coarse to fine:
        wide basins first), re-deciding visibility at the start of each level because the mesh
        has moved; measures the texture consistency (and outline error) before and after."""
        with torch.no_grad():
            start = self.current()
            outline_before = None if self.head is None else self.head.mean_abs_error(self.per_image(start))
            visible = self.visibility(start)  # also the first level's
            self.init_albedo(start, visible)
            error_before = self.consistency(start, visible)
        optimizer = self.optimizer()
        levels = self.weights.levels
        bar = tqdm(
            total=sum(steps for _, steps in levels), desc="photometric refinement", disable=not progress, leave=False
        )
        blurred = None
        for level, (sigma, steps) in enumerate(levels):
            del blurred  # the previous level's, freed before the next is made
            blurred = blurred_frames(self.frames, sigma)  # [T, 3, H, W] float16
            if level:
                visible = self.visibility(self.current().detach())
            for _ in range(steps):
                photo = self.step(optimizer, blurred, visible)
                bar.update(1)
            bar.set_postfix(photo=f"{photo.item():.4f}")
        bar.close()
        with torch.no_grad():
            final = self.current()
            error = self.consistency(final, self.visibility(final))
            outline_after = None if self.head is None else self.head.mean_abs_error(self.per_image(final))
        return PhotometricFit(final.detach(), error_before.numpy(), error.numpy(), outline_before, outline_after)

    def current(self) -> RigParams:
        """[T] the landmark fit moved by the current offsets, constrained as the landmark fit is:
        only the expressions it frees move, bounded weights stay in [0, 1], the jaw follows the
        expressions (`jaw_from`) and the eyes do not roll."""
        base, delta = self.base, self.delta
        expr = base.expr + delta["expr"] * self.model.free_expr
        if self.model.expr_bounded:
            expr = expr.clamp(0.0, 1.0)
        eyes = base.eyes + delta["eyes"] * torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0, 0.0])
        jaw = jaw_from(self.model, expr, base.jaw + delta["jaw"])
        return RigParams(
            base.shape,
            expr,
            jaw,
            base.neck,
            base.rotation + delta["rotation"],
            eyes,
            base.translation + delta["translation"],
        )

    def per_image(self, params: RigParams) -> RigParams:
        """params [T] -> [F]: each image's time step."""
        return params if self.time is None else params.select(self.time)

    def visibility(self, params: RigParams) -> Tensor:
        """[T, N] 1 where a face sample is seen in its frame (`_visibility`). Called once per blur
        level, not per step: it poses and z-buffers the full mesh, and a step moves it little."""
        return _visibility(self.rig, self.per_image(params), self.samples, self.cameras)

    def observe(self, params: RigParams, frames: Tensor, visible: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Observed colours [T, N, 3] where the posed face samples project into frames
        [T, 3, H, W], their shading normals [T, N, 3] and weights [T, N] (visible and on the
        person's matte). Gradients reach the parameters through the bilinear sampling."""
        points, normals = self.sample_rig.posed(self.per_image(params))  # [F, N, 3] each
        pix = project_cameras(points, self.k_mats, self.w2c)  # [T, N, 2]
        grid = torch.stack([pix[..., 0] / self.width * 2 - 1, pix[..., 1] / self.height * 2 - 1], -1)[:, :, None]
        seen = sample_frames(frames, grid, padding_mode="border")[..., 0]  # [T, 3, N]
        with torch.no_grad():
            on_person = sample_frames(self.matte, grid.detach())[:, 0, :, 0]  # [T, N]
        return seen.transpose(1, 2), F.normalize(normals, dim=-1), visible * on_person

    def predicted(self, normals: Tensor) -> Tensor:
        """[T, N, 3] the appearance model's colours for shading normals [T, N, 3]: albedo times
        the shared spherical-harmonic shading times each frame's gain."""
        shading = torch.einsum("tnk,kc->tnc", sh_basis(2, normals), self.sh)  # [T, N, 3]
        return torch.sigmoid(self.albedo)[None] * shading * torch.exp(self.log_gain)[:, None, :]

    @torch.no_grad()
    def init_albedo(self, params: RigParams, visible: Tensor) -> None:
        """Start each sample's albedo at its median colour over the frames that show it: the
        appearance model starts where the frames agree, not at grey."""
        seen, _, weight = self.observe(params, self.frames, visible)
        self.albedo.copy_(torch.logit(_weighted_median(seen, weight).clamp(0.02, 0.98)))

    def photo_loss(self, params: RigParams, frames: Tensor, visible: Tensor) -> Tensor:
        """Robust (Charbonnier) colour error between frames [T, 3, H, W] and the appearance model,
        mean over the weighted samples and channels."""
        seen, normals, weight = self.observe(params, frames, visible)
        residual = seen - self.predicted(normals)  # [T, N, 3]
        return (weight[..., None] * (residual.pow(2) + CHARBONNIER**2).sqrt()).sum() / (3 * weight.sum() + 1e-6)

    def landmark_loss(self, params: RigParams) -> Tensor:
        """The landmark fit's own term (inter-ocular-normalised squared residuals, its point
        weights): keeps the fit anchored where the skin has too little texture to steer it."""
        params = self.per_image(params)
        points, point_normals = self.point_rig.posed(params)
        pix = project_cameras(points, self.k_mats, self.w2c)  # [T, L, 2]
        residual = landmark_residuals(
            self.embedding,
            pix,
            self.target,
            self.outline_normals,
            outline_choice(self.embedding, points, point_normals),
        )
        err = (residual / self.iod[:, None, None]).pow(2).sum(-1)  # [T, L]
        eye_pix = project_cameras(self.eye_rig(eyes_only(params)), self.k_mats, self.w2c)  # [T, K, 2]
        eye_err = ((eye_pix - self.target[:, self.model.eye_points]) / self.iod[:, None, None]).pow(2).sum(-1)
        return (err * self.model.point_weights).sum(-1).mean() + (eye_err * self.model.eye_weights).sum(-1).mean()

    def outline_loss(self, params: RigParams) -> Tensor | float:
        """The head's outline above the ears against the matte (`head_outline`), scaled like the
        landmark term; 0 without an outline term."""
        if self.head is None:
            return 0.0
        return self.weights.outline * LANDMARK_SCALE * self.head.loss(self.per_image(params))

    def regularisers(self, params: RigParams) -> Tensor:
        """The landmark fit's priors (small expressions, eyes and jaw) and temporal smoothness
        between consecutive frames, with its weights: the refinement must not undo them."""
        fw, pairs = self.fit_weights, self.pairs
        return (
            fw.expr * params.expr.pow(2).sum(-1).mean()
            + fw.eyes * params.eyes.pow(2).sum(-1).mean()
            + fw.jaw * params.jaw.pow(2).sum(-1).mean()
            + _smoothness(params.expr, pairs, fw.smooth_expr)
            + _smoothness(params.rotation, pairs, fw.smooth_pose)
            + _smoothness(params.jaw, pairs, fw.smooth_pose)
            + _smoothness(params.eyes, pairs, fw.smooth_eyes)
            + _smoothness(params.translation, pairs, fw.smooth_translation)
        )

    def optimizer(self) -> torch.optim.Adam:
        """Adam over the pose, expression and appearance (and the hair thickness with an outline
        term), each group at its own rate."""
        w, delta = self.weights, self.delta
        return torch.optim.Adam(
            [
                {"params": [delta["rotation"], delta["translation"], delta["jaw"], delta["eyes"]], "lr": w.lr_pose},
                {"params": [delta["expr"]], "lr": w.lr_expr},
                {"params": [self.albedo, self.sh, self.log_gain], "lr": w.lr_appearance},
            ]
            + ([{"params": [self.head.hair], "lr": HAIR_LR}] if self.head is not None else [])
        )

    def step(self, optimizer: torch.optim.Adam, frames: Tensor, visible: Tensor) -> Tensor:
        """One Adam step on the whole objective against frames [T, 3, H, W] (one blur level);
        returns the photometric term, for the progress bar."""
        w = self.weights
        optimizer.zero_grad(set_to_none=True)
        params = self.current()
        photo = self.photo_loss(params, frames, visible)
        # The last term: GAIN_PRIOR keeps each frame's colour gain near 1.
        loss = (
            w.photo * photo
            + w.landmarks * self.landmark_loss(params)
            + self.outline_loss(params)
            + self.regularisers(params)
            + GAIN_PRIOR * self.log_gain.pow(2).sum(-1).mean()
        )
        loss.backward()
        optimizer.step()
        return photo

    def consistency(self, params: RigParams, visible: Tensor) -> Tensor:
        """[T] how far each frame's colours at the visible face vertices are from those vertices'
        median colour over the video: low when the mesh stays on the same skin in every frame."""
        seen, _, weight = self.observe(params, self.frames, visible)
        return _colour_error(seen, _weighted_median(seen, weight)[None], weight)


def _smoothness(x: Tensor, pairs: Tensor, weight: float) -> Tensor | float:
    """weight times the mean squared change of x [T, D] from frame t - 1 to t over pairs [P]
    (0 without pairs)."""
    return weight * (x[pairs] - x[pairs - 1]).pow(2).sum(-1).mean() if len(pairs) else 0


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
