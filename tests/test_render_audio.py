"""`avatar render --audio`: a take's sound muxed into the render, placed by the timecodes of the
take's CSV and of the sound (a QuickTime timecode track, a Broadcast WAV's time_reference, or
none), in each output container; and the files it refuses before rendering.

Each take holds one event at a known timecode: the jaw opens at row EVENT of the CSV, and the
sound holds silence, then a 1 kHz tone starting at that same timecode. The render is decoded
(PyAV): the first video frame showing the open jaw must be frame EVENT, and the tone's onset must
lie within one frame period of that frame's time."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from avatar.cli.main import main
from avatar.data.audio import RATE
from avatar.data.livelink import REQUIRED_COLUMNS

FPS = 30  # the take's rate: timecodes count 30 frames a second
FRAMES = 45  # 1.5 s
EVENT = 24  # the row whose timecode the tone starts at (0.8 s into the take)
TAKE_START = 10 * 3600  # the take's first row: 10:00:00:00
SIZE = 32
CODECS = {".mp4": "aac", ".webm": "opus", ".mov": "pcm_s16le"}  # what each container carries
TONE_HZ, TONE_AMPLITUDE = 1000.0, 0.5


def _timecode(seconds: float) -> str:
    """HH:MM:SS:FF at FPS for a time of day on a frame boundary."""
    frames = round(seconds * FPS)
    s, f = divmod(frames, FPS)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}:{f:02d}"


def _write_take(path: Path) -> None:
    """A Live Link Face CSV of FRAMES rows from 10:00:00:00 at FPS, the jaw open from row EVENT on."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Timecode", "BlendshapeCount", *REQUIRED_COLUMNS])
        for t in range(FRAMES):
            row = {c: "0" for c in REQUIRED_COLUMNS}
            row["JawOpen"] = "1.0" if t >= EVENT else "0.0"
            writer.writerow([_timecode(TAKE_START + t / FPS) + ".000", "61", *(row[c] for c in REQUIRED_COLUMNS)])


def _tone(seconds: float, tone_at: float, rate: int) -> np.ndarray:
    """float32 [n]: silence, then a 1 kHz tone from `tone_at` seconds on."""
    t = np.arange(round(seconds * rate)) / rate
    return np.where(t >= tone_at, TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * t), 0.0).astype(np.float32)


def _write_sound(
    path: Path, starts_at: float | None, tone_at: float, seconds: float = 2.5, timecode: str = "tmcd"
) -> None:
    """A sound file (its container by suffix) beginning at time of day `starts_at` (None: no clock),
    holding a tone from `tone_at` (time of day; with no clock: seconds into the file). A .mov gets a
    tiny video track with a QuickTime timecode, as Live Link Face writes it; a .wav with `starts_at`
    is a Broadcast WAV (bext time_reference). At 44.1 kHz, so the render resamples it."""
    import av

    rate = 44100
    samples = _tone(seconds, tone_at - (starts_at or 0.0), rate)
    fmt = {".mov": "mov", ".m4a": "ipod", ".wav": "wav"}[path.suffix]
    options = {"write_bext": "1"} if fmt == "wav" and starts_at is not None else {}
    with av.open(str(path), "w", format=fmt, options=options) as container:
        if fmt == "wav" and starts_at is not None:
            container.metadata["time_reference"] = str(round(starts_at * rate))
        if fmt == "mov":
            video = container.add_stream("mpeg4", rate=FPS)
            video.width = video.height = 16
            video.pix_fmt = "yuv420p"
            if starts_at is not None:
                video.metadata["timecode"] = _timecode(starts_at)
        audio = container.add_stream("pcm_s16le" if fmt == "wav" else "aac", rate=rate)
        audio.layout = "mono"
        if fmt == "mov":
            for i in range(round(seconds * FPS)):
                frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
                frame.pts = i
                container.mux(video.encode(frame))
            container.mux(video.encode(None))
        for i in range(0, samples.size, 1024):
            chunk = samples[None, i : i + 1024]  # [1, n]
            if fmt == "wav":
                frame = av.AudioFrame.from_ndarray((chunk * 32767).astype(np.int16), format="s16", layout="mono")
            else:
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, i
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))


def _decoded(path: Path) -> tuple[np.ndarray, float, np.ndarray, int, float]:
    """(video frames' times [T], the time of the first one showing the open jaw, the sound [n] as
    float in [-1, 1], its rate, the time of its first sample)."""
    import av

    with av.open(str(path)) as container:
        frames = [(f.time, f.to_ndarray(format="rgb24").astype(np.float64)) for f in container.decode(video=0)]
    times = np.array([t for t, _ in frames])
    change = np.array([np.abs(image - frames[0][1]).mean() for _, image in frames])  # [T]
    opened = int(np.argmax(change > change.max() / 2))
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.rate) == (CODECS[path.suffix], RATE)
        chunks, first_time = [], None
        for frame in container.decode(stream):
            first_time = frame.time if first_time is None else first_time
            channels = frame.to_ndarray()  # [C, n] planar, [1, n * C] interleaved
            if not frame.format.is_planar:
                channels = channels.reshape(-1, frame.layout.nb_channels).T
            chunks.append(channels[0])
        sound = np.concatenate(chunks).astype(np.float64)
        if stream.codec_context.format.name.startswith("s16"):
            sound /= 32768.0
        return times, opened, sound, stream.rate, float(first_time)


def _onset(sound: np.ndarray, rate: int) -> float:
    """Seconds from the first sample to where the tone's 1 ms RMS first reaches half its own."""
    window = max(1, rate // 1000)
    rms = np.sqrt(np.convolve(sound**2, np.ones(window) / window, mode="same"))
    above = np.flatnonzero(rms > 0.5 * TONE_AMPLITUDE / np.sqrt(2))
    assert above.size, "no tone in the render's sound"
    return above[0] / rate


@pytest.fixture(scope="module")
def take(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("take") / "take.csv"
    _write_take(path)
    return path


def _render(demo_dir: Path, expr: Path, sound: Path, out: Path, *extra: str) -> int:
    argv = ["render", str(demo_dir / "model.avatar"), "--expr", str(expr), "--out", str(out)]
    return main(argv + ["--size", str(SIZE), "--audio", str(sound), *extra])


EVENT_TIME = TAKE_START + EVENT / FPS  # time of day of the jaw opening and the tone
CASES = {  # name: (sound file, its clock's start (time of day) or None, output suffix)
    "mov-before": ("sound.mov", TAKE_START - 0.5, ".mp4"),  # cut: starts 0.5 s before the take
    "mov-after": ("sound.mov", TAKE_START + 0.3, ".mp4"),  # padded: starts 0.3 s after
    "bwf-after": ("sound.wav", TAKE_START + 0.2, ".mp4"),  # a Broadcast WAV's time_reference
    "m4a-no-clock": ("sound.m4a", None, ".mp4"),  # no clock: starts at frame 0
    "wav-no-clock": ("sound.wav", None, ".mp4"),
    "webm-alpha": ("sound.mov", TAKE_START - 0.5, ".webm"),  # Opus beside VP9 with alpha
    "mov-alpha": ("sound.mov", TAKE_START + 0.3, ".mov"),  # PCM beside ProRes 4444
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_tone_starts_at_the_frame_of_its_timecode(demo_dir, take, tmp_path, case):
    name, starts_at, suffix = CASES[case]
    sound, out = tmp_path / name, tmp_path / f"out{suffix}"
    # Without a clock the tone sits EVENT / FPS seconds into the file, which then starts at frame 0.
    _write_sound(sound, starts_at, EVENT_TIME if starts_at is not None else EVENT / FPS)
    assert _render(demo_dir, take, sound, out, *(["--alpha"] if suffix != ".mp4" else [])) == 0
    times, opened, samples, rate, first_sample = _decoded(out)
    assert len(times) == FRAMES and opened == EVENT  # the render's frame t shows the take's row t
    onset = first_sample + _onset(samples, rate)
    assert abs(onset - times[EVENT]) < 1 / FPS, f"tone at {onset:.4f} s, frame {EVENT} at {times[EVENT]:.4f} s"
    # Cut or padded to the video's length (AAC may end on a whole frame of 1024 samples).
    assert abs(first_sample + samples.size / rate - FRAMES / FPS) <= 1024 / rate
    if case == "mov-after":  # silence before the sound (0.3 s), nothing but the tone's own level later
        assert np.abs(samples[: int(0.29 * rate)]).max() < 1e-3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, out.name])  # no partial file left


def test_webm_keeps_its_alpha_beside_the_sound(demo_dir, take, tmp_path):
    """The muxed Opus stream leaves VP9's alpha (stored beside each frame) readable."""
    import av

    sound, out = tmp_path / "sound.mov", tmp_path / "out.webm"
    _write_sound(sound, TAKE_START, EVENT_TIME)
    assert _render(demo_dir, take, sound, out, "--alpha") == 0
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "opus"
        context = av.CodecContext.create("libvpx-vp9", "r")
        frames = [f for p in container.demux(container.streams.video[0]) for f in context.decode(p)]
    alpha = np.stack([f.to_ndarray(format="rgba")[..., 3] for f in frames])  # [T, H, W]
    assert (alpha[:, :2, :2] == 0).all() and alpha[:, SIZE // 2, SIZE // 2].min() > 200


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_chromium_hears_the_tone_at_the_same_time(demo_dir, take, tmp_path, suffix):
    """Another decoder than ffmpeg through PyAV: Chromium's Web Audio (what a web page or OBS's
    browser source plays) decodes the AAC / Opus stream with the tone at frame EVENT's time."""
    from avatar.web import headless
    from web_page import browser

    sound, out = tmp_path / "sound.mov", tmp_path / f"out{suffix}"
    _write_sound(sound, TAKE_START - 0.5, EVENT_TIME)
    assert _render(demo_dir, take, sound, out, *(["--alpha"] if suffix == ".webm" else [])) == 0
    with browser() as b, headless.served(tmp_path) as url:
        page = b.new_page()
        page.goto(url)
        decoded = page.evaluate(
            """async (src) => {
            const bytes = await (await fetch(src)).arrayBuffer();
            const buffer = await new OfflineAudioContext(1, 48000, 48000).decodeAudioData(bytes);
            return {rate: buffer.sampleRate, samples: Array.from(buffer.getChannelData(0))};
        }""",
            f"{url}{out.name}",
        )
    onset = _onset(np.array(decoded["samples"]), decoded["rate"])
    assert abs(onset - EVENT / FPS) < 1 / FPS, f"Chromium hears the tone at {onset:.4f} s"


def test_an_npz_take_has_no_timecodes_so_the_sound_starts_at_frame_0(demo_dir, tmp_path):
    from avatar.model import load_avatar

    expr = tmp_path / "take.npz"
    np.savez(expr, expr=np.zeros((FRAMES, load_avatar(demo_dir / "model.avatar").rig.num_expr)), fps=float(FPS))
    sound, out = tmp_path / "sound.mov", tmp_path / "out.mp4"
    _write_sound(sound, TAKE_START - 0.5, TAKE_START - 0.5 + EVENT / FPS)  # its timecode is not used
    assert _render(demo_dir, expr, sound, out) == 0
    times, _, samples, rate, first_sample = _decoded(out)
    assert abs(first_sample + _onset(samples, rate) - times[EVENT]) < 1 / FPS


def test_bad_sounds_are_refused_before_rendering(demo_dir, take, tmp_path, capsys, monkeypatch):
    """Each is one error naming the file (exit status 2), and nothing is rendered or written."""
    import avatar.cli.handlers as handlers

    monkeypatch.setattr(handlers, "render_sequence", lambda *a, **k: pytest.fail("rendered despite bad audio"))
    text = tmp_path / "notes.wav"
    text.write_text("not a sound")
    late, early = tmp_path / "late.mov", tmp_path / "early.mov"
    _write_sound(late, TAKE_START + 3600, TAKE_START + 3601)  # an hour after the take
    _write_sound(early, TAKE_START - 10, TAKE_START - 9)  # ends 7.5 s before the take starts
    cases = {
        tmp_path / "missing.wav": "not found",
        text: "not a readable audio or video file",
        demo_dir / "demo.mp4": "no audio stream",
        late: "does not overlap the take",
        early: "does not overlap the take",
    }
    for sound, problem in cases.items():
        out = tmp_path / "out.mp4"
        assert _render(demo_dir, take, sound, out) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"error: {sound}: ") and problem in error and error.count("\n") == 1, error
        assert not list(tmp_path.glob("out*"))


def test_a_killed_render_leaves_no_output(demo_dir, take, tmp_path, monkeypatch):
    from avatar.renderer.renderer import AvatarRenderer

    sound, out = tmp_path / "sound.mov", tmp_path / "out.mp4"
    _write_sound(sound, TAKE_START, EVENT_TIME)
    render, calls = AvatarRenderer.render, []

    def killed_half_way(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == FRAMES // 2:
            raise KeyboardInterrupt
        return render(self, *args, **kwargs)

    monkeypatch.setattr(AvatarRenderer, "render", killed_half_way)
    assert _render(demo_dir, take, sound, out) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sound.mov"]
