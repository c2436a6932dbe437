"""`LiveMap`: the live tracker's parameters -> the parameters the avatar was trained on.

The viewer's live fitter (landmarks only, a few Gauss-Newton steps a frame, its own identity
calibrated on a second of video) and `avatar track` (the whole video at once, then a photometric
refinement against the pixels) split a face between identity, expressions, jaw and eyes
differently: the same face gets other expression weights and eye angles from each. The avatar's
offsets were learnt on the offline parameters, so without a map the same person driving it live
gets a different face from the one it was trained on (measured: docs/results.md, "The live map:
the live fitter's parameters carried into the avatar's own").

An affine map of [expression weights, jaw, eyes], fitted by least squares pulled towards the
identity on the training frames (the live fitter run over the capture's own landmarks against
the tracked parameters; `capture.live_map_fit`), carries a live fit into the avatar's
parameterisation. The driver's resting
face in the live fitter's terms (`input_rest`) is what a neutral set by hand maps to.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from avatar.rig import RigParams

# Pull of the weights towards the identity (each live parameter drives its own), against the
# centred inputs' sum of squares (about 6 per weight for 300 frames of a talking face): enough
# frames learn the couplings; a short clip, or a face unlike the training frames, stays near the
# live fit shifted by the mean difference. A pull towards zero (ridge) scores as well on the
# avatar's own person but, fitted on a short clip, stops another person's jaw following theirs
# (docs/results.md, "The live map: the live fitter's parameters carried into the avatar's own").
TO_IDENTITY = 0.3


@dataclass
class LiveMap:
    input_mean: Tensor  # [P] live [expr E | jaw 3 | eyes 6]
    output_mean: Tensor  # [P] the avatar's own [expr | jaw | eyes]
    weights: Tensor  # [P, P] output = (input - input_mean) @ weights + output_mean
    input_rest: Tensor  # [P] the avatar's person at rest as the live fitter sees them

    @staticmethod
    def vector(params: RigParams) -> Tensor:
        """[T, P] the mapped parameters of params [T]: expressions, jaw, eyes."""
        return torch.cat([params.expr, params.jaw, params.eyes], dim=-1)

    @classmethod
    def fit(cls, live: Tensor, own: Tensor, rest: Tensor, to_identity: float = TO_IDENTITY) -> "LiveMap":
        """Least squares from live [T, P] to own [T, P] (the same frames) with the weights pulled
        towards the identity (`to_identity` |W - I|^2), rest [P]."""
        if live.shape != own.shape or live.dim() != 2 or len(live) < 2:
            raise ValueError(f"a live map needs two or more matching frames, got {tuple(live.shape)} and {tuple(own.shape)}")
        x, y = live.double(), own.double()
        x_mean, y_mean = x.mean(0), y.mean(0)
        xc, yc = x - x_mean, y - y_mean
        prior = to_identity * torch.eye(x.shape[1], dtype=x.dtype)  # [P, P]
        weights = torch.linalg.solve(xc.T @ xc + prior, xc.T @ yc + prior)  # [P, P]
        return cls(x_mean.float(), y_mean.float(), weights.float(), rest.float())

    def apply(self, params: RigParams) -> RigParams:
        """params [T] with expressions, jaw and eyes mapped (new tensors; pose, shape as they were)."""
        x = self.vector(params)
        y = (x - self.input_mean.to(x)) @ self.weights.to(x) + self.output_mean.to(x)  # [T, P]
        e = params.expr.shape[1]
        out = params.detach()
        out.expr, out.jaw, out.eyes = y[:, :e], y[:, e:e + 3], y[:, e + 3:]
        return out

    def to_dict(self) -> dict:
        return {"input_mean": self.input_mean.tolist(), "output_mean": self.output_mean.tolist(),
                "weights": self.weights.tolist(), "input_rest": self.input_rest.tolist()}

    @classmethod
    def from_dict(cls, data: object, num_expr: int) -> "LiveMap":
        """From `to_dict`'s lists; ValueError when they do not fit a rig of num_expr expressions."""
        p = num_expr + 9
        keys = ("input_mean", "output_mean", "weights", "input_rest")
        if not isinstance(data, dict) or set(data) != set(keys):
            raise ValueError(f"live_map must be an object with {', '.join(keys)}")
        tensors = {}
        for key in keys:
            try:
                tensors[key] = torch.tensor(data[key], dtype=torch.float32)
            except (TypeError, ValueError) as e:
                raise ValueError(f"live_map {key} is not a list of numbers ({e})") from None
        shapes = {"input_mean": (p,), "output_mean": (p,), "weights": (p, p), "input_rest": (p,)}
        for key, shape in shapes.items():
            if tuple(tensors[key].shape) != shape or not bool(torch.isfinite(tensors[key]).all()):
                raise ValueError(f"live_map {key} must be {'x'.join(map(str, shape))} finite numbers "
                                 f"for {num_expr} expressions")
        return cls(**tensors)
