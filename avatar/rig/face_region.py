"""The face: the rig's triangles its 68 iBUG landmarks enclose (jaw line and brows), with what lies
inside them (eyes, mouth, teeth), and not the forehead, scalp, ears or neck.

Where a tracked rig follows the person's own surface (skin the landmarks pin down), Gaussians
that stray off their triangles are wrong; elsewhere (hair over the scalp, bangs over the
forehead, hair hanging past the ears) the person reaches past the rig and Gaussians must follow.
Rig-agnostic: every rig carries the iBUG landmarks (builtin, ICT, FLAME). Within the face, the
eyeballs: the triangles the eye joints carry (`eyeball_triangles`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from avatar.rig.head_rig import HeadRig
from avatar.rig.params import RigParams

EYE_JOINTS = (3, 4)  # eye_l, eye_r in HeadRig's joint order (the pupils pair with IRIS_CENTRES reversed)
JAW = list(range(0, 17))  # right ear to left ear along the jaw (iBUG order)
BROWS = list(range(26, 16, -1))  # back across the brows: the outline's upper edge
NOSE_BOTTOM = 33  # iBUG: under the nose; the hair's shell starts at its height, below it hair hangs free


def face_triangles(rig: HeadRig) -> Tensor:
    """[F] bool: the triangles whose rest centroids the landmarks' outline encloses, seen from the
    front (x, y), and that lie in front of the jaw line's ends (not the back of the head); none
    on a rig without iBUG landmarks."""
    landmarks = rest_landmarks(rig)
    if landmarks is None:
        return torch.zeros(rig.num_faces, dtype=torch.bool)
    landmarks = landmarks.numpy()  # [68, 3]
    verts = rig.v_template.detach().double().cpu()
    outline = landmarks[JAW + BROWS]  # [27, 3]
    centroids = verts[rig.faces.cpu()].mean(1).numpy()  # [F, 3]
    inside = inside_polygon(centroids[:, :2], outline[:, :2])
    in_front = centroids[:, 2] > min(landmarks[0, 2], landmarks[16, 2])
    return torch.from_numpy(inside & in_front)


def nose_bottom_height(rig: HeadRig) -> float | None:
    """The rest pose's height (y, metres) of the bottom of the nose (iBUG 33): where the hair's
    shell starts (`capture.hair_shell`) and below which hair hangs free. None on a rig without
    iBUG landmarks."""
    landmarks = rest_landmarks(rig)
    return None if landmarks is None else float(landmarks[NOSE_BOTTOM, 1])


def rest_landmarks(rig: HeadRig) -> Tensor | None:
    """[68, 3] float64 on the CPU: the rig's iBUG landmarks on its rest pose, or None for a rig
    without the 68 iBUG landmarks."""
    if rig.lmk_faces is None or rig.lmk_bary is None or rig.lmk_faces.shape[0] != 68:
        return None
    verts = rig.v_template.detach().double().cpu()  # [V, 3]
    return rig.landmarks(verts[None].to(rig.lmk_bary.dtype))[0].double()


def eyeball_triangles(rig: HeadRig) -> Tensor:
    """[F] bool: the eyeballs' triangles, those whose three vertices an eye joint carries (skinning
    weight over 0.5): the triangles that roll with the gaze. All False on a rig without eyeballs."""
    on_eye = (rig.lbs_weights.detach().cpu()[:, list(EYE_JOINTS)] > 0.5).any(-1)  # [V]
    return on_eye[rig.faces.cpu()].all(-1)


def posed_landmarks(rig: HeadRig, params: RigParams) -> Tensor:
    """[L, 3] the rig's landmarks posed by params [1], in world space (a camera's `project` puts
    them in its pixels)."""
    verts = rig.forward(params.to(dtype=rig.v_template.dtype))
    return rig.landmarks(verts)[0].float().cpu()


def pixels_inside(outlines: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """[H, W] bool: the pixels whose centres lie inside any of the closed outlines [K, 2] (pixels)."""
    yy, xx = np.mgrid[0:height, 0:width]
    centres = np.stack([xx.ravel() + 0.5, yy.ravel() + 0.5], 1)
    inside = np.zeros(centres.shape[0], dtype=bool)
    for outline in outlines:
        inside |= inside_polygon(centres, outline)
    return inside.reshape(height, width)


def inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """[P] bool: points [P, 2] inside the closed polygon [K, 2] (even-odd rule, crossings of a ray
    towards +x)."""
    x, y = points[:, 0:1], points[:, 1:2]  # [P, 1]
    a, b = polygon, np.roll(polygon, -1, axis=0)  # [K, 2] each edge a -> b
    straddles = (a[None, :, 1] > y) != (b[None, :, 1] > y)  # [P, K]
    with np.errstate(divide="ignore", invalid="ignore"):
        cross_x = a[None, :, 0] + (y - a[None, :, 1]) * (b[None, :, 0] - a[None, :, 0]) / (
            b[None, :, 1] - a[None, :, 1]
        )
    return (straddles & (x < cross_x)).sum(1) % 2 == 1
