"""A short second clip that shows the side of the head: what it does to the views the first clip
never had.

    python benchmarks/quality/second_clip.py JOINT_CAPTURE --out DIR [--main-camera 1] \
        [--second-cameras 0 [2 ...]] [--seconds 1.0] [--set KEY=VALUE ...] [--sheet-frames 4] [--json T.json]

JOINT_CAPTURE: synchronized cameras of one head tracked together (`avatar track --views`), so every
camera's frames are posed in one head's frame. Two copies of it are cut (DIR/one/, DIR/two/, images
hard-linked), each marked as `avatar track a.mp4 b.mp4` marks its clips (`extra.monocular`: the
mono-phone preset, no per-camera colours):
- one: the main camera's training frames, a talking clip filmed from one place;
- two: the same and each second camera's training frames of the first `--seconds`: a short second
  clip that sees the head from the side (from both sides, with two second cameras), as a user
  who records a turn of the head adds one.
Both are trained with the defaults (`avatar train`, resumable) and scored on the same frames:
`test`, the main camera's held-out moments; `unseen_K`, each second camera K at the moments the
short clip does not hold (a side seen in training, under other expressions); `other_K`, every
frame of each other camera K, which neither avatar trained on. DIR/sheet_{one,two}_{split}.png:
target | render | error rows. They show a real person: look at them, do not commit them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from avatar.data.capture import load_capture
from avatar.model import load_avatar
from avatar.training.evaluate import evaluate_avatar
from avatar.training.image_metrics import LpipsMetric

sys.path.insert(0, str(Path(__file__).resolve().parent))
from novel_views import write_sheet  # noqa: E402  (sibling benchmarks)
from turn_penalty import add_settings_option, resplit, train_model  # noqa: E402

KEYS = ("psnr", "psnr_foreground", "ssim")


def cut_splits(
    capture_dir: Path, main: int, second_cameras: list[int], seconds: float
) -> dict[str, dict[str, list[int]]]:
    """{"one": splits, "two": splits}: frame indices of the two copies (the module's docstring)."""
    capture = load_capture(capture_dir)
    cameras = {f.camera for f in capture.frames}
    second = set(second_cameras)
    if not second or main in second or not second | {main} <= cameras:
        raise SystemExit(
            f"{capture_dir}: --main-camera and --second-cameras must be different cameras of its {sorted(cameras)}"
        )
    train_times = {capture.frames[i].time for i in capture.splits["train"]}
    test_times = {capture.frames[i].time for i in capture.splits["test"]}
    first = min(train_times)
    short_end = first + max(1, round(seconds * capture.fps))  # time steps of the short clip: [first, short_end)

    def frames(camera: int, keep) -> list[int]:
        return [i for i, f in enumerate(capture.frames) if f.camera == camera and keep(f.time)]

    held_out = {
        "test": frames(main, lambda t: t in test_times),
        **{f"unseen_{c}": frames(c, lambda t: t >= short_end) for c in sorted(second)},
        **{f"other_{c}": frames(c, lambda t: True) for c in sorted(cameras - second - {main})},
    }
    one = frames(main, lambda t: t in train_times)
    short = [i for c in sorted(second) for i in frames(c, lambda t: t in train_times and t < short_end)]
    return {"one": {"train": one, **held_out}, "two": {"train": sorted(one + short), **held_out}}


def score(model: Path, capture_dir: Path, out: Path, name: str, sheet_frames: int) -> dict:
    """{split: {psnr, psnr_foreground, ssim, frames}} over every held-out split (cached)."""
    cached = out / f"{name}.scores.json"
    if cached.exists():
        return json.loads(cached.read_text())
    capture = load_capture(capture_dir)
    trained, lpips = load_avatar(model, backend="cpu"), LpipsMetric()
    table = {}
    for split in (s for s in capture.splits if s != "train"):
        images = out / name / "images" / split  # one split's comparisons each: a sheet per split
        result = evaluate_avatar(trained, capture, [split], lpips=lpips, save_images=images)[split]
        table[split] = {k: result[k] for k in KEYS} | {"frames": len(capture.splits[split])}
        write_sheet(images, out / f"sheet_{name}_{split}.png", sheet_frames)
    cached.write_text(json.dumps(table, indent=2))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path, help="a capture of synchronized cameras (avatar track --views)")
    parser.add_argument("--out", type=Path, required=True, help="work folder (reused: finished stages are skipped)")
    parser.add_argument("--main-camera", type=int, default=1, help="the talking clip's camera (index)")
    parser.add_argument(
        "--second-cameras",
        type=int,
        nargs="+",
        default=[0],
        help="the short clip's cameras (indices): one side or both",
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="the short clip's length")
    add_settings_option(parser)
    parser.add_argument("--sheet-frames", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name, splits in cut_splits(args.capture, args.main_camera, args.second_cameras, args.seconds).items():
        capture = args.out / name / "capture"
        resplit(args.capture, capture, splits, extra={"monocular": True})
        train_model(capture, args.out / name / "model.avatar", args.settings)
        rows[name] = score(args.out / name / "model.avatar", capture, args.out, name, args.sheet_frames)
        rows[name]["training_frames"] = len(splits["train"])
    held_out = [s for s in rows["one"] if s != "training_frames"]
    print(
        f"PSNR (dB) full frame / inside the matte; main camera {args.main_camera}, "
        f"second cameras {' '.join(map(str, args.second_cameras))} ({args.seconds:g} s each)"
    )
    print(f"{'avatar':<8} {'frames':>6} " + " ".join(f"{s:>20}" for s in held_out))
    for name, row in rows.items():
        cells = " ".join(f"{row[s]['psnr']:>11.2f} / {row[s]['psnr_foreground']:>6.2f}" for s in held_out)
        print(f"{name:<8} {row['training_frames']:>6} {cells}")
    gain = {s: rows["two"][s]["psnr"] - rows["one"][s]["psnr"] for s in held_out}
    print(f"{'two-one':<8} {'':>6} " + " ".join(f"{gain[s]:>20.2f}" for s in held_out))
    print(f"mean gain off the main camera: {statistics.fmean(v for s, v in gain.items() if s != 'test'):.2f} dB")
    print(
        "settings: " + ("defaults" if not args.settings else "NOT the defaults: --set " + " --set ".join(args.settings))
    )
    if args.json:
        args.json.write_text(json.dumps(rows | {"gain_psnr": gain}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
