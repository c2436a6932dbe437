"""Bilinear sampling of a whole clip's frames kept in 8 or 16 bits.

The photometric refinement samples every frame at the projected face vertices in every step.
Kept as float32 [T, 3, H, W] for F.grid_sample, a 512 px clip costs 3 MB a frame, and its blurred
copy as much again: 400 frames held 8 GB at the peak. Here the frames stay in the precision they
are stored in (uint8 as decoded; float16 for the blurred ones, whose rounding, under 3e-4, is far
below the 8-bit frames' own steps): `sample_frames` gathers the four pixels around each point
and widens only those, with F.grid_sample's conventions (align_corners=False; "border" or
"zeros" padding) and its gradient with respect to the points.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

CHUNK = 32  # frames blurred at once in float32: 12 MB at 512 px


def widened(frames: Tensor) -> Tensor:
    """frames (uint8 in 0..255, or float) as float32 in the frames' units: uint8 / 255."""
    return frames.float() / 255 if frames.dtype == torch.uint8 else frames.float()


def sample_frames(frames: Tensor, grid: Tensor, padding_mode: str = "zeros") -> Tensor:
    """F.grid_sample(widened(frames), grid, align_corners=False, padding_mode) [T, C, N, 1]
    without widening the frames: frames [T, C, H, W] uint8 or float (any strides; no gradient:
    they are the measurement), grid [T, N, 1, 2] in grid_sample's normalised coordinates,
    differentiable."""
    if padding_mode not in ("border", "zeros"):
        raise ValueError(f"padding_mode {padding_mode!r}: border or zeros")
    t, _, height, width = frames.shape
    x = ((grid[..., 0] + 1) * width - 1) / 2  # [T, N, 1] pixels
    y = ((grid[..., 1] + 1) * height - 1) / 2
    if padding_mode == "border":
        x, y = x.clamp(0, width - 1), y.clamp(0, height - 1)
    x0, y0 = x.detach().floor(), y.detach().floor()
    fx, fy = x - x0, y - y0  # [T, N, 1] the gradient flows through these
    frame = torch.arange(t, device=frames.device).view(t, 1, 1)
    out = 0.0
    for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        col, row = (x0 + dx).long(), (y0 + dy).long()  # [T, N, 1]
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        pixel = widened(frames[frame, :, row.clamp(0, height - 1), col.clamp(0, width - 1)])  # [T, N, 1, C]
        out = out + (weight * inside)[..., None] * pixel
    return out.permute(0, 3, 1, 2)  # [T, C, N, 1]


def blurred_frames(frames: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur (sigma in pixels, replicated edges) of frames [T, C, H, W], as
    float16 in the frames' units (uint8 / 255), a chunk at a time; sigma 0: the frames as
    they are."""
    if sigma <= 0:
        return frames
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-x * x / (2 * sigma * sigma))
    g = g / g.sum()
    c = frames.shape[1]
    across = g.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    down = g.view(1, 1, -1, 1).expand(c, 1, -1, 1)
    out = torch.empty(frames.shape, dtype=torch.float16)
    for start in range(0, len(frames), CHUNK):
        part = slice(start, start + CHUNK)
        rows = F.conv2d(F.pad(widened(frames[part]), (radius, radius, 0, 0), mode="replicate"), across, groups=c)
        out[part] = F.conv2d(F.pad(rows, (0, 0, radius, radius), mode="replicate"), down, groups=c)
    return out
