"""How far `avatar export --gltf` is from the engine: the .glb read back and evaluated as the glTF
spec says (tests/gltf_reference.py: pygltflib + numpy morph targets and skinning, nothing of the
exporter) at frames spread over a clip, against `HeadRig.forward` (the rig's vertices) and the
engine's blend (the Gaussians' centres), in millimetres; and the file's size. With --render SIZE
also what that costs an image, as PSNR against the engine's own render of the same Gaussians
(front camera, no cut below the head), for the Gaussians a reader that skins splats could at best
draw from the file: its centres, the neutral orientations turned by each point's skin rotation,
and the neutral scale, opacity and colour (plain glTF animates none of those nor their
per-expression offsets); and for the engine's Gaussians with only their centres from the file.

    OMP_NUM_THREADS=1 python benchmarks/speed/gltf_export.py MODEL.avatar --expr take.csv [--frames 12] [--rig SPEC]
    OMP_NUM_THREADS=1 python benchmarks/speed/gltf_export.py MODEL.avatar --expr jaw|neck [--frames 5]

`--expr jaw` / `neck`: instead of a clip, the neutral face with the jaw opened to 0.3 rad, or the
neck turned to (0.3, 0.3, 0.1) rad, over the frames (Live Link clips and tracked captures barely
turn either: they open the mouth with the jawOpen blendshape).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # the independent reader is the tests'

from gltf_reference import Glb  # noqa: E402

from avatar.gaussians.reference import blend_reference  # noqa: E402
from avatar.gaussians.rotations import matrix_to_quat, quat_multiply  # noqa: E402
from avatar.model import load_avatar  # noqa: E402
from avatar.splat.dispatch import splat  # noqa: E402
from avatar.splat.framing import camera_path  # noqa: E402
from avatar.splat.world import Gaussians  # noqa: E402
from avatar.training.image_metrics import psnr  # noqa: E402
from avatar.export.gltf import export_gltf  # noqa: E402
from avatar.export.gltf_splats import DEFAULT_STEP  # noqa: E402


SWEEPS = {"jaw": ("jaw", (0.3, 0.0, 0.0)), "neck": ("neck", (0.3, 0.3, 0.1))}


def sweep(avatar, which: str, frames: int):
    """(params [frames], fps): one joint turned from 0 to its angle, the face otherwise neutral."""
    params = avatar.rig.zero_params(frames)
    params.shape = avatar.identity()
    key, angle = SWEEPS[which]
    setattr(params, key, torch.linspace(0, 1, frames)[:, None] * torch.tensor(angle))
    return params, 25.0


def file_gaussians(glb: Glb, time: float) -> Gaussians:
    """The Gaussians a reader that skins KHR_gaussian_splatting points could draw at `time`."""
    attributes = glb.gltf.meshes[glb.gltf.nodes[glb.node_index("gaussians")].mesh].primitives[0].attributes
    read = lambda name: torch.from_numpy(glb.accessor(getattr(attributes, name)))  # noqa: E731
    moved = torch.from_numpy(glb.vertex_matrices("gaussians", time)[:, :3, :3].copy())  # [N, 3, 3]
    u, _, vt = torch.linalg.svd(moved)
    turn = u @ vt  # [N, 3, 3] the rotation nearest to each point's blended skin matrix
    neutral = read("KHR_gaussian_splatting:ROTATION")[:, [3, 0, 1, 2]]  # xyzw -> wxyz
    degree = max(int(name.split("SH_DEGREE_")[1].split("_")[0]) for name in vars(attributes)
                 if "SH_DEGREE_" in name and getattr(attributes, name) is not None)
    sh = torch.stack([read(f"KHR_gaussian_splatting:SH_DEGREE_{d}_COEF_{n}") for d in range(degree + 1)
                      for n in range(2 * d + 1)], dim=1)  # [N, K, 3]
    return Gaussians(torch.from_numpy(glb.positions("gaussians", time)), quat_multiply(matrix_to_quat(turn), neutral),
                     read("KHR_gaussian_splatting:SCALE"), read("KHR_gaussian_splatting:OPACITY")[:, 0], sh).to(
        dtype=torch.float32)


def measure(avatar, source: Path, frames: int, step: float = DEFAULT_STEP, size: int = 0) -> dict:
    params, fps = sweep(avatar, str(source), frames) if str(source) in SWEEPS else avatar.params(source)
    picked = np.unique(np.linspace(0, params.num_frames - 1, frames).round().astype(int))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "avatar.glb"
        summary = export_gltf(avatar.model, avatar.identity(), path, params, fps, step=step)
        glb = Glb.load(path)
        kept = torch.from_numpy(summary.kept)
        times = glb.keyframe_times()
        camera = camera_path(avatar.rig, "front", size, 1)(0) if size else None
        background = torch.tensor(avatar.background, dtype=torch.float32)
        rows = []
        with torch.no_grad():
            for t in picked:
                frame = params.frame(int(t))
                verts = avatar.rig.forward(frame)[0].double().numpy()  # [V, 3]
                world = blend_reference(avatar.model, frame, verts=torch.from_numpy(verts).float())[kept]
                means = world.means.double().numpy()
                v_err = np.linalg.norm(glb.positions("head", times[t]) - verts, axis=1) * 1000  # [V] mm
                g_err = np.linalg.norm(glb.positions("gaussians", times[t]) - means, axis=1) * 1000  # [N] mm
                rows.append({"frame": int(t), "vertex_mean_mm": float(v_err.mean()),
                             "vertex_max_mm": float(v_err.max()),
                             "gaussian_mean_mm": float(g_err.mean()),
                             "gaussian_p99_mm": float(np.percentile(g_err, 99)),
                             "gaussian_max_mm": float(g_err.max())})
                if camera is not None:
                    drawn = file_gaussians(glb, times[t])
                    image = lambda g: splat(g, camera, background, "torch").rgb.clamp(0, 1)  # noqa: E731
                    want = image(world)
                    centres_only = Gaussians(drawn.means, world.quats, world.scales, world.opacities, world.sh)
                    rows[-1] |= {"psnr_file_db": psnr(image(drawn), want),
                                 "psnr_centres_db": psnr(image(centres_only), want)}
    pick = lambda key: max if key.endswith("max_mm") else min if key.startswith("psnr") else np.mean  # noqa: E731
    summary_row = {key: pick(key)([r[key] for r in rows]) for key in rows[0] if key != "frame"}
    return {"frames": rows, "over_frames": {k: float(v) for k, v in summary_row.items()}, "bytes": summary.bytes,
            "gaussians": summary.num_gaussians, "targets": len(summary.target_names), "clip_frames": params.num_frames,
            "fps": fps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--expr", type=Path, required=True,
                        help="the clip (Live Link .csv, expression file, capture), or jaw | neck: a sweep of one joint")
    parser.add_argument("--frames", type=int, default=12, help="frames evenly spread over the clip")
    parser.add_argument("--rig", default=None, help="--rig spec when the model's rig is not embedded")
    parser.add_argument("--step", type=float, default=DEFAULT_STEP, help="the Gaussians' targets' secant")
    parser.add_argument("--render", type=int, default=0, metavar="SIZE",
                        help="also PSNR of renders at SIZE pixels (see the module's docstring)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    avatar = load_avatar(args.model, args.rig, backend="cpu")
    result = measure(avatar, args.expr, args.frames, args.step, args.render)
    for row in result["frames"]:
        images = f"; PSNR {row['psnr_file_db']:.2f} dB (the file), {row['psnr_centres_db']:.2f} dB (its centres)" \
            if args.render else ""
        print(f"frame {row['frame']:5d}: vertices {row['vertex_mean_mm']:.5f} / {row['vertex_max_mm']:.5f} mm, "
              f"Gaussian centres {row['gaussian_mean_mm']:.4f} / p99 {row['gaussian_p99_mm']:.4f} / "
              f"{row['gaussian_max_mm']:.4f} mm (mean / max){images}")
    o = result["over_frames"]
    print(f"{args.model} driven by {args.expr} ({result['clip_frames']} frames at {result['fps']:.2f} fps), "
          f"{len(result['frames'])} frames: vertices mean {o['vertex_mean_mm']:.5f} mm, max {o['vertex_max_mm']:.5f} "
          f"mm; Gaussian centres mean {o['gaussian_mean_mm']:.4f} mm, p99 {o['gaussian_p99_mm']:.4f} mm, max "
          f"{o['gaussian_max_mm']:.4f} mm; {result['gaussians']} Gaussians, {result['targets']} targets, "
          f"{result['bytes'] / 1e6:.2f} MB"
          + (f"; PSNR at {args.render} px, lowest: {o['psnr_file_db']:.2f} dB (the file), "
             f"{o['psnr_centres_db']:.2f} dB (its centres)" if args.render else ""))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
