"""Live Link Face's UDP stream: the packet format (avatar.data.livelink_packet), its mapping to
rig parameters shared with the CSV reader, the receiving driver (viewer.livelink_stream) on a
loopback socket, and `avatar view --source livelink:PORT` end to end under Xvfb."""

from __future__ import annotations

import json
import logging
import socket
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from avatar.data.arkit import ARKIT_NAMES
from avatar.data.livelink import REQUIRED_COLUMNS, LiveLinkMapping, arkit_expression_matrix, load_livelink_csv
from avatar.data.livelink_packet import (MAX_PACKET_BYTES, MIN_PACKET_BYTES, WIRE_NAMES, LiveLinkPacketError,
                                         decode_packet, encode_packet)
from avatar.rig.head_rig import HeadRig
from avatar.rig.torso import SlowTorso
from headless import viewer_missing
from viewer.livelink_stream import RESYNC_S, LiveLinkStream
from viewer.sources import SourceError, parse_source

UUID = "0F3C2A9E-5B1D-4C7A-9E2F-6A8B1C3D4E5F"
# ARKit names a rig may share with the stream; jawLeft and mouthLeft sit at different places in
# the wire order and the CSV's, and no jawOpen shape: the jaw joint opens instead.
RIG_NAMES = ["jawLeft", "mouthLeft", "browInnerUp", "eyeBlink_L"]
# That the test rig leaves most ARKit shapes unused is warned about, and expected here.
pytestmark = pytest.mark.filterwarnings("ignore:.*ARKit -> rig 'test'")


def make_rig(names: list[str] = RIG_NAMES, num_shape: int = 3) -> HeadRig:
    """A 3-vertex rig: only its sizes and expression names matter to the mapping."""
    v, e = 3, len(names)
    return HeadRig(name="test", v_template=torch.zeros(v, 3), faces=torch.tensor([[0, 1, 2]]),
                   shapedirs=torch.zeros(v, 3, num_shape), exprdirs=torch.zeros(v, 3, e),
                   posedirs=torch.zeros(v, 3, 36), j_regressor=torch.full((5, v), 1 / v),
                   lbs_weights=torch.eye(5)[[0, 1, 2]], expr_names=names)


def face_values(seed: int) -> np.ndarray:
    """[61] float32 in REQUIRED_COLUMNS order: weights in [0, 1], angles within ±0.5 rad."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(0, 1, 52), rng.uniform(-0.5, 0.5, 9)]).astype(np.float32)


def packet(seed: int = 0, frame: int = 1000, subframe: float = 0.25) -> bytes:
    return encode_packet(face_values(seed), UUID, "iPhone", frame, subframe, (60, 1))


# ---- the packet format ---------------------------------------------------------------------------

def test_round_trip():
    values = face_values(1)
    data = encode_packet(values, UUID, "Anna's iPhone ✓", 5_184_000 - 1, 0.5, (30000, 1001))
    assert len(data) == MIN_PACKET_BYTES + len(UUID) + len("Anna's iPhone ✓".encode())
    p = decode_packet(data)
    assert (p.device_id, p.subject, p.frame, p.subframe, p.rate) == (UUID, "Anna's iPhone ✓", 5_183_999, 0.5,
                                                                     (30000, 1001))
    assert p.fps == pytest.approx(29.97, abs=1e-3) and p.time == pytest.approx(5_183_999.5 * 1001 / 30000)
    np.testing.assert_array_equal(p.values, values)
    assert not p.values.flags.writeable
    np.testing.assert_array_equal(p.blendshapes, values[:52])
    np.testing.assert_array_equal(np.concatenate([p.head, p.left_eye, p.right_eye]), values[52:])
    for i, name in enumerate(REQUIRED_COLUMNS):  # any spelling reaches the same value
        assert p.value(name) == p.value(name[0].lower() + name[1:]) == values[i]
    with pytest.raises(KeyError, match="none of the 61"):
        p.value("smile")


def test_a_packet_built_by_hand_from_the_documented_layout_decodes():
    """Independent of encode_packet: the layout written out field by field, big-endian, the values
    in Unreal's enum order (JawLeft before JawRight, MouthLeft before MouthRight)."""
    wire = np.arange(61, dtype=np.float32) / 100  # value i at wire position i
    data = (bytes([6]) + struct.pack(">i", 36) + UUID.encode() + struct.pack(">i", 6) + b"iPhone"
            + struct.pack(">ifii", 4521, 0.5, 60, 1) + bytes([61]) + struct.pack(">61f", *wire.tolist()))
    p = decode_packet(data)
    assert (p.device_id, p.subject, p.frame, p.subframe, p.fps) == (UUID, "iPhone", 4521, 0.5, 60.0)
    assert WIRE_NAMES[14:18] == ("JawForward", "JawLeft", "JawRight", "JawOpen")
    assert WIRE_NAMES[21:23] == ("MouthLeft", "MouthRight")
    for i, name in enumerate(WIRE_NAMES):
        assert p.value(name) == wire[i], name
    assert REQUIRED_COLUMNS[15:17] == ("JawRight", "JawLeft")  # the CSV's order differs there
    assert p.value("JawLeft") == wire[15] and p.values[REQUIRED_COLUMNS.index("JawLeft")] == wire[15]
    assert encode_packet(p.values, UUID, "iPhone", 4521, 0.5, (60, 1)) == data


def test_truncated_at_every_byte_is_one_clear_error():
    data = packet()
    for n in range(len(data)):
        with pytest.raises(LiveLinkPacketError, match="truncated packet|empty packet") as e:
            decode_packet(data[:n])
        assert e.value.kind == ("empty" if n == 0 else "truncated")
        if n:
            assert f"({n} byte" in str(e.value) and "needs" in str(e.value)


def _patched(data: bytes, offset: int, raw: bytes) -> bytes:
    out = bytearray(data)
    out[offset:offset + len(raw)] = raw
    return bytes(out)


VALUES_AT = MIN_PACKET_BYTES - 4 * 61 + len(UUID) + len("iPhone")  # offset of the 61 floats in packet()
TIME_AT = 1 + 4 + len(UUID) + 4 + len("iPhone")


@pytest.mark.parametrize("bad, kind, message", [
    (b"", "empty", "empty packet"),
    (_patched(packet(), 0, bytes([5])), "version", "packet version 5, expected 6"),
    (_patched(packet(), 0, bytes([255])), "version", "packet version 255, expected 6"),
    (_patched(packet(), VALUES_AT - 1, bytes([52])), "count", "value count 52, expected 61"),
    (_patched(packet(), VALUES_AT - 1, bytes([0])), "count", "value count 0, expected 61"),
    (_patched(packet(), VALUES_AT + 4 * 17, struct.pack(">f", float("nan"))), "values", "JawOpen is nan"),
    (_patched(packet(), VALUES_AT + 4 * 52, struct.pack(">f", float("-inf"))), "values", "HeadYaw is -inf"),
    (_patched(packet(), VALUES_AT + 4 * 15, struct.pack(">f", 3e38)), "values", "JawLeft is 3e+38"),
    (_patched(packet(), 1, struct.pack(">i", 2**31 - 1)), "device id", "device id length 2147483647 is outside"),
    (_patched(packet(), 1, struct.pack(">i", -1)), "device id", "device id length -1 is outside"),
    (_patched(packet(), 1 + 4 + len(UUID), struct.pack(">i", 70_000)), "subject", "subject length 70000"),
    (_patched(packet(), 1 + 4 + len(UUID), struct.pack(">i", 600)), "truncated", "the subject needs 600 bytes"),
    (_patched(packet(), 5, b"\xff\xfe"), "device id", "device id is not UTF-8"),
    (_patched(packet(), TIME_AT + 4, struct.pack(">f", 1.0)), "frame time", "sub-frame 1.0 is outside [0, 1)"),
    (_patched(packet(), TIME_AT + 4, struct.pack(">f", float("nan"))), "frame time", "sub-frame nan"),
    (_patched(packet(), TIME_AT + 12, struct.pack(">i", 0)), "frame time", "frame rate 60/0"),
    (_patched(packet(), TIME_AT + 8, struct.pack(">i", -60)), "frame time", "frame rate -60/1"),
    (packet() + b"\x00", "oversized", "1 byte after the 61 values"),
    (packet() + bytes(MAX_PACKET_BYTES), "oversized", f"at most {MAX_PACKET_BYTES}"),
])
def test_each_malformed_kind_is_one_clear_error(bad, kind, message):
    with pytest.raises(LiveLinkPacketError) as e:
        decode_packet(bad)
    assert e.value.kind == kind and message in str(e.value), str(e.value)


def test_random_bytes_never_escape_as_another_error():
    rng = np.random.default_rng(7)
    valid = packet()
    for i in range(3000):
        size = int(rng.integers(0, 2 * len(valid)))
        data = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        if i % 2 and size:  # half of them past the version byte, into the names and the rest
            data[0] = 6
        if i % 3 == 0:  # a third: a valid packet with a few bytes flipped
            data = bytearray(valid)
            for at in rng.integers(0, len(data), 3):
                data[at] ^= int(rng.integers(1, 256))
        try:
            decode_packet(bytes(data))
        except LiveLinkPacketError as e:
            assert str(e) and e.kind
        # a flipped byte inside a value or a name can leave a valid packet: that decodes


def test_encode_refuses_what_decode_would():
    with pytest.raises(LiveLinkPacketError, match="HeadPitch is nan"):
        encode_packet(np.where(np.arange(61) == 53, np.nan, 0.0))
    with pytest.raises(LiveLinkPacketError, match="61 values needed"):
        encode_packet(np.zeros(52))
    with pytest.raises(LiveLinkPacketError, match="frame number 4294967296 does not fit"):
        encode_packet(np.zeros(61), frame=2**32)
    with pytest.raises(LiveLinkPacketError, match="frame rate 30/0"):
        encode_packet(np.zeros(61), rate=(30, 0))
    with pytest.raises(LiveLinkPacketError, match="device id length 2000"):
        encode_packet(np.zeros(61), device_id="x" * 2000)


# ---- the mapping, shared with the CSV ----------------------------------------------------------------

def test_a_csv_row_and_its_packet_give_the_same_rig_params(tmp_path):
    rig = make_rig()
    rows = np.stack([face_values(seed) for seed in range(4)])  # [4, 61] in column order
    path = tmp_path / "take.csv"
    lines = ["Timecode,BlendshapeCount," + ",".join(REQUIRED_COLUMNS)]
    lines += [f"10:00:00:{t:02d}.000,61," + ",".join(repr(float(v)) for v in row) for t, row in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    from_csv, _ = load_livelink_csv(path, rig)
    mapping = LiveLinkMapping(arkit_expression_matrix(rig, "livelink:test"), rig.num_shape, True)
    torso = SlowTorso()  # as the stream shares the head's turns with the neck
    for t, row in enumerate(rows):
        p = decode_packet(encode_packet(row, UUID, "iPhone", t))
        from_packet = torso(mapping.params(p.values[None]), p.time)
        for key in ("shape", "expr", "jaw", "neck", "rotation", "eyes", "translation"):
            expected = getattr(from_csv, key) if key == "shape" else getattr(from_csv, key)[t:t + 1]
            torch.testing.assert_close(getattr(from_packet, key), expected, rtol=0, atol=1e-6, msg=key)
    # by name, not by position: the rig's jawLeft follows the JawLeft value, wherever it sits on the wire
    jaw_left = REQUIRED_COLUMNS.index("JawLeft")
    np.testing.assert_allclose(from_csv.expr[:, RIG_NAMES.index("jawLeft")].numpy(), rows[:, jaw_left])
    assert from_csv.jaw[:, 0].abs().min() > 0  # no jawOpen shape: JawOpen opens the jaw joint


# ---- the receiver ------------------------------------------------------------------------------------

def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.fixture
def stream():
    identity = torch.tensor([0.5, -0.25, 1.0])
    s = LiveLinkStream(0, make_rig(), identity, host="127.0.0.1")
    s.start()
    yield s
    s.stop()


@pytest.fixture
def sender():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        yield s


def send(stream: LiveLinkStream, sender: socket.socket, *datagrams: bytes) -> None:
    """Send and wait until the stream has received them all (loopback delivers in order)."""
    expected = stream.received + len(datagrams)
    for data in datagrams:
        sender.sendto(data, ("127.0.0.1", stream.port))
    wait_for(lambda: stream.received >= expected)


def test_valid_packets_drive_latest(stream, sender):
    rig = make_rig()
    mapping = LiveLinkMapping(arkit_expression_matrix(rig, "livelink:test"), rig.num_shape, True)
    assert stream.port > 0 and stream.latest() is None and not stream.ended
    assert "no Live Link Face packets yet" in stream.status
    before = time.perf_counter()
    send(stream, sender, packet(seed=3, frame=100))
    sample = stream.latest()
    expected = mapping.params(face_values(3)[None])
    for key in ("expr", "jaw", "rotation", "eyes"):
        torch.testing.assert_close(getattr(sample.params, key), getattr(expected, key), rtol=0, atol=0, msg=key)
    torch.testing.assert_close(sample.params.shape, torch.tensor([0.5, -0.25, 1.0]))  # the avatar's identity
    assert before <= sample.captured_at <= time.perf_counter() and sample.source_frame == 0
    assert stream.status.startswith("iPhone at 60 fps, frame 100: 1 packets, 0 malformed")
    send(stream, sender, packet(seed=4, frame=101))
    assert stream.latest().source_frame == 1
    torch.testing.assert_close(stream.latest().params.expr, mapping.params(face_values(4)[None]).expr)


def test_out_of_order_and_malformed_packets_are_counted_and_change_nothing(stream, sender, caplog):
    send(stream, sender, packet(seed=1, frame=200, subframe=0.5))
    newest = stream.latest()
    with caplog.at_level(logging.WARNING, logger="avatar"):
        send(stream, sender, packet(seed=2, frame=199), packet(seed=2, frame=200, subframe=0.25),  # older
             b"", packet()[:100], packet()[:200], b"\x05" + packet()[1:], bytes(range(256)))
    assert stream.out_of_order == 2 and stream.malformed == 5 and stream.received == 8
    assert stream.latest() is newest  # neither regressed nor replaced
    warned = [r.getMessage() for r in caplog.records]
    # one warning per kind: empty, truncated (twice, warned once), version (twice: \x05 and bytes(range))
    assert len(warned) == 3, warned
    assert any("truncated packet (100 bytes)" in w for w in warned) and any("empty packet" in w for w in warned)
    assert all("from 127.0.0.1" in w for w in warned)
    send(stream, sender, packet(seed=5, frame=200, subframe=0.5))  # the same frame time: the newer packet wins
    assert stream.latest().source_frame == newest.source_frame + 1
    assert stream.counts() == {"port": stream.port, "received": 9, "malformed": 5, "out_of_order": 2, "dropped": 0,
                               "resyncs": 0, "kept_in_training_range": None, "subject": "iPhone", "device_id": UUID, "fps": 60.0}


def test_a_clock_that_goes_back_far_restarts_the_ordering(stream, sender):
    """Live Link Face's frame number is a time of day: at midnight it starts again from 0."""
    send(stream, sender, packet(seed=1, frame=5_183_990))
    send(stream, sender, packet(seed=2, frame=3))  # 23:59:59.83 -> 00:00:00.05
    assert stream.resyncs == 1 and stream.out_of_order == 0 and stream.latest().source_frame == 1
    send(stream, sender, packet(seed=3, frame=100))
    send(stream, sender, packet(seed=4, frame=int(100 - 60 * RESYNC_S / 2)))  # behind, within the window: late
    assert stream.resyncs == 1 and stream.out_of_order == 1 and stream.latest().source_frame == 2


def test_packets_nobody_took_are_counted_as_dropped(stream, sender):
    send(stream, sender, *(packet(seed=i, frame=300 + i) for i in range(5)))
    assert stream.latest().source_frame == 4 and stream.samples.dropped == 4


def test_stop_joins_the_thread_and_frees_the_port(sender):
    s = LiveLinkStream(0, make_rig(), torch.zeros(3), host="127.0.0.1")
    s.start()
    send(s, sender, packet())
    s.stop()
    assert not s._thread.is_alive() and s.ended and s.error is None
    never_started = LiveLinkStream(s.port, make_rig(), torch.zeros(3), host="127.0.0.1")  # the port is free again
    never_started.stop()  # and stop() closes its socket though its thread never ran
    LiveLinkStream(s.port, make_rig(), torch.zeros(3), host="127.0.0.1").stop()


def test_a_port_in_use_is_one_clear_error(stream):
    with pytest.raises(SourceError, match=f"livelink:{stream.port}: cannot listen on UDP port {stream.port}"):
        LiveLinkStream(stream.port, make_rig(), torch.zeros(3), host="127.0.0.1")


@pytest.mark.parametrize("text, port", [("livelink", 11111), ("livelink:0", 0), ("livelink:9000", 9000),
                                        ("livelink:65535", 65535)])
def test_parse_source_livelink(text, port):
    spec = parse_source(text)
    assert (spec.kind, spec.port) == ("livelink", port)


@pytest.mark.parametrize("text", ["livelink:", "livelink:abc", "livelink:65536", "livelink:-1", "livelink:²",
                                  "livelink:" + "9" * 5000])
def test_parse_source_refuses_bad_ports(text):
    with pytest.raises(SourceError, match="expected livelink:PORT with PORT a UDP port in 0..65535"):
        parse_source(text)


# ---- `avatar view --source livelink:PORT` end to end ------------------------------------------------------

@pytest.mark.skipif(viewer_missing() is not None, reason=viewer_missing() or "")
def test_avatar_view_is_driven_by_the_stream(tmp_path):
    from avatar.data.livelink import MAX_JAW_ANGLE
    from avatar.gaussians import GaussianAvatar
    from avatar.gaussians.io import save_avatar
    from avatar.rig.loaders import load_rig

    rig = load_rig("builtin")  # jawOpen drives both its shape and its jaw joint
    model_path = tmp_path / "m.avatar"
    save_avatar(GaussianAvatar.on_mesh(rig), model_path, {})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # a free port for the viewer
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ramp = np.linspace(0, 1, 30, dtype=np.float32)  # jawOpen, over and over
    done = threading.Event()

    def stream_ramp() -> None:
        """A neutral face opening its jaw at 60 fps; every 15th datagram is garbage."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(100_000):
                if done.wait(1 / 60):
                    return
                values = np.zeros(61, dtype=np.float32)
                values[ARKIT_NAMES.index("jawOpen")] = ramp[i % len(ramp)]
                data = b"not a packet" if i % 15 == 14 else encode_packet(values, UUID, "iPhone", 1000 + i)
                s.sendto(data, ("127.0.0.1", port))

    sender_thread = threading.Thread(target=stream_ramp, daemon=True)
    sender_thread.start()
    stats_path = tmp_path / "stats.json"
    # --lod off: the level of detail's daemon build thread, still running when a short run ends,
    # can abort the interpreter's exit (seen with --source expr:FILE too); it is not under test here.
    command = ["xvfb-run", "-a", "-s", "-screen 0 1024x768x24", sys.executable, "-m", "avatar.cli", "view",
               str(model_path), "--source", f"livelink:{port}", "--device", "cpu", "--backend", "gl", "--size", "64",
               "--lod", "off", "--frames", "20", "--stats", str(stats_path)]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=180)
    finally:
        done.set()
        sender_thread.join()
    if run.returncode != 0 and "EGL" in run.stderr and "context" in run.stderr:
        pytest.skip(f"no OpenGL 3.3 context under Xvfb: {run.stderr[-300:]}")
    assert run.returncode == 0, run.stderr[-2000:]
    stats = json.loads(stats_path.read_text())
    assert stats["stopped"] == "20 frames" and stats["source"] == f"livelink:{port}"
    counts = stats["livelink"]
    assert counts["port"] == port and counts["subject"] == "iPhone" and counts["fps"] == 60.0
    params = np.load(stats["params_npz"])
    driven = params["source_frame"] >= 0  # [T] frames a packet drove (the first may be the rest pose)
    assert driven.sum() >= 19 and counts["received"] > driven.sum()
    assert counts["malformed"] >= 1 and counts["out_of_order"] == 0
    assert run.stderr.count("ignored a malformed packet") == 1  # logged once, counted every time
    jaw_open = params["jaw"][driven, 0] / MAX_JAW_ANGLE  # the builtin rig opens its jaw joint with jawOpen
    distance = np.abs(jaw_open[:, None] - ramp[None]).min(1)  # each shown frame is one of the ramp's values
    assert distance.max() < 1e-5 and len(np.unique(np.round(jaw_open, 4))) >= 5
    expr = params["expr"][driven, rig.expr_names.index("jawOpen")]
    np.testing.assert_allclose(expr, jaw_open, atol=1e-5)
    assert stats["latency_ms"] is not None and stats["latency_ms"] > 0

