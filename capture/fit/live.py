"""Per-frame rig fitting for live driving: warm-started from the previous frame, a few ms each.

A few damped Gauss-Newton (Levenberg-Marquardt) steps on one frame's landmarks. The Jacobian
of the landmark residuals is taken by forward differences, all parameters perturbed at once as
one batch through the landmark-only rig (`landmark_rig`): one small batched evaluation instead
of tens of autodiff passes. It runs in float64 so the differences stay accurate. Identity and focal length are fixed: from a tracked capture of
the same person when available, else the rig's mean identity and a phone-like focal length.
Neck stays at zero (the head rotation carries the pose). Its tensors are tiny: run it with
`torch.set_num_threads(1)` (intra-op threads made it 4x slower on 2 cores: 35 vs 8 ms).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from avatar.rig import HeadRig, RigParams
from capture.embedding import LandmarkEmbedding, embedding_for_rig
from capture.fit.setup import (fit_model, fit_points, initial_translation, jaw_from, outline_choice,
                               picked_residuals, picked_rows, project)
from capture.fit.video import FOCAL_PRIOR
from capture.face_model import EYE_CONTOURS, EYEBROWS, FACE_MESH_POINTS, FACE_OVAL, LIPS
from capture.ibug68 import IRIS_CENTRES, MP_TO_IBUG68, inter_ocular
from capture.fit.landmark_rig import LandmarkRig
from capture.fit.silhouette import outline_normals

PRIOR_EXPR = 3e-2  # sqrt-weights of the residual priors (residuals are in inter-ocular units)
PRIOR_EYES = 3e-2
PRIOR_JAW = 3e-2
TEMPORAL = 5e-2  # pull towards the previous frame's solution: steadiness without lag
DAMPING = 1e-2
FD_STEP = 1e-6  # forward-difference step (float64)
RIGID_STEPS_COLD = 4  # head pose alone first when starting without a previous frame
CALIBRATION_FRAMES = 30  # frames with a face that calibrate identity and focal before live fitting
# Every third calibration frame fits the identity: neighbours at 30 fps repeat one another, so a
# third of them scores live (`avatar eval-live`) as all 30 do, in less time (docs/results.md,
# "Live in the viewer").
CALIBRATION_STEP = 3


# The points each frame fits when the embedding is dense: the expressive parts (lips, eyes, brows),
# the outline, the iBUG set and every 4th of the rest (225 of 478). All 478 cost about twice as
# much per frame (builtin head: 15 against 7.5 ms); the expressive parts alone (139) fit a known
# jaw motion 2x less closely (max jawOpen error 0.12 against 0.05; all 478: 0.02).
LIVE_POINTS = np.unique(np.concatenate([MP_TO_IBUG68, LIPS, EYE_CONTOURS, EYEBROWS, FACE_OVAL, IRIS_CENTRES,
                                        np.arange(0, FACE_MESH_POINTS, 4)]))


class LiveFitter:
    def __init__(self, rig: HeadRig, frame_size: tuple[int, int], shape: Tensor | None = None,
                 focal: float | None = None, embedding: LandmarkEmbedding | None = None, iterations: int = 3):
        self.rig = rig.to(dtype=torch.float64)
        self.embedding = embedding or embedding_for_rig(self.rig)  # calibration fits all of it
        self.points = _live_points(self.embedding)  # each frame fits these
        self.model = fit_model(self.rig, self.points)
        self.lrig = fit_points(self.rig, self.points)
        self.shape = shape.double() if shape is not None else torch.zeros(self.rig.num_shape, dtype=torch.float64)
        self.focal = torch.tensor([focal or FOCAL_PRIOR * max(frame_size)], dtype=torch.float64)
        self.centre = torch.tensor([[frame_size[0] / 2, frame_size[1] / 2]], dtype=torch.float64)
        self.iterations = iterations
        self.free = self.model.free_expr.nonzero()[:, 0]
        e = len(self.free)
        # x = [rotation 3 | translation 3 | free expressions e | jaw 3 | eye pitch/yaw 4]
        self._slices = {"rotation": slice(0, 3), "translation": slice(3, 6), "expr": slice(6, 6 + e),
                        "jaw": slice(6 + e, 9 + e), "eyes": slice(9 + e, 13 + e)}
        self.size = 13 + e
        self.prior = torch.zeros(self.size, dtype=torch.float64)
        self.prior[self._slices["expr"]] = PRIOR_EXPR
        self.prior[self._slices["eyes"]] = PRIOR_EYES
        self.prior[self._slices["jaw"]] = PRIOR_JAW if self.model.jaw_mode == "free" else 1.0
        self.x: Tensor | None = None
        # Constant per fit: residual weights [2L], finite-difference probes [P+1, P], pose-only mask.
        self._weights = self.model.point_weights.double().sqrt().repeat_interleave(2)
        # The irises' eye-only term: rows [2K] whose Jacobian keeps only the eye columns.
        self._eye_weights = self.model.eye_weights.double().sqrt().repeat_interleave(2)
        self._eye_columns = torch.zeros(self.size, dtype=torch.float64)
        self._eye_columns[self._slices["eyes"]] = 1.0
        self._probes = torch.cat([torch.zeros(1, self.size, dtype=torch.float64),
                                  FD_STEP * torch.eye(self.size, dtype=torch.float64)])
        self._rigid = torch.arange(self.size) < 6

    def calibrate(self, landmark_frames: list[np.ndarray], frame_size: tuple[int, int]) -> None:
        """Fit this person's identity and the camera's focal length on a few frames of landmarks
        [478, 2+] (a second or two of video, ideally with some head motion), as `avatar track`
        does for a whole video. Without it, expressions absorb the identity mismatch."""
        from capture.fit.video import FitWeights, fit_videos

        kept = np.arange(0, len(landmark_frames), CALIBRATION_STEP)  # [T] frame numbers (not consecutive)
        points = np.stack([landmark_frames[i][:, :2] for i in kept])  # [T, 478, 2]
        fit = fit_videos(self.rig, self.embedding, points, np.zeros(len(kept), int), kept, [frame_size],
                         FitWeights(rigid_steps=100, full_steps=200), progress=False)
        self.shape = fit.params.shape.double()
        self.focal = torch.tensor([float(fit.focal[0])], dtype=torch.float64)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (e.g. after the face was lost)."""
        self.x = None

    def fit(self, landmarks: np.ndarray) -> RigParams:
        """One frame's rig parameters from MediaPipe landmarks [478, 2+] in pixels."""
        target = torch.as_tensor(landmarks[self.points.mp_index, :2], dtype=torch.float64)[None]  # [1, L, 2]
        normals = torch.as_tensor(outline_normals(landmarks[None]), dtype=torch.float64)  # [1, S, 2]
        iod = float(max(inter_ocular(landmarks), 1.0))
        first = self.x is None
        x = self._initial(target) if first else self.x.clone()
        previous = x.clone()
        weights, probes, rigid, prior = self._weights, self._probes, self._rigid, self.prior
        temporal = 0.0 if first else TEMPORAL
        schedule = [rigid] * RIGID_STEPS_COLD + [None] * (self.iterations * 3) if first else [None] * self.iterations
        outline = None
        for only in schedule:
            batch = x[None] + probes  # [P+1, P]
            if outline is None or first:  # warm: the previous frame's solution picks for the frame's few small steps
                outline = self._outline(x)
            residual = self._residuals(outline, batch, target, normals)  # [P+1, L, 2]
            data = (residual / iod).reshape(len(batch), -1) * weights  # [P+1, 2L]
            j = (data[1:] - data[0]).T / FD_STEP  # [2L, P]
            eye = (residual[:, self.model.eye_points] / iod).reshape(len(batch), -1) * self._eye_weights  # [P+1, 2K]
            j_eye = (eye[1:] - eye[0]).T / FD_STEP * self._eye_columns  # [2K, P]: moves the eyes only
            data, j = torch.cat([data, eye], 1), torch.cat([j, j_eye])
            # Normal equations of data + prior * x + temporal * (x - previous), damped.
            jtj = j.T @ j + torch.diag(prior.pow(2) + temporal ** 2)
            grad = j.T @ data[0] + prior.pow(2) * x + temporal ** 2 * (x - previous)
            moving = self._moving(x, grad) if only is None else only
            step = torch.zeros_like(x)
            sub = jtj[moving][:, moving]
            step[moving] = torch.linalg.solve(sub + DAMPING * torch.diag(sub.diagonal() + 1e-6), -grad[moving])
            x = x + step
            if self.model.expr_bounded:
                x[self._slices["expr"]] = x[self._slices["expr"]].clamp(0.0, 1.0)
        self.x = x
        return self.params(x[None]).to(dtype=torch.float32)

    def _outline(self, x: Tensor) -> tuple[LandmarkRig, Tensor] | None:
        """(the rig at the L points and the picked outline candidates, the picks [S]) at the
        parameters x [P]; None without outline paths. The picks hold for every probe: no switches
        in the Jacobian, and only the picked candidates are posed for the probes."""
        if self.points.outline is None:
            return None
        points, point_normals = self.lrig.posed(self.params(x[None]))  # [1, L + candidates, 3]
        pick = outline_choice(self.points, points, point_normals)[0]  # [S]
        return self.lrig.subset(picked_rows(self.points, pick)), pick

    def _residuals(self, outline: tuple[LandmarkRig, Tensor] | None, batch: Tensor, target: Tensor,
                   normals: Tensor) -> Tensor:
        """Landmark residuals [B, L, 2] of the parameter vectors batch [B, P] against target
        [1, L, 2], with the outline picks of `_outline`."""
        focal, centre = self.focal.expand(len(batch)), self.centre.expand(len(batch), 2)
        if outline is None:
            return project(self.lrig(self.params(batch)), focal, centre) - target
        picked, pick = outline
        return picked_residuals(self.points, project(picked(self.params(batch)), focal, centre), target, normals, pick)

    def _moving(self, x: Tensor, grad: Tensor) -> Tensor:
        """Parameters free to move this step: bounded expressions held at a bound that the
        gradient pushes against stay put (an active-set projected Gauss-Newton step)."""
        moving = torch.ones(self.size, dtype=torch.bool)
        if self.model.expr_bounded:
            e, g = x[self._slices["expr"]], grad[self._slices["expr"]]
            moving[self._slices["expr"]] = ~(((e <= 0) & (g > 0)) | ((e >= 1) & (g < 0)))
        return moving

    def params(self, x: Tensor) -> RigParams:
        """Rig parameters of a batch of parameter vectors x [B, P]."""
        s = self._slices
        b = len(x)
        expr = torch.zeros(b, self.rig.num_expr, dtype=x.dtype).index_copy(1, self.free, x[:, s["expr"]])
        eyes = x[:, s["eyes"]]
        zero = torch.zeros(b, 1, dtype=x.dtype)
        eyes6 = torch.cat([eyes[:, 0:2], zero, eyes[:, 2:4], zero], dim=1)
        jaw = jaw_from(self.model, expr, x[:, s["jaw"]])
        return RigParams(self.shape.to(x.dtype), expr, jaw, torch.zeros(b, 3, dtype=x.dtype),
                         x[:, s["rotation"]], eyes6, x[:, s["translation"]])

    def _initial(self, target: Tensor) -> Tensor:
        """Facing the camera at the depth and place where the landmarks' spread says."""
        with torch.no_grad():
            base = RigParams(self.shape, *(torch.zeros(1, k, dtype=torch.float64) for k in (self.rig.num_expr, 3, 3, 3, 6, 3)))
            rest = self.lrig(base)[0, :self.points.num_points]  # [L, 3]
        face = self.model.point_weights > 0  # [L] the face's points: the irises place the eyes only
        x = torch.zeros(self.size, dtype=torch.float64)
        x[self._slices["translation"]] = initial_translation(rest[face], target[:, face], self.focal, self.centre)[0]
        return x


def _live_points(embedding: LandmarkEmbedding) -> LandmarkEmbedding:
    """LIVE_POINTS of a dense embedding; a sparse one (FLAME's file) whole."""
    if set(LIVE_POINTS.tolist()) <= set(embedding.mp_index.tolist()):
        return embedding.subset(LIVE_POINTS)
    return embedding
