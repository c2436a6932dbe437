"""`Recorder`: what the viewer shows, to an mp4 (the avatar's viewport) and an expression file
(the rig parameters of every recorded frame) that `avatar render` replays frame for frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from avatar.data.expressions import save_expression_file
from avatar.data.video import VideoWriter
from avatar.rig import RigParams


class Recorder:
    def __init__(self, stem: Path, fps: float, expr_names: list[str] | None):
        """Writes `stem`.mp4 and `stem`.npz, one frame per displayed frame, both at `fps` (the
        window's frame rate when recording starts, so playback runs at about live speed)."""
        self.stem, self.fps, self.expr_names = stem, fps, expr_names
        self.params: list[RigParams] = []
        self._video: VideoWriter | None = None

    @property
    def frames(self) -> int:
        return len(self.params)

    def add(self, params: RigParams, rgb: np.ndarray) -> None:
        """One displayed frame: params [1] and the viewport's pixels [H, W, 3] uint8."""
        if self._video is None:
            self.stem.parent.mkdir(parents=True, exist_ok=True)
            self._video = VideoWriter(self.stem.with_suffix(".mp4"), self.fps, rgb.shape[1], rgb.shape[0])
        self._video.write(rgb)
        self.params.append(params)

    def finish(self) -> tuple[Path, Path] | None:
        """Close the mp4 and write the expression file; None when nothing was recorded."""
        if self._video is None:
            return None
        self._video.close()
        stacked = RigParams(self.params[0].shape, *(torch.cat([getattr(p, k) for p in self.params])
                                                    for k in ("expr", "jaw", "neck", "rotation", "eyes", "translation")))
        expr_path = self.stem.with_suffix(".npz")
        save_expression_file(expr_path, stacked, self.fps, self.expr_names)
        return self.stem.with_suffix(".mp4"), expr_path
