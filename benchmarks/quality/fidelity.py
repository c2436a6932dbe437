"""Fidelity benchmark: phone clips -> `avatar track` -> `avatar train` -> `avatar eval`, with
the commands' default settings, and one table of what came out.

    python benchmarks/quality/fidelity.py ../shared/data/videos/wojtek_512.mp4 [...] \
        --rig ict:../shared/data/rigs/ict-facekit --out bench-fidelity [--size 256] [--json T.json]

Each clip gets OUT/<clip name>/ (capture/, model.avatar, eval.json, stages.json). A stage whose
output is complete is not run again, so an interrupted benchmark resumes where it stopped
(training itself resumes from its checkpoint). Options that change the settings
(`--iterations`, `--preset`, `--no-photometric`, `--set`) exist for experiments; the table says when a
run did not use the defaults.

Columns: frames tracked; PSNR (dB) and SSIM full frame over white for the training and the
held-out frames (the last 15% of each clip); held-out PSNR inside the matte only (foreground)
and INSTA-style over black with the matte applied; the share of held-out frames beyond what the
avatar was trained on (expressions, jaw or gaze outside its learned range, or the head turned past
its trained poses: `avatar eval`'s `beyond_training`) and the held-out PSNR of the others ("-" when
none is inside); minutes of tracking and of training. With
`--live`, also the held-out PSNR with the avatar driven as the live viewer drives it (`avatar
eval-live`'s live_expression: the clip through the live tracker, retarget and smoothing) and its
gap to the offline-driven PSNR. With `--seeds 1,2`, also avatars trained with those seeds
(OUT/<clip>/seed<N>/) and the held-out PSNR's mean over seed 0 and them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from avatar.cli.main import main as avatar

ROW_FORMAT = "{:<26} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>9}"
HEADER = ("clip", "frames", "train", "test", "test fg", "test bk", "ssim tr", "ssim te", "beyond", "test in",
          "track m", "train m", "gaussians")
LIVE_FORMAT = " {:>7} {:>7}"
LIVE_HEADER = ("live", "gap")
SEEDS_FORMAT = " {:>9}"


def run_clip(video: Path, out: Path, args: argparse.Namespace) -> dict:
    """Track, train and evaluate one clip (each stage only if its output is missing)."""
    out.mkdir(parents=True, exist_ok=True)
    capture, model, metrics = out / "capture", out / "model.avatar", out / "eval.json"
    stages_path = out / "stages.json"
    stages = json.loads(stages_path.read_text()) if stages_path.exists() else {}

    def stage(name: str, done: Path, argv: list[str]) -> None:
        if done.exists() and name in stages:
            return
        started = time.perf_counter()
        if avatar(argv) != 0:
            raise SystemExit(f"{video.name}: `avatar {' '.join(argv)}` failed")
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - started
        stages_path.write_text(json.dumps(stages, indent=2))

    track = ["track", str(video), "--out", str(capture), "--rig", args.rig, "--size", str(args.size), "--overwrite"]
    if args.no_photometric:
        track.append("--no-photometric")
    stage("track", capture / "report.json", track)
    def train(path: Path, seed: int | None = None) -> list[str]:
        argv = ["train", str(capture), "--out", str(path)]
        if args.iterations:
            argv += ["--iterations", str(args.iterations)]
        if args.preset:
            argv += ["--preset", args.preset]
        for setting in args.settings + ([] if seed is None else [f"seed={seed}"]):
            argv += ["--set", setting]
        if path.exists() or Path(str(path) + ".ckpt").exists():
            argv.append("--resume")
        return argv

    stage("train", model, train(model))
    stage("eval", metrics, ["eval", str(model), str(capture), "--json", str(metrics),
                            "--save-images", str(out / "images")])
    seeds = {0: result_psnr(metrics)}
    for seed in args.seeds:
        folder = out / f"seed{seed}"
        folder.mkdir(exist_ok=True)
        seeded, seeded_metrics = folder / "model.avatar", folder / "eval.json"
        stage(f"train_seed{seed}", seeded, train(seeded, seed))
        stage(f"eval_seed{seed}", seeded_metrics, ["eval", str(seeded), str(capture), "--json", str(seeded_metrics)])
        seeds[seed] = result_psnr(seeded_metrics)
    live = out / "live.json"
    if args.live:
        stage("live", live, ["eval-live", str(model), str(capture), "--video", str(video), "--json", str(live)])
    result = json.loads(metrics.read_text())
    report = json.loads((capture / "report.json").read_text())
    from avatar.model import load_avatar

    loaded = load_avatar(model).model
    row = {"clip": video.stem, "frames": report["tracked"], "train": result["train"], "test": result["test"],
           "track_minutes": stages["track"] / 60, "train_minutes": stages["train"] / 60,
           "num_gaussians": loaded.num_gaussians, "nme": report.get("nme_mean")}
    if args.seeds:
        row["test_psnr_by_seed"] = seeds
        row["test_psnr_seed_mean"] = sum(seeds.values()) / len(seeds)
    if args.live:
        driven = json.loads(live.read_text())
        row["live"] = {"psnr": driven["variants"]["live_expression"]["psnr"],
                       "gap_db": driven["psnr_gap_db"]["live_expression"]}
    return row


def result_psnr(metrics: Path) -> float:
    """The held-out PSNR an `avatar eval --json` file records."""
    return json.loads(metrics.read_text())["test"]["psnr"]


def print_table(rows: list[dict], note: str) -> None:
    live = all("live" in r for r in rows)
    seeds = all("test_psnr_seed_mean" in r for r in rows)
    print(ROW_FORMAT.format(*HEADER) + (LIVE_FORMAT.format(*LIVE_HEADER) if live else "")
          + (SEEDS_FORMAT.format("test mean") if seeds else ""))
    for r in rows:
        tr, te = r["train"], r["test"]
        beyond = te.get("beyond_training") or {}  # absent from eval files written before it was counted
        share = "-" if beyond.get("either") is None else f"{beyond['either']:.0%}"
        inside = "-" if beyond.get("psnr_inside") is None else f"{beyond['psnr_inside']:.2f}"
        line = ROW_FORMAT.format(r["clip"][:26], r["frames"], f"{tr['psnr']:.2f}", f"{te['psnr']:.2f}",
                                 f"{te['psnr_foreground']:.2f}", f"{te['psnr_black']:.2f}", f"{tr['ssim']:.3f}",
                                 f"{te['ssim']:.3f}", share, inside, f"{r['track_minutes']:.1f}",
                                 f"{r['train_minutes']:.1f}", r["num_gaussians"])
        if live:
            line += LIVE_FORMAT.format(f"{r['live']['psnr']:.2f}", f"{r['live']['gap_db']:.2f}")
        if seeds:
            line += SEEDS_FORMAT.format(f"{r['test_psnr_seed_mean']:.2f}")
        print(line)
    print(note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", nargs="+", type=Path, help="phone clips, one person each")
    parser.add_argument("--rig", default="builtin", help="builtin | ict:DIR | flame:FILE (as for avatar track)")
    parser.add_argument("--out", type=Path, required=True, help="work folder (reused: finished stages are skipped)")
    parser.add_argument("--size", type=int, default=256, help="crop size in pixels (default 256)")
    parser.add_argument("--iterations", type=int, default=None, help="not the default: override training steps")
    parser.add_argument("--preset", default=None, help="not the default: training preset")
    parser.add_argument("--no-photometric", action="store_true", help="not the default: landmark fit only")
    parser.add_argument("--set", action="append", default=[], dest="settings", metavar="KEY=VALUE",
                        help="not the default: a training setting (as for avatar train)")
    parser.add_argument("--live", action="store_true",
                        help="also score each avatar driven through the live tracker (avatar eval-live)")
    parser.add_argument("--seeds", type=lambda text: [int(s) for s in text.split(",") if s], default=[],
                        help="also train with these seeds (e.g. 1,2) and report the held-out mean over them and seed 0")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    rows = [run_clip(v, args.out / v.stem, args) for v in args.videos]
    changed = [f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
               if k in ("iterations", "preset", "no_photometric") and v] + [f"--set {s}" for s in args.settings]
    print_table(rows, f"size {args.size}, rig {args.rig}; settings: "
                      + ("defaults" if not changed else "NOT the defaults: " + " ".join(changed)))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
