"""Every avatar driven by every other person's tracked capture (issue 35: another person's face
drives without smears): how far the driven parameters leave what each avatar learned, and a
contact sheet per pair to look at.

    python benchmarks/quality/cross_drive.py --pair wojtek=W.avatar:W_capture --pair woman=M.avatar:M_capture ...
        --out DIR [--frames 5] [--size 256]

For avatar A and another person's capture C, the parameters are C's tracked frames relative to
C's own neutral (avatar.data.retarget.driving_params), then, as `avatar render --expr C` drives A,
put on A's resting face and clamped into the range of A's training frames
(`ExpressionRange.onto`). Columns: frames of C; the fraction of frames with some expression
weight, jaw or eye component outside A's range as the relative weights are (with no resting face:
what driving did before the range), on A's resting face before the clamp, and after it; the
fraction of weights outside on the resting face; the largest distance the clamp moved a value.
DIR/sheet_A_by_C.png: C's frames (the most expressive of it, spread over the clip), A driven by
them without the range (resting face, no clamp), and A as `avatar render` drives it (the clamp),
front camera. The sheets show real people's faces: look at them, do not commit them.
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
from avatar.data.retarget import driving_params
from avatar.model import Avatar, load_avatar
from avatar.splat.framing import camera_path
from avatar.rig import RigParams

ROW = "{:<14} {:<14} {:>6} {:>9} {:>9} {:>9} {:>10} {:>8}"
HEADER = ("avatar", "driven by", "frames", "outside", "on rest", "clamped", "wts out", "largest")


def outside(avatar: Avatar, params: RigParams) -> tuple[np.ndarray, np.ndarray]:
    """Per frame [T] whether the avatar's range clamp moves any value, and per frame the fraction
    of expression weights it moves [T]."""
    kept, _ = avatar.expression_range.clamp(params)
    moved = kept.expr != params.expr  # [T, E]
    return avatar.expression_range.outside(params).numpy(), moved.float().mean(1).numpy()


def expressive_frames(params: RigParams, count: int) -> list[int]:
    """`count` time steps spread over the clip, each the most expressive of its stretch."""
    score = params.expr.abs().sum(1) + 5 * params.jaw.abs().sum(1)  # [T]
    bounds = np.linspace(0, params.num_frames, count + 1).astype(int)
    return [int(a + score[a:b].argmax()) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def driver_image(capture, time: int, size: int) -> np.ndarray:
    """The capture's first frame image showing time step `time`, [size, size, 3] uint8."""
    frame = next(f for f, info in enumerate(capture.frames) if info.time == time)
    image = (capture.load_image(frame).numpy() * 255).round().astype(np.uint8)
    return np.asarray(Image.fromarray(image).resize((size, size)))


def sheet(avatar: Avatar, capture, relative: RigParams, times: list[int], size: int) -> np.ndarray:
    """Rows: the driver's frames, the avatar on its resting face unclamped, the avatar clamped."""
    camera = camera_path(avatar.rig, "front", size, 1)(0)
    rest = avatar.expression_range.on_rest(relative)
    clamped, _ = avatar.expression_range.clamp(rest)
    rows = [[driver_image(capture, t, size) for t in times]]
    for params in (rest, clamped):
        params.shape = avatar.identity()
        rows.append([(avatar.renderer.render(params.frame(t), camera).rgb.clamp(0, 1).numpy() * 255).round()
                     .astype(np.uint8) for t in times])
    return np.concatenate([np.concatenate(row, 1) for row in rows], 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pair", action="append", required=True, metavar="NAME=MODEL:CAPTURE",
                        help="a person: their avatar and the capture it was trained on")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)
    people = {}
    for spec in args.pair:
        name, _, paths = spec.partition("=")
        model, _, capture = paths.partition(":")
        people[name] = (load_avatar(model, backend="cpu"), load_capture(capture))
    missing = [n for n, (a, _) in people.items() if a.expression_range is None]
    if missing:
        print(f"no expression range recorded in the avatars of {', '.join(missing)} (trained before it was)",
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_grad_enabled(False)
    rows = []
    print(ROW.format(*HEADER))
    for a_name, (avatar, _) in people.items():
        for c_name, (_, capture) in people.items():
            if a_name == c_name:
                continue
            relative = driving_params(capture, avatar.rig)  # [T] relative to the driver's neutral
            on_rest = avatar.expression_range.on_rest(relative)
            clamped, report = avatar.expression_range.clamp(on_rest)
            raw_any, _ = outside(avatar, relative)
            rest_any, rest_weights = outside(avatar, on_rest)
            after_any, _ = outside(avatar, clamped)
            row = {"avatar": a_name, "driver": c_name, "frames": relative.num_frames,
                   "outside_relative": float(raw_any.mean()), "outside_on_rest": float(rest_any.mean()),
                   "outside_after_clamp": float(after_any.mean()), "weights_outside_on_rest": float(rest_weights.mean()),
                   "largest_move": report.largest_excess}
            rows.append(row)
            print(ROW.format(a_name, c_name, row["frames"], f"{100 * row['outside_relative']:.0f}%",
                             f"{100 * row['outside_on_rest']:.0f}%", f"{100 * row['outside_after_clamp']:.0f}%",
                             f"{100 * row['weights_outside_on_rest']:.1f}%", f"{row['largest_move']:.2f}"))
            times = expressive_frames(relative, args.frames)
            Image.fromarray(sheet(avatar, capture, relative, times, args.size)).save(
                args.out / f"sheet_{a_name}_by_{c_name}.png")
    (args.out / "cross_drive.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
