"""Avatars turned and driven: every avatar rendered with the camera turned around the head and
driven by its own clip, by other people's captures and by Live Link takes, with contact sheets
and two numbers that see shards and floaters without ground truth (avatar/training/turned_views.py).

    python benchmarks/quality/turned_views.py --avatar woman=W.avatar --avatar man=M.avatar \
        --driver woman=W_capture --driver happy=livelink_happy.csv ... --out DIR \
        [--angles=-35,-20,0,20,35] [--elevation 0] [--frames 4] [--size 256] [--json T.json]

Each avatar's hair margin comes from the capture it was trained on (recorded in the .avatar file).
For each avatar and driver: the driver's `--frames` most expressive frames spread over its clip,
driven as `avatar render` drives them (`Avatar.params`: relative to the driver's neutral, clamped
into the avatar's range; the avatar's own capture drives it the same way), each rendered at every
angle, from `--elevation` degrees above the head's level (below it when negative; the sheets'
names then end in _el+DEG). Columns: the mean `outside_share` per angle (the opacity outside the
rig's silhouette grown by the hair margin, in %), then per avatar the opacity share on Gaussians
far off their triangle, on needles, and on either (`surface_shares`). DIR/sheet_AVATAR_by_DRIVER.png: rows are frames,
columns angles. The sheets show real people's faces: look at them, do not commit them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from avatar.data.capture import load_capture
from avatar.model import Avatar, load_avatar
from avatar.training.turned_views import hair_margin, outside_share_of_render, surface_shares, turned_camera

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cross_drive import expressive_frames  # noqa: E402  (a sibling benchmark)


def parse_named(specs: list[str], what: str) -> dict[str, str]:
    named = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--{what} expects NAME=PATH, got {spec!r}")
        named[name] = path
    return named


def drive(
    avatar: Avatar, source: str, angles: list[float], elevation: float, count: int, size: int, margin_m: float
) -> tuple[list[list[float]], np.ndarray]:
    """Per frame and angle the outside share [frames][angles], and the sheet (rows: frames)."""
    params, _ = avatar.params(source)
    shares, rows = [], []
    for t in expressive_frames(params, count):
        frame = params.frame(t)
        cells, row = [], []
        for angle in angles:
            camera = turned_camera(avatar.rig, angle, size, elevation)
            out = avatar.renderer.render(frame.to(device=avatar.device), camera)
            cells.append(outside_share_of_render(avatar.rig, frame, camera, out.alpha, margin_m))
            row.append((out.rgb.clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8))
        shares.append(cells)
        rows.append(np.concatenate(row, 1))
    return shares, np.concatenate(rows, 0)


@torch.no_grad()  # renders only; leaves the caller's grad mode as it was (tests call main in-process)
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--avatar", action="append", required=True, metavar="NAME=MODEL")
    parser.add_argument(
        "--driver",
        action="append",
        default=[],
        metavar="NAME=SOURCE",
        help="a capture directory or an expression file (.npz, .json, Live Link .csv)",
    )
    parser.add_argument("--angles", default="-35,-20,0,20,35", help="camera yaw angles in degrees")
    parser.add_argument(
        "--elevation", type=float, default=0.0, help="degrees above the head's level (negative: from below)"
    )
    parser.add_argument("--frames", type=int, default=4, help="frames of each driver (the most expressive, spread)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--without-view-cone",
        action="store_true",
        help="render the view-dependent colour from the camera itself, as avatars trained before "
        "the view cone were (avatar/splat/view_cone.py): a before/after comparison",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    angles = [float(a) for a in args.angles.split(",") if a]
    drivers = parse_named(args.driver, "driver")
    args.out.mkdir(parents=True, exist_ok=True)
    header = f"{'avatar':<14} {'driver':<14} " + " ".join(f"{a:>+6.0f}°" for a in angles)
    print(
        "outside the rig's silhouette grown by the hair margin, % of the opacity, "
        f"{args.elevation:+.0f}° above the head's level\n{header}"
    )
    suffix = f"_el{args.elevation:+.0f}" if args.elevation else ""
    results = []
    for name, path in parse_named(args.avatar, "avatar").items():
        avatar = load_avatar(path, backend="cpu")
        if args.without_view_cone:
            avatar.model.view_cone = None
        if avatar.capture is None or not avatar.capture.is_dir():
            raise SystemExit(
                f"{path}: the capture it was trained on ({avatar.capture}) is not here: "
                "the hair margin is measured on it"
            )
        margin = hair_margin(load_capture(avatar.capture), avatar.rig)
        result = {
            "avatar": name,
            "model": path,
            "hair_margin_m": margin,
            "surface": surface_shares(avatar.model).to_dict(),
            "drivers": {},
        }
        for driver, source in drivers.items():
            shares, image = drive(avatar, source, angles, args.elevation, args.frames, args.size, margin)
            means = np.mean(shares, axis=0)
            result["drivers"][driver] = {
                "angles": angles,
                "elevation": args.elevation,
                "outside_share": means.tolist(),
                "per_frame": shares,
            }
            Image.fromarray(image).save(args.out / f"sheet_{name}_by_{driver}{suffix}.png")
            print(f"{name:<14} {driver:<14} " + " ".join(f"{100 * m:>7.2f}" for m in means))
        results.append(result)
    print(f"\n{'avatar':<14} {'margin cm':>9} {'far':>7} {'needle':>7} {'either':>7} {'|z| med':>8} {'aniso med':>9}")
    for r in results:
        s = r["surface"]
        print(
            f"{r['avatar']:<14} {100 * r['hair_margin_m']:>9.2f} {100 * s['far']:>6.1f}% {100 * s['needle']:>6.1f}% "
            f"{100 * s['either']:>6.1f}% {s['normal_offset_median']:>8.2f} {s['anisotropy_median']:>9.1f}"
        )
    if args.without_view_cone:
        print("rendered without the avatars' view cones (--without-view-cone)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
