"""Head turns held out: what an avatar loses on frames turned further than any it trained on.

    python benchmarks/quality/turn_penalty.py CAPTURE [CAPTURE ...] --out DIR [--set KEY=VALUE ...] [--json T.json]

For each tracked capture, two copies with other splits (DIR/<capture>/turn/ and interleaved/,
their images hard-linked):
- turn: the 15% of frames turned furthest from the clip's median head orientation are held out,
  and only frames turned less than the 75th percentile train (`avatar.data.splits.turn_splits`);
- interleaved: as many test frames, in one-second blocks spread over the clip, and as many
  training frames, those furthest in time from the test frames (`interleaved_splits`).
Each is trained with the defaults (`avatar train`, resumable) and scored on its test frames
(`avatar eval`). The turn penalty is the interleaved split's held-out PSNR minus the turn split's:
what the turns cost beyond what any held-out frame costs. Columns: the turn (degrees) at the
median, 75th percentile and largest; the held-out PSNR of each split, full frame and inside the
matte; the penalty.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from avatar.cli.main import main as avatar
from avatar.data.capture import load_capture
from avatar.data.splits import interleaved_splits, turn_splits
from avatar.gaussians.pose_drivers import head_orientation, turn_from_median


def frame_turns(capture_dir: Path) -> np.ndarray:
    """[F] radians: each frame's head turn from the clip's median orientation, as its camera sees it."""
    capture = load_capture(capture_dir)
    orientation = head_orientation(capture.params).double()  # [T, 3, 3] in rig space
    cam = np.stack([capture.cameras[f.camera].world_to_cam[:3, :3] for f in capture.frames])  # [F, 3, 3]
    times = [f.time for f in capture.frames]
    seen = torch.as_tensor(cam, dtype=torch.float64) @ orientation[times]  # [F, 3, 3]
    return turn_from_median(seen).numpy()


def resplit(source: Path, target: Path, splits: dict[str, list[int]], extra: dict | None = None) -> None:
    """A copy of the capture with other splits (and `extra` merged into its extra): files
    hard-linked, capture.json rewritten."""
    if (target / "capture.json").exists():
        return
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial, copy_function=_link)
    meta = json.loads((source / "capture.json").read_text())
    meta["splits"] = splits
    meta["extra"] = meta.get("extra", {}) | (extra or {})
    (partial / "capture.json").unlink()
    (partial / "capture.json").write_text(json.dumps(meta))
    partial.rename(target)


def _link(src: str, dst: str) -> None:
    try:
        Path(dst).hardlink_to(src)
    except OSError:
        shutil.copy2(src, dst)


def add_settings_option(parser: argparse.ArgumentParser) -> None:
    """--set KEY=VALUE (repeatable) into args.settings: training settings that are not the default."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        dest="settings",
        metavar="KEY=VALUE",
        help="not the default: a training setting (as for avatar train)",
    )


def train_model(capture: Path, model: Path, settings: list[str]) -> None:
    """`avatar train` with the defaults (and `settings`), resumed from its checkpoint if one is
    left; nothing when the model is already there."""
    if model.exists():
        return
    argv = ["train", str(capture), "--out", str(model)] + [a for s in settings for a in ("--set", s)]
    if Path(str(model) + ".ckpt").exists():
        argv.append("--resume")
    if avatar(argv) != 0:
        raise SystemExit(f"`avatar {' '.join(argv)}` failed")


def train_and_score(capture: Path, out: Path, settings: list[str]) -> dict:
    model, metrics = out / "model.avatar", out / "eval.json"
    train_model(capture, model, settings)
    if not metrics.exists():
        if avatar(["eval", str(model), str(capture), "--split", "test", "--json", str(metrics)]) != 0:
            raise SystemExit(f"avatar eval of {model} failed")
    return json.loads(metrics.read_text())["test"]


def run_capture(capture: Path, out: Path, settings: list[str]) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    turns = frame_turns(capture)
    by_turn = turn_splits(turns)
    interleaved = interleaved_splits(
        len(turns), len(by_turn["test"]), len(by_turn["train"]), block=int(round(load_capture(capture).fps))
    )
    row = {
        "capture": str(capture),
        "frames": len(turns),
        "turn_deg": {
            q: float(np.degrees(np.percentile(turns, p))) for q, p in (("median", 50), ("p75", 75), ("max", 100))
        },
        "test_turn_deg": {
            name: float(np.degrees(turns[s["test"]].mean()))
            for name, s in (("turn", by_turn), ("interleaved", interleaved))
        },
    }
    for name, splits in (("turn", by_turn), ("interleaved", interleaved)):
        resplit(capture, out / name / "capture", splits)
        result = train_and_score(out / name / "capture", out / name, settings)
        row[name] = {k: result[k] for k in ("psnr", "psnr_foreground", "ssim")}
    row["penalty_db"] = row["interleaved"]["psnr"] - row["turn"]["psnr"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("captures", nargs="+", type=Path, help="tracked capture directories")
    parser.add_argument("--out", type=Path, required=True, help="work folder (reused: finished stages are skipped)")
    add_settings_option(parser)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    for capture in args.captures:
        name = capture.parent.name if capture.name == "capture" else capture.name
        rows.append(run_capture(capture, args.out / name, args.settings) | {"clip": name})
    print(
        f"{'clip':<26} {'turn med':>8} {'p75':>6} {'max':>6} {'turn te':>8} {'fg':>6} {'inter te':>8} {'fg':>6} "
        f"{'penalty':>8}"
    )
    for r in rows:
        t = r["turn_deg"]
        print(
            f"{r['clip'][:26]:<26} {t['median']:>8.1f} {t['p75']:>6.1f} {t['max']:>6.1f} {r['turn']['psnr']:>8.2f} "
            f"{r['turn']['psnr_foreground']:>6.2f} {r['interleaved']['psnr']:>8.2f} "
            f"{r['interleaved']['psnr_foreground']:>6.2f} {r['penalty_db']:>8.2f}"
        )
    print(
        "settings: " + ("defaults" if not args.settings else "NOT the defaults: --set " + " --set ".join(args.settings))
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
