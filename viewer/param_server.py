"""`ParamServer`: `avatar view --serve PORT` publishes the rig parameters of every frame the window
shows over a WebSocket, so that another device (a web player on a phone in the same network)
can drive its own copy of the avatar. The message format is in docs/formats.md.

The server is `websockets`' asyncio server on its own thread with its own event loop. The window's
thread only calls `publish(params)`: it stores the parameters as they are (no conversion, no
JSON) and, unless a wake-up is already pending, schedules one on the server's loop, so it costs
microseconds and never waits on the network. The server's thread encodes the newest parameters
once and offers the message to every client's one-message slot: a client whose slot still holds
an unsent message (it reads slower than the frames come, or not at all) has that message
replaced and counted as dropped, so a slow client never blocks the viewer nor grows a queue
(at most one pending message, plus the connection's bounded write buffer).

No authentication, no TLS: anyone who can reach the port reads the parameters (bind a trusted
network, or --serve-host 127.0.0.1 behind a tunnel). What clients send is read and discarded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from avatar.rig import HeadRig, RigParams
from avatar.runtime.errors import InputError
from viewer.worker import Worker

log = logging.getLogger("avatar")
# websockets' own messages: its warnings and errors only (connections are logged below, with the count).
_library_log = logging.getLogger("avatar.serve")
_library_log.setLevel(logging.WARNING)
PROTOCOL_VERSION = 1
FRAME_KEYS = ("expr", "jaw", "neck", "rotation", "eyes", "translation")  # per-frame keys of a params message
DECIMALS = 5  # values are rounded to this many decimals: small messages, far below what a render shows
MAX_INCOMING_BYTES = 4096  # clients have nothing to say; a bigger message closes their connection
CLOSE_TIMEOUT_S = 1.0  # shutdown waits at most this long for a client to acknowledge the close


class ServeError(InputError):
    """--serve cannot listen where asked (the port is taken, the host is not an address here)."""


def rounded(values: np.ndarray | torch.Tensor) -> list:
    """A flat list of floats rounded to DECIMALS; a value that is not finite becomes None (JSON's
    null: JSON has no NaN or infinity, and browsers' JSON.parse refuses them)."""
    array = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, dtype=np.float64)
    out = np.round(array.reshape(-1), DECIMALS).tolist()
    if not np.isfinite(array).all():
        out = [v if math.isfinite(v) else None for v in out]
    return out


def hello_message(rig: HeadRig, identity_shape: torch.Tensor, fps: float | None) -> dict:
    """What a client is told on connecting: the rig the parameters are for."""
    names = list(rig.expr_names) if rig.expr_names else None
    return {"type": "hello", "version": PROTOCOL_VERSION, "rig": rig.name, "expr_names": names,
            "num_expr": rig.num_expr, "num_shape": rig.num_shape,
            "fps": float(fps) if fps else None, "identity_shape": rounded(identity_shape), "keys": list(FRAME_KEYS)}


def params_message(frame: int, t: float, params: RigParams) -> str:
    """The JSON text of one frame's `params` message (params: [1])."""
    doc = {"type": "params", "frame": frame, "t": round(t, DECIMALS)}
    for key in FRAME_KEYS:
        doc[key] = rounded(getattr(params, key)[0])
    return json.dumps(doc, separators=(",", ":"))


@dataclass(eq=False)  # compared and hashed by identity: kept in a set
class _Client:
    """One connection's newest-only slot; lives on the server's loop."""
    pending: str | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    offered: int = -1  # frame number of the newest message offered (each frame is offered once)
    sent: int = 0
    dropped: int = 0

    def offer(self, frame: int, message: str) -> None:
        if frame <= self.offered:
            return
        if self.pending is not None:
            self.dropped += 1
        self.pending, self.offered = message, frame
        self.ready.set()


class ParamServer(Worker):
    """Binds host:port on construction (a port in use is a `ServeError` here, before any window);
    `start()` serves, `publish()` hands over each shown frame's parameters, `stop()` closes every
    connection and joins the thread. `port` is the bound port (the system's pick for port 0)."""

    def __init__(self, port: int, hello: dict, host: str = "0.0.0.0"):
        try:  # imported where it is used: `avatar view` without --serve does not need it
            import websockets.asyncio.server  # noqa: F401
        except ImportError:
            raise ServeError("--serve needs the websockets package: pip install websockets "
                             '(or the viewer extra: pip install --no-build-isolation -e ".[viewer]")') from None
        self._socket = _listen(host, port)
        self.host, self.port = host, self._socket.getsockname()[1]
        super().__init__(f"serve {self.port}", join_timeout=CLOSE_TIMEOUT_S + 2.0)
        self._hello = json.dumps(hello, separators=(",", ":"))
        self._started = time.perf_counter()
        self._latest: tuple[int, float, RigParams] | None = None  # written by publish(), read by the loop
        self._published = 0
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_stop: asyncio.Event | None = None
        self._clients: set[_Client] = set()
        self.clients_seen = 0
        self.superseded = 0  # published frames a newer one replaced before the server thread encoded them
        self._sent_closed = self._dropped_closed = 0  # counts of connections that ended
        self._encoded = -1  # frame number of the newest message offered to the clients

    # ---- the window's thread ----------------------------------------------------------------------

    def publish(self, params: RigParams) -> None:
        """The parameters [1] of a frame just shown. Never waits: stores them and, unless a
        wake-up is already pending, schedules one on the server's loop."""
        self._latest = (self._published, time.perf_counter() - self._started, params)
        self._published += 1
        loop = self._loop
        if loop is not None and not self._wake_pending:
            self._wake_pending = True
            try:
                loop.call_soon_threadsafe(self._broadcast)
            except RuntimeError:  # the loop closed (stop(), or the thread failed)
                pass

    def counts(self) -> dict:
        """The stats JSON's `serve` block."""
        clients = list(self._clients)
        return {"host": self.host, "port": self.port, "clients_seen": self.clients_seen, "clients_now": len(clients),
                "published": self._published, "sent": self._sent_closed + sum(c.sent for c in clients),
                "dropped": self._dropped_closed + sum(c.dropped for c in clients), "superseded": self.superseded,
                "error": self.error}

    def stop(self) -> None:
        self._stop.set()  # first: either _serve sees it, or the loop it set is seen here
        loop, stop = self._loop, self._loop_stop
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop already closed
                pass
        super().stop()
        self._socket.close()  # never served (not started), or already closed by the server

    # ---- the server's thread ----------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve

        self._loop_stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._stop.is_set():  # stop() came before the loop could be told
            return
        # compression=None: the messages are small, and per-message deflate would cost CPU for
        # every client on the cores the viewer renders with (and a compressor's memory each).
        async with serve(self._handle, sock=self._socket, compression=None, max_size=MAX_INCOMING_BYTES,
                         close_timeout=CLOSE_TIMEOUT_S, logger=_library_log):
            log.info("serving the driven parameters on ws://%s:%d", self.host, self.port)
            await self._loop_stop.wait()
        self._loop = None

    def _broadcast(self) -> None:
        """On the loop: the newest published frame to every client (encoded once)."""
        self._wake_pending = False  # before reading _latest: a publish() after this schedules again
        latest = self._latest
        if latest is None or latest[0] == self._encoded:
            return
        if self._encoded >= 0 and self._clients:
            self.superseded += latest[0] - self._encoded - 1
        self._encoded = latest[0]
        if not self._clients:
            return
        message = params_message(*latest)
        for client in self._clients:
            client.offer(latest[0], message)

    async def _handle(self, connection) -> None:
        from websockets.exceptions import ConnectionClosed

        client = _Client()
        self.clients_seen += 1
        sender = None
        try:
            await connection.send(self._hello)
            latest = self._latest
            if latest is not None:  # the pose on screen now, also for an avatar that stays still
                client.offer(latest[0], params_message(*latest))
            self._clients.add(client)
            log.info("--serve: %s connected (%d client%s)", _address(connection), len(self._clients),
                     "" if len(self._clients) == 1 else "s")
            sender = asyncio.create_task(self._send(connection, client))
            async for _ in connection:  # what clients send is discarded (reading it keeps pings and closes flowing)
                pass
        except ConnectionClosed:
            pass
        finally:
            if client in self._clients:
                log.info("--serve: %s left", _address(connection))
            self._clients.discard(client)
            if sender is not None:
                sender.cancel()
            self._sent_closed += client.sent
            self._dropped_closed += client.dropped

    @staticmethod
    async def _send(connection, client: _Client) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                await client.ready.wait()
                client.ready.clear()
                message, client.pending = client.pending, None
                if message is not None:
                    await connection.send(message)  # waits while the client's write buffer is full
                    client.sent += 1
        except ConnectionClosed:
            pass


def _address(connection) -> str:
    try:
        host, port = connection.remote_address[:2]
        return f"{host}:{port}"
    except (TypeError, ValueError, OSError):
        return "a client"


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, or a ServeError saying why not."""
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise ServeError(f"--serve: cannot listen on {where} ({e.strerror or e})") from None
    try:
        # SO_REUSEADDR: a restarted viewer can take the port back at once (connections of the last
        # run may still be in TIME_WAIT); on Linux it does not let two servers listen on one port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(16)
    except OSError as e:
        sock.close()
        raise ServeError(f"--serve {port}: cannot listen on TCP port {port} of {host} ({e.strerror or e})") from None
    sock.setblocking(False)
    return sock
