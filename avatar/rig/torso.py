"""Give the tracked head's turns to the neck joint and keep the torso (the rig's root) slow.

Face landmarks say where the head is, not how it sits on the body, so the landmark fit puts every
turn of the head in the root joint and leaves the neck joint at rest (its prior keeps it near
zero). Posed that way, the whole neck, down to the collar the masks keep under the chin, turns
rigidly with the head; a real neck bends, and the collar below it stays with the torso. Trained on
such poses, an avatar smears its collar over the neck whenever the head tilts further than in
training.

`split_torso` (`avatar track`) keeps each frame's head exactly where the fit put it (every vertex
skinned to the neck, the jaw or the eyes does not move), and moves what lies between: the root
follows a slow, time-smoothed version of the head's orientation (a Gaussian window of
TORSO_SIGMA_SECONDS; the torso of someone holding a phone drifts with the phone, it does not turn
with every nod), the neck joint takes the rest of the head's rotation, and the translation makes
up for the root turning about its own joint instead of the neck's.

`SlowTorso` does the same for the live sources (the webcam fitter, Live Link Face), one frame at a
time and looking only back; there the head has no place of its own to keep, so it turns about its
neck. `slow_torso_sequence` runs it over a recorded Live Link take, so a take renders as it drives
live.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from avatar.rig import HeadRig, RigParams

TORSO_SIGMA_SECONDS = 1.0  # of the Gaussian window over which the torso's orientation is averaged
WINDOW_SIGMAS = 4.0  # frames further away than this many sigmas weigh under 0.0004: left out
ROOT, NECK = 0, 1  # joint indices in [root, neck, jaw, eye_l, eye_r]


def smoothed_orientations(head: Rotation, seconds: np.ndarray, sigma: float) -> Rotation:
    """The Gaussian-weighted mean orientation around each of T frames' increasing times `seconds`
    [T] (the window is cut at WINDOW_SIGMAS, so a long video costs linear time and memory)."""
    first = np.searchsorted(seconds, seconds - WINDOW_SIGMAS * sigma, side="left")  # [T]
    end = np.searchsorted(seconds, seconds + WINDOW_SIGMAS * sigma, side="right")  # [T]
    means = []
    for t in range(len(seconds)):
        weights = np.exp(-0.5 * ((seconds[first[t]:end[t]] - seconds[t]) / sigma) ** 2)
        means.append(head[first[t]:end[t]].mean(weights=weights))
    return Rotation.concatenate(means)


def split_torso(rig: HeadRig, params: RigParams, video: np.ndarray, seconds: np.ndarray,
                sigma: float = TORSO_SIGMA_SECONDS) -> RigParams:
    """params [T] with the head's rotation in root and neck -> the same heads, the root smoothed.

    video [T]: which video each frame comes from (each is smoothed on its own); seconds [T]: the
    frame's time in its video.
    """
    rotation = _rotations(params.rotation)  # [T]
    head = rotation * _rotations(params.neck)  # [T] root then neck
    torso_quats = np.zeros((len(head), 4))  # [T, 4]
    for v in np.unique(video):
        here = np.flatnonzero(video == v)
        torso_quats[here] = smoothed_orientations(head[here], seconds[here], sigma).as_quat()
    torso = Rotation.from_quat(torso_quats)
    neck = torso.inv() * head
    # The neck joint's posed place, R_root (j_neck - j_root) + j_root + t, must not move.
    joints = _rest_joints(rig, params)  # [T, 5, 3]
    lever = (joints[:, NECK] - joints[:, ROOT]).cpu().numpy()  # [T, 3]
    translation = _tensor(params.translation.detach().double().cpu().numpy() + rotation.apply(lever)
                          - torso.apply(lever), params.translation)
    return RigParams(params.shape, params.expr, params.jaw, _tensor(neck.as_rotvec(), params.neck),
                     _tensor(torso.as_rotvec(), params.rotation), params.eyes, translation)


def _rotations(rotvecs: torch.Tensor) -> Rotation:
    """Axis-angle [T, 3] -> T rotations."""
    return Rotation.from_rotvec(rotvecs.detach().double().cpu().numpy().reshape(-1, 3))


def _tensor(values: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(values, dtype=like.dtype, device=like.device)


def _rest_joints(rig: HeadRig, params: RigParams) -> torch.Tensor:
    """Each frame's unposed joints [T, 5, 3]: the regressor over its shaped and expressed mesh,
    applied to the template and the bases first (the mesh of every frame is never built)."""
    with torch.no_grad():
        regressor = rig.j_regressor.double()  # [5, V]
        template = regressor @ rig.v_template.double()  # [5, 3]
        shape = torch.einsum("jv,vks,s->jk", regressor, rig.shapedirs.double(), params.shape.double())  # [5, 3]
        expr = torch.einsum("jv,vke,te->tjk", regressor, rig.exprdirs.double(), params.expr.double())  # [T, 5, 3]
        return template + shape + expr


class SlowTorso:
    """The live twin of `split_torso`, for one frame at a time: the torso follows the head's
    orientation through a first-order lag of `seconds` (it can only look back), the neck takes the
    rest. The head turns about its neck joint; the translation is left as it is (the live view
    frames the avatar with its own camera)."""

    def __init__(self, seconds: float = TORSO_SIGMA_SECONDS):
        self.seconds = seconds
        self.torso: Rotation | None = None
        self.last_time = 0.0

    def reset(self) -> None:
        """Forget the torso (a new neutral, a new source): the next frame's head is its torso."""
        self.torso = None

    def __call__(self, params: RigParams, time: float) -> RigParams:
        """params [1] with the head's rotation in root and neck, at `time` seconds -> the same
        head orientation, split between the slow torso (root) and the neck."""
        head = _rotations(params.rotation[:1]) * _rotations(params.neck[:1])  # [1]
        if self.torso is None:
            self.torso = head
        else:
            share = 1.0 - np.exp(-max(time - self.last_time, 0.0) / self.seconds)
            self.torso = self.torso * Rotation.from_rotvec(share * (self.torso.inv() * head).as_rotvec())
        self.last_time = time
        return dataclasses.replace(params, rotation=_tensor(self.torso.as_rotvec(), params.rotation),
                                   neck=_tensor((self.torso.inv() * head).as_rotvec(), params.neck))


def slow_torso_sequence(params: RigParams, fps: float, seconds: float = TORSO_SIGMA_SECONDS) -> RigParams:
    """`SlowTorso` over a sequence [T] played at fps, as the live sources run it frame by frame."""
    if params.num_frames == 0:
        return params
    torso = SlowTorso(seconds)
    frames = [torso(params.frame(t), t / fps) for t in range(params.num_frames)]
    return dataclasses.replace(params, rotation=torch.cat([f.rotation for f in frames]),
                               neck=torch.cat([f.neck for f in frames]))
