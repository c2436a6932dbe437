"""A FLAME avatar driven by Live Link Face through `--arkit-map`: the UDP stream
(viewer.livelink_stream) on a loopback socket against `avatar render --arkit-map`'s path for a CSV
of the same weights (`Avatar.params`), `avatar view --arkit-map` in-process up to its window and
end to end under Xvfb, and the refusals. The rig is FLAME-structured, built by tests/flame_fixture.py
without the licensed files (PCA expressions without names, not embedded in the .avatar)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

import flame_fixture as fx
from avatar.data.arkit import ARKIT_NAMES, canonical_name
from avatar.data.errors import ExpressionFileError
from avatar.data.expressions import save_expression_file
from avatar.data.livelink import MAX_JAW_ANGLE, REQUIRED_COLUMNS, load_arkit_map
from avatar.data.livelink_packet import encode_packet
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import save_avatar
from avatar.model import Avatar, ExpressionRange, load_avatar
from avatar.rig.loaders import load_rig
from headless import viewer_missing, xvfb_avatar
from viewer.livelink_stream import LiveLinkStream

UUID = "0F3C2A9E-5B1D-4C7A-9E2F-6A8B1C3D4E5F"
NUM_MAPPED = 40  # ARKit shapes the map names (the rest map to nothing)
ROWS = 6


def face_values(seed: int) -> np.ndarray:
    """[61] float32 in REQUIRED_COLUMNS order: weights in [0, 1], angles within ±0.5 rad."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(0, 1, 52), rng.uniform(-0.5, 0.5, 9)]).astype(np.float32)


def write_csv(path, rows: np.ndarray) -> None:
    """A Live Link Face take of rows [T, 61] (REQUIRED_COLUMNS order), one frame apart."""
    lines = ["Timecode,BlendshapeCount," + ",".join(REQUIRED_COLUMNS)]
    lines += [f"10:00:00:{t:02d}.000,61," + ",".join(repr(float(v)) for v in row) for t, row in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def flame(tmp_path_factory) -> dict:
    """A FLAME-structured avatar with an identity and a training range, its rig file, and an
    ARKit map naming NUM_MAPPED shapes in a shuffled order."""
    root = tmp_path_factory.mktemp("flame_live")
    rig_path = fx.write_npz(fx.make_flame_arrays(seed=0), root / "flame2023.npz")
    rig = load_rig(f"flame:{rig_path}")
    assert rig.expr_names is None and not rig.embeddable  # what makes a map necessary
    rng = np.random.default_rng(7)
    e = rig.num_expr
    # A range that clamps some of the mapped weights, so the stream's clamp is compared too.
    neutral = rng.normal(0, 0.1, e).astype(np.float32)
    learned = ExpressionRange(
        torch.tensor(neutral - 1.2),
        torch.tensor(neutral + 1.2),
        torch.tensor([-0.05, -0.1, -0.1]),
        torch.tensor([0.3, 0.1, 0.1]),
        torch.tensor(neutral),
        torch.full((6,), -0.3),
        torch.full((6,), 0.3),
    )
    config = {"identity_shape": rng.normal(0, 0.5, rig.num_shape).tolist(), "expression_range": learned.to_dict()}
    model_path = root / "flame.avatar"
    save_avatar(GaussianAvatar.on_mesh(rig), model_path, config)
    names = list(np.array(ARKIT_NAMES)[rng.permutation(len(ARKIT_NAMES))[:NUM_MAPPED]])
    matrix = (rng.normal(0, 0.3, (e, NUM_MAPPED))).astype(np.float32)  # [E, 40]
    map_path = root / "map.npz"
    np.savez(map_path, matrix=matrix, names=np.array(names))
    return {
        "root": root,
        "rig_path": rig_path,
        "model": model_path,
        "map": map_path,
        "names": names,
        "matrix": matrix,
        "learned": learned,
    }


def loaded(flame: dict) -> Avatar:
    return load_avatar(flame["model"], f"flame:{flame['rig_path']}")


def mapped_by_hand(flame: dict, rows: np.ndarray) -> np.ndarray:
    """[T, E] the map applied to rows [T, 61] by name, put on the avatar's resting face and
    clamped to its range: what the avatar should receive, computed here without the loader."""
    column = {canonical_name(n).lower(): i for i, n in enumerate(REQUIRED_COLUMNS[:52])}
    weights = rows[:, [column[canonical_name(n).lower()] for n in flame["names"]]]  # [T, 40]
    learned = flame["learned"]
    expr = weights.astype(np.float64) @ flame["matrix"].T.astype(np.float64) + learned.expr_neutral.numpy()
    return np.clip(expr, learned.expr_low.numpy(), learned.expr_high.numpy())  # [T, E]


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_flame_stream_with_a_map_gives_what_render_gives_for_the_same_csv(flame, tmp_path):
    me = loaded(flame)
    rows = np.stack([face_values(seed) for seed in range(ROWS)])  # [T, 61]
    csv = tmp_path / "take.csv"
    write_csv(csv, rows)
    rendered, _ = me.params(csv, flame["map"])  # what `avatar render --expr take.csv --arkit-map` drives
    by_hand = mapped_by_hand(flame, rows)  # [T, E]
    assert 0 < (np.abs(by_hand - me.expression_range.expr_neutral.numpy()) >= 1.2 - 1e-6).mean() < 0.5  # some clamped
    np.testing.assert_allclose(rendered.expr.numpy(), by_hand, rtol=0, atol=1e-5)

    stream = LiveLinkStream(
        0, me.rig, me.identity(), host="127.0.0.1", learned=me.expression_range, arkit_map=flame["map"]
    )
    stream.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for t, row in enumerate(rows):
                sender.sendto(encode_packet(row, UUID, "iPhone", t), ("127.0.0.1", stream.port))
                wait_for(lambda: stream.received > t)
                sample = stream.latest()
                assert sample is not None and sample.source_frame == t
                for key in ("expr", "jaw", "neck", "rotation", "eyes", "translation"):
                    torch.testing.assert_close(
                        getattr(sample.params, key),
                        getattr(rendered, key)[t : t + 1],
                        rtol=0,
                        atol=1e-6,
                        msg=f"frame {t}: {key}",
                    )
                torch.testing.assert_close(sample.params.shape, me.identity())  # the avatar's identity
    finally:
        stream.stop()
    assert stream.error is None and stream.malformed == 0 and stream.out_of_order == 0
    assert stream.clamps.frames_clamped > 0  # the training range did its part, as for the CSV
    # FLAME has no jawOpen shape: JawOpen opens the jaw joint, kept inside the range
    jaw_open = rows[:, REQUIRED_COLUMNS.index("JawOpen")] * MAX_JAW_ANGLE
    np.testing.assert_allclose(rendered.jaw[:, 0].numpy(), np.clip(jaw_open, -0.05, 0.3), atol=1e-6)


def test_a_flame_stream_without_a_map_is_one_error_naming_the_flag(flame):
    me = loaded(flame)
    with pytest.raises(ExpressionFileError, match=r"livelink:0: rig 'flame2023' has PCA expressions.*--arkit-map"):
        LiveLinkStream(0, me.rig, me.identity(), host="127.0.0.1")


def test_a_map_for_another_rig_is_refused_before_the_port_is_taken(flame, tmp_path):
    me = loaded(flame)
    bad = tmp_path / "map.npz"
    np.savez(bad, matrix=np.zeros((3, 2), np.float32), names=np.array(["jawOpen", "eyeBlinkLeft"]))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ExpressionFileError, match=r"map.npz: 'matrix' has shape \(3, 2\); rig 'flame2023' needs"):
        LiveLinkStream(port, me.rig, me.identity(), host="127.0.0.1", arkit_map=bad)
    LiveLinkStream(port, me.rig, me.identity(), host="127.0.0.1", arkit_map=flame["map"]).stop()  # port still free


# ---- `avatar view --arkit-map` ----------------------------------------------------------------------------


def view_args(flame: dict, *more: str) -> list[str]:
    return [
        "view",
        str(flame["model"]),
        "--rig",
        f"flame:{flame['rig_path']}",
        "--device",
        "cpu",
        "--backend",
        "gl",
        *more,
    ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="no DISPLAY stops the viewer only on Linux")
@pytest.mark.skipif(viewer_missing() is not None, reason=viewer_missing() or "")
def test_avatar_view_takes_the_map_to_the_stream_and_the_csv_player(flame, tmp_path, monkeypatch, capsys):
    """Parsed by the command, into the drivers `avatar view` builds; the run stops where a window
    would open (no DISPLAY), after the drivers are built."""
    import viewer.launch
    from avatar.cli.main import main

    built = []

    class RecordedStream(LiveLinkStream):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    class RecordedPlayer(viewer.launch.ExpressionPlayer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(viewer.launch, "LiveLinkStream", RecordedStream)
    monkeypatch.setattr(viewer.launch, "ExpressionPlayer", RecordedPlayer)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(view_args(flame, "--source", "livelink:0", "--arkit-map", str(flame["map"]))) == 2
    assert "no display" in capsys.readouterr().err  # past the driver: the stream was built with the map
    (stream,) = built
    stream.stop()
    me = loaded(flame)
    np.testing.assert_array_equal(stream._mapping.matrix, load_arkit_map(flame["map"], me.rig))

    rows = np.stack([face_values(seed) for seed in range(3)])
    csv = tmp_path / "take.csv"
    write_csv(csv, rows)
    assert main(view_args(flame, "--source", f"expr:{csv}", "--arkit-map", str(flame["map"]))) == 2
    assert "no display" in capsys.readouterr().err
    player = built[1]
    np.testing.assert_allclose(player.params.expr.numpy(), mapped_by_hand(flame, rows), rtol=0, atol=1e-5)


@pytest.mark.skipif(viewer_missing() is not None, reason=viewer_missing() or "")
def test_avatar_view_on_flame_without_a_map_names_the_flag(flame, tmp_path, capsys):
    from avatar.cli.main import main

    write_csv(tmp_path / "take.csv", np.stack([face_values(0), face_values(1)]))
    for source in ("livelink:0", f"expr:{tmp_path / 'take.csv'}"):
        assert main(view_args(flame, "--source", source)) == 2
        err = capsys.readouterr().err
        assert "has PCA expressions without names" in err and "--arkit-map FILE.npz" in err, err
        assert "Traceback" not in err


def test_avatar_view_refuses_a_map_no_source_would_use(flame, tmp_path, capsys):
    """As `avatar render` refuses it beside a non-.csv --expr: before the model is loaded."""
    from avatar.cli.main import main

    take = tmp_path / "take.json"
    save_expression_file(take, loaded(flame).rig.zero_params(2), 25.0)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not read: refused before")
    for source in ([], ["--source", "webcam:0"], ["--source", f"video:{video}"], ["--source", f"expr:{take}"]):
        assert main(view_args(flame, *source, "--arkit-map", str(flame["map"]))) == 2
        err = capsys.readouterr().err
        assert f"--arkit-map {flame['map']}: applies only to --source livelink[:PORT] or expr:FILE.csv" in err, err
        assert "Traceback" not in err


@pytest.mark.skipif(viewer_missing() is not None, reason=viewer_missing() or "")
def test_avatar_view_of_a_flame_avatar_is_driven_by_the_stream_through_the_map(flame, tmp_path):
    """End to end under Xvfb: a loopback sender, the window's per-frame parameters."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # a free port for the viewer
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    faces = np.stack([face_values(seed) for seed in range(4)])  # [4, 61] sent over and over
    done = threading.Event()

    def stream_faces() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(100_000):
                if done.wait(1 / 60):
                    return
                s.sendto(encode_packet(faces[i % len(faces)], UUID, "iPhone", 1000 + i), ("127.0.0.1", port))

    sender = threading.Thread(target=stream_faces, daemon=True)
    sender.start()
    stats_path = tmp_path / "stats.json"
    command = xvfb_avatar(
        *view_args(
            flame,
            "--source",
            f"livelink:{port}",
            "--arkit-map",
            str(flame["map"]),
            "--size",
            "64",
            "--lod",
            "off",
            "--frames",
            "12",
            "--stats",
            str(stats_path),
        ),
    )
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=180)
    finally:
        done.set()
        sender.join()
    if run.returncode != 0 and "EGL" in run.stderr and "context" in run.stderr:
        pytest.skip(f"no OpenGL 3.3 context under Xvfb: {run.stderr[-300:]}")
    assert run.returncode == 0, run.stderr[-2000:]
    stats = json.loads(stats_path.read_text())
    assert stats["stopped"] == "12 frames" and stats["livelink"]["subject"] == "iPhone"
    params = np.load(stats["params_npz"])
    driven = params["source_frame"] >= 0  # [T] frames a packet drove
    assert driven.sum() >= 10
    expected = mapped_by_hand(flame, faces)  # [4, E]
    shown = params["expr"][driven]  # [D, E]: each is one of the four faces, through the map
    distance = np.abs(shown[:, None] - expected[None]).max(2).min(1)  # [D]
    assert distance.max() < 1e-4, distance
