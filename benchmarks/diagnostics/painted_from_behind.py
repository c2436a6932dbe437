"""How much of an avatar's head is painted from behind the rig's surface, on a capture's frames.

    python benchmarks/diagnostics/painted_from_behind.py MODEL.avatar [MODEL.avatar ...] CAPTURE
        [--split test] [--every N] [--margin 0.03] [--camera K]

Each frame is rendered as `avatar eval` renders it, from the frame's own camera at its tracked
parameters, beside the posed rig's surface depth (`avatar.training.behind_surface.surface_depth`).
On the rig's pixels, the render's expected depth (sum w_i z_i / alpha) more than `--margin`
behind the surface means the pixel is painted by Gaussians on the head's far side seen through a
transparent front: right from this camera, a dark blotch of the head's inside once the view turns.
Printed per model: the share of the rig's pixels painted from behind (where the render covers at
least half the pixel), the share left transparent (covered less than half: a hole), and the mean
depth past the margin (what `behind_reg` trains on), mm. With `--camera K`, only camera K's frames
of a multiview capture: a monocular avatar seen from a camera it never trained on.
"""

from __future__ import annotations

import argparse

import torch

from avatar.data.capture import load_capture
from avatar.model import load_avatar
from avatar.training.behind_surface import behind_surface, surface_depth
from split_frames import split_frames


@torch.no_grad()
def painted_from_behind(
    model_path: str, capture_dir: str, split: str, every: int, margin: float, camera_index: int | None = None
) -> tuple[float, float, float]:
    """(share of the rig's pixels painted from more than margin behind it, share covered less than
    half, mean excess in metres) over every `every`-th frame of the split (of camera_index's frames
    only, unless None)."""
    avatar = load_avatar(model_path, backend="cpu")
    capture = load_capture(capture_dir)
    renderer, rig = avatar.renderer, avatar.rig
    params = capture.params.to(dtype=torch.float32)  # as `avatar eval` renders the capture's frames
    behind_px = hollow_px = rig_px = 0
    excess = []
    for f in split_frames(capture, capture_dir, split, camera_index)[::every]:
        frame = params.frame(capture.frames[f].time)
        camera = capture.camera(f)
        surface = surface_depth(rig, renderer.poser()(frame), camera)  # [H, W, 1]
        out = renderer.render(frame, camera)
        on_rig = surface > 0
        covered = on_rig & (out.alpha > 0.5)
        expected = out.depth / out.alpha.clamp_min(1e-6)  # [H, W, 1]
        behind_px += int((covered & (expected > surface + margin)).sum())
        hollow_px += int((on_rig & (out.alpha <= 0.5)).sum())
        rig_px += int(on_rig.sum())
        excess.append(float(behind_surface(out, surface, margin)))
    return behind_px / max(rig_px, 1), hollow_px / max(rig_px, 1), sum(excess) / max(len(excess), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="MODEL ... CAPTURE")
    parser.add_argument("--split", default="test")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--margin", type=float, default=0.03, help="metres behind the rig's surface")
    parser.add_argument("--camera", type=int, default=None, help="only this camera's frames (a multiview capture)")
    args = parser.parse_args(argv)
    if len(args.paths) < 2:
        parser.error("give one or more models and then a capture")
    *models, capture = args.paths
    print(
        f"| model | rig pixels painted from > {args.margin * 100:.0f} cm behind | left transparent | mean excess (mm) |"
    )
    print("|---|---|---|---|")
    for path in models:
        share, hollow, excess = painted_from_behind(path, capture, args.split, args.every, args.margin, args.camera)
        print(f"| {path} | {100 * share:.1f}% | {100 * hollow:.1f}% | {1000 * excess:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
