"""One head seen by several synchronized cameras: the rig and the cameras fitted to every view's landmarks at once.

Per time step one pose, expression, jaw, eyes and neck shared by all views; one identity; per
camera a rigid pose and a focal length, fixed over the clip. World space is the rig space of
camera 0 (the monocular tracker's: camera at the origin looking down -z, y up); camera c maps it
into its own such frame by `view_from_world[c]` [4, 4] (the identity for camera 0), so its OpenCV
world-to-camera is `WORLD_TO_CAM @ view_from_world[c]`.

The cameras come from the face itself (`calibration=None`): every view sees the same rigid head at
the same moment, so the head's pose in each view, from a first fit of each view on its own, gives
each camera's pose relative to camera 0 (averaged over the moments both see the face). The joint
fit then refines everything against all views' landmarks: a view that lost the face in a frame
leaves that frame to the others. With a calibration file the cameras' relative poses and
intrinsics are the file's and only the scale of its world (unknown to the rig: a COLMAP model has
none) is fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.transform import Rotation
from torch import Tensor
from tqdm import tqdm

from avatar.rig import HeadRig, RigParams
from avatar.rig.lbs import axis_angle_to_matrix
from avatar.runtime.errors import InputError
from capture.embedding import LandmarkEmbedding
from capture.fit.setup import eyes_only, fit_model, fit_points, landmark_residuals, outline_choice
from capture.fit.video import FitWeights, continuing_frames, fit_videos, nme_68, variables_to_params
from capture.ibug68 import inter_ocular
from capture.fit.landmark_rig import LandmarkRig
from capture.fit.silhouette import outline_normals

RIGID_STEPS = 150  # cameras and head poses only, from the per-view fits
FULL_STEPS = 500  # then everything
POLISH_ITERATIONS = 200  # L-BFGS at the end


@dataclass
class KnownCameras:
    """Cameras from a calibration file, already in the videos' pixels: their poses fixed up to the
    scale of the file's world (fitted), their intrinsics fixed."""
    view_from_world: np.ndarray  # [C, 4, 4] rig-like frames (camera looks down -z, y up); camera 0's is the identity
    K: np.ndarray  # [C, 3, 3] pixels


@dataclass
class ViewsFit:
    params: RigParams  # [T] one time step per moment, shared by the views
    view_from_world: np.ndarray  # [C, 4, 4] world (camera 0's rig space) -> camera c's rig-like frame
    K: np.ndarray  # [C, 3, 3] each camera's intrinsics in its video's pixels
    nme: np.ndarray  # [C, T] 68-point NME (`fit_video.nme_68`), NaN where the view did not see the face
    nme_inner51: np.ndarray  # [C, T] the same over the 51 inner points
    projected: np.ndarray | None  # [C, T, 68, 2] the fitted rig's iBUG points in each video's pixels

    def world_to_cam(self) -> np.ndarray:
        """[C, 4, 4] OpenCV world-to-camera of each view (x right, y down, z forward)."""
        flip = np.diag([1.0, -1.0, -1.0, 1.0])
        return flip @ self.view_from_world


def fit_views(rig: HeadRig, embedding: LandmarkEmbedding, landmarks: np.ndarray, seen: np.ndarray,
              sizes: list[tuple[int, int]], known: KnownCameras | None = None, weights: FitWeights | None = None,
              progress: bool = True) -> ViewsFit:
    """Fit the rig and the cameras to landmarks [C, T, 478, 2] (MediaPipe points in each video's
    pixels) where seen [C, T] (the view found the face at that moment); sizes[c] = (width,
    height) of view c. Every moment must be seen by at least one view."""
    w = weights or FitWeights()
    num_views, num_times = seen.shape
    first = _per_view_fit(rig, embedding, landmarks, seen, sizes, progress)
    view_from_world = _relative_cameras(first, seen)
    if known is not None:  # the file's cameras, its world brought to metres by the cameras the face gave
        view_from_world = _scaled(known.view_from_world, view_from_world)
    start = _world_params(rig, first, seen, view_from_world)
    fit = _JointFit(rig, embedding, landmarks, seen, start, view_from_world,
                    first.k_mats if known is None else known.K, known is not None, w)
    bar = tqdm(total=RIGID_STEPS + FULL_STEPS, desc="fitting rig to all views", disable=not progress, leave=False)
    fit.run(rigid=True, steps=RIGID_STEPS, lr=1e-2, bar=bar)
    fit.run(rigid=False, steps=FULL_STEPS, lr=5e-3, bar=bar)
    fit.polish(POLISH_ITERATIONS)
    bar.close()
    params, view_from_world, k_mats = fit.result()
    return views_fit(rig, params, view_from_world, k_mats, landmarks, seen)


def views_fit(rig: HeadRig, params: RigParams, view_from_world: np.ndarray, k_mats: np.ndarray,
              landmarks: np.ndarray, seen: np.ndarray) -> ViewsFit:
    """The fit with its iBUG points projected into every view and their NME where seen."""
    num_views, num_times = seen.shape
    nme = np.full((num_views, num_times), np.nan)
    inner = np.full((num_views, num_times), np.nan)
    if rig.lmk_faces is None:
        return ViewsFit(params, view_from_world, k_mats, nme, inner, None)
    with torch.no_grad():
        points = LandmarkRig(rig.to(dtype=torch.float32), rig.lmk_faces, rig.lmk_bary)(params.to(dtype=torch.float32))
    projected = np.stack([_project_view(points.numpy(), view_from_world[c], k_mats[c]) for c in range(num_views)])
    for c in range(num_views):
        where = np.flatnonzero(seen[c])
        nme[c, where] = nme_68(projected[c, where], landmarks[c, where])
        inner[c, where] = nme_68(projected[c, where], landmarks[c, where], first=17)
    return ViewsFit(params, view_from_world, k_mats, nme, inner, projected)


def camera_distances(fit: ViewsFit, rig: HeadRig) -> np.ndarray:
    """[C] each camera's median distance (rig units, metres) to the head's root joint over the clip."""
    with torch.no_grad():
        joints = _root_joints(rig, fit.params).numpy()  # [T, 3] rest root, before the pose
    head = joints + fit.params.translation.numpy()  # [T, 3] the root joint is where the rotation pivots
    centres = [np.linalg.inv(m)[:3, 3] for m in fit.view_from_world]  # camera centres in world
    return np.array([float(np.median(np.linalg.norm(head - c, axis=1))) for c in centres])


def _project_view(points: np.ndarray, view_from_world: np.ndarray, k_mat: np.ndarray) -> np.ndarray:
    """World points [..., 3] -> pixels [..., 2] of one view."""
    local = points @ view_from_world[:3, :3].T + view_from_world[:3, 3]
    x, y, z = local[..., 0], -local[..., 1], np.maximum(-local[..., 2], 1e-3)
    return np.stack([k_mat[0, 0] * x / z + k_mat[0, 2], k_mat[1, 1] * y / z + k_mat[1, 2]], -1)


@dataclass
class _PerViewFit:
    params: RigParams  # [C, T] flattened as c * T + t; meaningful where seen
    k_mats: np.ndarray  # [C, 3, 3] intrinsics from each view's own fit
    transforms: np.ndarray  # [C, T, 4, 4] the head's rigid motion in each view's rig-like frame


def _per_view_fit(rig: HeadRig, embedding: LandmarkEmbedding, landmarks: np.ndarray, seen: np.ndarray,
                  sizes: list[tuple[int, int]], progress: bool) -> _PerViewFit:
    """Each view fitted on its own (`fit_video.fit_videos`, one identity for all): the head's
    pose in every view, from which the cameras' relative poses follow."""
    num_views, num_times = seen.shape
    view, time = np.nonzero(seen)  # [F] each
    fit = fit_videos(rig, embedding, landmarks[view, time], view, time, sizes, progress=progress)
    full = _scatter(fit.params, view * num_times + time, num_views * num_times)
    transforms = _head_transforms(rig, full).numpy().reshape(num_views, num_times, 4, 4)
    # One view's focal length is barely seen (only through the head's own depth): every camera starts
    # at the views' median, each head moved along its rays to keep its size in the image.
    # Started each at its own, a view in profile keeps a focal length its landmarks do not support
    # and the cameras of one rig end up at very different distances (docs/multiview.md).
    focal = float(np.median(fit.focal))
    transforms[..., :3, 3] *= (focal / fit.focal)[:, None, None]
    k_mats = np.stack([_intrinsics(focal, s) for s in sizes])
    return _PerViewFit(full, k_mats, transforms)


def _relative_cameras(first: _PerViewFit, seen: np.ndarray) -> np.ndarray:
    """[C, 4, 4] each camera's pose relative to camera 0's, from the head's pose in both at the
    moments both see it: rotations averaged (the chordal mean), translations their median."""
    num_views = len(seen)
    out = np.tile(np.eye(4), (num_views, 1, 1))
    for c in range(1, num_views):
        both = np.flatnonzero(seen[0] & seen[c])
        if not len(both):
            raise InputError(f"view {c} never sees the face at a moment view 0 sees it: their cameras cannot be "
                             "related (give --calibration)")
        # head in c = E_c @ head in 0  ->  E_c = A_c A_0^-1 per moment
        relative = first.transforms[c, both] @ np.linalg.inv(first.transforms[0, both])  # [B, 4, 4]
        rotation = Rotation.from_matrix(relative[:, :3, :3]).mean().as_matrix()
        out[c, :3, :3] = rotation
        out[c, :3, 3] = np.median(relative[:, :3, 3], axis=0)
    return out


def _scaled(cameras: np.ndarray, like: np.ndarray) -> np.ndarray:
    """cameras [C, 4, 4] with their translations scaled to the size of those of `like` [C, 4, 4]
    (the median ratio over the cameras that are not the first, which has none)."""
    ratio = np.linalg.norm(like[1:, :3, 3], axis=1) / np.linalg.norm(cameras[1:, :3, 3], axis=1).clip(1e-12)
    out = cameras.copy()
    out[:, :3, 3] *= float(np.median(ratio))
    return out


def _world_params(rig: HeadRig, first: _PerViewFit, seen: np.ndarray, view_from_world: np.ndarray) -> RigParams:
    """[T] the joint fit's start: each moment's expression, jaw, eyes and neck the mean of its
    views', its head pose that of the first view that saw it, carried into world space."""
    num_views, num_times = seen.shape
    p = first.params
    weight = torch.as_tensor(seen, dtype=torch.float32).reshape(num_views, num_times, 1)

    def mean(x: Tensor) -> Tensor:
        return (x.reshape(num_views, num_times, -1).float() * weight).sum(0) / weight.sum(0).clamp_min(1)

    source = np.argmax(seen, axis=0)  # [T] the first view that sees each moment
    head = np.linalg.inv(view_from_world[source]) @ first.transforms[source, np.arange(num_times)]  # [T, 4, 4] world
    shaped = RigParams(p.shape.float(), mean(p.expr), mean(p.jaw), mean(p.neck), torch.zeros(num_times, 3),
                       mean(p.eyes), torch.zeros(num_times, 3))
    head_t = torch.as_tensor(head, dtype=torch.float32)
    rotation = torch.as_tensor(Rotation.from_matrix(head[:, :3, :3]).as_rotvec(), dtype=torch.float32)  # [T, 3]
    j0 = _root_joints(rig, shaped)  # [T, 3]
    # head = [R | J0 - R J0 + translation]  ->  translation = t - J0 + R J0
    translation = head_t[:, :3, 3] - j0 + torch.einsum("tij,tj->ti", head_t[:, :3, :3], j0)
    return RigParams(shaped.shape, shaped.expr, shaped.jaw, shaped.neck, rotation, shaped.eyes, translation)


class _JointFit:
    """The joint problem: per-moment head, one identity, per-camera pose (camera 0 fixed: it
    defines the world) and focal length, or with known cameras only the world's scale.

    Every view's frames enter one batch of C * T rows (view-major); a row whose view did not see
    the face counts nothing."""

    def __init__(self, rig: HeadRig, embedding: LandmarkEmbedding, landmarks: np.ndarray, seen: np.ndarray,
                 start: RigParams, view_from_world: np.ndarray,
                 k_mats: np.ndarray, known: bool, weights: FitWeights) -> None:
        self.w = weights
        self.num_views, self.num_times = seen.shape
        self.rig = rig.to(dtype=torch.float32)
        self.embedding = embedding
        self.model = fit_model(self.rig, embedding)
        self.lrig = fit_points(self.rig, embedding)
        self.eye_rig = self.lrig.subset(self.model.eye_points)
        flat = _filled(landmarks, seen).reshape(-1, *landmarks.shape[2:])  # [C * T, 478, 2]
        self.seen = torch.as_tensor(seen.reshape(-1))  # [C * T] bool
        self.target = torch.as_tensor(flat[:, embedding.mp_index], dtype=torch.float32)  # [C * T, L, 2]
        self.normals = torch.as_tensor(outline_normals(flat))  # [C * T, S, 2]
        self.iod = torch.as_tensor(inter_ocular(flat), dtype=torch.float32).clamp_min(1.0)  # [C * T]
        self.pairs = continuing_frames(np.zeros(self.num_times, int), np.arange(self.num_times))  # [T - 1]
        self.known = known
        self.var = {"rotation": start.rotation, "translation": start.translation, "shape": start.shape,
                    "expr": start.expr, "jaw": start.jaw, "neck": start.neck, "eyes": start.eyes}
        self.var = {k: v.detach().float().clone().requires_grad_(True) for k, v in self.var.items()}
        self.centre = torch.as_tensor(k_mats[:, :2, 2], dtype=torch.float32)  # [C, 2]
        # [C, 2] fx, fy: one free focal length per camera (fx = fy) unless a file gives both
        self.log_focal = torch.log(torch.as_tensor(k_mats[:, [0, 1], [0, 1]], dtype=torch.float32))
        if not known:
            self.log_focal = self.log_focal.mean(1, keepdim=True).requires_grad_(True)  # [C, 1]
        rest = torch.as_tensor(view_from_world, dtype=torch.float32)  # [C, 4, 4]
        self.fixed_rotation = rest[:, :3, :3]
        self.fixed_translation = rest[:, :3, 3]
        self.turn = torch.as_tensor(Rotation.from_matrix(view_from_world[1:, :3, :3]).as_rotvec(),
                                    dtype=torch.float32).reshape(-1, 3).requires_grad_(not known)  # [C - 1, 3]
        self.shift = rest[1:, :3, 3].clone().requires_grad_(not known)  # [C - 1, 3]
        self.log_scale = torch.zeros((), requires_grad=known)  # the calibration file's world in metres

    def cameras(self) -> tuple[Tensor, Tensor]:
        """Rotations [C, 3, 3] and translations [C, 3] from world into each view's rig-like frame."""
        if self.known:
            return self.fixed_rotation, self.fixed_translation * torch.exp(self.log_scale)
        rotation = torch.cat([torch.eye(3)[None], axis_angle_to_matrix(self.turn)])
        return rotation, torch.cat([torch.zeros(1, 3), self.shift])

    def k_mats(self) -> Tensor:
        """[C, 3, 3] intrinsics."""
        k = torch.zeros(self.num_views, 3, 3)
        focal = torch.exp(self.log_focal).expand(-1, 2)  # [C, 2]
        k[:, 0, 0], k[:, 1, 1] = focal[:, 0], focal[:, 1]
        k[:, :2, 2] = self.centre
        k[:, 2, 2] = 1.0
        return k

    def in_views(self, points: Tensor, rotation: Tensor, translation: Tensor) -> Tensor:
        """World points [T, P, 3] -> every view's frame [C * T, P, 3] (view-major)."""
        local = torch.einsum("cij,tpj->ctpi", rotation, points) + translation[:, None, None, :]
        return local.reshape(-1, *points.shape[1:])

    def project(self, local: Tensor, k_mats: Tensor) -> Tensor:
        """[C * T, P, 3] in the views' rig-like frames -> pixels [C * T, P, 2]."""
        focal = torch.stack([k_mats[:, 0, 0], k_mats[:, 1, 1]], -1).repeat_interleave(self.num_times, 0)  # [C*T, 2]
        centre = k_mats[:, :2, 2].repeat_interleave(self.num_times, 0)  # [C * T, 2]
        z = (-local[..., 2]).clamp_min(1e-3)
        return torch.stack([local[..., 0] / z, -local[..., 1] / z], -1) * focal[:, None] + centre[:, None]

    def loss(self, full: bool) -> Tensor:
        w, var = self.w, self.var
        p = variables_to_params(var, self.model)
        rotation, translation = self.cameras()
        k_mats = self.k_mats()
        points, normals = self.lrig.posed(p)  # [T, P, 3] each
        local = self.in_views(points, rotation, translation)  # [C * T, P, 3]
        local_normals = torch.einsum("cij,tpj->ctpi", rotation, normals).reshape(local.shape)
        pick = outline_choice(self.embedding, local, local_normals)
        residual = landmark_residuals(self.embedding, self.project(local, k_mats), self.target, self.normals, pick)
        err = (residual / self.iod[:, None, None]).pow(2).sum(-1)  # [C * T, L]
        eyes = self.in_views(self.eye_rig(eyes_only(p)), rotation.detach(), translation.detach())
        eye_err = ((self.project(eyes, k_mats.detach()) - self.target[:, self.model.eye_points])
                   / self.iod[:, None, None]).pow(2).sum(-1)  # [C * T, K]
        per_row = (err * self.model.point_weights).sum(-1) + (eye_err * self.model.eye_weights).sum(-1)  # [C * T]
        data = torch.where(self.seen, per_row, 0.0).sum() / self.seen.sum().clamp_min(1)
        if not full:
            return data
        pairs = self.pairs

        def smooth(x: Tensor, k: float) -> Tensor | float:
            return k * (x[pairs] - x[pairs - 1]).pow(2).sum(-1).mean() if len(pairs) else 0.0

        return (data + w.shape * p.shape.pow(2).sum() + w.expr * p.expr.pow(2).sum(-1).mean()
                + w.neck * p.neck.pow(2).sum(-1).mean() + w.eyes * p.eyes.pow(2).sum(-1).mean()
                + w.jaw * var["jaw"].pow(2).sum(-1).mean()
                + smooth(p.expr, w.smooth_expr) + smooth(p.rotation, w.smooth_pose) + smooth(p.jaw, w.smooth_pose)
                + smooth(p.eyes, w.smooth_eyes) + smooth(p.translation, w.smooth_translation))

    def run(self, rigid: bool, steps: int, lr: float, bar: tqdm) -> None:
        """Adam over the rigid unknowns (head poses and cameras) or over everything."""
        var = self.var
        cameras = [self.log_scale] if self.known else [self.turn, self.shift]
        tensors = [var["rotation"], var["translation"]] + cameras
        if not rigid:
            tensors += [var[k] for k in ("shape", "expr", "jaw", "neck", "eyes")] + ([] if self.known
                                                                                   else [self.log_focal])
        optimizer = torch.optim.Adam(tensors, lr=lr)
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = self.loss(full=not rigid)
            loss.backward()
            optimizer.step()
            if self.model.expr_bounded:
                with torch.no_grad():
                    var["expr"].clamp_(0.0, 1.0)
            bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.2e}")

    def polish(self, iterations: int) -> None:
        """L-BFGS over everything: the focal lengths and the distances trade off along a valley
        so flat (only the head's own depth tells them apart) that Adam crawls along it."""
        var = self.var
        tensors = [var[k] for k in ("rotation", "translation", "shape", "expr", "jaw", "neck", "eyes")]
        tensors += [self.log_scale] if self.known else [self.turn, self.shift, self.log_focal]
        optimizer = torch.optim.LBFGS(tensors, lr=1.0, max_iter=iterations, history_size=50,
                                      line_search_fn="strong_wolfe")

        def closure() -> Tensor:
            optimizer.zero_grad(set_to_none=True)
            loss = self.loss(full=True)
            loss.backward()
            return loss

        optimizer.step(closure)
        if self.model.expr_bounded:
            with torch.no_grad():
                var["expr"].clamp_(0.0, 1.0)

    def result(self) -> tuple[RigParams, np.ndarray, np.ndarray]:
        """The fitted params [T], view_from_world [C, 4, 4] and intrinsics [C, 3, 3]."""
        with torch.no_grad():
            params = variables_to_params(self.var, self.model).detach()
            rotation, translation = self.cameras()
            out = np.tile(np.eye(4), (self.num_views, 1, 1))
            out[:, :3, :3] = rotation.double().numpy()
            out[:, :3, 3] = translation.double().numpy()
            return params, out, self.k_mats().double().numpy()


def _filled(landmarks: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """landmarks [C, T, 478, 2] with each unseen moment of a view given the view's nearest seen
    one (they count nothing; this keeps the outline normals and eye distances finite)."""
    out = landmarks.copy()
    for c in range(len(seen)):
        have = np.flatnonzero(seen[c])
        if not len(have):
            continue
        missing = np.flatnonzero(~seen[c])
        nearest = have[np.abs(missing[:, None] - have[None, :]).argmin(1)]
        out[c, missing] = landmarks[c, nearest]
    return out


def _scatter(params: RigParams, rows: np.ndarray, count: int) -> RigParams:
    """params [F] placed at rows [F] of a [count] set (zeros elsewhere; shape shared)."""
    def place(x: Tensor) -> Tensor:
        out = torch.zeros(count, *x.shape[1:], dtype=x.dtype)
        out[torch.as_tensor(rows)] = x
        return out

    return RigParams(params.shape, place(params.expr), place(params.jaw), place(params.neck), place(params.rotation),
                     place(params.eyes), place(params.translation))


def _root_joints(rig: HeadRig, params: RigParams) -> Tensor:
    """[T, 3] the root joint's rest position (where the head's rotation pivots) for each moment's
    identity and expression."""
    j_regressor = rig.j_regressor[:1].to(torch.float32)  # [1, V]
    rest = rig.v_template.float() + torch.einsum("vks,s->vk", rig.shapedirs.float(), params.shape.float())
    offsets = torch.einsum("vke,te->tvk", rig.exprdirs.float(), params.expr.float())  # [T, V, 3]
    return (j_regressor @ rest)[None, 0] + torch.einsum("v,tvk->tk", j_regressor[0], offsets)


def _head_transforms(rig: HeadRig, params: RigParams) -> Tensor:
    """[T, 4, 4] the head's rigid motion: x -> R (x - J0) + J0 + translation (the root joint J0)."""
    rot = axis_angle_to_matrix(params.rotation.float())  # [T, 3, 3]
    j0 = _root_joints(rig, params)  # [T, 3]
    out = torch.eye(4).repeat(len(rot), 1, 1)
    out[:, :3, :3] = rot
    out[:, :3, 3] = j0 - torch.einsum("tij,tj->ti", rot, j0) + params.translation.float()
    return out


def _intrinsics(focal: float, size: tuple[int, int]) -> np.ndarray:
    return np.array([[focal, 0.0, size[0] / 2], [0.0, focal, size[1] / 2], [0.0, 0.0, 1.0]])
