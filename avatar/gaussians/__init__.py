"""The avatar model: Gaussians bound to rig triangles with expression blendshape offsets.

`GaussianAvatar` (model.py), `blend()` (blend.py, backend dispatch), `.avatar` files (io.py),
3DGS `.ply` export (ply.py), world-space `Gaussians` (world.py). Imports `avatar.rig` only.
"""

from avatar.gaussians.blend import blend, blend_registry, blend_with_offsets
from avatar.gaussians.model import GaussianAvatar
from avatar.gaussians.world import Gaussians

__all__ = ["GaussianAvatar", "Gaussians", "blend", "blend_registry", "blend_with_offsets"]
