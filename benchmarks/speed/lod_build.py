"""What the live viewer's level-of-detail build costs, and what its levels cost and save.

The build (viewer/detail.py) runs on one thread while the live tracker calibrates; where it ends
after the calibration, the first driven frames render the full avatar and miss their budget. This
times it as the viewer runs it (one thread, the window's first camera at SIZE, the avatar's own
evaluation frames or a synthetic motion) and splits it into the contributions (each Gaussian's
blending weight summed over 12 frames x 5 views at 256 px) and the rest (the pruned copies and
their evaluation renders), with the contributions also taken the way they were before
splat_rasterize_weights (the rasterizer's forward, then its backward with a red upstream
gradient), so the table shows what the op saves; then each level's PSNR against the full avatar
and its render cost (its render time over the full avatar's, as the switch predicts with it).

    OMP_NUM_THREADS=1 python benchmarks/speed/lod_build.py MODEL.avatar [--size 512] [--repeat 3]

Run it alone: on two shared cores another job's threads change every time here.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import cuda_ext
import avatar.renderer.lod as lod
from avatar.gaussians import blend
from avatar.model import load_avatar
from avatar.renderer.grouped import grouped_for
from avatar.splat.ext_backend import camera_params
from avatar.splat.framing import camera_path
from viewer.detail import DetailSwitch


def contributions_by_backward(model, params, cameras, stop=None) -> torch.Tensor:
    """[N] the same sums from the rasterizer's forward and backward (d sum(red) / d red colour)."""
    ops = torch.ops.avatar_ext
    total = torch.zeros(model.num_gaussians)
    background = torch.zeros(3)
    for t in range(params.num_frames):
        g = blend(model, params.frame(t), "cpu")
        for camera in cameras:
            cam = camera_params(camera, torch.float32)
            screen = ops.splat_project_forward(
                g.means, g.quats, g.scales, g.opacities, g.sh, cam.world_to_cam, cam.K, cam.position, *cam[3:]
            )
            means2d, conics, depths, colours, radii = screen
            inputs = (means2d, conics, colours, g.opacities, depths, radii, background)
            *_, state = ops.splat_rasterize_forward(*inputs, camera.width, camera.height)
            red = torch.zeros(camera.height, camera.width, 3)
            red[..., 0] = 1
            zero = torch.zeros(camera.height, camera.width, 1)
            total += ops.splat_rasterize_backward(*inputs, state, red, zero, zero)[2][:, 0]
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--size", type=int, default=512, help="the window's render size (px)")
    parser.add_argument("--repeat", type=int, default=3, help="builds per way, the median reported")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cuda_ext.load("cpu")
    avatar = load_avatar(args.model, None, torch.device("cpu"), "auto")
    camera = camera_path(avatar.rig, "front", args.size, 1)(0)
    grouped_for(avatar.model)  # the render thread has built the full avatar's before the build starts
    ways = {"splat_rasterize_weights": lod.contributions, "forward + backward": contributions_by_backward}
    rows, switch = [], None
    for way, function in ways.items():
        seconds, contribution_seconds = [], []

        def timed(*a, function=function, **k):
            started = time.perf_counter()
            result = function(*a, **k)
            contribution_seconds.append(time.perf_counter() - started)
            return result

        lod.contributions = timed
        for _ in range(args.repeat):
            switch = DetailSwitch(
                avatar.model, avatar.identity(), (1.0, 1.0, 1.0), 1 / 30, avatar.settings.get("capture")
            )
            started = time.perf_counter()
            switch._build(camera)
            seconds.append(time.perf_counter() - started)
        rows.append((way, statistics.median(seconds), statistics.median(contribution_seconds)))
    lod.contributions = ways["splat_rasterize_weights"]
    print(f"{avatar.model.num_gaussians:,} Gaussians, {args.size} px, one thread, median of {args.repeat} builds\n")
    print("| contributions by | build (s) | contributions (s) | the rest (s) |")
    print("|---|---|---|---|")
    for way, total, part in rows:
        print(f"| {way} | {total:.2f} | {part:.2f} | {total - part:.2f} |")
    print(f"\n{switch.status}\n")
    print("| level | Gaussians | PSNR mean / worst (dB) | render cost |")
    print("|---|---|---|---|")
    for i, level in enumerate(switch.levels, 1):
        print(f"| {i} | {level.kept:,} | {level.psnr_mean:.1f} / {level.psnr_min:.1f} | {level.render_cost:.2f} |")


if __name__ == "__main__":
    main()
