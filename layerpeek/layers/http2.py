"""HTTP/2 frames: RFC 9113 (HPACK header compression: RFC 7541).

Every frame starts with the same nine bytes (RFC 9113 §4.1)::

    +-----------------------------------------------+
    |                 Length (24)                   |
    +---------------+---------------+---------------+
    |   Type (8)    |   Flags (8)   |
    +-+-------------+---------------+-------------------------------+
    |R|                 Stream Identifier (31)                      |
    +=+=============================================================+
    |                   Frame Payload (0...)                      ...
    +---------------------------------------------------------------+

and a client opens the connection with the 24-byte preface
``PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n`` (§3.4) before its first frame.

This module is the wire format only: the constants, one dataclass per frame
type, and :func:`decode_payload`, a pure function from a frame's header and
payload bytes to its record.  It never raises: a payload that breaks its
type's rules (a PING that is not 8 bytes, padding longer than the frame, a
DATA frame on stream 0) becomes a :class:`MalformedFrame` that says why,
and since the frame's length is known the frames after it are still read.
Unknown frame types are kept raw (§5.5: they must be ignored, not refused).

Frames do not follow TCP segments (one segment may hold many frames, one
frame many segments), and a header block can only be decompressed with the
dynamic table built by every block before it in the same direction, so
frames are read from reassembled streams by :mod:`layerpeek.http2`, which
fills in each block's decoded ``headers``.  :class:`HTTP2` is the per-packet
layer ``dump`` shows: the frames that a segment completed, as Wireshark shows
a reassembled PDU on its last segment.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import ClassVar

from layerpeek.packet import Layer

#: The client connection preface (RFC 9113 §3.4), Wireshark's "Magic".
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: Bytes of the frame header.
FRAME_HEADER_LEN = 9
#: SETTINGS_MAX_FRAME_SIZE until the receiver announces a larger one (§6.5.2).
DEFAULT_MAX_FRAME_SIZE = 16_384

_HEADER = struct.Struct("!BHBBI")  # length as 8 + 16 bits, type, flags, R + stream id
_U32 = struct.Struct("!I")
_U32X2 = struct.Struct("!II")
_PRIORITY = struct.Struct("!IB")
_SETTING = struct.Struct("!HI")

HeaderList = tuple[tuple[str, str], ...]


class FrameType(IntEnum):
    """Frame types of RFC 9113 §6 (Wireshark's ``http2.type``)."""

    DATA = 0x0
    HEADERS = 0x1
    PRIORITY = 0x2
    RST_STREAM = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    PING = 0x6
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8
    CONTINUATION = 0x9


class FrameFlags(IntFlag):
    """Flag bits; their meaning depends on the type (ACK shares END_STREAM's bit)."""

    END_STREAM = 0x01  #: DATA, HEADERS; ACK on SETTINGS and PING
    END_HEADERS = 0x04  #: HEADERS, PUSH_PROMISE, CONTINUATION
    PADDED = 0x08  #: DATA, HEADERS, PUSH_PROMISE
    PRIORITY = 0x20  #: HEADERS


ACK = 0x01  #: the flag bit of a SETTINGS or PING acknowledgement


class ErrorCode(IntEnum):
    """RST_STREAM and GOAWAY error codes (RFC 9113 §7)."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


class SettingId(IntEnum):
    """SETTINGS parameters (RFC 9113 §6.5.2, RFC 8441, RFC 9218)."""

    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6
    ENABLE_CONNECT_PROTOCOL = 0x8
    NO_RFC7540_PRIORITIES = 0x9


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class Priority:
    """A stream dependency (HEADERS with the PRIORITY flag, or a PRIORITY frame)."""

    exclusive: bool
    depends_on: int  #: the stream this one depends on
    weight: int  #: the raw byte: the weight is ``weight + 1`` (1-256)


@dataclass(slots=True)
class Setting:
    """One SETTINGS parameter; ``id`` names through :class:`SettingId`."""

    id: int
    value: int


@dataclass(slots=True)
class HTTP2Frame:
    """What every frame has: the nine-byte header (the payload is in the subclasses)."""

    type: int  #: :class:`FrameType`, raw (unknown types are kept)
    flags: int  #: :class:`FrameFlags` bits as sent
    stream_id: int  #: 0 for the connection itself
    length: int  #: payload length from the header, padding included


@dataclass(slots=True)
class DataFrame(HTTP2Frame):
    """DATA (§6.1): message body bytes of one stream."""

    data: bytes = field(default=b"", repr=False)  #: padding removed
    pad_length: int = 0

    @property
    def end_stream(self) -> bool:
        return bool(self.flags & FrameFlags.END_STREAM)


@dataclass(slots=True)
class HeadersFrame(HTTP2Frame):
    """HEADERS (§6.2): opens a stream and carries (the start of) a header block."""

    pad_length: int = 0
    priority: Priority | None = None
    fragment: bytes = field(default=b"", repr=False)  #: the HPACK-encoded block fragment
    #: the decoded header list when this frame ends its block (END_HEADERS), else None
    headers: HeaderList | None = None

    @property
    def end_stream(self) -> bool:
        return bool(self.flags & FrameFlags.END_STREAM)


@dataclass(slots=True)
class PriorityFrame(HTTP2Frame):
    """PRIORITY (§6.3, deprecated by RFC 9113 but still sent)."""

    priority: Priority | None = None


@dataclass(slots=True)
class RstStreamFrame(HTTP2Frame):
    """RST_STREAM (§6.4): the stream is abandoned."""

    error_code: int = 0  #: :class:`ErrorCode`


@dataclass(slots=True)
class SettingsFrame(HTTP2Frame):
    """SETTINGS (§6.5): the sender's parameters, or (ACK) the receipt of the peer's."""

    settings: tuple[Setting, ...] = ()

    @property
    def ack(self) -> bool:
        return bool(self.flags & ACK)


@dataclass(slots=True)
class PushPromiseFrame(HTTP2Frame):
    """PUSH_PROMISE (§6.6): the server announces a response to a request it made up."""

    pad_length: int = 0
    promised_stream_id: int = 0
    fragment: bytes = field(default=b"", repr=False)
    headers: HeaderList | None = None  #: the promised request's header list (END_HEADERS)


@dataclass(slots=True)
class PingFrame(HTTP2Frame):
    """PING (§6.7): eight opaque bytes, echoed with ACK."""

    opaque: bytes = b""

    @property
    def ack(self) -> bool:
        return bool(self.flags & ACK)


@dataclass(slots=True)
class GoAwayFrame(HTTP2Frame):
    """GOAWAY (§6.8): no stream above ``last_stream_id`` was or will be processed."""

    last_stream_id: int = 0
    error_code: int = 0
    debug_data: bytes = b""


@dataclass(slots=True)
class WindowUpdateFrame(HTTP2Frame):
    """WINDOW_UPDATE (§6.9): flow-control credit for a stream (or the connection, stream 0)."""

    increment: int = 0


@dataclass(slots=True)
class ContinuationFrame(HTTP2Frame):
    """CONTINUATION (§6.10): more of the header block a HEADERS or PUSH_PROMISE began."""

    fragment: bytes = field(default=b"", repr=False)
    headers: HeaderList | None = None  #: the decoded header list when this frame ends the block


@dataclass(slots=True)
class UnknownFrame(HTTP2Frame):
    """A frame type RFC 9113 does not define (extensions): kept raw, ignored (§5.5)."""

    payload: bytes = field(default=b"", repr=False)


@dataclass(slots=True)
class MalformedFrame(HTTP2Frame):
    """A frame whose payload breaks its type's rules; ``reason`` says which."""

    reason: str = ""
    payload: bytes = field(default=b"", repr=False)


# --------------------------------------------------------------------------- decoding


def frame_header(buf: bytes | bytearray, pos: int) -> tuple[int, int, int, int]:
    """``(length, type, flags, stream_id)`` of the frame header at ``pos`` (9 bytes needed)."""
    high, low, ftype, flags, stream = _HEADER.unpack_from(buf, pos)
    return (high << 16) | low, ftype, flags, stream & 0x7FFF_FFFF


def _unpad(
    ftype: int, flags: int, stream: int, length: int, buf: bytes | bytearray, start: int, end: int
) -> tuple[int, int, int] | MalformedFrame:
    """Strip the padding of a PADDED frame: ``(pad_length, start, end)`` of what is left."""
    if not flags & FrameFlags.PADDED:
        return 0, start, end
    if end - start < 1:
        return MalformedFrame(ftype, flags, stream, length, "PADDED frame without a Pad Length",
                              bytes(buf[start:end]))
    pad = buf[start]
    if pad > end - start - 1:
        return MalformedFrame(ftype, flags, stream, length,
                              f"padding {pad} longer than the payload ({length} bytes)",
                              bytes(buf[start:end]))
    return pad, start + 1, end - pad


def _priority(buf: bytes | bytearray, pos: int) -> Priority:
    dep, weight = _PRIORITY.unpack_from(buf, pos)
    return Priority(bool(dep >> 31), dep & 0x7FFF_FFFF, weight)


#: Types that belong to a stream (must not use stream 0) and to the connection (only 0).
_ON_STREAM = frozenset({FrameType.DATA, FrameType.HEADERS, FrameType.PRIORITY,
                        FrameType.RST_STREAM, FrameType.PUSH_PROMISE, FrameType.CONTINUATION})
_ON_CONNECTION = frozenset({FrameType.SETTINGS, FrameType.PING, FrameType.GOAWAY})
#: Fixed payload lengths (§6.3, §6.4, §6.7, §6.9).
_FIXED = {FrameType.PRIORITY: 5, FrameType.RST_STREAM: 4, FrameType.PING: 8,
          FrameType.WINDOW_UPDATE: 4}


def decode_payload(
    ftype: int, flags: int, stream: int, buf: bytes | bytearray, start: int, end: int
) -> HTTP2Frame:
    """The frame record for a header ``(ftype, flags, stream)`` and payload ``buf[start:end]``.

    Pure and total: never raises, whatever the bytes.  ``end - start`` is
    taken as the frame's length (the caller has read the whole frame).
    """
    length = end - start
    name = FrameType(ftype).name if ftype in _NAMES else ""
    if name:
        if ftype in _ON_STREAM and stream == 0:
            return MalformedFrame(ftype, flags, stream, length, f"{name} frame on stream 0",
                                  bytes(buf[start:end]))
        if ftype in _ON_CONNECTION and stream != 0:
            return MalformedFrame(ftype, flags, stream, length,
                                  f"{name} frame on stream {stream} (only stream 0 allowed)",
                                  bytes(buf[start:end]))
        fixed = _FIXED.get(FrameType(ftype))
        if fixed is not None and length != fixed:
            return MalformedFrame(ftype, flags, stream, length,
                                  f"{name} payload is {length} bytes, not {fixed}",
                                  bytes(buf[start:end]))
    if ftype == FrameType.DATA:
        cut = _unpad(ftype, flags, stream, length, buf, start, end)
        if isinstance(cut, MalformedFrame):
            return cut
        pad, s, e = cut
        return DataFrame(ftype, flags, stream, length, bytes(buf[s:e]), pad)
    if ftype == FrameType.HEADERS:
        cut = _unpad(ftype, flags, stream, length, buf, start, end)
        if isinstance(cut, MalformedFrame):
            return cut
        pad, s, e = cut
        priority = None
        if flags & FrameFlags.PRIORITY:
            if e - s < 5:
                return MalformedFrame(ftype, flags, stream, length,
                                      "HEADERS with PRIORITY shorter than 5 bytes",
                                      bytes(buf[start:end]))
            priority = _priority(buf, s)
            s += 5
        return HeadersFrame(ftype, flags, stream, length, pad, priority, bytes(buf[s:e]))
    if ftype == FrameType.PRIORITY:
        return PriorityFrame(ftype, flags, stream, length, _priority(buf, start))
    if ftype == FrameType.RST_STREAM:
        return RstStreamFrame(ftype, flags, stream, length, _U32.unpack_from(buf, start)[0])
    if ftype == FrameType.SETTINGS:
        if flags & ACK and length:
            return MalformedFrame(ftype, flags, stream, length,
                                  f"SETTINGS ACK with a {length}-byte payload",
                                  bytes(buf[start:end]))
        if length % 6:
            return MalformedFrame(ftype, flags, stream, length,
                                  f"SETTINGS payload of {length} bytes is not a multiple of 6",
                                  bytes(buf[start:end]))
        settings = tuple(Setting(*_SETTING.unpack_from(buf, p)) for p in range(start, end, 6))
        return SettingsFrame(ftype, flags, stream, length, settings)
    if ftype == FrameType.PUSH_PROMISE:
        cut = _unpad(ftype, flags, stream, length, buf, start, end)
        if isinstance(cut, MalformedFrame):
            return cut
        pad, s, e = cut
        if e - s < 4:
            return MalformedFrame(ftype, flags, stream, length,
                                  "PUSH_PROMISE without a Promised Stream ID",
                                  bytes(buf[start:end]))
        promised = _U32.unpack_from(buf, s)[0] & 0x7FFF_FFFF
        return PushPromiseFrame(ftype, flags, stream, length, pad, promised, bytes(buf[s + 4:e]))
    if ftype == FrameType.PING:
        return PingFrame(ftype, flags, stream, length, bytes(buf[start:end]))
    if ftype == FrameType.GOAWAY:
        if length < 8:
            return MalformedFrame(ftype, flags, stream, length,
                                  f"GOAWAY payload is {length} bytes, less than 8",
                                  bytes(buf[start:end]))
        last, code = _U32X2.unpack_from(buf, start)
        return GoAwayFrame(ftype, flags, stream, length, last & 0x7FFF_FFFF, code,
                           bytes(buf[start + 8:end]))
    if ftype == FrameType.WINDOW_UPDATE:
        increment = _U32.unpack_from(buf, start)[0] & 0x7FFF_FFFF
        if increment == 0:
            return MalformedFrame(ftype, flags, stream, length,
                                  "WINDOW_UPDATE increment of 0 (RFC 9113 §6.9)",
                                  bytes(buf[start:end]))
        return WindowUpdateFrame(ftype, flags, stream, length, increment)
    if ftype == FrameType.CONTINUATION:
        return ContinuationFrame(ftype, flags, stream, length, bytes(buf[start:end]))
    return UnknownFrame(ftype, flags, stream, length, bytes(buf[start:end]))


_NAMES = frozenset(int(t) for t in FrameType)


def type_name(ftype: int) -> str:
    """``"HEADERS"``, or ``"0x0a"`` for a type RFC 9113 does not define."""
    return FrameType(ftype).name if ftype in _NAMES else f"0x{ftype:02x}"


def block_headers(frame: HTTP2Frame) -> HeaderList | None:
    """The decoded header list a frame carries (HEADERS, PUSH_PROMISE, CONTINUATION)."""
    if isinstance(frame, (HeadersFrame, PushPromiseFrame, ContinuationFrame)):
        return frame.headers
    return None


# --------------------------------------------------------------------------- the layer


@dataclass(slots=True)
class HTTP2(Layer):
    """The HTTP/2 frames a TCP segment completed (and the preface, if it ended here).

    Filled in by the conversation stage (:mod:`layerpeek.http2.packets`),
    which reads each direction's reassembled stream: a frame is listed on
    the segment that carried its last byte, its header list decoded with the
    connection's HPACK state.
    """

    name: ClassVar[str] = "http2"
    short: ClassVar[str] = "http2"
    title: ClassVar[str] = "HyperText Transfer Protocol 2"
    magic: bool  #: the client connection preface ended in this segment
    frames: tuple[HTTP2Frame, ...]
    #: bytes of a frame that continues in a later segment (shown there)
    pending: int = 0
    #: what went wrong reading this part of the stream (the direction stops being read)
    problem: str = ""

    def summary(self) -> str:
        """``HEADERS stream 1 GET /index.html``; several frames joined by ", "."""
        from layerpeek.render.http2 import layer_summary

        return layer_summary(self)
