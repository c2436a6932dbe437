"""Cameras, the splatting dispatch API and the pure-torch reference rasterizer.

`splat(gaussians, camera, background, backend="auto")` is the one entry point; backends
(`torch` here, `cpu`/`cuda` from cuda_ext, `gsplat`) register in `avatar.render.dispatch`.
`head_cut.py` draws the region an avatar keeps below its head (the reference the fast op is
tested against), `framing.py` the cameras that frame a head, `world.py` the world-space
`Gaussians` a splat draws. Imports `avatar.runtime` and `avatar.rig` only.
"""

from avatar.render.camera import Camera
from avatar.render.dispatch import splat, splat_registry
from avatar.render.output import RenderOutput
from avatar.render.world import Gaussians

__all__ = ["Camera", "Gaussians", "RenderOutput", "splat", "splat_registry"]
