"""QUIC frames (RFC 9000 §19, DATAGRAM from RFC 9221): what a decrypted packet carries.

A packet's payload is a sequence of frames, each starting with its type as
a variable-length integer.  Frames have no common length field, so a frame
type this module does not know ends the reading: what follows is kept as
bytes with the reason (``FrameProblem``), as Wireshark stops there too.

Error codes are named (:func:`error_name`): the transport's own (RFC 9000
§20.1), TLS alerts carried as ``CRYPTO_ERROR`` (0x0100 + alert), and, for
an application close on an HTTP/3 connection, HTTP/3's and QPACK's
(RFC 9114 §8.1, RFC 9204 §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from layerpeek.tls import names as tls_names


class Short(Exception):
    """A field runs past the end of the bytes it was read from."""


class Cursor:
    """A position in ``buf[pos:end]`` with QUIC's variable-length integers (RFC 9000 §16)."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def left(self) -> int:
        return self.end - self.pos

    def u8(self) -> int:
        if self.pos >= self.end:
            raise Short("need 1 byte, have 0")
        self.pos += 1
        return self.buf[self.pos - 1]

    def take(self, n: int, what: str = "field") -> bytes:
        if n > self.end - self.pos:
            raise Short(f"{what}: need {n} bytes, have {self.end - self.pos}")
        self.pos += n
        return self.buf[self.pos - n : self.pos]

    def varint(self, what: str = "integer") -> int:
        if self.pos >= self.end:
            raise Short(f"{what}: need 1 byte, have 0")
        first = self.buf[self.pos]
        size = 1 << (first >> 6)
        if size > self.end - self.pos:
            raise Short(f"{what}: need {size} bytes, have {self.end - self.pos}")
        value = first & 0x3F
        for i in range(1, size):
            value = (value << 8) | self.buf[self.pos + i]
        self.pos += size
        return value


# --------------------------------------------------------------------------- names

FRAME_NAMES: dict[int, str] = {
    0x00: "PADDING", 0x01: "PING", 0x02: "ACK", 0x03: "ACK", 0x04: "RESET_STREAM",
    0x05: "STOP_SENDING", 0x06: "CRYPTO", 0x07: "NEW_TOKEN",
    **{t: "STREAM" for t in range(0x08, 0x10)},
    0x10: "MAX_DATA", 0x11: "MAX_STREAM_DATA", 0x12: "MAX_STREAMS", 0x13: "MAX_STREAMS",
    0x14: "DATA_BLOCKED", 0x15: "STREAM_DATA_BLOCKED", 0x16: "STREAMS_BLOCKED",
    0x17: "STREAMS_BLOCKED", 0x18: "NEW_CONNECTION_ID", 0x19: "RETIRE_CONNECTION_ID",
    0x1A: "PATH_CHALLENGE", 0x1B: "PATH_RESPONSE", 0x1C: "CONNECTION_CLOSE",
    0x1D: "CONNECTION_CLOSE", 0x1E: "HANDSHAKE_DONE", 0x30: "DATAGRAM", 0x31: "DATAGRAM",
}  # fmt: skip

TRANSPORT_ERRORS: dict[int, str] = {
    0x00: "NO_ERROR", 0x01: "INTERNAL_ERROR", 0x02: "CONNECTION_REFUSED",
    0x03: "FLOW_CONTROL_ERROR", 0x04: "STREAM_LIMIT_ERROR", 0x05: "STREAM_STATE_ERROR",
    0x06: "FINAL_SIZE_ERROR", 0x07: "FRAME_ENCODING_ERROR", 0x08: "TRANSPORT_PARAMETER_ERROR",
    0x09: "CONNECTION_ID_LIMIT_ERROR", 0x0A: "PROTOCOL_VIOLATION", 0x0B: "INVALID_TOKEN",
    0x0C: "APPLICATION_ERROR", 0x0D: "CRYPTO_BUFFER_EXCEEDED", 0x0E: "KEY_UPDATE_ERROR",
    0x0F: "AEAD_LIMIT_REACHED", 0x10: "NO_VIABLE_PATH", 0x11: "VERSION_NEGOTIATION_ERROR",
}  # fmt: skip

H3_ERRORS: dict[int, str] = {
    0x100: "H3_NO_ERROR", 0x101: "H3_GENERAL_PROTOCOL_ERROR", 0x102: "H3_INTERNAL_ERROR",
    0x103: "H3_STREAM_CREATION_ERROR", 0x104: "H3_CLOSED_CRITICAL_STREAM",
    0x105: "H3_FRAME_UNEXPECTED", 0x106: "H3_FRAME_ERROR", 0x107: "H3_EXCESSIVE_LOAD",
    0x108: "H3_ID_ERROR", 0x109: "H3_SETTINGS_ERROR", 0x10A: "H3_MISSING_SETTINGS",
    0x10B: "H3_REQUEST_REJECTED", 0x10C: "H3_REQUEST_CANCELLED", 0x10D: "H3_REQUEST_INCOMPLETE",
    0x10E: "H3_MESSAGE_ERROR", 0x10F: "H3_CONNECT_ERROR", 0x110: "H3_VERSION_FALLBACK",
    0x200: "QPACK_DECOMPRESSION_FAILED", 0x201: "QPACK_ENCODER_STREAM_ERROR",
    0x202: "QPACK_DECODER_STREAM_ERROR",
}  # fmt: skip


def error_name(code: int, application: bool = False) -> str:
    """A transport error code's name, or an application's (HTTP/3) when ``application``."""
    if application:
        return H3_ERRORS.get(code, f"0x{code:x}")
    if 0x100 <= code <= 0x1FF:
        return f"CRYPTO_ERROR({tls_names.alert_name(code - 0x100)})"
    return TRANSPORT_ERRORS.get(code, f"0x{code:x}")


# --------------------------------------------------------------------------- frames


@dataclass(slots=True)
class Padding:
    frame_type: int
    count: int  #: PADDING bytes in a row (shown as one frame, as Wireshark does)
    name: ClassVar[str] = "PADDING"

    def summary(self) -> str:
        return f"PADDING({self.count})"


@dataclass(slots=True)
class Ping:
    frame_type: int
    name: ClassVar[str] = "PING"

    def summary(self) -> str:
        return "PING"


@dataclass(slots=True)
class Ack:
    """Acknowledged packet-number ranges, largest first (RFC 9000 §19.3)."""

    frame_type: int
    largest: int
    delay: int  #: in units of 2^ack_delay_exponent microseconds
    first_range: int
    gaps: tuple[tuple[int, int], ...]  #: (gap, length) pairs as sent
    ecn: tuple[int, int, int] | None = None  #: ECT(0), ECT(1), CE counts (type 0x03)
    name: ClassVar[str] = "ACK"

    def ranges(self) -> list[tuple[int, int]]:
        """The acknowledged packet numbers as (smallest, largest) ranges, largest first."""
        high = self.largest
        low = high - self.first_range
        out = [(low, high)]
        for gap, length in self.gaps:
            high = low - gap - 2
            low = high - length
            out.append((low, high))
        return out

    def summary(self) -> str:
        text = ",".join(f"{lo}-{hi}" if lo != hi else str(hi) for lo, hi in self.ranges())
        return f"ACK({text})"


@dataclass(slots=True)
class ResetStream:
    frame_type: int
    stream_id: int
    error_code: int
    final_size: int
    name: ClassVar[str] = "RESET_STREAM"

    def summary(self) -> str:
        return f"RESET_STREAM(id={self.stream_id} {error_name(self.error_code, True)})"


@dataclass(slots=True)
class StopSending:
    frame_type: int
    stream_id: int
    error_code: int
    name: ClassVar[str] = "STOP_SENDING"

    def summary(self) -> str:
        return f"STOP_SENDING(id={self.stream_id} {error_name(self.error_code, True)})"


@dataclass(slots=True)
class Crypto:
    """A piece of the TLS handshake at this encryption level (offset in its stream)."""

    frame_type: int
    offset: int
    data: bytes = field(repr=False)
    name: ClassVar[str] = "CRYPTO"

    def summary(self) -> str:
        return f"CRYPTO(off={self.offset} len={len(self.data)})"


@dataclass(slots=True)
class NewToken:
    frame_type: int
    token: bytes = field(repr=False)
    name: ClassVar[str] = "NEW_TOKEN"

    def summary(self) -> str:
        return f"NEW_TOKEN(len={len(self.token)})"


@dataclass(slots=True)
class Stream:
    frame_type: int
    stream_id: int
    offset: int
    data: bytes = field(repr=False)
    fin: bool
    name: ClassVar[str] = "STREAM"

    def summary(self) -> str:
        fin = " fin" if self.fin else ""
        return f"STREAM(id={self.stream_id} off={self.offset} len={len(self.data)}{fin})"


@dataclass(slots=True)
class Limit:
    """MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS and the three *_BLOCKED frames."""

    frame_type: int
    value: int  #: the limit granted, or the limit the sender is blocked at
    stream_id: int | None = None  #: MAX_STREAM_DATA, STREAM_DATA_BLOCKED

    @property
    def name(self) -> str:
        return FRAME_NAMES[self.frame_type]

    @property
    def bidirectional(self) -> bool | None:
        """MAX_STREAMS and STREAMS_BLOCKED: bidirectional (True) or unidirectional."""
        return self.frame_type in (0x12, 0x16) if self.frame_type in (0x12, 0x13, 0x16,
                                                                       0x17) else None

    def summary(self) -> str:
        sid = f"id={self.stream_id} " if self.stream_id is not None else ""
        kind = {True: "bidi ", False: "uni ", None: ""}[self.bidirectional]
        return f"{self.name}({sid}{kind}{self.value})"


@dataclass(slots=True)
class NewConnectionId:
    frame_type: int
    sequence: int
    retire_prior_to: int
    connection_id: bytes
    reset_token: bytes = field(repr=False)
    name: ClassVar[str] = "NEW_CONNECTION_ID"

    def summary(self) -> str:
        return f"NEW_CONNECTION_ID(seq={self.sequence} {self.connection_id.hex()})"


@dataclass(slots=True)
class RetireConnectionId:
    frame_type: int
    sequence: int
    name: ClassVar[str] = "RETIRE_CONNECTION_ID"

    def summary(self) -> str:
        return f"RETIRE_CONNECTION_ID(seq={self.sequence})"


@dataclass(slots=True)
class PathChallenge:
    """PATH_CHALLENGE (0x1a) or PATH_RESPONSE (0x1b), with its 8 bytes."""

    frame_type: int
    data: bytes

    @property
    def name(self) -> str:
        return FRAME_NAMES[self.frame_type]

    def summary(self) -> str:
        return f"{self.name}({self.data.hex()})"


@dataclass(slots=True)
class ConnectionClose:
    """CONNECTION_CLOSE: 0x1c for the transport (with the frame type that caused it),
    0x1d for the application."""

    frame_type: int
    error_code: int
    offending_frame: int | None
    reason: str
    name: ClassVar[str] = "CONNECTION_CLOSE"

    @property
    def application(self) -> bool:
        return self.frame_type == 0x1D

    @property
    def error(self) -> str:
        return error_name(self.error_code, self.application)

    def summary(self) -> str:
        why = f" {self.reason!r}" if self.reason else ""
        return f"CONNECTION_CLOSE({self.error}{why})"


@dataclass(slots=True)
class HandshakeDone:
    frame_type: int
    name: ClassVar[str] = "HANDSHAKE_DONE"

    def summary(self) -> str:
        return "HANDSHAKE_DONE"


@dataclass(slots=True)
class Datagram:
    frame_type: int
    data: bytes = field(repr=False)
    name: ClassVar[str] = "DATAGRAM"

    def summary(self) -> str:
        return f"DATAGRAM(len={len(self.data)})"


@dataclass(slots=True)
class FrameProblem:
    """Where reading stopped: an unknown frame type or a cut frame; the rest kept."""

    frame_type: int | None
    reason: str
    rest: bytes = field(repr=False)
    name: ClassVar[str] = "problem"

    def summary(self) -> str:
        return f"[{self.reason}]"


Frame = (
    Padding | Ping | Ack | ResetStream | StopSending | Crypto | NewToken | Stream | Limit |
    NewConnectionId | RetireConnectionId | PathChallenge | ConnectionClose | HandshakeDone |
    Datagram | FrameProblem
)


def _frame(c: Cursor, t: int) -> Frame:
    if t == 0x01:
        return Ping(t)
    if t in (0x02, 0x03):
        largest, delay = c.varint("largest acknowledged"), c.varint("ack delay")
        count, first = c.varint("ack range count"), c.varint("first ack range")
        if count > c.left():  # each range takes two bytes at least
            raise Short(f"ack range count {count} exceeds the frame")
        gaps = tuple((c.varint("gap"), c.varint("ack range")) for _ in range(count))
        ecn = (c.varint("ECT0"), c.varint("ECT1"), c.varint("CE")) if t == 0x03 else None
        return Ack(t, largest, delay, first, gaps, ecn)
    if t == 0x04:
        return ResetStream(t, c.varint("stream id"), c.varint("error code"),
                           c.varint("final size"))
    if t == 0x05:
        return StopSending(t, c.varint("stream id"), c.varint("error code"))
    if t == 0x06:
        offset = c.varint("offset")
        return Crypto(t, offset, c.take(c.varint("length"), "crypto data"))
    if t == 0x07:
        return NewToken(t, c.take(c.varint("token length"), "token"))
    if 0x08 <= t <= 0x0F:
        sid = c.varint("stream id")
        offset = c.varint("offset") if t & 0x04 else 0
        size = c.varint("length") if t & 0x02 else c.left()
        return Stream(t, sid, offset, c.take(size, "stream data"), bool(t & 0x01))
    if t in (0x11, 0x15):
        sid = c.varint("stream id")
        return Limit(t, c.varint("limit"), sid)
    if 0x10 <= t <= 0x17:
        return Limit(t, c.varint("limit"))
    if t == 0x18:
        seq, prior = c.varint("sequence"), c.varint("retire prior to")
        cid = c.take(c.u8(), "connection id")
        return NewConnectionId(t, seq, prior, cid, c.take(16, "stateless reset token"))
    if t == 0x19:
        return RetireConnectionId(t, c.varint("sequence"))
    if t in (0x1A, 0x1B):
        return PathChallenge(t, c.take(8, "path data"))
    if t in (0x1C, 0x1D):
        code = c.varint("error code")
        offending = c.varint("frame type") if t == 0x1C else None
        reason = c.take(c.varint("reason length"), "reason").decode("utf-8", "replace")
        return ConnectionClose(t, code, offending, reason)
    if t == 0x1E:
        return HandshakeDone(t)
    if t in (0x30, 0x31):
        size = c.varint("length") if t == 0x31 else c.left()
        return Datagram(t, c.take(size, "datagram data"))
    raise KeyError(t)


def parse_frames(payload: bytes) -> tuple[Frame, ...]:
    """Every frame of a decrypted payload; a FrameProblem last if reading had to stop."""
    out: list[Frame] = []
    c = Cursor(payload)
    n = len(payload)
    while c.pos < n:
        at = c.pos
        if payload[at] == 0:  # a run of PADDING: one frame
            pos = at
            while pos < n and payload[pos] == 0:
                pos += 1
            out.append(Padding(0, pos - at))
            c.pos = pos
            continue
        t: int | None = None
        try:
            t = c.varint("frame type")
            out.append(_frame(c, t))
        except Short as e:
            name = FRAME_NAMES.get(t, "frame") if t is not None else "frame"
            out.append(FrameProblem(t, f"{name} cut short: {e}", payload[at:]))
            break
        except KeyError:
            out.append(FrameProblem(t, f"unknown frame type 0x{t:x}: the rest is not read",
                                    payload[at:]))
            break
    return tuple(out)


def frame_summary(frames: tuple[Frame, ...]) -> str:
    """``PADDING(1000), CRYPTO(off=0 len=280)``: every frame, in order."""
    return ", ".join(f.summary() for f in frames)
