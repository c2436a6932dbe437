"""The splat layer: cameras, the splatting dispatch API and the pure-torch reference rasterizer.
(The render path of a trained avatar, pose -> blend -> splat -> cut, is `avatar.renderer`.)

`splat(gaussians, camera, background, backend="auto")` is the one entry point; backends
(`torch` here, `cpu`/`cuda` from cuda_ext, `gsplat`) register in `avatar.splat.dispatch`.
`cut_region.py` draws the region an avatar keeps below its head (the reference the fast op is
tested against), `framing.py` the cameras that frame a head, `world.py` the world-space
`Gaussians` a splat draws. Imports `avatar.runtime` and `avatar.rig` only.
"""

from avatar.splat.camera import Camera
from avatar.splat.dispatch import splat, splat_registry
from avatar.splat.output import RenderOutput
from avatar.splat.world import Gaussians

__all__ = ["Camera", "Gaussians", "RenderOutput", "splat", "splat_registry"]
