"""A level of detail: the avatar without the Gaussians that make the least of its images, and
what dropping them costs.

A trained avatar carries many Gaussians that hardly show: a fraction of them makes nearly all of
its rendered weight (docs/viewer.md, "Level of detail"). `contributions` sums, over a set of frames and cameras,
each Gaussian's blending weight over all pixels (the CPU rasterizer's backward gives it exactly:
the gradient of the red channel's sum with respect to a Gaussian's red colour). `level_of_detail`
keeps the most contributing fraction and measures the PSNR of the pruned renders against the
full ones on frames the caller chooses (evaluation frames, not the ones the contributions came
from), so whoever shows it can say what it costs.
"""

from __future__ import annotations

import copy
import statistics
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from avatar.gaussians import GaussianAvatar, blend
from avatar.splat import Camera
from avatar.splat.ext_backend import camera_params
from avatar.renderer.renderer import AvatarRenderer
from avatar.rig import RigParams


@dataclass
class LevelOfDetail:
    model: GaussianAvatar  # the pruned copy
    kept: int  # Gaussians in it
    of: int  # Gaussians in the full model
    psnr_mean: float  # dB, pruned renders against the full ones, over the evaluation frames
    psnr_min: float

    def describe(self) -> str:
        return (f"{self.kept:,} of {self.of:,} Gaussians; against the full avatar {self.psnr_mean:.1f} dB PSNR "
                f"(worst frame {self.psnr_min:.1f})")


class BuildStopped(Exception):
    """The level of detail's build was asked to stop (its caller is closing)."""


def _check(stop: Callable[[], bool] | None) -> None:
    if stop is not None and stop():
        raise BuildStopped


@torch.no_grad()
def contributions(model: GaussianAvatar, params: RigParams, cameras: list[Camera],
                  stop: Callable[[], bool] | None = None) -> Tensor:
    """[N] each Gaussian's blending weight summed over the pixels of every frame of params [T] seen
    by every camera (CPU, the cpu splat kernels). BuildStopped once `stop()` is true."""
    import cuda_ext

    cuda_ext.load("cpu")
    ops = torch.ops.avatar_ext
    total = torch.zeros(model.num_gaussians)
    background = torch.zeros(3)
    for t in range(params.num_frames):
        _check(stop)
        g = blend(model, params.frame(t), "cpu")
        for camera in cameras:
            cam = camera_params(camera, torch.float32)
            size = (camera.height, camera.width)
            means2d, conics, depths, colours, radii = ops.splat_project_forward(
                g.means, g.quats, g.scales, g.opacities, g.sh, cam.world_to_cam, cam.K, cam.position, camera.width,
                camera.height, cam.near, cam.far)
            *_, state = ops.splat_rasterize_forward(means2d, conics, colours, g.opacities, depths, radii, background,
                                                    camera.width, camera.height)
            red = torch.zeros(*size, 3)
            red[..., 0] = 1  # d (sum of red) / d colour_i[red] = sum over pixels of w_i
            grads = ops.splat_rasterize_backward(means2d, conics, colours, g.opacities, depths, radii, background,
                                                 state, red, torch.zeros(*size, 1), torch.zeros(*size, 1))
            total += grads[2][:, 0]
    return total


def pruned(model: GaussianAvatar, keep: Tensor) -> GaussianAvatar:
    """A copy of model with the Gaussians keep [K] (indices) only, their offsets and cut kept."""
    keep = keep.sort().values
    copied = copy.deepcopy(model)
    tensors = {name: value.detach()[:, keep] if name in GaussianAvatar.OFFSETS else value.detach()[keep]
               for name, value in model.attribute_tensors().items()}
    copied.replace_gaussians(tensors, model.parent[keep])
    return copied


@torch.no_grad()
def level_of_detail(model: GaussianAvatar, seen: RigParams, cameras: list[Camera], evaluation: RigParams,
                    evaluation_cameras: list[Camera], keep_fraction: float,
                    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
                    stop: Callable[[], bool] | None = None) -> LevelOfDetail:
    """The model with its `keep_fraction` most contributing Gaussians (contributions over the
    frames `seen` [T] and `cameras`), and its PSNR against the full model over the frames
    `evaluation` and `evaluation_cameras` (the cpu backend, as the viewer renders). Between
    frames it checks `stop()` and raises BuildStopped once it is true."""
    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    weight = contributions(model, seen, cameras, stop)
    keep = weight.argsort(descending=True)[:max(1, int(round(keep_fraction * model.num_gaussians)))]
    small = pruned(model, keep)
    full, lod = AvatarRenderer(model, background, "cpu"), AvatarRenderer(small, background, "cpu")
    scores = []
    for t in range(evaluation.num_frames):
        _check(stop)
        for camera in evaluation_cameras:
            a = full.render(evaluation.frame(t), camera).rgb.clamp(0, 1)
            b = lod.render(evaluation.frame(t), camera).rgb.clamp(0, 1)
            mse = float((a - b).pow(2).mean())
            scores.append(10 * torch.log10(torch.tensor(1.0 / max(mse, 1e-12))).item())
    return LevelOfDetail(small, small.num_gaussians, model.num_gaussians, statistics.fmean(scores), min(scores))
