"""Novel views with ground truth: synchronized cameras of one head, each camera's monocular avatar
scored on the other cameras.

    python benchmarks/quality/novel_views.py ../shared/data/videos/multiview/nersemble_038_view{0,1,2}.mp4 \
        --out DIR [--joint] [--size 256] [--set KEY=VALUE ...] [--sheet-frames 4] [--json T.json]

Each view is tracked on its own and trained with the defaults exactly as `benchmarks/quality/fidelity.py`
does (its stages, its folder layout DIR/<view>/, resumable), then avatar A is scored on view B's
capture with `avatar eval`'s metrics: A posed by B's tracking, seen by B's camera. B's training
frames are the moments A trained on, seen from elsewhere: a novel view of a known moment; B's
test frames are a novel view of an unseen moment. The table: PSNR over the whole frame and inside
the matte for every ordered pair (the diagonal is each avatar's own held-out score), and the mean
over the side cameras. Until the views are tracked jointly (one head, calibrated cameras), each
view's own tracking error is part of what the side scores measure. With --joint the views are
tracked once together (`avatar track --views`: one head, the cameras estimated from the face) and
each camera's avatar is trained on that capture with `avatar train --cameras A` and scored on
every camera's frames of it (`avatar eval`'s per-camera rows).

DIR/pairs/A_on_B.png: B's frames (the most turned from A's camera first... evenly spread) as
target | render | error rows. They show a real person: look at them, do not commit them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from avatar.data.capture import load_capture
from avatar.model import load_avatar
from avatar.training.evaluate import evaluate_avatar

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fidelity  # noqa: E402  (a sibling benchmark: the same track -> train -> eval stages)


def cross_scores(views: list[str], out: Path, sheet_frames: int) -> dict:
    """{A: {B: {"all", "train", "test": {psnr, psnr_foreground}}}} for every ordered pair."""
    scores = {}
    (out / "pairs").mkdir(exist_ok=True)
    for a in views:
        avatar = load_avatar(out / a / "model.avatar", backend="cpu")
        scores[a] = {}
        for b in views:
            cached = out / "pairs" / f"{a}_on_{b}.json"
            if cached.exists():
                scores[a][b] = json.loads(cached.read_text())
                continue
            capture = load_capture(out / b / "capture")
            images = out / "pairs" / f"{a}_on_{b}"
            result = evaluate_avatar(avatar, capture, ["train", "test"], save_images=images)
            rows = result["train"]["per_frame"] + result["test"]["per_frame"]
            summary = {split: {k: result[split][k] for k in ("psnr", "psnr_foreground")} for split in ("train", "test")}
            summary["all"] = {k: statistics.fmean(r[k] for r in rows) for k in ("psnr", "psnr_foreground")}
            write_sheet(images, out / "pairs" / f"{a}_on_{b}.png", sheet_frames)
            cached.write_text(json.dumps(summary, indent=2))
            scores[a][b] = summary
    return scores


def joint_scores(videos: list[Path], out: Path, size: int, rig: str, settings: list[str],
                 sheet_frames: int) -> dict:
    """cross_scores' table from one joint capture of all views: avatar A trained on camera A's
    frames only, scored on every frame of camera B (resumable: finished stages are kept)."""
    from avatar.cli.main import main as avatar

    capture_dir = out / "joint" / "capture"
    capture_dir.parent.mkdir(parents=True, exist_ok=True)

    def run(argv: list[str]) -> None:
        if avatar(argv) != 0:
            raise SystemExit(f"avatar {' '.join(argv)} failed")

    if not capture_dir.is_dir():
        run(["track", "--views", *map(str, videos), "--out", str(capture_dir), "--size", str(size), "--rig", rig])
    capture = load_capture(capture_dir)
    names = [c.name for c in capture.cameras]
    scores = {}
    for a, name in enumerate(names):
        model = out / "joint" / f"{name}.avatar"
        if not model.is_file():
            run(["train", str(capture_dir), "--out", str(model), "--cameras", str(a)]
                   + [x for s in settings for x in ("--set", s)])
        cached = out / "joint" / f"{name}.json"
        if not cached.is_file():
            images = out / "joint" / f"{name}_images"
            result = evaluate_avatar(load_avatar(model, backend="cpu"), capture, ["train", "test"], save_images=images)
            cached.write_text(json.dumps(_by_camera(result, capture)))
            write_sheet(images, out / "joint" / f"{name}.png", sheet_frames)
        scores[name] = json.loads(cached.read_text())
    return scores


def _by_camera(result: dict, capture) -> dict:
    """{B: {"train", "test", "all": {psnr, psnr_foreground}}} of evaluate_avatar's rows, by camera."""
    table = {}
    for camera in capture.cameras:
        rows = {split: [r for r in result[split]["per_frame"] if capture.cameras[capture.frames[r["frame"]].camera]
                        is camera] for split in ("train", "test")}
        rows["all"] = rows["train"] + rows["test"]
        table[camera.name] = {split: {k: statistics.fmean(r[k] for r in chosen) for k in ("psnr", "psnr_foreground")}
                              for split, chosen in rows.items() if chosen}
    return table


def write_sheet(images: Path, path: Path, count: int) -> None:
    """`count` of the saved comparisons (target | render | error), evenly spread, stacked."""
    saved = sorted(images.glob("*/*.png"), key=lambda p: p.name)
    picks = [saved[int(i * len(saved) / count)] for i in range(min(count, len(saved)))]
    if picks:
        Image.fromarray(np.concatenate([np.asarray(Image.open(p).convert("RGB")) for p in picks], 0)).save(path)


def print_table(views: list[str], scores: dict) -> dict:
    """The PSNR matrices (all frames of B) and each avatar's mean over the side cameras."""
    width = max(14, *(len(v) for v in views))
    summary = {}
    for key, title in (("psnr", "full frame"), ("psnr_foreground", "inside the matte")):
        print(f"\nPSNR (dB), {title}: avatar of the row's camera, scored on every frame of the column's camera "
              "(diagonal: the row's own held-out frames)")
        print(f"{'':<{width}} " + " ".join(f"{v[-width:]:>{width}}" for v in views) + f" {'side mean':>10}")
        for a in views:
            own = scores[a][a]["test"][key]
            side = statistics.fmean(scores[a][b]["all"][key] for b in views if b != a)
            cells = [own if b == a else scores[a][b]["all"][key] for b in views]
            print(f"{a[-width:]:<{width}} " + " ".join(f"{c:>{width}.2f}" for c in cells) + f" {side:>10.2f}")
            summary.setdefault(a, {})[key] = {"own_held_out": own, "side_mean": side}
        overall = statistics.fmean(summary[a][key]["side_mean"] for a in views)
        print(f"mean over the {len(views) * (len(views) - 1)} pairs: {overall:.2f}")
        summary[f"side_mean_{key}"] = overall
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", nargs="+", type=Path, help="one synchronized video per camera")
    parser.add_argument("--out", type=Path, required=True, help="work folder (reused: finished stages are skipped)")
    parser.add_argument("--rig", default="builtin", help="builtin | ict:DIR | flame:FILE (as for avatar track)")
    parser.add_argument("--joint", action="store_true",
                        help="track the views together (avatar track --views) and train each camera's avatar on "
                             "that capture (--cameras A) instead of tracking each view on its own")
    parser.add_argument("--size", type=int, default=256, help="crop size in pixels (default 256)")
    parser.add_argument("--set", action="append", default=[], dest="settings", metavar="KEY=VALUE",
                        help="not the default: a training setting (as for avatar train)")
    parser.add_argument("--sheet-frames", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None, help="also write the scores here")
    args = parser.parse_args(argv)
    if len(args.videos) < 2:
        parser.error("novel views need at least two synchronized videos")
    if args.joint:
        scores = joint_scores(args.videos, args.out, args.size, args.rig, args.settings, args.sheet_frames)
        views = list(scores)
    else:
        run = argparse.Namespace(rig=args.rig, size=args.size, iterations=None, preset=None, no_photometric=False,
                                 settings=args.settings, seeds=[], live=False)
        for video in args.videos:
            fidelity.run_clip(video, args.out / video.stem, run)
        views = [v.stem for v in args.videos]
        scores = cross_scores(views, args.out, args.sheet_frames)
    summary = print_table(views, scores)
    print("settings: " + ("defaults" if not args.settings else "NOT the defaults: --set " + " --set ".join(args.settings)))
    if args.json:
        args.json.write_text(json.dumps({"pairs": scores, "summary": summary, "settings": args.settings,
                                         "tracking": "joint" if args.joint else "each view alone"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
