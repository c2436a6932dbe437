"""`GroupedGaussians`: an avatar's Gaussians as cuda_ext's avatar_project op reads them.

Grouped by 8 Gaussians (one vector load per attribute) and with the blendshape offsets as 8-bit
integers, one float scale per expression and attribute: a quarter of the bytes of the largest
thing a frame reads. Renders from them agree with the float32 blend and splat ops far below what
a display shows (PSNR above an 8-bit display's own rounding; measured: docs/results.md,
"Inference path: 8-bit offsets"). Built once per state of the model: `matches` tells whether a model's
tensors changed since (training changes them in place, which bumps their version counters).
"""

from __future__ import annotations

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


def _quantized(offsets: Tensor) -> tuple[Tensor, Tensor]:
    """offsets [D, G, 14, 8] -> int8 values [D, G, 14, 8] and scales [D, 14], each (expression,
    attribute) spread over -127..127 by its largest magnitude."""
    scales = offsets.abs().amax(dim=(1, 3)) / 127  # [D, 14]
    scales = torch.where(scales > 0, scales, torch.ones_like(scales))
    quantized = torch.round(offsets / scales[:, None, :, None]).clamp_(-127, 127).to(torch.int8)
    return quantized, scales.contiguous()


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
            base = torch.cat([model.xyz, model.rot, model.log_scale, model.opacity_logit[:, None], model.sh_dc[:, 0]], -1)
            offsets = torch.cat([model.d_xyz, model.d_rot, model.d_log_scale, model.d_opacity[..., None],
                                 model.d_color / SH_C0], -1)  # [D, N, 14]
            parent = F.pad(model.parent, (0, -(-n // GROUP) * GROUP - n)).to(torch.int32)
            quantized, scales = _quantized(_grouped(offsets.float()))
            return cls(n, parent, _grouped(base.float()), quantized, scales,
                       _grouped(model.sh_rest.reshape(n, -1).float()), model_version(model))

    def matches(self, model: GaussianAvatar) -> bool:
        return self.version == model_version(model)


def model_version(model: GaussianAvatar) -> tuple:
    """Changes whenever one of the model's tensors is replaced or modified in place."""
    tensors = [model.parent, *model.attribute_tensors().values()]
    return tuple((id(t), t._version) for t in tensors)
