"""How far the hair's shell fitted to one camera's frames lies from the one fitted to every camera's.

    python benchmarks/diagnostics/shell_per_camera.py CAPTURE [--thinness 0 0.5 1 2]

`capture.hair_shell` fits the hair's thickness over the rig to the outline of the training
frames' mattes. A monocular avatar has one camera's outlines, so wherever that camera never saw
the head's edge the thickness is extrapolated. On a multiview capture the shell fitted to every
camera's frames is the best-informed one: for each camera's frames alone (every split's: a
held-out camera's too) and each `--thinness` weight (`hair_thickness`'s `thinness`), this prints
the RMS and the mean of the difference to it (mm), over the rig vertices where either shell is
thicker than 0.5 mm.
"""

from __future__ import annotations

import argparse

from avatar.data.capture import load_capture
from avatar.rig.loaders import load_rig
from capture.hair_shell import THINNESS, hair_thickness

COUNTED_M = 0.0005  # a vertex counts where either shell is thicker than this (the shell's taper ends at 0)


def shell_per_camera(capture_dir: str, weights: list[float]) -> dict[int, dict[float, tuple[float, float]]]:
    """{camera: {thinness: (RMS, mean) metres}}: each camera's frames' shell against the shell of
    every camera's frames (fitted with the default THINNESS)."""
    capture = load_capture(capture_dir)
    rig = load_rig(capture.rig)
    every = list(range(len(capture.frames)))
    reference = hair_thickness(capture, every, rig, THINNESS)
    if reference is None:
        raise SystemExit(f"{capture_dir}: no hair shell (no masks, or a rig without iBUG 68 landmarks)")
    table = {}
    for k in range(len(capture.cameras)):
        frames = [f for f in every if capture.frames[f].camera == k]
        table[k] = {}
        for weight in weights:
            alone = hair_thickness(capture, frames, rig, weight)  # [V]
            counted = (alone.abs() > COUNTED_M) | (reference.abs() > COUNTED_M)
            difference = (alone - reference)[counted]
            table[k][weight] = (float(difference.pow(2).mean().sqrt()), float(difference.mean()))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture")
    parser.add_argument("--thinness", type=float, nargs="+", default=[0.0, THINNESS])
    args = parser.parse_args(argv)
    table = shell_per_camera(args.capture, args.thinness)
    print("| camera alone | " + " | ".join(f"thinness {w:g}: RMS / mean (mm)" for w in args.thinness) + " |")
    print("|---|" + "---|" * len(args.thinness))
    for k, row in table.items():
        cells = " | ".join(f"{1000 * rms:.1f} / {1000 * mean:+.1f}" for rms, mean in row.values())
        print(f"| {k} | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
