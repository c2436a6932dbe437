"""Per-frame rig parameters: the one currency between expression sources and the renderer."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import Tensor

# Keys written to / read from .npz and .json expression files and capture params.npz.
PARAM_KEYS = ("shape", "expr", "jaw", "neck", "rotation", "eyes", "translation")
FRAME_KEYS = PARAM_KEYS[1:]  # the per-frame arrays, [T, ...] each


@dataclass
class RigParams:
    """FLAME-style parameters for T frames. All rotations are axis-angle in radians."""

    shape: Tensor  # [S] identity, shared by all frames
    expr: Tensor  # [T, E] expression blendshape weights
    jaw: Tensor  # [T, 3]
    neck: Tensor  # [T, 3]
    rotation: Tensor  # [T, 3] global head rotation (root joint)
    eyes: Tensor  # [T, 6] left eye then right eye
    translation: Tensor  # [T, 3] metres, rig space

    @property
    def num_frames(self) -> int:
        return int(self.expr.shape[0])

    @classmethod
    def zeros(cls, num_shape: int, num_expr: int, num_frames: int = 1,
              dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> "RigParams":
        z = lambda *s: torch.zeros(*s, dtype=dtype, device=device)  # noqa: E731
        return cls(z(num_shape), z(num_frames, num_expr), z(num_frames, 3), z(num_frames, 3),
                   z(num_frames, 3), z(num_frames, 6), z(num_frames, 3))

    def frame(self, index: int) -> "RigParams":
        """Frame `index` as a one-frame RigParams (views, no copy)."""
        sl = slice(index, index + 1)
        return RigParams(self.shape, self.expr[sl], self.jaw[sl], self.neck[sl],
                         self.rotation[sl], self.eyes[sl], self.translation[sl])

    def select(self, indices: Tensor | list[int]) -> "RigParams":
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.expr.device)
        return RigParams(self.shape, *(getattr(self, k)[idx] for k in FRAME_KEYS))

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "RigParams":
        return RigParams(*(getattr(self, f.name).to(device=device, dtype=dtype) for f in fields(self)))

    def detach(self) -> "RigParams":
        return RigParams(*(getattr(self, f.name).detach() for f in fields(self)))

    def to_numpy(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k).detach().cpu().numpy().astype(np.float32) for k in PARAM_KEYS}

    @classmethod
    def from_numpy(cls, arrays: dict[str, np.ndarray], num_shape: int | None = None,
                   num_expr: int | None = None) -> "RigParams":
        """Build from arrays keyed by PARAM_KEYS; missing per-frame keys become zeros.

        `expr` fixes the frame count. `num_shape`/`num_expr` pad or truncate to a rig's sizes.
        """
        if "expr" not in arrays:
            raise KeyError("rig parameters need at least an 'expr' array of shape [T, E]")
        expr = np.asarray(arrays["expr"], dtype=np.float32)
        if expr.ndim != 2:
            raise ValueError(f"'expr' must be [T, E], got shape {expr.shape}")
        t = expr.shape[0]
        shape = np.asarray(arrays.get("shape", np.zeros(num_shape or 0)), dtype=np.float32).reshape(-1)
        widths = {"jaw": 3, "neck": 3, "rotation": 3, "eyes": 6, "translation": 3}
        out = {"shape": _fit(shape, num_shape), "expr": _fit(expr, num_expr)}
        for k, w in widths.items():
            a = np.asarray(arrays[k], dtype=np.float32) if k in arrays else np.zeros((t, w), np.float32)
            if a.shape != (t, w):
                raise ValueError(f"'{k}' must have shape [{t}, {w}] to match 'expr', got {a.shape}")
            out[k] = a
        return cls(**{k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()})


def _fit(a: np.ndarray, n: int | None) -> np.ndarray:
    """Pad with zeros or truncate the last axis to n (no-op when n is None)."""
    if n is None or a.shape[-1] == n:
        return a
    if a.shape[-1] > n:
        return a[..., :n]
    pad = np.zeros(a.shape[:-1] + (n - a.shape[-1],), dtype=a.dtype)
    return np.concatenate([a, pad], axis=-1)
