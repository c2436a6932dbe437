"""The record of one training run, kept beside the model (`MODEL.avatar.run/`, or `--log-dir`):

- `config.yaml`: the resolved settings the run used;
- `metrics.jsonl`: one JSON object per logged step: loss terms, Gaussians, steps per second, and
  at each evaluation the held-out PSNR / SSIM;
- `images/STEP/SPLIT/FRAME.png` at each evaluation: target | render | error (x4);
- `tb/`: TensorBoard event files (the same scalars, and the evaluation images) when asked for
  (`--log tensorboard`, the `log` extra).

A resumed run keeps the lines up to the step it resumes from and appends after them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from avatar.data.atomic import atomic_path
from avatar.data.errors import JSONTextError, parse_json
from avatar.training.config import TrainConfig
from avatar.runtime.errors import InputError

METRICS = "metrics.jsonl"
TENSORBOARD_HINT = 'pip install --no-build-isolation -e ".[log]"'


def run_dir_for(model_path: Path) -> Path:
    """Where a model's run record goes unless told otherwise."""
    return model_path.with_name(model_path.name + ".run")


def read_metrics(folder: Path) -> list[dict]:
    """The rows of a run's metrics.jsonl (empty when there is none); unreadable lines are skipped."""
    path = folder / METRICS
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = parse_json(line)
        except JSONTextError:  # a line cut short by a crash, or not ours: the rest still count
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int):
            rows.append(row)
    return rows


def _summary_writer() -> type:
    """TensorBoard's SummaryWriter class, or InputError naming the package to install."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise InputError(f"--log tensorboard needs the tensorboard package: {TENSORBOARD_HINT}") from None
    return SummaryWriter


class RunLog:
    def __init__(self, folder: Path, cfg: TrainConfig, start_step: int = 0, tensorboard: bool = False):
        summary_writer = _summary_writer() if tensorboard else None  # before any file: a missing package is bad input
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        kept = [r for r in read_metrics(self.folder) if r["step"] <= start_step]
        with atomic_path(self.folder / METRICS) as partial:
            partial.write_text("".join(json.dumps(r) + "\n" for r in kept))
        with atomic_path(self.folder / "config.yaml") as partial:
            partial.write_text(yaml.safe_dump(cfg.to_dict() | {"background": list(cfg.background)}, sort_keys=False))
        self.writer = None
        if summary_writer is not None:
            self.writer = summary_writer(str(self.folder / "tb"), purge_step=start_step + 1 if start_step else None)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        with open(self.folder / METRICS, "a") as f:
            f.write(json.dumps({"step": step, **values}) + "\n")
        if self.writer is not None:
            for name, value in values.items():
                grouped = name.startswith(("loss_", "test_", "val_"))  # loss/photo, test/psnr, ...
                self.writer.add_scalar(name.replace("_", "/", 1) if grouped else name, value, step)

    def images_dir(self, step: int) -> Path:
        return self.folder / "images" / f"{step:06d}"

    def images(self, step: int, split: str, count: int = 4) -> None:
        """Show the first `count` comparison images an evaluation wrote in TensorBoard."""
        if self.writer is None:
            return
        for path in sorted((self.images_dir(step) / split).glob("*.png"))[:count]:
            self.writer.add_image(f"{split}/{path.stem}", np.asarray(Image.open(path).convert("RGB")), step,
                                  dataformats="HWC")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
