"""Live Link Face's UDP stream: one datagram per ARKit face frame -> `LiveLinkPacket`.

The iPhone app Live Link Face sends each tracked frame to port 11111 (by default) as one UDP
datagram, in network byte order (big-endian), version 6 of Unreal's face packet:

    uint8    packet version (6)
    int32    device id length L1, then L1 bytes of UTF-8 (the phone's UUID)
    int32    subject name length L2, then L2 bytes of UTF-8 (the name set in the app)
    int32    frame number        } Unreal's FQualifiedFrameTime: the frame time (a frame
    float32  sub-frame in [0, 1) } number and a fraction of a frame) and the frame rate as a
    int32    rate numerator      } fraction (60/1 for 60 fps)
    int32    rate denominator    }
    uint8    value count (61)
    61 x float32: the 52 ARKit blendshapes in Unreal's EARFaceBlendShape order, then HeadYaw,
             HeadPitch, HeadRoll, LeftEyeYaw, LeftEyePitch, LeftEyeRoll, RightEyeYaw,
             RightEyePitch, RightEyeRoll (the same angles as the CSV's columns).

So a packet has 270 bytes plus its two names. Checked against four public projects:

- Unreal Engine's AppleARKitFaceSupport (AppleARKitLiveLinkSource.cpp, in published copies of the
  engine source at packet version 5): sender and receiver write and read version, device id,
  subject, time, rate, count and the values by EARFaceBlendShape index, in network byte order;
  its packet-size constants in later versions (quoted by LLV) size the time as an
  FQualifiedFrameTime, the 16 bytes above.
- think-biq/LLV (a Python recorder and player of the stream): version 6, int32-length-prefixed
  names, the 16-byte frame time, the count, 61 floats, in this order and byte order.
- markandre13/makehuman.js-backend (a C++ receiver, src/livelink): the same fields, refusing any
  version but 6 and any count but 61.
- JimWest/PyLiveLinkFace (a Python sender and receiver): the same layout reached from the other
  side. It writes the version as a little-endian int32 followed by "$" and a UUID: the bytes
  6, 0, 0, 0, 0x24 are the version byte and the big-endian length (36) of the UUID that follows.

Wire order is not the CSV's column order: Unreal's enum lists JawLeft before JawRight and
MouthLeft before MouthRight, where Live Link Face's CSV header (and so ARKIT_NAMES) has JawRight,
JawLeft and MouthRight, MouthLeft. Values are matched by name, so `LiveLinkPacket.values` is in
the CSV reader's REQUIRED_COLUMNS order and a packet drives the rig as the same CSV row does
(`LiveLinkMapping`).

`decode_packet` is strict: anything but a well-formed version-6 packet raises one
`LiveLinkPacketError` saying what is wrong (a UDP port receives whatever anyone sends to it).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from avatar.data.arkit import canonical_name
from avatar.data.livelink import MAX_ABS_VALUE, REQUIRED_COLUMNS
from avatar.runtime.errors import InputError

PACKET_VERSION = 6
VALUE_COUNT = 61
DEFAULT_PORT = 11111
MAX_NAME_BYTES = 1024  # Unreal sizes each name at 256 characters; 4 UTF-8 bytes each at most
MIN_PACKET_BYTES = 1 + 4 + 4 + 16 + 1 + 4 * VALUE_COUNT  # both names empty: 270
MAX_PACKET_BYTES = MIN_PACKET_BYTES + 2 * MAX_NAME_BYTES

# The wire's (EARFaceBlendShape) order is the CSV's with jawRight/jawLeft and mouthRight/mouthLeft
# swapped; the reordering (columns = wire[_REORDER], wire = columns[_REORDER]) is its own inverse.
_SWAPPED = {"JawRight": "JawLeft", "JawLeft": "JawRight", "MouthRight": "MouthLeft", "MouthLeft": "MouthRight"}
WIRE_NAMES = tuple(_SWAPPED.get(name, name) for name in REQUIRED_COLUMNS)
_REORDER = np.array([REQUIRED_COLUMNS.index(name) for name in WIRE_NAMES])
_COLUMN_INDEX = {canonical_name(name).lower(): i for i, name in enumerate(REQUIRED_COLUMNS)}
_FLOATS = struct.Struct(f">{VALUE_COUNT}f")
_TIME = struct.Struct(">ifii")  # frame number, sub-frame, rate numerator, rate denominator
_INT32 = struct.Struct(">i")
_INT32_RANGE = range(-2**31, 2**31)


class LiveLinkPacketError(InputError):
    """A datagram that is no well-formed Live Link Face packet. `kind` names what is wrong (empty,
    truncated, oversized, version, device id, subject, frame time, count, values), so a receiver
    can count and report each kind once."""

    def __init__(self, kind: str, problem: str):
        self.kind = kind
        super().__init__(problem)


@dataclass(frozen=True)
class LiveLinkPacket:
    device_id: str
    subject: str
    frame: int  # frame number at `rate`
    subframe: float  # fraction of the frame, in [0, 1)
    rate: tuple[int, int]  # frames per second as numerator, denominator
    values: np.ndarray  # [61] float32 in REQUIRED_COLUMNS order (read-only)

    @property
    def fps(self) -> float:
        return self.rate[0] / self.rate[1]

    @property
    def time(self) -> float:
        """The frame time in seconds (frame number and sub-frame over the rate)."""
        return (self.frame + self.subframe) * self.rate[1] / self.rate[0]

    @property
    def blendshapes(self) -> np.ndarray:
        """[52] ARKit weights in ARKIT_NAMES order."""
        return self.values[:52]

    @property
    def head(self) -> np.ndarray:
        """[3] yaw, pitch, roll."""
        return self.values[52:55]

    @property
    def left_eye(self) -> np.ndarray:
        return self.values[55:58]

    @property
    def right_eye(self) -> np.ndarray:
        return self.values[58:61]

    def value(self, name: str) -> float:
        """One value by name in any spelling: ``JawOpen``, ``jawOpen``, ``headYaw``, ``HeadYaw``."""
        index = _COLUMN_INDEX.get(canonical_name(name).lower())
        if index is None:
            raise KeyError(f"{name!r} is none of the 61 Live Link values")
        return float(self.values[index])


class _Reader:
    """Reads fields in order; running out of bytes raises a LiveLinkPacketError naming the field."""

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, size: int, field: str) -> bytes:
        if self.at + size > len(self.data):
            raise LiveLinkPacketError("truncated", f"truncated packet ({_bytes(len(self.data))}): the {field} "
                                      f"needs {_bytes(size)} at offset {self.at}, {len(self.data) - self.at} remain")
        chunk = self.data[self.at:self.at + size]
        self.at += size
        return chunk

    def name(self, field: str) -> str:
        (length,) = _INT32.unpack(self.take(4, f"{field}'s length"))
        if not 0 <= length <= MAX_NAME_BYTES:
            raise LiveLinkPacketError(field, f"{field} length {length} is outside 0..{MAX_NAME_BYTES} bytes")
        try:
            return self.take(length, field).decode("utf-8")
        except UnicodeDecodeError:
            raise LiveLinkPacketError(field, f"{field} is not UTF-8 text") from None


def _check_time(subframe: float, numerator: int, denominator: int) -> None:
    if not (math.isfinite(subframe) and 0.0 <= subframe < 1.0):
        raise LiveLinkPacketError("frame time", f"sub-frame {subframe} is outside [0, 1)")
    if not (0 < numerator < 2**31 and 0 < denominator < 2**31):
        raise LiveLinkPacketError("frame time", f"frame rate {numerator}/{denominator} is not a fraction of "
                                  "positive 32-bit integers")


def _bytes(count: int) -> str:
    return "1 byte" if count == 1 else f"{count} bytes"


def decode_packet(data: bytes | bytearray | memoryview) -> LiveLinkPacket:
    """The packet in one datagram; LiveLinkPacketError saying what is wrong with anything else."""
    data = bytes(data)
    if not data:
        raise LiveLinkPacketError("empty", "empty packet")
    if len(data) > MAX_PACKET_BYTES:
        raise LiveLinkPacketError("oversized", f"oversized packet: {_bytes(len(data))}, a Live Link Face packet "
                                  f"has at most {MAX_PACKET_BYTES}")
    reader = _Reader(data)
    version = reader.take(1, "version")[0]
    if version != PACKET_VERSION:
        raise LiveLinkPacketError("version", f"packet version {version}, expected {PACKET_VERSION} "
                                  "(Live Link Face's ARKit stream)")
    device_id, subject = reader.name("device id"), reader.name("subject")
    frame, subframe, numerator, denominator = _TIME.unpack(reader.take(_TIME.size, "frame time"))
    _check_time(subframe, numerator, denominator)
    count = reader.take(1, "value count")[0]
    if count != VALUE_COUNT:
        raise LiveLinkPacketError("count", f"value count {count}, expected {VALUE_COUNT}")
    wire = np.array(_FLOATS.unpack(reader.take(_FLOATS.size, f"{VALUE_COUNT} values")), dtype=np.float32)
    if reader.at != len(data):
        raise LiveLinkPacketError("oversized", f"oversized packet: {_bytes(len(data) - reader.at)} after the "
                                  f"{VALUE_COUNT} values")
    bad = ~(np.isfinite(wire) & (np.abs(wire) <= MAX_ABS_VALUE))
    if bad.any():
        first = int(np.argmax(bad))
        raise LiveLinkPacketError("values", f"{WIRE_NAMES[first]} is {float(wire[first]):g}, not a finite number "
                                  f"within ±{MAX_ABS_VALUE:g}")
    values = wire[_REORDER]
    values.flags.writeable = False
    return LiveLinkPacket(device_id, subject, frame, float(subframe), (numerator, denominator), values)


def encode_packet(values: np.ndarray, device_id: str = "", subject: str = "", frame: int = 0,
                  subframe: float = 0.0, rate: tuple[int, int] = (60, 1)) -> bytes:
    """The datagram Live Link Face would send for `values` [61] in REQUIRED_COLUMNS order (tests
    and loopback senders). What `decode_packet` would refuse raises LiveLinkPacketError here."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (VALUE_COUNT,):
        raise LiveLinkPacketError("count", f"{VALUE_COUNT} values needed, got an array of shape {values.shape}")
    if frame not in _INT32_RANGE:
        raise LiveLinkPacketError("frame time", f"frame number {frame} does not fit a 32-bit integer")
    _check_time(subframe, *rate)
    names = b"".join(_INT32.pack(len(raw)) + raw for raw in (device_id.encode(), subject.encode()))
    with np.errstate(over="ignore"):  # beyond float32: inf, refused below as decode would
        wire = values[_REORDER].astype(np.float32)
    data = (bytes([PACKET_VERSION]) + names + _TIME.pack(frame, subframe, *rate) + bytes([VALUE_COUNT])
            + _FLOATS.pack(*wire.tolist()))
    decode_packet(data)
    return data
