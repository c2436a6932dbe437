"""The avatar model: Gaussians bound to rig triangles with expression blendshape offsets.

`GaussianAvatar` (model.py), `blend()` (blend.py, backend dispatch), `.avatar` files (io.py),
3DGS `.ply` export (ply.py). Blending makes `avatar.splat.world.Gaussians`, what the splat
draws.
"""

from avatar.gaussians.blend import blend, blend_registry, blend_with_offsets
from avatar.gaussians.model import GaussianAvatar

__all__ = ["GaussianAvatar", "blend", "blend_registry", "blend_with_offsets"]
