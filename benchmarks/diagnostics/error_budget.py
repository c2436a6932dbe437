"""Where an avatar's error on a capture's frames sits, and how much of it the tracking leaves.

    python benchmarks/diagnostics/error_budget.py MODEL.avatar CAPTURE [--split test] [--every N]
        [--fit-params STEPS [--fit-keys rotation,translation]] [--camera K]

Each frame is rendered as `avatar eval` renders it (full frame, over the avatar's background, the
target matted onto it) and its squared error split over regions of the frame:

- outline: within 2 px of the edge of the capture's matte;
- over background / missing: the render opaque where the matte says background, or clear where it
  says person (outside the outline band); missing is split into what lies more than PAST_RIG_PX
  outside the tracked rig's silhouette (hair and anything else the rig does not reach: what a
  head turned past the training frames shows) and the rest;
- background: both say background (faint haze, the matte's soft edge);
- mouth, eyes, face (within the jaw line and the brows), and the rest (hair, forehead, neck): both
  say person, split by the frame's MediaPipe landmarks (iBUG contours; a multiview capture's
  through each view's crop box; without landmarks.npz all of it is "person").

For each region: its share of the squared error, its share of the pixels, and the split's PSNR
(mean of the frames' PSNR, as `avatar eval`) if that region alone were rendered exactly.

With `--fit-params STEPS` each frame's rig parameters (`--fit-keys`: pose, expression, jaw, neck
and eyes unless fewer are named) are also fitted to the frame through the avatar (Adam, the avatar fixed) and the split's PSNR given again:
what remains is the avatar's appearance; the difference is what better tracking could give at
most (the fit has no landmark term, so it may also bend a face to hide an appearance error). The
frame's cut stays where the tracked pose put it, since the target's matte was cut there.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from scipy import ndimage

from avatar.data.capture import Capture, load_capture
from avatar.model import load_avatar
from avatar.renderer import AvatarRenderer
from avatar.splat import Camera
from avatar.rig import RigParams
from avatar.training.config import TrainConfig
from avatar.training.image_metrics import photometric_loss, psnr
from avatar.training.turned_views import distance_outside, silhouette
from capture.crop_landmarks import crop_landmarks
from capture.ibug68 import MP_TO_IBUG68
from split_frames import split_frames

OUTLINE_PX = 2
PAST_RIG_PX = 3  # missing pixels this far outside the posed rig's silhouette are "past the rig"
# iBUG 68 contours (closed polygons): face = jaw line and brows; outer lips; each eye.
FACE = [*range(17), *range(26, 16, -1)]
MOUTH = list(range(48, 60))
EYES = (list(range(36, 42)), list(range(42, 48)))
FITTED = ("rotation", "translation", "expr", "jaw", "neck", "eyes")
LEARNING_RATES = {"rotation": 2e-3, "translation": 2e-4, "expr": 1e-2, "jaw": 2e-3, "neck": 2e-3, "eyes": 2e-3}


def region_masks(mask: np.ndarray, alpha: np.ndarray, past_rig: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Disjoint boolean [H, W] regions covering the frame, the person drawn where it is as one
    ("person", which `face_parts` splits). mask, alpha [H, W] in [0, 1]: the capture's matte and
    the render's opacity; past_rig [H, W] bool: the pixels more than PAST_RIG_PX outside the posed
    rig (None: missing is one region)."""
    person, drawn = mask > 0.5, alpha > 0.5
    band = ndimage.binary_dilation(person, iterations=OUTLINE_PX) & ~ndimage.binary_erosion(
        person, iterations=OUTLINE_PX
    )
    off_band = ~band
    missing = off_band & person & ~drawn
    regions = {"outline": band, "over background": off_band & ~person & drawn}
    if past_rig is None:
        regions["missing"] = missing
    else:
        regions |= {"missing, past the rig": missing & past_rig, "missing, on the rig": missing & ~past_rig}
    regions["background"] = off_band & ~person & ~drawn
    regions["person"] = off_band & person & drawn
    return regions


def face_parts(person: np.ndarray, landmarks: np.ndarray | None) -> dict[str, np.ndarray]:
    """`region_masks`' person [H, W] bool split by landmarks [68, 2] (iBUG points in pixels) into
    mouth, eyes, face and the rest; all of it the rest in a frame whose view lost the face (None)."""
    if landmarks is None:
        nothing = np.zeros_like(person)
        return {"mouth": nothing, "eyes": nothing, "face": nothing, "hair, forehead, neck": person}
    ys, xs = np.mgrid[: person.shape[0], : person.shape[1]] + 0.5  # [H, W] pixel centres

    def polygon(points: list[int]) -> np.ndarray:
        return inside_polygon(landmarks[points], xs, ys)

    mouth = person & polygon(MOUTH)
    eyes = person & (polygon(EYES[0]) | polygon(EYES[1])) & ~mouth
    face = person & polygon(FACE) & ~mouth & ~eyes
    return {"mouth": mouth, "eyes": eyes, "face": face, "hair, forehead, neck": person & ~mouth & ~eyes & ~face}


def inside_polygon(corners: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """[H, W] whether each point (xs, ys [H, W]) lies inside the closed polygon corners [N, 2]
    (even-odd rule: a ray to +x crosses its edges an odd number of times)."""
    inside = np.zeros(xs.shape, bool)
    for (x0, y0), (x1, y1) in zip(corners, np.roll(corners, -1, axis=0)):
        if y0 == y1:
            continue  # a horizontal edge: the ray never crosses it
        spans = (y0 > ys) != (y1 > ys)  # the edge straddles the point's row
        inside ^= spans & (xs < x0 + (ys - y0) * (x1 - x0) / (y1 - y0))
    return inside


def ibug_landmarks(capture_dir: Path, capture: Capture) -> Callable[[int], np.ndarray | None] | None:
    """frame -> its iBUG 68 points [68, 2] in the frame's crop pixels (None where its view lost
    the face), or None when the capture has no landmarks (`capture.crop_landmarks`)."""
    landmarks = crop_landmarks(capture_dir, capture)
    if landmarks is None:
        return None
    return lambda frame: None if (points := landmarks(frame)) is None else points[MP_TO_IBUG68]


def fit_params(
    renderer: AvatarRenderer,
    params: RigParams,
    camera: Camera,
    region: torch.Tensor | None,
    target: torch.Tensor,
    mask: torch.Tensor,
    steps: int,
    keys: tuple[str, ...] = FITTED,
) -> RigParams:
    """One frame's params [1] with `keys` fitted to target [H, W, 3] (mask [H, W, 1]) through the
    avatar rendered with the frame's cut `region` [H, W, 1]: the training loss, `steps` Adam steps,
    expression weights kept in [0, 1]."""
    background = torch.tensor(renderer.background, dtype=torch.float32, device=renderer.device)
    loss_weights = TrainConfig()
    deltas = {k: torch.zeros_like(getattr(params, k), requires_grad=True) for k in keys}
    optimizer = torch.optim.Adam([{"params": [deltas[k]], "lr": LEARNING_RATES[k]} for k in keys])

    def moved() -> RigParams:
        values = {k: getattr(params, k) + deltas[k] for k in keys}
        if "expr" in values:
            values["expr"] = values["expr"].clamp(0.0, 1.0)
        return dataclasses.replace(params, **values)

    for _ in range(steps):
        out = renderer.render_differentiable(moved(), camera, region, background).output
        loss = (
            photometric_loss(out.rgb, target, loss_weights.ssim_weight)
            + loss_weights.alpha_weight * (out.alpha - mask).abs().mean()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return moved().detach()


def error_budget(
    model_path: str | Path,
    capture_dir: str | Path,
    split: str = "test",
    fit_steps: int = 0,
    every: int = 1,
    fit_keys: tuple[str, ...] = FITTED,
    camera_index: int | None = None,
) -> dict:
    """Per region: share of the squared error and of the pixels, and the split's PSNR were it exact;
    the split's PSNR, and with fit_steps > 0 its PSNR with each frame's parameters fitted. With
    camera_index, only that camera's frames of a multiview capture (a monocular avatar seen from a
    camera it never trained on)."""
    if unknown := set(fit_keys) - set(FITTED):
        raise SystemExit(f"--fit-keys: {', '.join(sorted(unknown))} is not one of {', '.join(FITTED)}")
    capture = load_capture(capture_dir)
    if split not in capture.splits:
        raise SystemExit(f"{capture_dir}: no split '{split}' (has: {', '.join(capture.splits)})")
    avatar = load_avatar(model_path)
    renderer = avatar.renderer
    for parameter in renderer.model.parameters():
        parameter.requires_grad_(False)
    background = torch.tensor(renderer.background, dtype=torch.float32)
    landmarks = ibug_landmarks(Path(capture_dir), capture)
    frames = split_frames(capture, capture_dir, split, camera_index)[::every]
    region_sse, region_pixels, frame_sse, fitted_psnr = [], [], [], []  # per frame
    for frame in frames:
        image, mask = capture.load_image(frame), capture.load_mask(frame)  # [H, W, 3], [H, W, 1]
        if mask is None:
            raise SystemExit(f"{capture_dir}: frame {frame} has no matte; the budget splits the frame by it")
        target = image * mask + background * (1 - mask)
        params = capture.frame_params(frame).to(dtype=torch.float32)
        camera = capture.camera(frame)
        with torch.no_grad():
            out = renderer.render(params, camera)
        error = ((out.rgb.clamp(0, 1) - target) ** 2).mean(-1).numpy()  # [H, W]
        with torch.no_grad():
            verts = renderer.model.rig.forward(params)[0]  # [V, 3]
        past_rig = distance_outside(silhouette(renderer.model.rig, verts, camera)) > PAST_RIG_PX
        regions = region_masks(mask[..., 0].numpy(), out.alpha[..., 0].numpy(), past_rig)
        if landmarks is not None:  # the capture has them, though a frame's view may have lost the face
            regions |= face_parts(regions.pop("person"), landmarks(frame))
        names = list(regions)  # the same for every frame: whether the capture has landmarks decides
        region_sse.append([float(error[regions[r]].sum()) for r in names])
        region_pixels.append([float(regions[r].mean()) for r in names])
        frame_sse.append(float(error.sum()))
        if fit_steps:
            region = renderer.cut_region(params, camera)  # where the target was cut: the tracked pose's
            fitted = fit_params(renderer, params, camera, region, target, mask, fit_steps, fit_keys)
            with torch.no_grad():
                rgb = renderer.render_differentiable(fitted, camera, region, background).output.rgb
            fitted_psnr.append(psnr(rgb.clamp(0, 1), target))
    sse, pixels, total = np.array(region_sse), np.array(region_pixels), np.array(frame_sse)  # [F, R], [F, R], [F]
    size = error.size

    def split_psnr(frame_errors: np.ndarray) -> float:  # mean of the frames' PSNR from their summed errors
        return float(np.mean(10 * np.log10(size / np.maximum(frame_errors, 1e-12))))

    budget = {
        name: {
            "error_share": float(sse[:, i].sum() / total.sum()),
            "pixel_share": float(pixels[:, i].mean()),
            "psnr_if_exact": split_psnr(total - sse[:, i]),
        }
        for i, name in enumerate(names)
    }
    result = {"split": split, "frames": len(frames), "psnr": split_psnr(total), "regions": budget}
    if landmarks is not None:  # the face as a whole (what the rig drives), and everything else
        face = [names.index(r) for r in ("mouth", "eyes", "face")]
        result["psnr_if_face_exact"] = split_psnr(total - sse[:, face].sum(1))
        result["psnr_if_all_but_face_exact"] = split_psnr(sse[:, face].sum(1))
    if fit_steps:
        result |= {"psnr_params_fitted": float(np.mean(fitted_psnr)), "fitted_keys": list(fit_keys)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("capture")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--fit-params",
        type=int,
        default=0,
        metavar="STEPS",
        help="also fit each frame's parameters through the avatar for STEPS steps (40 is enough)",
    )
    parser.add_argument(
        "--fit-keys",
        default=",".join(FITTED),
        help=f"the parameters --fit-params fits, comma-separated (default {','.join(FITTED)})",
    )
    parser.add_argument("--every", type=int, default=1, help="every N-th frame of the split (default 1)")
    parser.add_argument("--camera", type=int, default=None, help="only this camera's frames (a multiview capture)")
    args = parser.parse_args()
    result = error_budget(
        args.model,
        args.capture,
        args.split,
        args.fit_params,
        args.every,
        tuple(filter(None, args.fit_keys.split(","))),
        args.camera,
    )
    print(f"{args.capture} {result['split']}: {result['frames']} frames, PSNR {result['psnr']:.2f} dB")
    print(f"  {'region':20s} {'error':>7s} {'pixels':>7s} {'PSNR if exact':>14s}")
    for name, row in result["regions"].items():
        print(f"  {name:20s} {row['error_share']:7.1%} {row['pixel_share']:7.1%} {row['psnr_if_exact']:14.2f}")
    if "psnr_if_face_exact" in result:
        print(
            f"  mouth, eyes and face exact: {result['psnr_if_face_exact']:.2f} dB; "
            f"all but them exact: {result['psnr_if_all_but_face_exact']:.2f} dB"
        )
    if "psnr_params_fitted" in result:
        print(
            f"  with each frame's {', '.join(result['fitted_keys'])} fitted through the avatar: "
            f"{result['psnr_params_fitted']:.2f} dB"
        )


if __name__ == "__main__":
    main()
