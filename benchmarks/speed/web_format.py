"""What the web player's format (avatar/export/web_format.py) costs a trained avatar: file size by
block, and the PSNR of the read-back avatar's renders against the original's (both through the
`cpu` renderer) on frames spread over the capture's held-out split, with its cameras.

    OMP_NUM_THREADS=1 python benchmarks/speed/web_format.py MODEL.avatar CAPTURE [--frames 12]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from avatar.data.capture import load_capture
from avatar.model import load_avatar
from avatar.export.web_format import read_web_avatar, write_web_avatar
from avatar.renderer import AvatarRenderer
from avatar.training.image_metrics import psnr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("capture", type=Path)
    parser.add_argument("--frames", type=int, default=12, help="held-out frames, evenly spread")
    args = parser.parse_args(argv)
    avatar = load_avatar(args.model, backend="cpu")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.webavatar"
        sizes = write_web_avatar(avatar, path)
        read = read_web_avatar(path, backend="cpu")
    capture = load_capture(args.capture)
    test = capture.splits["test"]
    picked = [test[i] for i in np.linspace(0, len(test) - 1, args.frames).round().astype(int)]
    original = AvatarRenderer(avatar.model, avatar.background, "cpu")
    copy = AvatarRenderer(read.model, read.background, "cpu")
    values = []
    with torch.inference_mode():
        for f in picked:
            params = capture.frame_params(f).to(dtype=torch.float32)
            params.shape = avatar.identity()
            camera = capture.camera(f)
            want = original.render(params, camera).rgb.clamp(0, 1)
            values.append(psnr(copy.render(params, camera).rgb.clamp(0, 1), want))
    print(f"{args.model}: {avatar.model.num_gaussians:,} Gaussians, .avatar {args.model.stat().st_size / 1e6:.2f} MB, "
          f".webavatar {sizes['total'] / 1e6:.2f} MB")
    print("  " + ", ".join(f"{k} {v / 1e6:.2f}" for k, v in sizes.items() if k != "total"))
    print(f"  PSNR against the original over {len(values)} held-out frames: mean {np.mean(values):.1f} dB, "
          f"min {min(values):.1f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
