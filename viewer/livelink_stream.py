"""`LiveLinkStream`: the avatar driven by Live Link Face's UDP stream (`--source livelink:PORT`).

A daemon thread receives the iPhone's datagrams on 0.0.0.0:PORT, decodes them
(avatar.data.livelink_packet), maps each one to rig parameters the way a Live Link CSV row is
mapped (`LiveLinkMapping`, with the avatar's identity) and puts the sample into a `LatestSlot`: the
viewer only ever takes the newest one. A packet whose frame time is older than the newest seen
arrived out of order and is dropped; one far older means the sender's clock went back (its
timecode passed midnight, or it restarted on another clock) and starts the ordering afresh.
Malformed datagrams are counted and logged once per kind (again at most every WARN_EVERY_S),
never fatal: anything on the network can send to the port.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import torch

from avatar.data.livelink import DEFAULT_FPS, LiveLinkMapping, arkit_expression_matrix, default_jaw_from_jawopen
from avatar.data.livelink_packet import MAX_PACKET_BYTES, LiveLinkPacket, LiveLinkPacketError, decode_packet
from avatar.model import ClampTally, ExpressionRange
from avatar.rig import HeadRig
from avatar.rig.torso import SlowTorso
from viewer.drivers import DrivenSample
from viewer.latest import LatestSlot
from viewer.sources import SourceError
from viewer.worker import Worker

log = logging.getLogger("avatar")
POLL_S = 0.1  # the receive timeout: how soon stop() is noticed
# A packet more than this far behind the newest is a new timeline, not a late packet (a LAN
# reorders by milliseconds).
RESYNC_S = 1.0
WARN_EVERY_S = 30.0  # a malformed kind already warned about is warned about again at most this often


class LiveLinkStream(Worker):
    """Driver interface of `ExpressionPlayer` / `LiveDriver`: start, stop, latest, ended, status,
    name; `port` is the bound port (the one asked for, or the system's pick for port 0)."""

    def __init__(
        self,
        port: int,
        rig: HeadRig,
        identity_shape: torch.Tensor,
        host: str = "0.0.0.0",
        learned: ExpressionRange | None = None,
        arkit_map: str | Path | None = None,
    ):
        """learned: the expressions the avatar learned; every sample is kept inside them.
        arkit_map: the .npz mapping ARKit's 52 weights onto the rig's expressions (`--arkit-map`,
        read by `load_arkit_map` as for a Live Link CSV); None: by name, which a rig without
        ARKit-named expressions (FLAME) refuses with an error naming the flag."""
        # The matrix first: a rig whose expressions cannot take ARKit names, or a bad map, fails
        # before the port is taken.
        matrix = arkit_expression_matrix(rig, f"livelink:{port}", arkit_map)  # [E, 52]
        self._mapping = LiveLinkMapping(matrix, rig.num_shape, default_jaw_from_jawopen(rig))
        self._identity = identity_shape.float().clone()  # [S] the avatar's own shape in every sample
        self._learned = learned
        self._torso = SlowTorso()  # the head's turns shared with the neck, as the avatar was trained
        self.clamps = ClampTally()  # what the training range did to the samples
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._socket.bind((host, port))
        except OSError as e:
            self._socket.close()
            raise SourceError(
                f"--source livelink:{port}: cannot listen on UDP port {port} ({e.strerror or e})"
            ) from None
        self._socket.settimeout(POLL_S)
        self.port = self._socket.getsockname()[1]
        super().__init__(f"livelink {self.port}", join_timeout=2.0)
        self.name = f"Live Link Face, UDP port {self.port}"
        self.fps = DEFAULT_FPS  # the phone's rate once a packet tells it (the viewer's frame budget)
        self.samples: LatestSlot[DrivenSample] = LatestSlot()
        self._ended = threading.Event()
        self.received = self.malformed = self.out_of_order = self.resyncs = 0
        self._taken = 0  # packets that became samples
        self.last: LiveLinkPacket | None = None  # the newest packet taken
        self._warned_at: dict[str, float] = {}  # malformed kind -> when it was last logged
        self._unwarned: dict[str, int] = {}  # malformed kind -> how many since then

    @property
    def ended(self) -> bool:
        """True once the receiving thread has stopped (stop(), or an error shown in `status`)."""
        return self._ended.is_set()

    @property
    def status(self) -> str:
        if self.error:
            return f"error: {self.error}"
        counts = (
            f"{self.received} packets, {self.malformed} malformed, {self.out_of_order} out of order, "
            f"{self.samples.dropped} dropped"
        )
        if self.last is None:
            return f"listening on UDP port {self.port}: no Live Link Face packets yet ({counts})"
        return f"{self.last.subject or 'unnamed subject'} at {self.fps:g} fps, frame {self.last.frame}: {counts}"

    def counts(self) -> dict:
        """The packet counts and the sender, for the stats JSON."""
        return {
            "port": self.port,
            "received": self.received,
            "malformed": self.malformed,
            "out_of_order": self.out_of_order,
            "dropped": self.samples.dropped,
            "resyncs": self.resyncs,
            "kept_in_training_range": self.clamps.frames_clamped if self._learned is not None else None,
            "subject": self.last.subject if self.last else None,
            "device_id": self.last.device_id if self.last else None,
            "fps": self.fps if self.last else None,
        }

    def clamp_stats(self) -> dict | None:
        """How often the avatar's training range moved a sample's expressions (None: no range)."""
        if self._learned is None:
            return None
        return self.clamps.as_dict()

    def stop(self) -> None:
        super().stop()
        if self._thread.ident is None:  # never started: no `_finished` to close the socket
            self._finished()

    def notify(self, event: threading.Event) -> None:
        """Set `event` whenever a new sample is ready."""
        self.samples.notify(event)

    def latest(self) -> DrivenSample | None:
        _, sample = self.samples.newest()
        return sample

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self._socket.recvfrom(MAX_PACKET_BYTES + 1)  # one more: oversized shows as such
            except TimeoutError:
                continue
            self._take(data, sender[0], time.perf_counter())
            self.received += 1  # after the packet is handled: whoever sees the count sees its effect

    def _take(self, data: bytes, sender: str, received_at: float) -> None:
        """Decode, order and map one datagram; the newest in-order packet becomes the sample."""
        try:
            packet = decode_packet(data)
        except LiveLinkPacketError as e:
            self.malformed += 1
            self._warn(e, sender)
            return
        if not self._in_order(packet):
            self.out_of_order += 1
            return
        params = self._torso(self._mapping.params(packet.values[None]), packet.time)  # [1]
        if self._learned is not None:
            params, report = self._learned.onto(params)  # ARKit weights: relative to the user's rest pose
            self.clamps.add(report)
        params.shape = self._identity
        self.last, self.fps = packet, packet.fps
        # source_frame counts samples: each new one is a new frame for the renderer and the stats,
        # also where the phone sends a frame number twice
        self.samples.put(DrivenSample(params, self._taken, received_at))
        self._taken += 1

    def _in_order(self, packet: LiveLinkPacket) -> bool:
        """False for a packet older than the newest taken; a far older one restarts the ordering.
        Equal frame times pass: the newest packet of a frame replaces the one before it."""
        if self.last is None or packet.time >= self.last.time:
            return True
        if self.last.time - packet.time > RESYNC_S:
            self.resyncs += 1
            self._torso.reset()
            return True
        return False

    def _warn(self, error: LiveLinkPacketError, sender: str) -> None:
        """Log the first malformed packet of each kind, then at most one per WARN_EVERY_S with how
        many of that kind went unlogged since."""
        now = time.monotonic()
        last = self._warned_at.get(error.kind)
        if last is not None and now - last < WARN_EVERY_S:
            self._unwarned[error.kind] = self._unwarned.get(error.kind, 0) + 1
            return
        more = self._unwarned.pop(error.kind, 0)
        since = f" ({more} more of this kind since the last warning)" if more else ""
        log.warning("%s: ignored a malformed packet from %s: %s%s", self.name, sender, error, since)
        self._warned_at[error.kind] = now

    def _finished(self) -> None:
        self._socket.close()
        self.samples.close()
        self._ended.set()
