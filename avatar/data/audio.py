"""A take's sound, placed on a rendered video's timeline and muxed beside its frames (PyAV).

Where the sound starts: the render's frame t shows the expression file's row t, so the sound is
shifted by (when its first sample was recorded - when the take's first row was). The take's time
is its first Live Link timecode (`LiveLinkRecording.start`). The sound's time is, in this order:
a ``timecode`` tag (QuickTime's ``tmcd`` track, which Live Link Face writes into the .mov beside
each CSV; it labels the video track's first frame, counted at that video's frame rate), a
Broadcast WAV's ``time_reference`` (samples since midnight; ffmpeg reads the ``bext`` chunk), or
none. When either side has no time (a plain WAV or M4A, an .npz / .json take, a capture
directory) the sound starts at the video's first frame. A sound that starts earlier loses its
head, one that starts later is preceded by silence, and it is cut or padded with silence to the
video's length.

Encoded at 48 kHz, mono or stereo (more channels are mixed down to two), as the container takes
it: AAC in .mp4, Opus in .webm, 16-bit PCM in .mov (beside ProRes, as editors expect).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Iterator

import numpy as np

from avatar.data.errors import AudioError
from avatar.data.livelink import read_livelink_csv, timecode_seconds

if TYPE_CHECKING:
    import av

RATE = 48000  # every encoder here takes it; Opus takes no 44.1 kHz
# Output container -> (encoder, its sample format, bit rate or None).
AUDIO_CODECS = {
    "mp4": ("aac", "fltp", 192_000),
    "webm": ("libopus", "s16", 128_000),
    "mov": ("pcm_s16le", "s16", None),
}
DAY = 86400.0


def _pyav() -> ModuleType:
    """PyAV, imported when a sound is first read (as avatar.data.video does)."""
    import av

    return av


@dataclass(frozen=True)
class AudioSource:
    """A file's first audio stream: where it sits in the day and how long it lasts."""

    path: Path
    start: float | None  # seconds since midnight of its first sample; None when the file does not say
    duration: float  # seconds of sound
    channels: int
    clock: str  # where `start` came from, for messages: "timecode 10:00:01:30 at 60 fps", ...


@dataclass(frozen=True)
class TakeClock:
    """When an expression file's first row was recorded."""

    start: float  # seconds since midnight
    rate: int  # frames a second its timecodes count


def take_clock(expr: Path) -> TakeClock | None:
    """The clock of a Live Link Face CSV with timecodes; None for any other source (no timecodes)."""
    expr = Path(expr)
    if expr.suffix.lower() != ".csv" or not expr.is_file():
        return None
    recording = read_livelink_csv(expr)
    if recording.start is None or recording.timecode_rate is None:
        return None
    return TakeClock(recording.start, recording.timecode_rate)


def probe_audio(path: str | Path, timecode_rate: int | None = None) -> AudioSource:
    """Open `path`'s first audio stream and read its clock; AudioError naming the file when it is
    missing, unreadable or has no sound. `timecode_rate` reads a timecode tag of a file without a
    video stream (whose frame rate would say what it counts): the take's own rate."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "audio file not found")
    av = _pyav()
    try:
        container = av.open(str(path), mode="r")
    except (OSError, av.FFmpegError) as e:
        raise AudioError(path, f"not a readable audio or video file ({e})") from None
    try:
        if not container.streams.audio:
            raise AudioError(path, "contains no audio stream")
        stream = container.streams.audio[0]
        first = next(container.decode(stream), None)
        if first is None:
            raise AudioError(path, "no sound could be decoded")
        first_time = float(first.time or 0.0)
        duration = _duration(container, stream, first, first_time)
        if duration <= 0:
            raise AudioError(path, "holds no sound (0 samples)")
        start, clock = _recording_start(container, first, first_time, timecode_rate)
        return AudioSource(path, start, duration, stream.codec_context.channels, clock)
    except av.FFmpegError as e:
        raise AudioError(path, f"cannot decode its sound ({e})") from None
    finally:
        container.close()


def _duration(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, first: av.AudioFrame, first_time: float
) -> float:
    """Seconds from the first decoded sample to the end: from the header, else by decoding."""
    if stream.duration and stream.time_base:
        end = float((stream.start_time or 0) * stream.time_base) + float(stream.duration * stream.time_base)
        return end - first_time
    samples = first.samples + sum(frame.samples for frame in container.decode(stream))
    return samples / first.sample_rate


def _recording_start(
    container: av.container.InputContainer, first: av.AudioFrame, first_time: float, timecode_rate: int | None
) -> tuple[float | None, str]:
    """(seconds since midnight of the first sample or None, where that came from)."""
    tagged = [container.metadata, *(s.metadata for s in container.streams)]
    text = next((m["timecode"] for m in tagged if m.get("timecode")), None)
    if text is not None:
        video = container.streams.video[0] if container.streams.video else None
        rate = round(float(video.average_rate)) if video is not None and video.average_rate else timecode_rate
        label = timecode_seconds(text, rate)
        if label is not None:
            # The timecode labels the video's first frame; the sound may begin a little off it.
            origin = float((video.start_time or 0) * video.time_base) if video is not None else 0.0
            shown = f" at {rate} fps" if rate else ""
            return (label + first_time - origin) % DAY, f"timecode {text.strip()}{shown}"
    reference = container.metadata.get("time_reference")
    if reference is not None and reference.strip().isdigit() and first.sample_rate:
        return (int(reference) / first.sample_rate) % DAY, f"BWF time_reference {reference.strip()}"
    return None, "no timecode"


def audio_offset(source: AudioSource, take: TakeClock | None) -> float:
    """Seconds from the video's first frame to the sound's first sample (negative: it started
    earlier); 0 when either has no clock. Takes crossing midnight are assumed under 12 hours apart."""
    if source.start is None or take is None:
        return 0.0
    offset = (source.start - take.start) % DAY
    return offset - DAY if offset > DAY / 2 else offset


def _clock_text(seconds: float) -> str:
    seconds %= DAY
    return f"{int(seconds // 3600):02d}:{int(seconds // 60 % 60):02d}:{seconds % 60:06.3f}"


class AudioMuxer:
    """A sound placed on a video's timeline and encoded into the video's container as its frames
    are written: `attach` before the first frame, `write_until` after each, `finish` at the end
    (`avatar.data.video.VideoWriter` calls them). The overlap with the video is checked here, so
    a sound that does not belong to the take is refused before anything is rendered."""

    def __init__(self, source: AudioSource, take: TakeClock | None, video_seconds: float):
        self.source = source
        self.offset = audio_offset(source, take)
        self.video_seconds = video_seconds
        if not (self.offset < video_seconds and self.offset + source.duration > 0):
            take_text = f"the take starts at {_clock_text(take.start)}" if take else "the take starts at 0"
            raise AudioError(
                source.path,
                f"its sound ({source.clock}: {_clock_text(source.start or 0.0)}, {source.duration:.2f} s) does "
                f"not overlap the take ({take_text} and lasts {video_seconds:.2f} s); is it this take's audio?",
            )
        self.channels = 1 if source.channels == 1 else 2
        self._input: av.container.InputContainer | None = None
        self._output: av.container.OutputContainer | None = None
        self._stream: av.audio.stream.AudioStream | None = None
        self._written = 0  # samples given to the encoder, counted from the video's first frame
        self._lead = max(0, round(self.offset * RATE))  # silence before the sound starts
        self._pending = np.zeros((self.channels, 0), np.float32)  # [C, n] decoded, not yet encoded
        self._samples: Iterator[np.ndarray] = iter(())

    def describe(self) -> str:
        """One line for the log: which file, where its clock came from, how it was shifted."""
        where = "at the first frame"
        if self.offset > 0:
            where = f"{self.offset:.3f} s after the first frame (silence before)"
        elif self.offset < 0:
            where = f"{-self.offset:.3f} s before the first frame (its head cut)"
        return f"{self.source.path} ({self.source.clock}) starts {where}"

    def attach(self, output: av.container.OutputContainer, format_name: str) -> None:
        """Add the audio stream to `output` (a container of AUDIO_CODECS' formats) and open the file."""
        codec, sample_format, bit_rate = AUDIO_CODECS[format_name]
        av = _pyav()
        self._output = output
        self._stream = output.add_stream(codec, rate=RATE)
        self._stream.layout = "mono" if self.channels == 1 else "stereo"
        self._stream.format = sample_format
        if bit_rate:
            self._stream.bit_rate = bit_rate
        self._stream.codec_context.open()  # frame_size is known once open
        try:
            self._input = av.open(str(self.source.path), mode="r")
        except (OSError, av.FFmpegError) as e:
            raise AudioError(self.source.path, f"cannot be read any more ({e})") from None
        self._samples = self._decode(round(max(0.0, -self.offset) * RATE))

    def write_until(self, seconds: float) -> None:
        """Encode the sound up to `seconds` of the video, in whole encoder frames."""
        frame_size = self._stream.codec_context.frame_size or 1024
        target = min(round(seconds * RATE), round(self.video_seconds * RATE))
        while self._written + frame_size <= target:
            self._encode(self._take(frame_size))

    def finish(self, seconds: float) -> None:
        """Encode the rest up to `seconds` (the video's length: padded with silence when the sound
        ends first), flush the encoder and close the file."""
        frame_size = self._stream.codec_context.frame_size or 1024
        target = round(seconds * RATE)
        while self._written < target:
            self._encode(self._take(min(frame_size, target - self._written)))
        for packet in self._stream.encode(None):
            self._output.mux(packet)
        self.close()

    def close(self) -> None:
        """Close the audio file (also after a failure)."""
        if self._input is not None:
            self._input.close()
            self._input = None

    def _decode(self, skip: int) -> Iterator[np.ndarray]:
        """The sound as float32 [C, n] chunks at RATE, its first `skip` samples left out."""
        av = _pyav()
        layout = "mono" if self.channels == 1 else "stereo"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=RATE)
        stream = self._input.streams.audio[0]
        try:
            for frame in chain(self._input.decode(stream), [None]):  # None flushes the resampler
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().astype(np.float32, copy=False)  # [C, n]
                    if skip >= chunk.shape[1]:
                        skip -= chunk.shape[1]
                        continue
                    yield chunk[:, skip:]
                    skip = 0
        except av.FFmpegError as e:
            raise AudioError(self.source.path, f"cannot decode its sound ({e})") from None

    def _take(self, n: int) -> np.ndarray:
        """The next n samples of the timeline [C, n]: silence before the sound, the sound, silence after."""
        out = np.zeros((self.channels, n), np.float32)
        filled = min(n, max(0, self._lead - self._written))
        while filled < n:
            if self._pending.shape[1] == 0:
                self._pending = next(self._samples, None)
                if self._pending is None:  # the sound has ended: silence from here
                    self._pending = np.zeros((self.channels, 0), np.float32)
                    self._samples = iter(())
                    break
            k = min(n - filled, self._pending.shape[1])
            out[:, filled : filled + k] = self._pending[:, :k]
            self._pending = self._pending[:, k:]
            filled += k
        self._written += n
        return out

    def _encode(self, samples: np.ndarray) -> None:
        """Encode samples [C, n] (float in [-1, 1]) as the next frame and mux its packets."""
        av = _pyav()
        layout = "mono" if self.channels == 1 else "stereo"
        if self._stream.format.name == "fltp":
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp", layout=layout)
        else:  # s16, interleaved: [1, n * C]
            pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm.T).reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = RATE
        frame.pts = self._written - samples.shape[1]
        frame.time_base = Fraction(1, RATE)
        for packet in self._stream.encode(frame):
            self._output.mux(packet)
