"""What an avatar learned to show: the range of each expression weight, jaw and eye angle over its
training frames, and the clamp that keeps a driving source inside it.

Offsets are fitted on the expression combinations a video shows; weights far outside them (another
person's face, a live fit's extremes: eyeSquint 0.77 with eyeWide 0.95) land where nothing was
learned and smear the lower face; eyes turned further than any training frame turned them roll
their unseen sides into view. Driving parameters are therefore clamped to the training range,
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
class ClampTally:
    """What the clamp did over a run of frames, report by report (a live source's stats)."""
    frames: int = 0
    frames_clamped: int = 0
    largest_excess: float = 0.0

    def add(self, report: ClampReport) -> None:
        self.frames += report.frames
        self.frames_clamped += report.frames_clamped
        self.largest_excess = max(self.largest_excess, report.largest_excess)

    def as_dict(self) -> dict:
        return {"frames": self.frames, "frames_clamped": self.frames_clamped,
                "fraction": self.frames_clamped / self.frames if self.frames else 0.0,
                "largest_excess": self.largest_excess}


@dataclass
class ExpressionRange:
    expr_low: Tensor  # [E]
    expr_high: Tensor  # [E]
    jaw_low: Tensor  # [3] axis-angle components
    jaw_high: Tensor  # [3]
    expr_neutral: Tensor  # [E] the resting expression (`resting_expression`): what a driver's neutral maps to
    eyes_low: Tensor | None = None  # [6] both eyes' axis-angle components (None: files from before eyes were recorded)
    eyes_high: Tensor | None = None  # [6]

    @classmethod
    def of(cls, params: RigParams, margin: float = MARGIN) -> "ExpressionRange":
        """The range of params [T] (training frames), widened by `margin` of each spread."""
        def widened(values: Tensor) -> tuple[Tensor, Tensor]:  # values [T, K]
            low, high = values.amin(0), values.amax(0)
            pad = margin * (high - low)
            return (low - pad).float(), (high + pad).float()

        expr_low, expr_high = widened(params.expr.detach().cpu())
        jaw_low, jaw_high = widened(params.jaw.detach().cpu())
        eyes_low, eyes_high = widened(params.eyes.detach().cpu())
        return cls(expr_low, expr_high, jaw_low, jaw_high, resting_expression(params.expr), eyes_low, eyes_high)

    @classmethod
    def from_dict(cls, data: dict, num_expr: int) -> "ExpressionRange":
        """From `to_dict`'s lists; ValueError when they do not fit a rig of num_expr expressions."""
        sizes = {"expr_low": num_expr, "expr_high": num_expr, "jaw_low": 3, "jaw_high": 3, "expr_neutral": num_expr}
        if isinstance(data, dict) and ("eyes_low" in data or "eyes_high" in data):
            sizes |= {"eyes_low": 6, "eyes_high": 6}  # both or neither: one alone is a KeyError below
        try:
            tensors = {k: torch.tensor([float(v) for v in data[k]], dtype=torch.float32) for k in sizes}
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"expression_range is not {len(sizes)} lists of numbers ({e})") from None
        for key, size in sizes.items():
            if tensors[key].shape != (size,) or not bool(torch.isfinite(tensors[key]).all()):
                raise ValueError(f"expression_range {key} must be {size} finite numbers")
        pairs = [("expr_low", "expr_high"), ("jaw_low", "jaw_high")] + ([("eyes_low", "eyes_high")] if "eyes_low" in sizes else [])
        if any(bool((tensors[low] > tensors[high]).any()) for low, high in pairs):
            raise ValueError("expression_range has a low end above its high end")
        return cls(**tensors)

    def to_dict(self) -> dict:
        return {"expr_low": self.expr_low.tolist(), "expr_high": self.expr_high.tolist(),
                "jaw_low": self.jaw_low.tolist(), "jaw_high": self.jaw_high.tolist(),
                "expr_neutral": self.expr_neutral.tolist()} | (
            {} if self.eyes_low is None else {"eyes_low": self.eyes_low.tolist(), "eyes_high": self.eyes_high.tolist()})

    def on_rest(self, relative: RigParams) -> RigParams:
        """Another person's expressions relative to their neutral (their resting face at 0: a
        retargeted capture or live fit, ARKit weights) put on the avatar's resting face
        (expr_neutral added; new tensors), not clamped."""
        shifted = relative.detach()
        shifted.expr = relative.expr + self.expr_neutral.to(relative.expr)
        return shifted

    def onto(self, relative: RigParams) -> tuple[RigParams, ClampReport]:
        """`on_rest`, then clamped into the range; what the clamp moved."""
        return self.clamp(self.on_rest(relative))

    def clamp(self, params: RigParams) -> tuple[RigParams, ClampReport]:
        """params [T] with every expression weight, jaw and eye component inside the range (new
        tensors; `params` is left as it was), and what moved."""
        out, moved, excess = self._kept_inside(params)
        return out, ClampReport(params.num_frames, int(moved.sum()), excess)

    def outside(self, params: RigParams) -> Tensor:
        """[T] bool: the frames of params with an expression weight, a jaw or an eye component
        outside the range (those `clamp` would move)."""
        return self._kept_inside(params)[1]

    def _kept_inside(self, params: RigParams) -> tuple[RigParams, Tensor, float]:
        """The clamped params, which frames moved [T] bool, and the largest move."""
        out = params.detach()
        moved = torch.zeros(params.num_frames, dtype=torch.bool, device=params.expr.device)  # [T]
        excess = 0.0
        ranges = [("expr", self.expr_low, self.expr_high), ("jaw", self.jaw_low, self.jaw_high)]
        if self.eyes_low is not None:
            ranges.append(("eyes", self.eyes_low, self.eyes_high))
        for key, low, high in ranges:
            values = getattr(out, key)  # [T, K]
            low, high = low.to(values), high.to(values)
            kept = torch.maximum(torch.minimum(values, high), low)
            delta = (kept - values).abs()  # [T, K]
            moved |= (delta > 0).any(1)
            excess = max(excess, float(delta.max()) if delta.numel() else 0.0)
            setattr(out, key, kept)
        return out, moved, excess
