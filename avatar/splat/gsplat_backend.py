"""`splat_gsplat`: gsplat's public `rasterization()` behind the `RenderOutput` interface.

Only gsplat's documented entry point is used (its `gsplat.cuda._wrapper` functions change their
signatures between releases); the versions this is tested with are pinned in pyproject.toml and
checked at load (`check_gsplat_version`). gsplat's own rules differ slightly from the reference
(avatar.splat.reference): alpha is capped at 0.999 instead of 0.99, a pixel stops at
T_next <= 1e-4 instead of < 1e-4, and its radii are per-axis bounds. Images agree closely, not
bitwise. `RenderOutput.means2d` is gsplat's own screen-space tensor ([1, N, 2], one camera):
after `retain_grad()` and a backward pass its gradient is what densification reads.
"""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.runtime.backends import BackendUnavailable
from avatar.splat.world import Gaussians
from avatar.splat.camera import Camera
from avatar.splat.sh import sh_to_colour
from avatar.splat.output import RenderOutput
from avatar.splat.projection import LOW_PASS_PX2

SUPPORTED = ((1, 4), (1, 5))  # gsplat major.minor releases this backend is tested with (pyproject pins them)


def check_gsplat_version() -> None:
    """BackendUnavailable unless the installed gsplat is a supported release."""
    import gsplat

    try:
        major_minor = tuple(int(x) for x in gsplat.__version__.split(".")[:2])
    except ValueError:
        major_minor = None
    if major_minor not in SUPPORTED:
        supported = ", ".join(f"{a}.{b}" for a, b in SUPPORTED)
        raise BackendUnavailable(f"gsplat {gsplat.__version__} is not a supported release ({supported}); "
                                 'pip install --no-build-isolation -e ".[gsplat]"')


def splat_gsplat(gaussians: Gaussians, camera: Camera, background: Tensor | None = None) -> RenderOutput:
    """Render with gsplat on the CUDA device holding `gaussians` (float32). background: [3] or None."""
    from gsplat import rasterization

    g = gaussians.to(dtype=torch.float32)
    if not g.means.is_cuda:
        raise ValueError(f"the gsplat splat backend needs the Gaussians on a CUDA device, they are on {g.means.device}")
    cam = camera.to(device=g.means.device, dtype=torch.float32)
    backgrounds = None if background is None else background.to(g.means)[None]  # [1, 3]
    # gsplat sees SH from the camera's centre; from another point the colours are evaluated here.
    colours, degree = ((g.sh, g.sh_degree) if camera.sh_origin is None
                       else (sh_to_colour(g.sh, g.means - cam.view_origin), None))
    image, alpha, meta = rasterization(
        g.means, g.quats, g.scales, g.opacities, colours, cam.world_to_cam[None], cam.K[None], camera.width,
        camera.height, near_plane=camera.near, far_plane=camera.far, eps2d=LOW_PASS_PX2, sh_degree=degree,
        packed=False, backgrounds=backgrounds, render_mode="RGB+D")  # [1, H, W, 4], [1, H, W, 1]
    radii = meta["radii"][0]  # [N] (gsplat 1.4) or [N, 2] per-axis (1.5)
    if radii.dim() == 2:
        radii = radii.amax(-1)
    return RenderOutput(rgb=image[0, ..., :3], alpha=alpha[0], depth=image[0, ..., 3:], means2d=meta["means2d"],
                        radii=radii)
