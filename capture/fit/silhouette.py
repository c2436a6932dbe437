"""The face's outline as a sliding contour: which rig point is on the silhouette changes with pose.

MediaPipe's lower face-oval points (`face_model.SILHOUETTE`) lie on the outline of the face in
the image, wherever that falls on the face's surface: when the head turns, the outline moves
onto the cheek on one side and towards the ear on the other. A fixed rig point cannot follow it,
so each outline point gets a short path of candidate rig surface points, walked from its
registered place over the surface towards the front of the face and towards the back. The
fitters take, per frame, the candidate where the posed surface turns from facing away from the
camera to facing it (the rig's own outline point on that path) and penalise only its distance
across the detected outline, not along it. Where the whole path faces the camera (the side of a
turned head towards the camera, where the oval runs over the cheek in front of the ear) the
registered point stays fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from capture.face_model import FACE_OVAL, SILHOUETTE
from capture.surface import closest_points

STEPS = 8  # candidates walked in each direction from the registered point
STEP = 0.006  # metres between candidates (the paths span +-4.8 cm)


@dataclass
class OutlinePaths:
    faces: Tensor  # [S, K] long: candidate triangles, K = 2 * STEPS + 1, back of the head first,
    #                the registered point in the middle
    bary: Tensor  # [S, K, 3]
    normals: Tensor  # [S, K, 3] rest-pose surface normals (outward)

    @property
    def num_candidates(self) -> int:
        return int(self.faces.numel())


def outline_paths(verts: np.ndarray, faces: np.ndarray, allowed: np.ndarray, start_faces: np.ndarray,
                  start_bary: np.ndarray) -> OutlinePaths:
    """Candidate paths for the SILHOUETTE points registered at (start_faces [S], start_bary
    [S, 3]) on the neutral mesh verts [V, 3] / faces [F, 3], over the `allowed` [F] triangles."""
    start = np.einsum("skd,sk->sd", verts[faces[start_faces]], start_bary)  # [S, 3]
    # Each path runs in the plane through the point spanned by the view axis (z) and the
    # outline's outward normal in the frontal view; `across` is that plane's normal, the
    # outline's direction (SILHOUETTE is a run of the oval, in order; the ends use themselves).
    idx = np.arange(len(start))
    along = start[np.minimum(idx + 1, len(start) - 1)] - start[np.maximum(idx - 1, 0)]
    along[:, 2] = 0.0
    across = along / np.maximum(np.linalg.norm(along, axis=1, keepdims=True), 1e-12)  # [S, 3]
    tri_normals = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    tri_normals /= np.maximum(np.linalg.norm(tri_normals, axis=1, keepdims=True), 1e-30)
    path_faces = np.zeros((len(start), 2 * STEPS + 1), dtype=np.int64)
    path_bary = np.zeros((len(start), 2 * STEPS + 1, 3))
    path_faces[:, STEPS], path_bary[:, STEPS] = start_faces, start_bary
    for sign in (1.0, -1.0):  # towards the front of the face, then towards the back
        point, tri = start.copy(), start_faces.copy()
        for k in range(1, STEPS + 1):
            direction = np.cross(tri_normals[tri], across)
            direction *= np.where(direction[:, 2:] * sign >= 0, 1.0, -1.0)
            direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
            tri, bary, _ = closest_points(point + STEP * direction, verts, faces, allowed)
            point = np.einsum("skd,sk->sd", verts[faces[tri]], bary)
            path_faces[:, STEPS + int(sign) * k], path_bary[:, STEPS + int(sign) * k] = tri, bary
    normals = tri_normals[path_faces]  # [S, K, 3]
    normals *= np.where((normals * (start - verts.mean(0))[:, None, :]).sum(-1, keepdims=True) >= 0, 1.0, -1.0)
    return OutlinePaths(torch.from_numpy(path_faces), torch.from_numpy(path_bary).float(),
                        torch.from_numpy(normals).float())


def outline_normals(landmarks: np.ndarray) -> np.ndarray:
    """Outward unit normals [..., S, 2] of the detected face oval at the SILHOUETTE points, from
    MediaPipe landmarks [..., 478, 2+] in pixels (image y down)."""
    pos = {int(m): i for i, m in enumerate(FACE_OVAL)}
    ring = np.array([pos[int(m)] for m in SILHOUETTE])
    prev = landmarks[..., FACE_OVAL[(ring - 1) % len(FACE_OVAL)], :2]
    nxt = landmarks[..., FACE_OVAL[(ring + 1) % len(FACE_OVAL)], :2]
    tangent = nxt - prev  # the oval runs down the subject's left (image right), then up the right side
    normal = np.stack([-tangent[..., 1], tangent[..., 0]], -1)
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)
    centre = landmarks[..., :468, :2].mean(-2, keepdims=True)
    outward = ((landmarks[..., SILHOUETTE, :2] - centre) * normal).sum(-1, keepdims=True) >= 0
    return np.where(outward, normal, -normal).astype(np.float32)


def outline_pick(points: Tensor, normals: Tensor) -> Tensor:
    """[T, S] index of the rig's own outline point on each path: of the posed candidates points
    [T, S, K, 3] (rig space, where the camera is at the origin; back of the head first) with
    their normals [T, S, K, 3], the one after the front-most that faces away from the camera
    (under the chin the path runs on to the neck, which faces the camera again). -1 where the
    whole path faces the camera, or its front end does not (the outline is not on it)."""
    with torch.no_grad():
        away = (normals * points).sum(-1) >= 0  # [T, S, K]: the normal does not point at the camera
        last_away = torch.where(away, torch.arange(away.shape[-1]), -1).amax(-1)  # [T, S]
        return torch.where((last_away < 0) | (last_away == away.shape[-1] - 1), -1, last_away + 1)


def outline_residuals(candidates: Tensor, target: Tensor, normals: Tensor, pick: Tensor) -> Tensor:
    """Residual vectors [T, S, 2] of the outline points against their detections target [T, S, 2]:
    where a path picks a candidate (pick [T, S], `outline_pick`), that candidate's distance across
    the detected outline (normals [T, S, 2]) as a vector along the normal; elsewhere the full
    distance of the registered point, the path's middle. candidates [T, S, K, 2] projected."""
    index = picked_candidate(pick)
    chosen = candidates.gather(2, index[..., None, None].expand(-1, -1, 1, 2))[:, :, 0]  # [T, S, 2]
    return outline_offsets(chosen, target, normals, pick >= 0)


def picked_candidate(pick: Tensor) -> Tensor:
    """[..., S] the candidate each path is measured from: the picked one, else the registered middle."""
    return torch.where(pick >= 0, pick, STEPS)


def outline_offsets(chosen: Tensor, target: Tensor, normals: Tensor, sliding: Tensor) -> Tensor:
    """Residual vectors [T, S, 2] of the chosen candidates [T, S, 2] (`picked_candidate`, projected):
    across the detected outline (normals [T, S, 2]) where the path slides (sliding [T, S] or [S]),
    else the full distance to the detection target [T, S, 2]."""
    across = ((chosen - target) * normals).sum(-1, keepdim=True) * normals  # [T, S, 2]
    return torch.where(sliding[..., None], across, chosen - target)
