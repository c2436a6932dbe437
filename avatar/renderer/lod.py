"""A level of detail: the avatar without the Gaussians that make the least of its images, and
what dropping them costs.

A trained avatar carries many Gaussians that hardly show: a fraction of them makes nearly all of
its rendered weight (docs/viewer.md, "Level of detail"). `contributions` sums, over a set of frames and cameras,
each Gaussian's blending weight over all pixels (cuda_ext's splat_rasterize_weights: the
rasterizer's compositing with only the weights summed). `levels_of_detail`
keeps the most contributing fractions (one level each, from one set of contributions) and measures
the PSNR of each level's renders against the full ones on frames the caller chooses (evaluation
frames, not the ones the contributions came from), so whoever shows it can say what it costs, and
times those renders against the full ones, so whoever draws it can tell what it will save.
The viewer switches to its levels when frames miss their budget (viewer/detail.py), the web
player to the one its export carries (avatar/export/web_levels.py).
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

from avatar.gaussians import GaussianAvatar, blend
from avatar.splat import Camera
from avatar.splat.ext_backend import camera_params
from avatar.renderer.renderer import AvatarRenderer
from avatar.rig import RigParams

# Of the Gaussians, the most contributing ones, finest level first (docs/viewer.md, "Level of
# detail"). On a 109k-Gaussian avatar driven live at 512 px: 55.6 and 47.3 dB against the full
# avatar, 30.2 and 24.5 ms a render on one core against 37.8 (docs/results.md, "Live in the viewer").
KEEP_FRACTIONS = (0.6, 0.4)


@dataclass
class LevelOfDetail:
    model: GaussianAvatar  # the pruned copy
    kept: int  # Gaussians in it
    of: int  # Gaussians in the full model
    psnr_mean: float  # dB, pruned renders against the full ones, over the evaluation frames
    psnr_min: float
    indices: Tensor  # [kept] the full model's Gaussians it keeps, increasing (model's order)
    # Its render time over the full avatar's: median over the evaluation renders of the two timed
    # one after the other (the same frame and camera), the first of each left out (it builds the
    # renderer's grouped Gaussians; with one evaluation render only, its share of the Gaussians).
    render_cost: float

    def describe(self) -> str:
        return (
            f"{self.kept:,} of {self.of:,} Gaussians; against the full avatar {self.psnr_mean:.1f} dB PSNR "
            f"(worst frame {self.psnr_min:.1f}), {self.render_cost:.2f} of its render time"
        )


class BuildStopped(Exception):
    """The level of detail's build was asked to stop (its caller is closing)."""


def _check(stop: Callable[[], bool] | None) -> None:
    if stop is not None and stop():
        raise BuildStopped


@torch.no_grad()
def contributions(
    model: GaussianAvatar, params: RigParams, cameras: list[Camera], stop: Callable[[], bool] | None = None
) -> Tensor:
    """[N] each Gaussian's blending weight summed over the pixels of every frame of params [T] seen
    by every camera (CPU, the splat_rasterize_weights op). BuildStopped once `stop()` is true."""
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
            means2d, conics, depths, colours, radii = ops.splat_project_forward(
                g.means,
                g.quats,
                g.scales,
                g.opacities,
                g.sh,
                cam.world_to_cam,
                cam.K,
                cam.position,
                camera.width,
                camera.height,
                cam.near,
                cam.far,
            )
            total += ops.splat_rasterize_weights(
                means2d, conics, colours, g.opacities, depths, radii, background, camera.width, camera.height
            )
    return total


def pruned(model: GaussianAvatar, keep: Tensor) -> GaussianAvatar:
    """A copy of model with the Gaussians keep [K] (indices) only, in the model's order, their
    offsets and cut kept."""
    return taken(model, keep.sort().values)


def taken(model: GaussianAvatar, index: Tensor) -> GaussianAvatar:
    """A copy of model with the Gaussians index [K] (indices), in that order, their offsets and cut
    kept (a permutation of all of them reorders the model: the web export's levels are prefixes)."""
    copied = copy.deepcopy(model)
    tensors = {
        name: value.detach()[:, index] if name in GaussianAvatar.OFFSETS else value.detach()[index]
        for name, value in model.attribute_tensors().items()
    }
    copied.replace_gaussians(tensors, model.parent[index])
    return copied


@torch.no_grad()
def levels_of_detail(
    model: GaussianAvatar,
    seen: RigParams,
    cameras: list[Camera],
    evaluation: RigParams,
    evaluation_cameras: list[Camera],
    keep_fractions: Sequence[float],
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
    stop: Callable[[], bool] | None = None,
) -> list[LevelOfDetail]:
    """One level per keep fraction, in their order: the model with that fraction of its most
    contributing Gaussians (contributions over the frames `seen` [T] and `cameras`, computed once
    for all levels), and its PSNR against the full model over the frames `evaluation` and
    `evaluation_cameras` (the cpu backend, as the viewer renders). Between frames it checks
    `stop()` and raises BuildStopped once it is true."""
    for fraction in keep_fractions:
        if not 0 < fraction <= 1:
            raise ValueError(f"keep fractions must be in (0, 1], got {fraction}")
    order = contributions(model, seen, cameras, stop).argsort(descending=True)  # [N] most contributing first
    kept = [order[: max(1, int(round(f * model.num_gaussians)))].sort().values for f in keep_fractions]
    smalls = [pruned(model, keep) for keep in kept]
    full = AvatarRenderer(model, background, "cpu")
    renderers = [AvatarRenderer(small, background, "cpu") for small in smalls]
    scores: list[list[float]] = [[] for _ in smalls]  # per level, per (frame, camera)
    costs: list[list[float]] = [[] for _ in smalls]  # per level, per (frame, camera) after the first
    first = True
    for t in range(evaluation.num_frames):
        for camera in evaluation_cameras:
            _check(stop)
            started = time.perf_counter()
            a = full.render(evaluation.frame(t), camera).rgb.clamp(0, 1)
            full_s = time.perf_counter() - started
            for level, renderer in enumerate(renderers):
                started = time.perf_counter()
                b = renderer.render(evaluation.frame(t), camera).rgb.clamp(0, 1)
                if not first:
                    costs[level].append((time.perf_counter() - started) / full_s)
                mse = float((a - b).pow(2).mean())
                scores[level].append(10 * math.log10(1.0 / max(mse, 1e-12)))
            first = False
    return [
        LevelOfDetail(
            small,
            small.num_gaussians,
            model.num_gaussians,
            statistics.fmean(level),
            min(level),
            keep,
            statistics.median(cost) if cost else small.num_gaussians / model.num_gaussians,
        )
        for small, level, keep, cost in zip(smalls, scores, kept, costs)
    ]
