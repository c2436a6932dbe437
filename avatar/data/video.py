"""Video files through PyAV: H.264 mp4 writing and rotation-aware decoding.

Phones store portrait video as landscape frames plus a display matrix saying how to turn them.
`read_video_frames` applies that rotation (PyAV exposes it per decoded frame as
`VideoFrame.rotation`, degrees counter-clockwise), so frames come out the way a player shows
them; `probe_video` reports the size after rotation. Mirroring in the display matrix is ignored.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Iterator

import numpy as np
import torch

from avatar.data.atomic import check_output_path, write_failure
from avatar.data.errors import AudioError, VideoError

if TYPE_CHECKING:
    import av

    from avatar.data.audio import AudioMuxer

MIN_FPS, MAX_FPS = 0.1, 1000.0  # what an encoder and a player honour (also for expression files)
MAX_SIDE = 8192


def _pyav() -> ModuleType:
    """PyAV, imported when a video is first read or written: training and evaluation read none,
    so they run where it is not installed (a GPU machine whose carry its 35 MB wheel would fill)."""
    import av

    return av


# Videos with an alpha channel, by the file's suffix: (container, encoder, pixel format, options).
# VP9 in WebM (browsers, OBS, DaVinci Resolve, ffmpeg with -c:v libvpx-vp9; ffmpeg's own VP9
# decoder drops the alpha) and ProRes 4444 in QuickTime (Premiere, Final Cut, Resolve, ffmpeg).
ALPHA_FORMATS = {
    ".webm": ("webm", "libvpx-vp9", "yuva420p", {"crf": "20", "b:v": "0", "auto-alt-ref": "0"}),
    ".mov": ("mov", "prores_ks", "yuva444p10le", {"profile": "4444"}),
}


def alpha_format(path: Path) -> tuple[str, str, str, dict[str, str]]:
    """ALPHA_FORMATS' entry for path's suffix, or VideoError naming the suffixes that carry alpha."""
    try:
        return ALPHA_FORMATS[path.suffix.lower()]
    except KeyError:
        raise VideoError(
            path,
            f"a video with alpha is {' or '.join(ALPHA_FORMATS)} (VP9 in WebM, ProRes 4444 "
            f"in QuickTime), not '{path.suffix}'",
        ) from None


class VideoWriter:
    """Context manager writing H.264 (yuv420p) mp4 frames, or with `alpha` a video with an alpha
    channel (ALPHA_FORMATS, by the path's suffix); the file appears only on success.

    Frames are uint8 [H, W, 3] numpy arrays or float [H, W, 3] tensors in [0, 1] ([H, W, 4], straight
    colour and alpha, with `alpha`), H = height and W = width as given. yuv420p needs even sizes, so odd ones are padded by repeating the last
    row/column; `width`/`height` are the encoded (even) sizes. `rotation` (degrees
    counter-clockwise, a multiple of 90) is stored as display metadata, not applied to pixels.
    `audio` (avatar.data.audio.AudioMuxer) adds a sound, encoded as the frames are written.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        width: int,
        height: int,
        crf: int = 18,
        rotation: int = 0,
        alpha: bool = False,
        audio: AudioMuxer | None = None,
    ):
        self.path = Path(path)
        container, codec, pix_fmt, options = (
            alpha_format(self.path) if alpha else ("mp4", "libx264", "yuv420p", {"crf": str(crf)})
        )
        self.channels = 4 if alpha else 3
        self.partial = self.path.with_name(self.path.name + f".partial.{container}")
        if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS and 0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            raise VideoError(
                self.path,
                f"need fps in [{MIN_FPS}, {MAX_FPS}] and sizes in [1, {MAX_SIDE}], got {fps}, {width}, {height}",
            )
        check_output_path(self.path)
        self.frame_width, self.frame_height = int(width), int(height)
        self.width = self.frame_width + self.frame_width % 2
        self.height = self.frame_height + self.frame_height % 2
        self.frames_written = 0
        self._container = None
        self._audio = audio
        self.rate = Fraction(fps).limit_denominator(1001)
        self._av = _pyav()
        try:
            self._open(container, codec, pix_fmt, options, rotation)
        except BaseException:  # a bad codec or sound, SIGTERM or ^C while opening: no file stays
            self.abort()
            raise

    def _open(self, container: str, codec: str, pix_fmt: str, options: dict[str, str], rotation: int) -> None:
        av = self._av
        try:  # PyAV opens the file only at the first packet: a place that cannot hold it fails here
            self.partial.touch()
        except OSError as e:
            raise write_failure(self.path, e, writing=True) from None
        try:
            self._container = av.open(str(self.partial), mode="w", format=container)
            self._stream = self._container.add_stream(codec, rate=self.rate)
            self._stream.width, self._stream.height = self.width, self.height
            self._stream.pix_fmt = pix_fmt
            self._stream.options = options
            if rotation % 360:
                self._stream.set_display_rotation(rotation)
            if self._audio is not None:
                self._audio.attach(self._container, container)
        except AudioError:
            raise  # it says what is wrong with the sound
        except (OSError, ValueError, av.FFmpegError) as e:
            raise VideoError(self.path, f"cannot create a {codec} video ({e})") from None

    def write(self, frame: np.ndarray | torch.Tensor) -> None:
        """Append one frame: uint8 [H, W, C] or float [H, W, C] in [0, 1] (C: 3, or 4 with alpha)."""
        if self._container is None:
            raise VideoError(self.path, "writer is already closed")
        pixels = self._to_uint8(frame)
        if self.width != self.frame_width or self.height != self.frame_height:
            pad = ((0, self.height - self.frame_height), (0, self.width - self.frame_width), (0, 0))
            pixels = np.pad(pixels, pad, mode="edge")
        encoded = self._av.VideoFrame.from_ndarray(pixels, format="rgba" if self.channels == 4 else "rgb24")
        try:
            for packet in self._stream.encode(encoded):
                self._container.mux(packet)
            if self._audio is not None:  # the sound under the frames so far
                self._audio.write_until((self.frames_written + 1) / self.rate)
        except OSError as e:  # a full disk while encoding
            self.abort()
            raise write_failure(self.path, e, writing=True) from None
        self.frames_written += 1

    def close(self) -> None:
        """Flush and move the finished file into place."""
        if self._container is None:
            return
        try:
            if self.frames_written == 0:
                raise VideoError(self.path, "no frames were written")
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            if self._audio is not None:
                self._audio.finish(self.frames_written / self.rate)  # cut or padded to the video's length
            self._container.close()
            self._container = None
        except OSError as e:  # PyAV opens the file at the first packet: its errors name no file
            self.abort()
            raise write_failure(self.path, e, writing=True) from None
        except BaseException:
            self.abort()
            raise
        try:
            os.replace(self.partial, self.path)
        except OSError as e:
            self.abort()
            raise write_failure(self.path, e) or e from None

    def abort(self) -> None:
        """Drop everything written so far; no file is left behind."""
        if self._audio is not None:
            self._audio.close()
        if self._container is not None:
            try:
                self._container.close()
            except self._av.FFmpegError:
                pass  # the partial file is deleted anyway
            self._container = None
        self.partial.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _to_uint8(self, frame: np.ndarray | torch.Tensor) -> np.ndarray:
        if isinstance(frame, torch.Tensor):
            frame = frame.detach().cpu()
            if frame.is_floating_point():
                frame = (frame.clamp(0, 1) * 255).round().to(torch.uint8)
            frame = frame.numpy()
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.shape != (self.frame_height, self.frame_width, self.channels):
            raise VideoError(
                self.path,
                f"frames must be uint8 or float tensors of shape "
                f"[{self.frame_height}, {self.frame_width}, {self.channels}], got {frame.dtype} "
                f"{list(frame.shape)}",
            )
        return np.ascontiguousarray(frame)


def _open(path: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    if not path.is_file():
        raise VideoError(path, "video file not found")
    av = _pyav()
    try:
        container = av.open(str(path), mode="r")
    except (OSError, av.FFmpegError) as e:
        raise VideoError(path, f"not a readable video ({e})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(path, "contains no video stream")
    return container, container.streams.video[0]


def _rotate(pixels: np.ndarray, rotation: int) -> np.ndarray:
    """Turn [H, W, 3] counter-clockwise by `rotation` degrees (rounded to a quarter turn)."""
    quarter_turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(pixels, k=quarter_turns)) if quarter_turns else pixels


def read_video_frames(path: str | Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Iterator of uint8 RGB frames [H, W, 3] as displayed (rotation metadata applied).

    A missing or unreadable file raises VideoError here, before iteration starts.
    """
    path = Path(path)
    container, stream = _open(path)
    return _decode(path, container, stream, max_frames)


def _decode(
    path: Path, container: av.container.InputContainer, stream: av.video.stream.VideoStream, max_frames: int | None
) -> Iterator[np.ndarray]:
    av = _pyav()
    count = 0
    try:
        for frame in container.decode(stream):
            if max_frames is not None and count >= max_frames:
                return
            yield _rotate(frame.to_ndarray(format="rgb24"), frame.rotation)
            count += 1
    except av.FFmpegError as e:
        raise VideoError(path, f"cannot decode frame {count} ({e})") from None
    finally:
        container.close()
    if count == 0:
        raise VideoError(path, "no frame could be decoded")


def probe_video(path: str | Path) -> dict:
    """{fps, frames, width, height, rotation, codec}: sizes as displayed, after rotation.

    `frames` comes from the container header, or from counting packets when it is missing.
    """
    path = Path(path)
    container, stream = _open(path)
    av = _pyav()
    try:
        first = next(container.decode(stream), None)
        if first is None:
            raise VideoError(path, "no frame could be decoded")
        rotation = int(first.rotation)
        frames = stream.frames
        if not frames:
            container.seek(0)
            frames = sum(1 for p in container.demux(stream) if p.size > 0)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        width, height = first.width, first.height
        if round(rotation / 90) % 2:
            width, height = height, width
        return {
            "fps": float(rate) if rate else 0.0,
            "frames": int(frames),
            "width": width,
            "height": height,
            "rotation": rotation,
            "codec": stream.codec_context.name,
        }
    except av.FFmpegError as e:
        raise VideoError(path, f"cannot read video ({e})") from None
    finally:
        container.close()
