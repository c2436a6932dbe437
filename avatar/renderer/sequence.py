"""Render an avatar over a sequence of rig parameters to an H.264 mp4, or a video with alpha,
optionally with a take's sound."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from avatar.runtime.cpu_threads import ThreadBudget
from avatar.data.audio import AudioMuxer
from avatar.data.video import VideoWriter
from avatar.splat import Camera
from avatar.renderer.renderer import AvatarRenderer
from avatar.rig import RigParams


@torch.no_grad()
def render_sequence(
    renderer: AvatarRenderer,
    params: RigParams,
    cameras: Callable[[int], Camera],
    out: str | Path,
    fps: float,
    progress: bool = True,
    alpha: bool = False,
    audio: AudioMuxer | None = None,
) -> int:
    """Write one frame per time step of `params`, rendered on the model's device; returns the
    number of frames written. With alpha: straight colour and coverage (RenderOutput.rgba) into
    a .webm or .mov (avatar.data.video.ALPHA_FORMATS). `audio`: a sound muxed beside the frames,
    placed on their timeline (avatar.data.audio)."""
    params = params.to(device=renderer.device, dtype=torch.float32)
    cam0 = cameras(0)
    threads = ThreadBudget()
    with VideoWriter(out, fps, cam0.width, cam0.height, alpha=alpha, audio=audio) as video:
        for i in tqdm(range(params.num_frames), desc=f"rendering {Path(out).name}", disable=not progress):
            threads.update()
            rendered = renderer.render(params.frame(i), cameras(i))
            video.write((rendered.rgba(renderer.background) if alpha else rendered.rgb.clamp(0, 1)).cpu())
    return params.num_frames
