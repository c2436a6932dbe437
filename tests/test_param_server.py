"""`avatar view --serve PORT` (viewer.param_server): the WebSocket server alone on a loopback port
with `websockets` clients (hello, params following publish(), a client that never reads, two
clients, a port in use, stop), and the viewer end to end under Xvfb, driven by an expression file."""

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

pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from avatar.rig import RigParams  # noqa: E402
from headless import viewer_missing  # noqa: E402
from viewer.param_server import FRAME_KEYS, ParamServer, ServeError, hello_message, params_message  # noqa: E402
from tiny_rig import make_tiny_rig  # noqa: E402

E = 4
HELLO = {"type": "hello", "version": 1, "rig": "test", "expr_names": ["a", "b", "c", "d"], "num_expr": E,
         "num_shape": 2, "fps": 30.0, "identity_shape": [0.5, -0.25], "keys": list(FRAME_KEYS)}


def frame_params(seed: int, num_expr: int = E) -> RigParams:
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.rand(*s, generator=g) - 0.5  # noqa: E731
    return RigParams(torch.zeros(2), r(1, num_expr), r(1, 3), r(1, 3), r(1, 3), r(1, 6), r(1, 3))


@pytest.fixture
def server():
    s = ParamServer(0, HELLO, host="127.0.0.1")
    s.start()
    yield s
    s.stop()


def url(s: ParamServer) -> str:
    return f"ws://127.0.0.1:{s.port}"


def receive(ws, timeout: float = 5.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_hello_then_params_with_the_published_values(server):
    with connect(url(server)) as ws:
        assert receive(ws) == HELLO
        wait_for(lambda: server.counts()["clients_now"] == 1)
        for i in range(5):
            p = frame_params(i)
            server.publish(p)
            m = receive(ws)
            assert m["type"] == "params" and m["frame"] == i and 0 <= m["t"] < 60
            assert list(m)[3:] == list(FRAME_KEYS)
            for key in FRAME_KEYS:
                expected = getattr(p, key)[0].double().numpy()
                assert len(m[key]) == len(expected)
                np.testing.assert_allclose(m[key], expected, atol=5e-6 + 1e-12)
                assert all(round(v, 5) == v for v in m[key])  # rounded: short messages
    wait_for(lambda: server.counts()["clients_now"] == 0)
    counts = server.counts()
    assert (counts["clients_seen"], counts["published"], counts["sent"], counts["dropped"]) == (1, 5, 5, 0)


def test_a_late_client_gets_the_pose_on_screen_first(server):
    server.publish(frame_params(1))
    server.publish(frame_params(2))
    with connect(url(server)) as ws:
        assert receive(ws)["type"] == "hello"
        m = receive(ws)
        assert m["frame"] == 1
        np.testing.assert_allclose(m["expr"], frame_params(2).expr[0].numpy(), atol=1e-5)


def test_a_client_that_never_reads_does_not_block_publish_and_gets_drops(server):
    # The stalled client: a raw socket with a small receive buffer that does the handshake and
    # then never reads again.
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", server.port))
    stalled.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert stalled.recv(12) == b"HTTP/1.1 101"
    big = 400  # ~4 KB messages: the buffers between server and stalled client fill quickly
    try:
        with connect(url(server)) as ws:
            assert receive(ws)["type"] == "hello"
            wait_for(lambda: server.counts()["clients_now"] == 2)
            received: list[dict] = []
            reader = threading.Thread(target=lambda: _read_until(ws, received, 1999), daemon=True)
            reader.start()
            for i in range(2000):
                server.publish(frame_params(i, big))  # a stalled client must not hold this loop up
                time.sleep(0.0005)
            reader.join(timeout=10)
            assert not reader.is_alive(), f"the reading client got {len(received)} messages, not the last one"
            assert received[-1]["frame"] == 1999
            np.testing.assert_allclose(received[-1]["expr"], frame_params(1999, big).expr[0].numpy(), atol=1e-5)
            frames = [m["frame"] for m in received]
            assert frames == sorted(set(frames))  # in order, never twice
            counts = server.counts()
            assert counts["dropped"] > 0, counts
            assert counts["sent"] < 2 * 2000
    finally:
        stalled.close()


def _read_until(ws, out: list, last: int) -> None:
    while True:
        m = receive(ws, timeout=10)
        out.append(m)
        if m["frame"] == last:
            return


def test_two_clients_get_every_frame(server):
    with connect(url(server)) as a, connect(url(server)) as b:
        assert receive(a)["type"] == receive(b)["type"] == "hello"
        wait_for(lambda: server.counts()["clients_now"] == 2)
        for i in range(3):
            server.publish(frame_params(i))
            assert receive(a)["frame"] == receive(b)["frame"] == i
    assert server.counts()["clients_seen"] == 2


def test_what_clients_send_is_ignored(server):
    with connect(url(server)) as ws:
        receive(ws)
        wait_for(lambda: server.counts()["clients_now"] == 1)
        ws.send("anything")
        server.publish(frame_params(0))
        assert receive(ws)["frame"] == 0


def test_a_port_in_use_is_one_clear_error(server):
    with pytest.raises(ServeError, match=f"--serve {server.port}: cannot listen on TCP port {server.port}"):
        ParamServer(server.port, HELLO, host="127.0.0.1")


def test_avatar_view_refuses_a_port_in_use_before_any_window(server, tmp_path, monkeypatch, capsys):
    from avatar.cli.main import main
    from avatar.gaussians import GaussianAvatar
    from avatar.gaussians.io import save_avatar

    model_path = tmp_path / "m.avatar"
    save_avatar(GaussianAvatar.on_mesh(make_tiny_rig()), model_path, {})
    monkeypatch.setenv("DISPLAY", ":nowhere")  # past the display check; a window would fail to open
    assert main(["view", str(model_path), "--device", "cpu", "--backend", "gl", "--serve", str(server.port),
                 "--serve-host", "127.0.0.1"]) == 2
    err = capsys.readouterr().err
    assert f"--serve {server.port}: cannot listen on TCP port {server.port} of 127.0.0.1" in err, err
    assert "Traceback" not in err


def test_an_unknown_host_is_one_clear_error():
    with pytest.raises(ServeError, match="cannot listen on no-such-host.invalid:0"):
        ParamServer(0, HELLO, host="no-such-host.invalid")


def test_stop_joins_the_thread_closes_clients_and_frees_the_port():
    s = ParamServer(0, HELLO, host="127.0.0.1")
    s.start()
    with connect(url(s)) as ws:
        receive(ws)
        s.stop()
        assert not s._thread.is_alive() and s.error is None
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=2)  # closed by the server
    s.publish(frame_params(0))  # after stop: nothing to wake, no error
    ParamServer(s.port, HELLO, host="127.0.0.1").stop()  # the port is free again; stop() without start()


def test_hello_and_params_messages_from_a_rig():
    rig = make_tiny_rig(num_expr=3)
    hello = hello_message(rig, torch.tensor([0.1234567, float("nan")] + [0.0] * (rig.num_shape - 2)), None)
    assert hello["num_expr"] == 3 and hello["num_shape"] == rig.num_shape and hello["fps"] is None
    assert hello["identity_shape"][:2] == [0.12346, None]  # JSON has no NaN
    json.dumps(hello, allow_nan=False)
    p = frame_params(0, 3)
    m = json.loads(params_message(7, 1.2345678, p))
    assert (m["frame"], m["t"]) == (7, 1.23457) and len(m["eyes"]) == 6


# ---- `avatar view --serve PORT` end to end ---------------------------------------------------------

@pytest.mark.skipif(viewer_missing() is not None, reason=viewer_missing() or "")
def test_avatar_view_serves_the_parameters_it_shows(tmp_path):
    from avatar.data.expressions import save_expression_file
    from avatar.gaussians import GaussianAvatar
    from avatar.gaussians.io import save_avatar
    from avatar.rig.loaders import load_rig

    rig = load_rig("builtin")
    model_path = tmp_path / "m.avatar"
    save_avatar(GaussianAvatar.on_mesh(rig), model_path, {})
    frames = 40
    take = RigParams.zeros(rig.num_shape, rig.num_expr, frames)
    take.expr = torch.rand(frames, rig.num_expr, generator=torch.Generator().manual_seed(0)) * 0.5
    take.jaw[:, 0] = torch.linspace(0, 0.2, frames)
    expr_path = tmp_path / "take.npz"
    save_expression_file(expr_path, take, 30.0)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:  # a free port for the viewer
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    received: list[dict] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            try:
                with connect(f"ws://127.0.0.1:{port}", open_timeout=1) as ws:
                    while True:
                        received.append(json.loads(ws.recv(timeout=30)))
            except Exception:  # not listening yet (retry), or the viewer closed
                if received:
                    return
                time.sleep(0.05)

    client = threading.Thread(target=listen, daemon=True)
    client.start()
    stats_path = tmp_path / "stats.json"
    command = ["xvfb-run", "-a", "-s", "-screen 0 1024x768x24", sys.executable, "-m", "avatar.cli", "view",
               str(model_path), "--source", f"expr:{expr_path}", "--device", "cpu", "--backend", "gl", "--size", "64",
               "--lod", "off", "--frames", "30", "--serve", str(port), "--serve-host", "127.0.0.1",
               "--stats", str(stats_path)]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=180)
    finally:
        done.set()
        client.join(timeout=10)
    if run.returncode != 0 and "EGL" in run.stderr and "context" in run.stderr:
        pytest.skip(f"no OpenGL 3.3 context under Xvfb: {run.stderr[-300:]}")
    assert run.returncode == 0, run.stderr[-2000:]
    stats = json.loads(stats_path.read_text())
    serve = stats["serve"]
    assert serve["port"] == port and serve["clients_seen"] >= 1 and serve["published"] >= 30 and serve["error"] is None
    hello, params = received[0], [m for m in received if m["type"] == "params"]
    assert hello["type"] == "hello" and hello["rig"] == "builtin" and hello["expr_names"] == list(rig.expr_names)
    assert hello["fps"] == 30.0 and len(hello["identity_shape"]) == rig.num_shape
    assert len(params) >= 20 and serve["sent"] >= len(params)
    file_expr = take.expr.numpy()  # [T, E]
    for m in params:
        distance = np.abs(np.array(m["expr"])[None] - file_expr).max(1).min()  # to the nearest file frame
        assert distance < 1e-5 and len(m["jaw"]) == 3
    assert len({tuple(m["expr"]) for m in params}) >= 10  # it moved
