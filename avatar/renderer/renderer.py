"""`AvatarRenderer`: pose -> blend -> splat -> cut, for one avatar on its device with one backend.

On the CPU with cuda_ext's kernels (backend `cpu`, or `auto` there) a frame takes the inference
path: the rig posed by `RigPoser`, the Gaussians blended straight into the splat's screen space
by the avatar_project op (8-bit offsets, `GroupedGaussians`), the splat's rasterizer, the cut
op. The other backends (torch, cuda, gsplat) blend and splat as they are, with the same poser and
cut; so does `render_differentiable`, which training uses. The rig is posed once per frame, for
the Gaussians and the cut alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from avatar.gaussians import GaussianAvatar
from avatar.gaussians.blend import blend_backend, blend_with_offsets
from avatar.splat import Camera, RenderOutput, splat_registry
from avatar.splat.ext_backend import camera_params
from avatar.splat.cut_region import clip_to_region
from avatar.renderer.cut import CutRegion
from avatar.renderer.grouped import grouped_for
from avatar.rig.poser import RigPoser
from avatar.rig import RigParams

Colour = tuple[float, float, float]


class DifferentiableRender(NamedTuple):
    """What `AvatarRenderer.render_differentiable` gives a training step."""

    output: RenderOutput
    offsets: Tensor  # [N, 14] the offsets the frame applies (GaussianAvatar.applied_offsets)


@dataclass
class StageTimes:
    """Milliseconds of one rendered frame, stage by stage."""

    pose_ms: float
    blend_ms: float  # on the CPU's inference path: the blend fused with the splat's projection
    splat_ms: float  # rasterisation (and elsewhere the projection too)
    cut_ms: float

    @property
    def total_ms(self) -> float:
        return self.pose_ms + self.blend_ms + self.splat_ms + self.cut_ms


class AvatarRenderer:
    def __init__(self, model: GaussianAvatar, background: Colour = (1.0, 1.0, 1.0), backend: str = "auto"):
        """backend: auto | torch | cpu | cuda | gsplat, for the model's device (checked on first use)."""
        self.model = model
        self.background = tuple(float(c) for c in background)
        self.backend = backend
        self._poser: RigPoser | None = None
        self._cut: CutRegion | None = None

    @property
    def device(self) -> torch.device:
        return self.model.xyz.device

    def backends(self) -> dict[str, str]:
        """What runs for the model's device: {"blend": name, "splat": name}."""
        return {
            "blend": blend_backend(self.backend, self.model)[0],
            "splat": splat_registry.get(self.backend, self.device)[0],
        }

    def render(self, params: RigParams, camera: Camera, background: Colour | None = None) -> RenderOutput:
        """One frame of params (on the model's device) seen by camera, as every command shows it."""
        return self.render_timed(params, camera, background)[0]

    @torch.inference_mode()
    def render_timed(
        self, params: RigParams, camera: Camera, background: Colour | None = None
    ) -> tuple[RenderOutput, StageTimes]:
        """`render`, and the milliseconds of each stage (on CUDA it waits for each stage to finish)."""
        clock = _Clock(self.device)
        camera = self.seen_from(params, camera)
        bg = torch.tensor(background or self.background, dtype=torch.float32, device=self.device)
        verts = self.poser()(params)  # [V, 3]
        pose_ms = clock.lap()
        if self._inference_path():
            out, blend_ms, splat_ms = self._render_fused(verts, params, camera, bg, clock)
        else:
            _, blend_fn = blend_backend(self.backend, self.model)
            world = blend_fn(self.model, params, verts=verts)
            blend_ms = clock.lap()
            out = splat_registry.get(self.backend, self.device)[1](world, camera, bg)
            splat_ms = clock.lap()
        if self.model.head_cut is not None:
            images = (out.rgb, out.alpha, out.depth)
            if (
                all(t.is_cpu and t.dtype == torch.float32 and t.is_contiguous() for t in images)
                and verts.is_cpu
                and self._extension_loads()
            ):
                self._cut_for_model().apply_(out, bg, verts, self.model.rig.faces, camera)  # in place, a fresh render
            else:
                out = clip_to_region(out, self.cut_region(params, camera, verts), bg)
        return out, StageTimes(pose_ms, blend_ms, splat_ms, clock.lap())

    def seen_from(self, params: RigParams, camera: Camera) -> Camera:
        """The camera with its view-dependent colour seen from inside the avatar's view cone
        (`avatar.splat.view_cone`) for the head posed at params (one frame); as it is for an
        avatar without one."""
        cone = self.model.view_cone
        return camera if cone is None else camera.with_sh_origin(cone.origin(params, camera.position))

    def render_differentiable(
        self,
        params: RigParams,
        camera: Camera,
        region: Tensor | None,
        background: Tensor,
        drivers: Tensor | None = None,
    ) -> DifferentiableRender:
        """For training: the render and the offsets this frame applies (which training
        regularises), differentiable w.r.t. the model (and params where they require
        grad). The camera is used as given: training frames are where the view cone comes from.
        drivers [D]: the offsets' drivers, when not the model's drivers of params.
        region [H, W, 1]: the frame's cut (`cut_region`, kept by the caller), or None."""
        world, offsets = blend_with_offsets(self.model, params, self.backend, drivers)
        out = splat_registry.get(self.backend, self.device)[1](world, camera, background)
        return DifferentiableRender(out if region is None else clip_to_region(out, region, background), offsets)

    def cut_region(self, params: RigParams, camera: Camera, verts: Tensor | None = None) -> Tensor | None:
        """[H, W, 1] in {0, 1}: what the avatar's cut keeps of one frame (verts [V, 3]: the rig
        already posed at params), or None for an avatar without a cut."""
        if self.model.head_cut is None:
            return None
        with torch.no_grad():
            posed = verts if verts is not None else self.poser()(params)
        return self._cut_for_model()(posed, self.model.rig.faces, camera)

    def _cut_for_model(self) -> CutRegion:
        if self._cut is None or self._cut.cut != self.model.head_cut:
            self._cut = CutRegion(self.model.head_cut)
        return self._cut

    def poser(self) -> RigPoser:
        """The model's rig's poser (the model's `.to()` makes a new rig: a new poser follows)."""
        if self._poser is None or self._poser.rig is not self.model.rig:
            self._poser = RigPoser(self.model.rig)
        return self._poser

    @staticmethod
    def _extension_loads() -> bool:
        import cuda_ext

        try:
            cuda_ext.load("cpu")
            return True
        except cuda_ext.ExtensionUnavailable:
            return False

    def _inference_path(self) -> bool:
        model = self.model
        return (
            model.xyz.device.type == "cpu"
            and model.xyz.dtype == torch.float32
            and self.backends() == {"blend": "cpu", "splat": "cpu"}
        )

    def _render_fused(
        self, verts: Tensor, params: RigParams, camera: Camera, background: Tensor, clock: "_Clock"
    ) -> tuple[RenderOutput, float, float]:
        from cuda_ext.avatar_project import avatar_project

        grouped = grouped_for(self.model)
        drivers = self.model.drivers(params)[0].float().contiguous()  # [D]
        means2d, conics, depths, colours, opacities, radii = avatar_project(
            verts.float(),
            self.model.rig.faces,
            grouped.parent,
            drivers,
            grouped.base,
            grouped.offsets,
            grouped.offset_scales,
            grouped.sh_rest,
            grouped.num_gaussians,
            camera_params(camera, torch.float32),
        )
        blend_ms = clock.lap()
        rgb, alpha, depth, _ = torch.ops.avatar_ext.splat_rasterize_forward(
            means2d, conics, colours, opacities, depths, radii, background, camera.width, camera.height
        )
        return RenderOutput(rgb, alpha, depth, means2d, radii), blend_ms, clock.lap()


class _Clock:
    """Milliseconds between laps; on CUDA each lap waits for the queued work to finish."""

    def __init__(self, device: torch.device):
        self._sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
        self._last = time.perf_counter()

    def lap(self) -> float:
        self._sync()
        now = time.perf_counter()
        elapsed, self._last = 1e3 * (now - self._last), now
        return elapsed
