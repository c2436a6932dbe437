"""How dark an avatar's mouth is inside when it opens wider than its video did.

For each avatar: the neutral face with the jaw opened 0.2 and 0.35 rad, and a Live Link take's
frame with its widest jawOpen (not kept inside the avatar's training range: the take as a driver
sends it), seen from the front and turned 20 degrees; per view the mean luminance (Rec. 709) of
the pixels inside the inner lips (iBUG 60-67 of the posed rig, projected) and the share of them
brighter than 0.5. An avatar trained before the mouth cavity existed (avatar/gaussians/
mouth_cavity.py) is also scored with the cavity added, so the two can be compared on one avatar.

    python benchmarks/quality/open_mouth.py MODEL.avatar [MODEL ...] [--take TAKE.csv] [--sheet S.png] [--json OUT]

The sheet: one row per avatar (and per "with the cavity" variant), the mouth cut out of each view.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from avatar.gaussians.mouth_cavity import add_mouth_cavity, cavity_parents, cavity_triangles, mouth_opening
from avatar.model import load_avatar
from avatar.renderer import AvatarRenderer
from avatar.training.turned_views import turned_camera

SIZE = 512
BRIGHT = 0.5
CROP = (140, 180)  # rows, columns of the sheet's cut-out around the mouth


def has_cavity(model) -> bool:
    """Whether the model's last Gaussians are the cavity add_mouth_cavity appends."""
    parent = cavity_parents(model.rig)
    return parent.numel() > 0 and torch.equal(model.parent[-parent.numel() :].cpu(), parent)


@torch.no_grad()
def score(avatar, model, poses: dict, views: dict) -> tuple[dict, list[torch.Tensor]]:
    renderer = AvatarRenderer(model, (1.0, 1.0, 1.0), "cpu")
    result, tiles = {}, []
    for pose_name, params in poses.items():
        for view_name, camera in views.items():
            inside = mouth_opening(avatar.rig, params, camera)
            rgb = renderer.render(params, camera).rgb.clamp(0, 1)
            luminance = (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]).numpy()
            y, x = np.nonzero(inside)
            result[f"{pose_name}, {view_name}"] = {
                "pixels": int(inside.sum()),
                "luminance": float(luminance[inside].mean()) if inside.any() else None,
                "bright_share": float((luminance[inside] > BRIGHT).mean()) if inside.any() else None,
            }
            cy, cx = (int(y.mean()), int(x.mean())) if inside.any() else (SIZE * 2 // 3, SIZE // 2)
            top, left = min(max(0, cy - CROP[0] // 2), SIZE - CROP[0]), min(max(0, cx - CROP[1] // 2), SIZE - CROP[1])
            tiles.append(rgb[top : top + CROP[0], left : left + CROP[1]])
    return result, tiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--take", default="../shared/data/expressions/livelink_happy.csv")
    parser.add_argument("--sheet", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    report, rows = {}, []
    for path in args.models:
        avatar = load_avatar(path, None, torch.device("cpu"), "auto")
        rig = avatar.rig
        take, _ = avatar.params(args.take, clamp=False)
        jaw_open = take.jaw[:, 0]
        widest = int(jaw_open.argmax())
        poses = {}
        for angle in (0.2, 0.35):
            params = avatar.params(None)[0]
            params.jaw[..., 0] = angle
            poses[f"jaw {angle} rad"] = params
        poses[f"take frame {widest}"] = take.frame(widest)
        views = {"front": turned_camera(rig, 0.0, SIZE), "turned 20": turned_camera(rig, 20.0, SIZE)}
        variants = {"as trained": avatar.model}
        if cavity_triangles(rig).any() and not has_cavity(avatar.model):
            variants["with the cavity added"] = copy.deepcopy(avatar.model)
            add_mouth_cavity(variants["with the cavity added"])
        for variant, model in variants.items():
            result, tiles = score(avatar, model, poses, views)
            report[f"{Path(path).name}, {variant}"] = result
            rows.append(torch.cat(tiles, 1))
            print(f"{Path(path).name}, {variant}:")
            for key, r in result.items():
                print(f"  {key:32s} luminance {r['luminance']:.3f}, brighter than {BRIGHT}: {r['bright_share']:.0%}")
    if args.sheet is not None:
        sheet = (torch.cat(rows, 0).numpy() * 255).astype(np.uint8)
        Image.fromarray(sheet).save(args.sheet)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
