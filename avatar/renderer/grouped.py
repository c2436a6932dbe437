"""`GroupedGaussians`: an avatar's Gaussians as cuda_ext's avatar_project op reads them.

Grouped by 8 Gaussians (one vector load per attribute) and with the blendshape offsets as 8-bit
integers, one float scale per expression and attribute: a quarter of the bytes of the largest
thing a frame reads. Renders from them agree with the float32 blend and splat ops far below what
a display shows (PSNR above an 8-bit display's own rounding; measured: docs/results.md,
"Inference path: 8-bit offsets"). Built once per state of the model: `matches` tells whether a model's
tensors changed since (training changes them in place, which bumps their version counters);
`grouped_for` keeps one per model for every renderer of it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from avatar.gaussians.model import GaussianAvatar
from avatar.splat.sh import SH_C0

GROUP = 8  # Gaussians per group: the lanes of the op's AVX2 loop


def _grouped(x: Tensor) -> Tensor:
    """[..., N, C] -> [..., G, C, 8] with G = ceil(N / 8), the last group padded with zeros."""
    n = x.shape[-2]
    groups = -(-n // GROUP)
    x = F.pad(x, (0, 0, 0, groups * GROUP - n))
    return x.reshape(*x.shape[:-2], groups, GROUP, x.shape[-1]).transpose(-1, -2).contiguous()


def _quantized_offsets(offsets: list[Tensor]) -> tuple[Tensor, Tensor]:
    """The offsets' attributes [D, N, k_a] each (concatenated: 14 per Gaussian) -> int8 values
    [D, G, 14, 8] and scales [D, 14], each (expression, attribute) spread over -127..127 by its
    largest magnitude. One expression at a time: its slice stays in the cache, where the whole
    [D, N, 14] in float32 (281 MB for 46 expressions of 109k Gaussians) took a second to go
    through memory several times."""
    num_d, n = offsets[0].shape[:2]
    out = torch.empty(num_d, -(-n // GROUP), sum(o.shape[-1] for o in offsets), GROUP, dtype=torch.int8)
    scales = torch.empty(num_d, out.shape[2])
    for d in range(num_d):
        grouped = _grouped(torch.cat([o[d] for o in offsets], -1).float())  # [G, 14, 8]
        scale = grouped.abs().amax(dim=(0, 2)) / 127  # [14]
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        out[d] = torch.round(grouped / scale[None, :, None]).clamp_(-127, 127).to(torch.int8)
        scales[d] = scale
    return out, scales


@dataclass
class GroupedGaussians:
    num_gaussians: int
    parent: Tensor  # [8 G] int32 (padding: triangle 0)
    base: Tensor  # [G, 14, 8]: xyz, rot, log_scale, opacity logit, DC colour
    offsets: Tensor  # [D, G, 14, 8] int8, the same order, the colour's divided by SH_C0
    offset_scales: Tensor  # [D, 14] float32: offset = scale * int8 value
    sh_rest: Tensor  # [G, (K - 1) 3, 8]
    version: tuple  # the model's tensors when these were built

    @classmethod
    def of(cls, model: GaussianAvatar) -> "GroupedGaussians":
        with torch.no_grad():
            n = model.num_gaussians
            base = torch.cat(
                [model.xyz, model.rot, model.log_scale, model.opacity_logit[:, None], model.sh_dc[:, 0]], -1
            )
            offsets = [
                model.d_xyz,
                model.d_rot,
                model.d_log_scale,
                model.d_opacity[..., None],
                model.d_color / SH_C0,
            ]  # [D, N, 14] once concatenated
            parent = F.pad(model.parent, (0, -(-n // GROUP) * GROUP - n)).to(torch.int32)
            quantized, scales = _quantized_offsets(offsets)
            return cls(
                n,
                parent,
                _grouped(base.float()),
                quantized,
                scales,
                _grouped(model.sh_rest.reshape(n, -1).float()),
                model_version(model),
            )

    def matches(self, model: GaussianAvatar) -> bool:
        return self.version == model_version(model)


_BUILT: "weakref.WeakKeyDictionary[GaussianAvatar, GroupedGaussians]" = weakref.WeakKeyDictionary()


def grouped_for(model: GaussianAvatar) -> GroupedGaussians:
    """The model's grouped Gaussians, built once per state of its tensors and shared by every
    renderer of it: the live viewer renders each level of detail first on the thread that builds
    it, so its render thread does not stall on the build (0.5 s for 55k Gaussians with 46
    expressions) when it switches. Two threads asking at once for a model not built yet both build
    it (no lock held over a build: the render thread never waits on another's)."""
    built = _BUILT.get(model)
    if built is None or not built.matches(model):
        built = GroupedGaussians.of(model)
        _BUILT[model] = built
    return built


def model_version(model: GaussianAvatar) -> tuple:
    """Changes whenever one of the model's tensors is replaced or modified in place."""
    tensors = [model.parent, *model.attribute_tensors().values()]
    return tuple((id(t), t._version) for t in tensors)
