"""Per-camera colour correction for avatars trained on several cameras.

Real cameras differ in white balance and exposure, so one skin shows as a different RGB in each:
one set of Gaussian colours fits them all only on average, and view-dependent colour would learn
the cameras' differences as if they were the person's. Each training camera but the first (by
index) gets an affine colour transform, a 3x3 matrix and a bias starting from the identity,
applied to the render before the photometric loss, with a small L2 prior towards the identity
(`deviation`). The first camera keeps the identity: it fixes the gauge (a transform on every
camera could drift together with the colours it multiplies), so the Gaussians' colours are that
camera's. The transforms start learning after a warm-up (`camera_colour_from_frac` of the steps):
from the first step, each camera's transform also takes up the untrained avatar's errors in what
that camera sees, and the cameras the reference shares little surface with drift.

A transform acts on the avatar's own colour, never on the background: a render is
rgb = fg + (1 - alpha) bg (fg premultiplied by alpha), the targets are composited over the same
background, so the corrected render is M fg + alpha b + (1 - alpha) bg.

The trained avatar keeps the transforms by camera name (`to_dict`; the first camera's identity
too), and `avatar eval` applies them to the frames of those cameras; a camera never trained on
(a held-out test camera) is rendered without correction.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from avatar.data.capture import Capture
from avatar.data.splits import split_cameras
from avatar.runtime.errors import InputError


class CameraColours(nn.Module):
    """The colour transforms of the cameras `names` (each a [3, 3] matrix and a [3] bias, its own
    parameters so that Adam moves only the camera a step rendered), and the `reference` camera,
    whose transform is the identity."""

    def __init__(self, reference: str, names: list[str], matrices: Tensor | None = None,
                 biases: Tensor | None = None):
        """matrices [K, 3, 3], biases [K, 3] for the K `names` (default: the identity)."""
        super().__init__()
        self.reference = reference
        self.slots = {name: k for k, name in enumerate(names)}
        matrices = torch.eye(3).repeat(len(names), 1, 1) if matrices is None else matrices
        biases = torch.zeros(len(names), 3) if biases is None else biases
        self.matrix = nn.ParameterList([nn.Parameter(m.float().clone()) for m in matrices])  # K of [3, 3]
        self.bias = nn.ParameterList([nn.Parameter(b.float().clone()) for b in biases])  # K of [3]

    @classmethod
    def for_training(cls, capture: Capture, frames: list[int]) -> CameraColours | None:
        """Identity transforms for the cameras of the training `frames`; None when they come from one
        camera, or from one camera's video (`Capture.monocular`: its per-frame cameras are crops)."""
        cameras = split_cameras(capture, frames)
        if capture.monocular or len(cameras) < 2:
            return None
        names = [capture.cameras[c].name for c in cameras]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InputError(f"{capture.root}: training cameras share the names {', '.join(repeated)}; per-camera "
                             "colour correction keeps each camera's by name (--set camera_colour=false to train "
                             "without it)")
        return cls(names[0], names[1:])

    def __contains__(self, name: str) -> bool:
        """Whether camera `name` was trained on (the reference included)."""
        return name == self.reference or name in self.slots

    def forward(self, rgb: Tensor, alpha: Tensor, background: Tensor, name: str) -> Tensor:
        """rgb [H, W, 3] (background composited in), alpha [H, W, 1], background [3] -> [H, W, 3]
        as camera `name` sees the avatar; unchanged for the reference and unknown cameras."""
        k = self.slots.get(name)
        if k is None:
            return rgb
        fg = rgb - (1 - alpha) * background  # [H, W, 3] premultiplied
        return fg @ self.matrix[k].T + alpha * self.bias[k] + (1 - alpha) * background

    def deviation(self, name: str) -> Tensor | None:
        """Squared distance of camera `name`'s transform from the identity (None: it has none)."""
        k = self.slots.get(name)
        if k is None:
            return None
        eye = torch.eye(3, device=self.matrix[k].device)
        return (self.matrix[k] - eye).pow(2).sum() + self.bias[k].pow(2).sum()

    def to_dict(self) -> dict:
        """{"reference": name, "cameras": {name: {"matrix": [3][3], "bias": [3]}}}, the reference's
        identity included: JSON for the model's settings."""
        eye = {"matrix": torch.eye(3).tolist(), "bias": [0.0, 0.0, 0.0]}
        learned = {name: {"matrix": self.matrix[k].detach().cpu().tolist(),
                          "bias": self.bias[k].detach().cpu().tolist()} for name, k in self.slots.items()}
        return {"reference": self.reference, "cameras": {self.reference: eye} | learned}

    @classmethod
    def from_dict(cls, data: object) -> CameraColours:
        """Transforms as `to_dict` wrote them; ValueError naming what is wrong."""
        if not isinstance(data, dict) or not isinstance(data.get("cameras"), dict) \
                or data.get("reference") not in data["cameras"]:
            raise InputError("camera_colours must hold 'cameras' (name: matrix and bias) and the 'reference' "
                             "among them")
        names, matrices, biases = [], [], []
        for name, value in data["cameras"].items():
            matrix, bias = (_finite(value.get(key) if isinstance(value, dict) else None, shape, f"{name} {key}")
                            for key, shape in (("matrix", (3, 3)), ("bias", (3,))))
            if name != data["reference"]:
                names.append(name)
                matrices.append(matrix)
                biases.append(bias)
        return cls(data["reference"], names, torch.stack(matrices) if names else None,
                   torch.stack(biases) if names else None)


def _finite(value: object, shape: tuple[int, ...], what: str) -> Tensor:
    try:
        tensor = torch.tensor(value, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):  # not numbers, ragged, None
        tensor = None
    if tensor is None or tuple(tensor.shape) != shape or not all(math.isfinite(v) for v in tensor.flatten().tolist()):
        raise InputError(f"camera_colours: {what} must be {' x '.join(map(str, shape))} finite numbers")
    return tensor
