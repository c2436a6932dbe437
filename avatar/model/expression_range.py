"""What an avatar learned to show: the range of each expression weight and jaw angle over its
training frames, and the clamp that keeps a driving source inside it.

Offsets are fitted on the expression combinations a video shows; weights far outside them (another
person's face, a live fit's extremes: eyeSquint 0.77 with eyeWide 0.95) land where nothing was
learned and smear the lower face. Driving parameters are therefore clamped to the training range,
widened by a margin, and what the clamp did is counted so the viewer and `avatar render` can say it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from avatar.data.retarget import resting_expression
from avatar.rig import RigParams

MARGIN = 0.1  # of each weight's training spread, added on both sides: held-out frames of the same person fit


@dataclass
class ClampReport:
    """What one clamp did to parameters of T frames."""
    frames: int  # T
    frames_clamped: int  # frames with at least one value moved
    largest_excess: float  # the largest distance a value was moved (weight units or radians)

    @property
    def fraction(self) -> float:
        return self.frames_clamped / self.frames if self.frames else 0.0


@dataclass
class ExpressionRange:
    expr_low: Tensor  # [E]
    expr_high: Tensor  # [E]
    jaw_low: Tensor  # [3] axis-angle components
    jaw_high: Tensor  # [3]
    expr_neutral: Tensor  # [E] the resting expression (`resting_expression`): what a driver's neutral maps to

    @classmethod
    def of(cls, params: RigParams, margin: float = MARGIN) -> "ExpressionRange":
        """The range of params [T] (training frames), widened by `margin` of each spread."""
        def widened(values: Tensor) -> tuple[Tensor, Tensor]:  # values [T, K]
            low, high = values.amin(0), values.amax(0)
            pad = margin * (high - low)
            return (low - pad).float(), (high + pad).float()

        expr_low, expr_high = widened(params.expr.detach().cpu())
        jaw_low, jaw_high = widened(params.jaw.detach().cpu())
        return cls(expr_low, expr_high, jaw_low, jaw_high, resting_expression(params.expr))

    @classmethod
    def from_dict(cls, data: dict, num_expr: int) -> "ExpressionRange":
        """From `to_dict`'s lists; ValueError when they do not fit a rig of num_expr expressions."""
        try:
            tensors = {k: torch.tensor([float(v) for v in data[k]], dtype=torch.float32)
                       for k in ("expr_low", "expr_high", "jaw_low", "jaw_high", "expr_neutral")}
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"expression_range is not five lists of numbers ({e})") from None
        sizes = {"expr_low": num_expr, "expr_high": num_expr, "jaw_low": 3, "jaw_high": 3, "expr_neutral": num_expr}
        for key, size in sizes.items():
            if tensors[key].shape != (size,) or not bool(torch.isfinite(tensors[key]).all()):
                raise ValueError(f"expression_range {key} must be {size} finite numbers")
        if bool((tensors["expr_low"] > tensors["expr_high"]).any() or (tensors["jaw_low"] > tensors["jaw_high"]).any()):
            raise ValueError("expression_range has a low end above its high end")
        return cls(**tensors)

    def to_dict(self) -> dict:
        return {"expr_low": self.expr_low.tolist(), "expr_high": self.expr_high.tolist(),
                "jaw_low": self.jaw_low.tolist(), "jaw_high": self.jaw_high.tolist(),
                "expr_neutral": self.expr_neutral.tolist()}

    def onto(self, relative: RigParams) -> tuple[RigParams, ClampReport]:
        """Another person's expressions relative to their neutral (their resting face at 0: a
        retargeted capture or live fit, ARKit weights) put on the avatar's resting face
        (expr_neutral added) and clamped into the range; what the clamp moved."""
        shifted = relative.detach()
        shifted.expr = relative.expr + self.expr_neutral.to(relative.expr)
        return self.clamp(shifted)

    def clamp(self, params: RigParams) -> tuple[RigParams, ClampReport]:
        """params [T] with every expression weight and jaw component inside the range (new
        tensors; `params` is left as it was), and what moved."""
        out = params.detach()
        moved = torch.zeros(params.num_frames, dtype=torch.bool, device=params.expr.device)  # [T]
        excess = 0.0
        for key, low, high in (("expr", self.expr_low, self.expr_high), ("jaw", self.jaw_low, self.jaw_high)):
            values = getattr(out, key)  # [T, K]
            low, high = low.to(values), high.to(values)
            kept = torch.maximum(torch.minimum(values, high), low)
            delta = (kept - values).abs()  # [T, K]
            moved |= (delta > 0).any(1)
            excess = max(excess, float(delta.max()) if delta.numel() else 0.0)
            setattr(out, key, kept)
        return out, ClampReport(params.num_frames, int(moved.sum()), excess)
