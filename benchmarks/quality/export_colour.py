"""The exported .ply's view-dependent colour against the engine's, from turned cameras.

    python benchmarks/quality/export_colour.py MODEL [MODEL ...] [--angles=-60,-35,-20,0,20,35,60] [--size 256]
        [--out DIR]

For each avatar: `avatar export MODEL --ply --axes rig` (the neutral pose), read back, splatted
as any 3DGS reader does (its SH seen from the camera), against the engine's colours of the same
Gaussians (the avatar's blend at the neutral pose, the export's cut, seen through its view cone).
Columns: PSNR of the file's render against the engine's, and of the avatar's raw coefficients
against the engine's (what the export wrote before the cone was baked in), per camera yaw around
the head at the framing distance. Geometry is the same in all three: only the colour differs.
DIR/export_colour_NAME.png (with --out): per angle the engine, the raw coefficients, the file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from plyfile import PlyData

from avatar.cli.main import main as avatar
from avatar.gaussians import blend
from avatar.model.avatar import load_avatar
from avatar.splat import splat_registry
from avatar.splat.world import Gaussians
from avatar.training.image_metrics import psnr
from avatar.training.turned_views import turned_camera
from avatar.export.ply_frame import export_frame


def read_3dgs_ply(path: Path) -> Gaussians:
    """The Gaussians of a 3DGS .ply as `avatar.export.ply.write_3dgs_ply` lays them out."""
    v = PlyData.read(str(path))["vertex"]

    def column(name: str) -> torch.Tensor:
        return torch.from_numpy(np.asarray(v[name], dtype=np.float32))

    rest = sorted((p.name for p in v.properties if p.name.startswith("f_rest_")), key=lambda s: int(s[7:]))
    n, k = v.count, 1 + len(rest) // 3
    sh = torch.empty(n, k, 3)
    sh[:, 0] = torch.stack([column(f"f_dc_{c}") for c in range(3)], -1)
    if rest:
        sh[:, 1:] = torch.stack([column(name) for name in rest], -1).reshape(n, 3, k - 1).transpose(1, 2)
    return Gaussians(
        torch.stack([column(c) for c in "xyz"], -1),
        torch.stack([column(f"rot_{i}") for i in range(4)], -1),
        torch.stack([column(f"scale_{i}") for i in range(3)], -1).exp(),
        torch.sigmoid(column("opacity")),
        sh,
    )


@torch.no_grad()
def compare(model_path: Path, angles: list[float], size: int, sheet: Path | None) -> list[tuple[float, float, float]]:
    """(yaw, raw PSNR, file PSNR) per angle."""
    loaded = load_avatar(model_path)
    model = loaded.model
    if model.view_cone is None:
        raise SystemExit(f"{model_path} records no view cone: its export writes its coefficients as they are")
    with tempfile.TemporaryDirectory() as tmp:
        ply = Path(tmp) / "export.ply"
        if avatar(["export", str(model_path), "--ply", str(ply), "--axes", "rig", "--backend", "cpu"]) != 0:
            raise SystemExit(f"avatar export {model_path} failed")
        exported = read_3dgs_ply(ply)
    params = loaded.params()[0]  # the neutral pose with the avatar's identity, as `avatar export` poses it
    kept = export_frame(model, params, "cpu", axes="rig").kept
    world = blend(model, params, "cpu")[kept]  # the same Gaussians with the avatar's own coefficients
    if exported.num != world.num or (exported.means - world.means).abs().max() > 1e-5:
        raise SystemExit(f"{model_path}: the .ply's Gaussians are not the export's")
    splat = splat_registry.get("cpu", "cpu")[1]
    background = torch.ones(3)
    rows, images = [], []
    for yaw in angles:
        camera = turned_camera(model.rig, yaw, size)
        engine = splat(world, camera.with_sh_origin(model.view_cone.origin(params, camera.position)), background)
        raw = splat(world, camera, background)
        read_back = splat(exported, camera, background)
        engine_rgb = engine.rgb.clamp(0, 1)
        rows.append((yaw, psnr(raw.rgb.clamp(0, 1), engine_rgb), psnr(read_back.rgb.clamp(0, 1), engine_rgb)))
        images.append(torch.cat([engine_rgb, raw.rgb.clamp(0, 1), read_back.rgb.clamp(0, 1)], 1))
    if sheet is not None:
        Image.fromarray((torch.cat(images, 0).numpy() * 255).round().astype(np.uint8)).save(sheet)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--angles", default="-60,-35,-20,0,20,35,60")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, help="write a sheet per avatar here")
    args = parser.parse_args(argv)
    angles = [float(a) for a in args.angles.split(",")]
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    print("| avatar | Gaussians | view cone | " + " | ".join(f"{a:+g}°" for a in angles) + " |")
    print("|---|---|---|" + "---|" * len(angles))
    for path in args.models:
        sheet = None if args.out is None else args.out / f"export_colour_{path.stem}.png"
        rows = compare(path, angles, args.size, sheet)
        model = load_avatar(path).model
        cells = [f"{raw:.1f} -> {baked:.1f}" for _, raw, baked in rows]
        half = np.degrees(model.view_cone.half_angle)
        print(f"| {path.stem} | {model.num_gaussians} | {half:.1f}° | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
