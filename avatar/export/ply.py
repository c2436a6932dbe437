"""Export one frame of an avatar as a standard 3DGS .ply (readable by every 3DGS viewer).

The avatar's rig space is +y up, +z towards a viewer facing the avatar (OpenGL's camera looks
down -z). The INRIA 3DGS scenes that splat viewers are made for (COLMAP reconstructions) are
y down, z forward, as OpenCV cameras: `to_axes(g, "inria")` turns the rig's axes 180 degrees
about x into that convention, means, orientations and view-dependent colours alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from plyfile import PlyData, PlyElement

from avatar.data.atomic import atomic_path
from avatar.splat.world import Gaussians

# What a file written in each convention says in its header (a `comment` line).
AXES = {
    "inria": "axes inria: x right, y down, z forward (away from a viewer facing the avatar), as INRIA 3DGS / "
             "COLMAP scenes and OpenCV cameras; the avatar rig's axes turned 180 degrees about x",
    "rig": "axes rig: x right, y up, z towards a viewer facing the avatar (OpenGL); the avatar rig's own axes",
}

# Real SH coefficients (3DGS order: degree l, then m = -l..l) under the half turn about x,
# (x, y, z) -> (x, -y, -z). Each 3DGS basis function is a polynomial whose monomials all have
# the same parity in y and z together, so it picks up a sign: +1 if even, -1 if odd, i.e.
# (-1)^(l+m) for m > 0, (-1)^l for m = 0, (-1)^(l+|m|+1) for m < 0. A colour that must read the
# same from the turned direction, SH'(R d) = SH(d), takes the same sign on its coefficient.
#   l=0: 1                                               -> +
#   l=1: y, z, x                                         -> - - +
#   l=2: xy, yz, 2zz-xx-yy, xz, xx-yy                    -> - + + - +
#   l=3: y(3xx-yy), xyz, y(4zz-xx-yy), z(2zz-3xx-3yy),
#        x(4zz-xx-yy), z(xx-yy), x(xx-3yy)               -> - + - - + - +
SH_SIGNS_HALF_TURN_X = (1.0,
                        -1.0, -1.0, 1.0,
                        -1.0, 1.0, 1.0, -1.0, 1.0,
                        -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0)


def half_turn_about_x(gaussians: Gaussians) -> Gaussians:
    """The same Gaussians with the world turned 180 degrees about x, F = diag(1, -1, -1): means
    F mu, orientations F R (the quaternion (0, 1, 0, 0) times q), scales and opacities as they
    are, SH coefficients with their signs (SH_SIGNS_HALF_TURN_X). Seen by a camera turned with
    them (world_to_cam . F) they render the same image."""
    g = gaussians
    flip = g.means.new_tensor([1.0, -1.0, -1.0])
    w, x, y, z = g.quats.unbind(-1)
    quats = torch.stack([-x, w, -z, y], dim=-1)  # (0, 1, 0, 0) (x) (w, x, y, z), Hamilton product
    signs = g.sh.new_tensor(SH_SIGNS_HALF_TURN_X[: g.sh.shape[1]])
    return Gaussians(g.means * flip, quats, g.scales, g.opacities, g.sh * signs[:, None])


def to_axes(gaussians: Gaussians, axes: str) -> Gaussians:
    """Rig-space Gaussians in the convention `axes` (AXES: inria | rig)."""
    if axes not in AXES:
        raise ValueError(f"unknown axes '{axes}' ({' | '.join(AXES)})")
    return half_turn_about_x(gaussians) if axes == "inria" else gaussians


def write_3dgs_ply(gaussians: Gaussians, path: str | Path, comments: Sequence[str] = ()) -> None:
    """The INRIA 3DGS vertex layout: position, normals (zero), f_dc, f_rest (channel-major),
    opacity as a logit, log scales, rotation quaternion (w, x, y, z); `comments`: header lines
    (e.g. AXES[...]: the coordinates are written as given)."""
    g = gaussians.detach().to("cpu", torch.float32)
    n = g.sh.shape[0]
    opacity = g.opacities.clamp(1e-6, 1 - 1e-6)
    columns = {
        "x": g.means[:, 0], "y": g.means[:, 1], "z": g.means[:, 2],
        "nx": torch.zeros(n), "ny": torch.zeros(n), "nz": torch.zeros(n),
    }
    for c in range(3):
        columns[f"f_dc_{c}"] = g.sh[:, 0, c]
    rest = g.sh[:, 1:, :].transpose(1, 2).reshape(n, -1)  # [N, 3*(K-1)]: all R, then G, then B
    for i in range(rest.shape[1]):
        columns[f"f_rest_{i}"] = rest[:, i]
    columns["opacity"] = torch.log(opacity / (1 - opacity))
    for i in range(3):
        columns[f"scale_{i}"] = torch.log(g.scales[:, i])
    quats = torch.nn.functional.normalize(g.quats, dim=-1)
    for i in range(4):
        columns[f"rot_{i}"] = quats[:, i]
    data = np.empty(n, dtype=[(name, "f4") for name in columns])
    for name, values in columns.items():
        data[name] = values.numpy()
    lines = [str(c) for c in comments]
    if any("\n" in c or "\r" in c for c in lines):
        raise ValueError("a .ply header comment must be one line")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(path)) as partial:
        PlyData([PlyElement.describe(data, "vertex")], comments=lines).write(str(partial))
