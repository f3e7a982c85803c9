"""Reading one HTTP/2 connection's frames from its two reassembled byte streams (sans-IO).

Theory of operation
===================

:class:`HTTP2Connection` is fed what each endpoint sent, in stream order,
as the TCP reassembler delivers it (``feed(direction, data, frames, ts)``),
told about holes the capture never saw (``gap``), and returns what it read:
:class:`PrefaceRead`, one :class:`FrameRead` per frame, and
:class:`ReadStopped` when a direction can no longer be read.  Nothing is
read from files or clocks, nothing raises on bad input.

Each direction is a small state machine::

    PREFACE (client only: 24 bytes) ──▶ HEADER (9 bytes) ──▶ PAYLOAD (length bytes) ──▶ HEADER …
                                                 │
                     framing lost (bad preface, a gap over a frame header) ──▶ STOPPED

* Frame payloads are buffered whole, except DATA payloads, which go
  straight into the frame's data as they arrive (a large body is not
  copied twice).  The buffer is therefore bounded by the largest frame the
  protocol allows, 2^24 - 1 bytes, whatever the peer sends.
* A header block (HEADERS or PUSH_PROMISE, then CONTINUATION frames until
  END_HEADERS) is decompressed when it is whole, with that direction's HPACK
  decoder (the ``hpack`` package): the dynamic table is per direction and
  changes with every block, so blocks must be decoded in order, none
  skipped.  The decoded list goes on the frame that ended the block and on
  a :class:`HeaderBlock` in its :class:`FrameRead`.  Decoded header lists
  are capped (:data:`MAX_HEADER_LIST`, counted as HPACK counts them) and so
  are compressed blocks (:data:`MAX_BLOCK`).
* A block that cannot be decoded (HPACK error, a block over the cap, a
  block interrupted by another frame or by a gap) leaves the dynamic table
  in an unknown state: every later block of that direction is then left
  undecoded (``headers=None``) and says why.  The frames themselves are
  still read: the framing does not depend on HPACK.
* A gap inside a frame's payload skips those bytes (a DATA frame then
  reports them as ``missing``, never zero-filled; any other frame is lost
  and, if it carried a header block, so is the HPACK state); a gap that
  covers a frame header loses the framing, and the direction stops.
* SETTINGS_HEADER_TABLE_SIZE that one side announces bounds the table the
  *other* side's encoder may use.  A passive reader cannot see when a
  setting took effect (its ACK travels the other way), so the largest value
  announced is allowed.

What is wrong is recorded, per connection, in :attr:`HTTP2Connection.problems`
("client: HPACK: …"), and on the frame (:class:`~layerpeek.layers.http2.MalformedFrame`)
when one frame breaks its type's rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from layerpeek.layers.http2 import (
    DEFAULT_MAX_FRAME_SIZE,
    FRAME_HEADER_LEN,
    PREFACE,
    ContinuationFrame,
    DataFrame,
    FrameFlags,
    FrameType,
    HeaderList,
    HeadersFrame,
    HTTP2Frame,
    MalformedFrame,
    PushPromiseFrame,
    SettingId,
    SettingsFrame,
    decode_payload,
    frame_header,
    type_name,
)

#: Largest decoded header list accepted from one block (HPACK counts name + value + 32 a field).
MAX_HEADER_LIST = 256 * 1024
#: Largest compressed header block (HEADERS + CONTINUATION fragments) buffered.
MAX_BLOCK = 256 * 1024
#: HPACK's initial dynamic table size (RFC 7541 §4.2, SETTINGS_HEADER_TABLE_SIZE default).
DEFAULT_TABLE_SIZE = 4096

# Direction states (plain strings: readable in a debugger and in tests).
PREFACE_STATE = "preface"
HEADER = "header"
PAYLOAD = "payload"
STOPPED = "stopped"

_NO_HPACK = ("header blocks not decoded: the hpack package is not installed "
             "(pip install 'layerpeek[http2]')")


# --------------------------------------------------------------------------- what is read


@dataclass(slots=True)
class PrefaceRead:
    """The client connection preface (``PRI * HTTP/2.0 …``) was read."""

    direction: str
    offset: int  #: stream offset of its first byte
    frames: tuple[int, ...]  #: packets that carried it
    ts_ns: int  #: when its last byte arrived


@dataclass(slots=True)
class HeaderBlock:
    """A whole header block: a HEADERS or PUSH_PROMISE frame and its CONTINUATIONs."""

    stream_id: int
    kind: str  #: "headers" or "push_promise"
    #: the decoded list (latin-1 text, order and case as sent), or None when it could not be
    headers: HeaderList | None
    end_stream: bool  #: the HEADERS frame had END_STREAM
    promised_stream_id: int  #: PUSH_PROMISE only (else 0)
    offset: int  #: stream offset of the first frame's first byte
    size: int  #: bytes of all its frames, frame headers included
    frames: tuple[int, ...]  #: packets that carried any of its frames
    start_ts_ns: int
    problem: str = ""  #: why ``headers`` is None


@dataclass(slots=True)
class FrameRead:
    """One frame, where it lay in the stream and which packets carried it."""

    direction: str  #: who sent it ("client" or "server")
    frame: HTTP2Frame
    offset: int  #: stream offset of the frame header's first byte
    size: int  #: 9 + payload length
    frames: tuple[int, ...]  #: packets that carried any byte of it (1-based)
    start_ts_ns: int  #: when its first byte arrived
    ts_ns: int  #: when its last byte arrived (the frame was complete)
    missing: int = 0  #: payload bytes lost in stream gaps (DATA: not in ``data``)
    block: HeaderBlock | None = None  #: set on the frame that completed a header block


@dataclass(slots=True)
class ReadStopped:
    """A direction can no longer be read (framing lost); the rest of it is ignored."""

    direction: str
    offset: int  #: stream offset where reading stopped
    reason: str
    ts_ns: int


Read = PrefaceRead | FrameRead | ReadStopped


# --------------------------------------------------------------------------- per direction


@dataclass(slots=True, eq=False)
class _PendingBlock:
    stream_id: int
    kind: str
    end_stream: bool
    promised: int
    offset: int
    start_ts_ns: int
    fragments: list[bytes] = field(default_factory=list)
    size: int = 0  # frame bytes so far
    fragment_len: int = 0
    frames: dict[int, None] = field(default_factory=dict)
    too_big: bool = False


@dataclass(slots=True, eq=False)
class _Side:
    """One direction's reading state."""

    name: str
    state: str
    offset: int = 0  # stream offset of the next byte
    head: bytearray = field(default_factory=bytearray)  # preface or frame header so far
    payload: bytearray = field(default_factory=bytearray)
    # the frame being read
    length: int = 0
    ftype: int = 0
    flags: int = 0
    stream_id: int = 0
    got: int = 0  # payload bytes consumed (read or lost in gaps)
    frame_offset: int = 0
    frame_frames: dict[int, None] = field(default_factory=dict)
    frame_ts: int = 0
    missing: int = 0
    # DATA streaming
    data: bytearray = field(default_factory=bytearray)
    data_start: int = 0  # payload offset where data begins (1 when PADDED)
    data_end: int = -1  # payload offset where padding begins (-1 until the pad length is known)
    pad: int = 0
    pad_lost: bool = False
    # HPACK
    decoder: Any = None
    hpack_broken: str = ""
    block: _PendingBlock | None = None
    max_frame: int = DEFAULT_MAX_FRAME_SIZE  # the peer's SETTINGS_MAX_FRAME_SIZE
    frames_read: int = 0


def _new_decoder(max_header_list: int) -> Any:
    try:
        import hpack
    except ImportError:
        return None
    return hpack.Decoder(max_header_list_size=max_header_list)


def _hpack_errors() -> tuple[type[Exception], ...]:
    try:
        import hpack
    except ImportError:
        return ()
    return (hpack.HPACKError,)


class HTTP2Connection:
    """Bytes of both directions in, HTTP/2 frames out, for one connection.

    ``client_preface=True`` (the default) expects the client's stream to
    begin with the 24-byte preface; an upgraded (``Upgrade: h2c``)
    connection's client stream also does, from the first byte after the
    upgrade request.  The server's stream begins with its first frame.
    """

    def __init__(
        self,
        *,
        client_preface: bool = True,
        max_header_list: int = MAX_HEADER_LIST,
        max_block: int = MAX_BLOCK,
    ) -> None:
        self.max_header_list = max_header_list
        self.max_block = max_block
        self._sides = {
            "client": _Side("client", PREFACE_STATE if client_preface else HEADER),
            "server": _Side("server", HEADER),
        }
        for side in self._sides.values():
            side.decoder = _new_decoder(max_header_list)
            if side.decoder is None:
                side.hpack_broken = _NO_HPACK
        self._errors = _hpack_errors()
        #: Plain-language problems ("server: HPACK: …"), in the order found.
        self.problems: list[str] = []
        #: Frames read so far, both directions.
        self.frames_read = 0

    # -- public API ----------------------------------------------------------

    def stopped(self, direction: str) -> bool:
        """Is this direction no longer read (framing lost)?"""
        return self._sides[direction].state == STOPPED

    def pending(self, direction: str) -> int:
        """Bytes of a frame (or of the preface) begun but not yet complete in ``direction``."""
        side = self._sides[direction]
        if side.state == PAYLOAD:
            return FRAME_HEADER_LEN + side.got
        return len(side.head) if side.state in (HEADER, PREFACE_STATE) else 0

    def offset(self, direction: str) -> int:
        """Stream offset just past the last byte fed (or lost in a gap)."""
        return self._sides[direction].offset

    def feed(
        self, direction: str, data: bytes, frames: Iterable[int] = (), ts_ns: int = 0
    ) -> list[Read]:
        """The next bytes ``direction`` sent, carried by ``frames``, delivered at ``ts_ns``."""
        side = self._sides[direction]
        out: list[Read] = []
        if not data:
            return out
        frames = tuple(frames)
        pos, end = 0, len(data)
        while pos < end:
            state = side.state
            if state == STOPPED:
                side.offset += end - pos
                break
            if state == PREFACE_STATE:
                take = min(end - pos, len(PREFACE) - len(side.head))
                side.head += data[pos:pos + take]
                if side.head != PREFACE[:len(side.head)]:
                    self._stop(side, out, "the client's stream does not begin with the HTTP/2 "
                                          "connection preface", ts_ns)
                    side.offset += end - pos
                    break
                side.frame_frames.update(dict.fromkeys(frames))
                pos += take
                side.offset += take
                if len(side.head) == len(PREFACE):
                    out.append(PrefaceRead(direction, side.offset - len(PREFACE),
                                           tuple(side.frame_frames), ts_ns))
                    side.head.clear()
                    side.frame_frames = {}
                    side.state = HEADER
            elif state == HEADER:
                if not side.head:
                    side.frame_offset = side.offset
                    side.frame_ts = ts_ns
                    side.frame_frames = {}
                take = min(end - pos, FRAME_HEADER_LEN - len(side.head))
                side.head += data[pos:pos + take]
                side.frame_frames.update(dict.fromkeys(frames))
                pos += take
                side.offset += take
                if len(side.head) == FRAME_HEADER_LEN:
                    self._begin_frame(side, out, ts_ns)
            else:  # PAYLOAD
                take = min(end - pos, side.length - side.got)
                side.frame_frames.update(dict.fromkeys(frames))
                self._take_payload(side, data, pos, take)
                pos += take
                side.offset += take
                if side.got == side.length:
                    self._end_frame(side, out, ts_ns)
        return out

    def gap(self, direction: str, length: int, reason: str = "", ts_ns: int = 0) -> list[Read]:
        """``length`` bytes of ``direction`` were never captured (a hole, not zeros)."""
        side = self._sides[direction]
        out: list[Read] = []
        if length <= 0:
            return out
        why = f"{length}-byte gap in the stream" + (f" ({reason})" if reason else "")
        if side.state == PAYLOAD and length <= side.length - side.got:
            self._lose_payload(side, length, why)
            side.offset += length
            if side.got == side.length:
                self._end_frame(side, out, ts_ns)
            return out
        if side.state != STOPPED:
            where = "in the connection preface" if side.state == PREFACE_STATE else (
                "over a frame header" if side.state == HEADER else
                f"past the end of a {type_name(side.ftype)} frame")
            self._stop(side, out, f"{why} {where}: the framing is lost", ts_ns)
        side.offset += length
        return out

    # -- frames ----------------------------------------------------------------

    def _begin_frame(self, side: _Side, out: list[Read], ts_ns: int) -> None:
        length, ftype, flags, stream = frame_header(side.head, 0)
        side.head.clear()
        side.length, side.ftype, side.flags, side.stream_id = length, ftype, flags, stream
        side.got = 0
        side.missing = 0
        side.payload = bytearray()
        side.data = bytearray()
        side.pad_lost = False
        if ftype == FrameType.DATA:
            padded = bool(flags & FrameFlags.PADDED)
            side.data_start = 1 if padded else 0
            side.data_end = -1 if padded else length
            side.pad = 0
        if length > side.max_frame:
            self._problem(side, f"{type_name(ftype)} frame of {length} bytes on stream {stream} "
                                f"is larger than SETTINGS_MAX_FRAME_SIZE {side.max_frame}")
        side.state = PAYLOAD
        if length == 0:
            self._end_frame(side, out, ts_ns)

    def _take_payload(self, side: _Side, data: bytes, pos: int, take: int) -> None:
        if side.ftype != FrameType.DATA:
            side.payload += data[pos:pos + take]
            side.got += take
            return
        start = side.got
        if side.data_end < 0 and start == 0 and take > 0:  # the Pad Length byte
            side.pad = data[pos]
            side.data_end = max(side.data_start, side.length - side.pad)
        lo = max(start, side.data_start)
        hi = min(start + take, side.data_end)
        if hi > lo:
            side.data += data[pos + lo - start:pos + hi - start]
        side.got += take

    def _lose_payload(self, side: _Side, length: int, why: str) -> None:
        start = side.got
        side.got += length
        side.missing += length
        if side.ftype != FrameType.DATA:
            return
        if side.data_end < 0 and start == 0:
            side.pad_lost = True  # the Pad Length byte itself is gone
            side.data_end = side.length
        lo = max(start, side.data_start)
        hi = min(start + length, side.data_end)
        side.missing = side.missing - length + max(0, hi - lo)  # only data bytes count

    def _end_frame(self, side: _Side, out: list[Read], ts_ns: int) -> None:
        frame: HTTP2Frame
        if side.ftype == FrameType.DATA:
            if side.data_end < 0:  # PADDED but empty: no Pad Length byte
                frame = decode_payload(side.ftype, side.flags, side.stream_id, b"", 0, 0)
            elif side.stream_id == 0:
                frame = MalformedFrame(side.ftype, side.flags, 0, side.length,
                                       "DATA frame on stream 0", bytes(side.data))
            elif side.data_start == 1 and side.pad > side.length - 1:
                frame = MalformedFrame(side.ftype, side.flags, side.stream_id, side.length,
                                       f"padding {side.pad} longer than the payload "
                                       f"({side.length} bytes)", bytes(side.data))
            else:
                frame = DataFrame(side.ftype, side.flags, side.stream_id, side.length,
                                  bytes(side.data), side.pad)
                if side.pad_lost:
                    self._problem(side, f"DATA frame on stream {side.stream_id}: its Pad Length "
                                        "byte was lost in a gap (padding may be counted as data)")
        elif side.missing:
            frame = MalformedFrame(side.ftype, side.flags, side.stream_id, side.length,
                                   f"{side.missing} payload bytes lost in a stream gap",
                                   bytes(side.payload))
        else:
            frame = decode_payload(side.ftype, side.flags, side.stream_id, side.payload, 0,
                                   len(side.payload))
        side.payload = bytearray()
        side.data = bytearray()
        side.state = HEADER
        side.frames_read += 1
        self.frames_read += 1
        read = FrameRead(side.name, frame, side.frame_offset, FRAME_HEADER_LEN + side.length,
                         tuple(side.frame_frames), side.frame_ts, ts_ns, side.missing)
        self._after_frame(side, read)
        out.append(read)

    def _after_frame(self, side: _Side, read: FrameRead) -> None:
        """Connection-level effects: header blocks, SETTINGS, frame-order rules."""
        frame = read.frame
        ftype = frame.type
        if side.frames_read == 1 and side.name == "server" and ftype != FrameType.SETTINGS:
            self._problem(side, f"the server's first frame is {type_name(ftype)}, not SETTINGS "
                                "(RFC 9113 §3.4)")
        block = side.block
        if block is not None and not (ftype == FrameType.CONTINUATION
                                      and frame.stream_id == block.stream_id):
            self._abandon_block(side, f"header block on stream {block.stream_id} interrupted by "
                                      f"a {type_name(ftype)} frame on stream {frame.stream_id} "
                                      "(CONTINUATION expected)")
            block = None
        if isinstance(frame, MalformedFrame):
            self._problem(side, f"{type_name(ftype)} frame on stream {frame.stream_id}: "
                                f"{frame.reason}")
            if ftype in (FrameType.HEADERS, FrameType.PUSH_PROMISE, FrameType.CONTINUATION):
                self._break_hpack(side, f"a {type_name(ftype)} frame could not be read")
            return
        if isinstance(frame, HeadersFrame):
            self._start_block(side, read, "headers", frame.fragment,
                              bool(frame.flags & FrameFlags.END_STREAM), 0)
        elif isinstance(frame, PushPromiseFrame):
            self._start_block(side, read, "push_promise", frame.fragment, False,
                              frame.promised_stream_id)
        elif isinstance(frame, ContinuationFrame):
            if block is None:
                self._problem(side, f"CONTINUATION on stream {frame.stream_id} without a "
                                    "header block to continue")
                return
            self._add_fragment(side, block, read, frame.fragment)
        elif isinstance(frame, SettingsFrame) and not frame.ack:
            other = self._sides["server" if side.name == "client" else "client"]
            for setting in frame.settings:
                if setting.id == SettingId.HEADER_TABLE_SIZE and other.decoder is not None:
                    other.decoder.max_allowed_table_size = max(
                        other.decoder.max_allowed_table_size, setting.value)
                elif setting.id == SettingId.MAX_FRAME_SIZE:
                    other.max_frame = max(other.max_frame, setting.value)
        if frame.flags & FrameFlags.END_HEADERS and ftype in (
            FrameType.HEADERS, FrameType.PUSH_PROMISE, FrameType.CONTINUATION
        ) and side.block is not None:
            self._finish_block(side, read)

    def _start_block(self, side: _Side, read: FrameRead, kind: str, fragment: bytes,
                     end_stream: bool, promised: int) -> None:
        block = _PendingBlock(read.frame.stream_id, kind, end_stream, promised, read.offset,
                              read.start_ts_ns)
        side.block = block
        self._add_fragment(side, block, read, fragment)

    def _add_fragment(self, side: _Side, block: _PendingBlock, read: FrameRead,
                      fragment: bytes) -> None:
        block.size += read.size
        block.frames.update(dict.fromkeys(read.frames))
        block.fragment_len += len(fragment)
        if block.fragment_len > self.max_block:
            if not block.too_big:
                block.too_big = True
                block.fragments.clear()
        else:
            block.fragments.append(fragment)

    def _finish_block(self, side: _Side, read: FrameRead) -> None:
        block = side.block
        assert block is not None
        side.block = None
        headers: HeaderList | None = None
        problem = ""
        if block.too_big:
            problem = f"header block larger than {self.max_block} bytes: not decoded"
            self._break_hpack(side, problem)
        elif side.hpack_broken:
            problem = side.hpack_broken
        else:
            try:
                pairs = side.decoder.decode(b"".join(block.fragments), raw=True)
            except self._errors as e:
                problem = f"HPACK: {e}"
                self._break_hpack(side, f"an earlier header block could not be decoded ({e})")
                self._problem(side, f"header block on stream {block.stream_id}: {problem}")
            else:
                headers = tuple((bytes(n).decode("latin-1"), bytes(v).decode("latin-1"))
                                for n, v in pairs)
        frame = read.frame
        if isinstance(frame, (HeadersFrame, PushPromiseFrame, ContinuationFrame)):
            frame.headers = headers
        read.block = HeaderBlock(block.stream_id, block.kind, headers, block.end_stream,
                                 block.promised, block.offset, block.size, tuple(block.frames),
                                 block.start_ts_ns, problem)

    def _abandon_block(self, side: _Side, reason: str) -> None:
        side.block = None
        self._problem(side, reason)
        self._break_hpack(side, reason)

    def _break_hpack(self, side: _Side, reason: str) -> None:
        if not side.hpack_broken:
            side.hpack_broken = f"not decoded: the HPACK state is unknown after {reason}" \
                if not reason.startswith("an earlier") else f"not decoded: {reason}"

    def _problem(self, side: _Side, text: str) -> None:
        self.problems.append(f"{side.name}: {text}")

    def _stop(self, side: _Side, out: list[Read], reason: str, ts_ns: int) -> None:
        side.state = STOPPED
        side.head.clear()
        side.payload = bytearray()
        side.data = bytearray()
        side.block = None
        self._problem(side, f"{reason}; the rest of this direction is not read")
        out.append(ReadStopped(side.name, side.offset, reason, ts_ns))
