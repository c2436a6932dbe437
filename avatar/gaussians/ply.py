"""Export one frame of an avatar as a standard 3DGS .ply (readable by every 3DGS viewer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from plyfile import PlyData, PlyElement

from avatar.atomic import atomic_path
from avatar.gaussians.world import Gaussians


def write_3dgs_ply(gaussians: Gaussians, path: str | Path) -> None:
    """The INRIA 3DGS vertex layout: position, normals (zero), f_dc, f_rest (channel-major),
    opacity as a logit, log scales, rotation quaternion (w, x, y, z)."""
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(path)) as partial:
        PlyData([PlyElement.describe(data, "vertex")]).write(str(partial))
