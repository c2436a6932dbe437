"""How an avatar's eyes hold up when they look where its video's eyes never looked.

For each avatar: the neutral face seen from the front with both eyes looking ahead, up 20 degrees,
down 15, and 25 to either side (the eye joints turned; a driver's gaze does the same). Per gaze,
the eyes' see-through: the mean transmittance (1 - alpha) of the Gaussians on the eyeballs'
triangles alone (`eyeball_triangles`), over the pixels inside the eye openings (iBUG 36-41 and
42-47 of the posed rig, projected). Where it is high, what shows in the eye is whatever lies
behind the eyeball: the inside of the head, seen through it.

With `--captures CAP ...` (one per model, the capture it was trained on), also the gaze the
tracker gave the training frames (per eye the median and interquartile range of each rotation
component) and the held-out frames' PSNR inside a box around the eyes (iBUG 36-47 of the posed
rig, 4 px around) rendered with their tracked gaze, with the training frames' median gaze, and
with the gaze at zero (the rig's eyes looking ahead: what a driver that looks ahead sends).

    python benchmarks/quality/rolled_eyes.py MODEL.avatar [MODEL ...] [--captures CAP ...] [--sheet S.png] [--json OUT]

The sheet: one row per avatar, the eyes cut out of each gaze's full render.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from avatar.data.capture import Capture, load_capture
from avatar.model import load_avatar
from avatar.renderer import AvatarRenderer
from avatar.rig import HeadRig, RigParams
from avatar.rig.face_region import eyeball_triangles, pixels_inside, posed_landmarks
from avatar.splat import Camera
from avatar.training.turned_views import turned_camera

SIZE = 512
EYES = (list(range(36, 42)), list(range(42, 48)))  # iBUG: each eye's lid outline
# The eye joints' rotation (axis-angle, radians) per gaze: +x turns the eye down, +y to the
# person's left (rig space: y up, the face looking +z).
GAZES = {
    "ahead": (0.0, 0.0),
    "up 20": (-math.radians(20), 0.0),
    "down 15": (math.radians(15), 0.0),
    "left 25": (0.0, math.radians(25)),
    "right 25": (0.0, -math.radians(25)),
}
BOX_MARGIN = 4  # pixels around the eyes' landmarks: the held-out frames' eye box
CROP_MARGIN = 0.35  # the sheet's cut-out: the eyes' box grown by this share of its width
TILE = (288, 96)  # the sheet's cut-outs, resized to this width and height


def eye_openings(rig: HeadRig, params: RigParams, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """[H, W] bool: the pixels inside either eye's lid outline, and [12, 2] those outlines' pixel
    positions, for the rig posed by params [1] seen by camera."""
    uv = camera.project(posed_landmarks(rig, params)).numpy()  # [68, 2]
    return pixels_inside([uv[outline] for outline in EYES], camera.height, camera.width), uv[EYES[0] + EYES[1]]


def eyeballs_only(model):
    """A copy of the model with its Gaussians on the eyeballs' triangles, and nothing else; how many."""
    keep = eyeball_triangles(model.rig).to(model.parent.device)[model.parent]  # [N] bool
    subset = copy.deepcopy(model)
    tensors = {
        name: t.detach()[:, keep] if name in model.OFFSETS else t.detach()[keep]
        for name, t in model.attribute_tensors().items()
    }
    subset.replace_gaussians(tensors, model.parent[keep])
    return subset, int(keep.sum())


@torch.no_grad()
def score(avatar) -> tuple[dict, list[np.ndarray]]:
    model, rig = avatar.model, avatar.rig
    camera = turned_camera(rig, 0.0, SIZE)
    full = AvatarRenderer(model, (1.0, 1.0, 1.0), "cpu")
    eyes, count = eyeballs_only(model)
    eyes_only = AvatarRenderer(eyes, (1.0, 1.0, 1.0), "cpu")
    result, tiles = {"eyeball_gaussians": count, "gazes": {}}, []
    for gaze, (pitch, yaw) in GAZES.items():
        params = avatar.params(None)[0]
        params.eyes[..., 0] = pitch
        params.eyes[..., 3] = pitch
        params.eyes[..., 1] = yaw
        params.eyes[..., 4] = yaw
        inside, outline = eye_openings(rig, params, camera)
        alpha = eyes_only.render(params, camera).alpha[..., 0].numpy()  # [H, W]
        result["gazes"][gaze] = {
            "pixels": int(inside.sum()),
            "see_through": float((1 - alpha[inside]).mean()) if inside.any() else None,
        }
        rgb = full.render(params, camera).rgb.clamp(0, 1)
        lo, hi = outline.min(0), outline.max(0)
        pad = CROP_MARGIN * (hi[0] - lo[0])
        left, right = int(max(0, lo[0] - pad)), int(min(SIZE, hi[0] + pad))
        middle, half = (lo[1] + hi[1]) / 2, (right - left) / 6  # a 3:1 cut-out
        top, bottom = int(max(0, middle - half)), int(min(SIZE, middle + half))
        tile = Image.fromarray((rgb[top:bottom, left:right].numpy() * 255).astype(np.uint8))
        tiles.append(np.asarray(tile.resize(TILE, Image.BICUBIC)))
    return result, tiles


@torch.no_grad()
def gaze_check(avatar, capture: Capture) -> dict:
    """The training frames' tracked gaze and the held-out frames' eye-box PSNR per gaze given."""
    train = [capture.frames[f].time for f in capture.splits["train"]]
    eyes = capture.params.eyes[train].double()  # [T, 6]
    median = eyes.median(0).values.float()  # [6]
    spread = (eyes.quantile(0.75, 0) - eyes.quantile(0.25, 0)).float()
    renderer = AvatarRenderer(avatar.model, (1.0, 1.0, 1.0), "cpu")
    errors = {"tracked": [], "training median": [], "zero": []}
    for f in capture.splits["test"]:
        camera, params, image = capture.camera(f), capture.frame_params(f), capture.load_image(f)
        outline = camera.project(posed_landmarks(avatar.rig, params)[EYES[0] + EYES[1]]).numpy()  # [12, 2]
        lo = np.floor(outline.min(0)).astype(int) - BOX_MARGIN
        hi = np.ceil(outline.max(0)).astype(int) + BOX_MARGIN
        for name, gaze in (("tracked", params.eyes[0]), ("training median", median), ("zero", torch.zeros(6))):
            posed = params.detach()
            posed.eyes[0] = gaze
            rgb = renderer.render(posed, camera).rgb.clamp(0, 1)
            errors[name].append(float((rgb - image)[lo[1] : hi[1], lo[0] : hi[0]].pow(2).mean()))
    return {
        "training_gaze_median": median.tolist(),
        "training_gaze_iqr": spread.tolist(),
        "held_out_frames": len(errors["zero"]),
        "eye_box_psnr": {name: float(10 * np.log10(1 / np.mean(e))) for name, e in errors.items()},
    }


def _degrees(radians: list[float]) -> str:
    return " ".join(f"{math.degrees(v):+.1f}" for v in radians)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--captures", nargs="+", default=[], help="per model, the capture it was trained on")
    parser.add_argument("--sheet", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.captures and len(args.captures) != len(args.models):
        parser.error(f"{len(args.captures)} captures for {len(args.models)} models: give one per model")
    torch.set_grad_enabled(False)
    report, rows = {}, []
    for k, path in enumerate(args.models):
        avatar = load_avatar(path, None, torch.device("cpu"), "auto")
        result, tiles = score(avatar)
        if args.captures:
            result["gaze"] = gaze_check(avatar, load_capture(args.captures[k]))
        report[str(path)] = result
        print(f"{path}: {result['eyeball_gaussians']} Gaussians on the eyeballs")
        for gaze, r in result["gazes"].items():
            print(f"  {gaze:9s} see-through {r['see_through']:.3f} over {r['pixels']} px")
        if "gaze" in result:
            g = result["gaze"]
            print(
                f"  training gaze (degrees, eye_l xyz, eye_r xyz): median {_degrees(g['training_gaze_median'])}, "
                f"interquartile range {_degrees(g['training_gaze_iqr'])}"
            )
            for name, value in g["eye_box_psnr"].items():
                print(f"  held-out eye box, gaze {name:15s} {value:.2f} dB over {g['held_out_frames']} frames")
        rows.append(np.concatenate(tiles, 1))
    if args.sheet is not None:
        Image.fromarray(np.concatenate(rows, 0)).save(args.sheet)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
