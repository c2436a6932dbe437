"""An avatar's PSNR over the pixels a cut without hanging hair keeps: its figures beside those of
avatars made before the masks kept hair hanging below the line through the head's sides.

    python benchmarks/diagnostics/without_hanging_hair.py CAPTURE MODEL.avatar [--split test]

A capture tracked with hanging hair has targets with more in them (talking_woman_512: 8% of the
frame in hair that swings with nothing to drive it), so `avatar eval`'s full-frame PSNR of its
avatar is not comparable with an earlier one's. Here both the render and the target are cut as the
earlier cut would (`hanging_hair` off: between the two lines only the rig's own pixels), and the
PSNR is taken full frame over the avatar's background, as `avatar eval` takes it.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch

from avatar.data.capture import load_capture
from avatar.model import load_avatar
from avatar.splat.cut_region import cut_parts
from avatar.training.image_metrics import psnr


def psnr_without_hanging_hair(capture_dir: str, model_path: str, split: str) -> tuple[int, float]:
    """(frames, mean PSNR in dB) of `split`, render and target cut without the hanging hair."""
    capture = load_capture(capture_dir)
    avatar = load_avatar(model_path)
    model = avatar.model
    if model.head_cut is None:
        raise SystemExit(f"{model_path} has no cut below the head")
    cut = dataclasses.replace(model.head_cut, hanging_hair=False)
    background = torch.tensor(avatar.background, dtype=torch.float32)
    values = []
    for frame in capture.splits[split]:
        image, mask = capture.load_image(frame), capture.load_mask(frame)  # [H, W, 3], [H, W, 1]
        params = capture.frame_params(frame).to(dtype=torch.float32)
        camera = capture.camera(frame)
        with torch.no_grad():
            rgb = avatar.renderer.render(params, camera).rgb.clamp(0, 1)
            verts = model.rig.forward(params)[0]
        region = torch.from_numpy(cut_parts(cut, verts, model.rig.faces, camera).region())[..., None]  # [H, W, 1]
        kept = mask * region
        values.append(psnr(rgb * region + background * (1 - region), image * kept + background * (1 - kept)))
    return len(values), float(np.mean(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture")
    parser.add_argument("model")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    frames, value = psnr_without_hanging_hair(args.capture, args.model, args.split)
    print(f"{args.split}: {frames} frames, PSNR without the hanging hair {value:.2f} dB")


if __name__ == "__main__":
    main()
