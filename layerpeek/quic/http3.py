"""HTTP/3 over one QUIC connection (RFC 9114), header blocks with QPACK (RFC 9204).

Theory of operation
===================

HTTP/3 puts each request and its response on one client-initiated
bidirectional stream (ids 0, 4, 8, …) as frames: HEADERS (a QPACK header
block), DATA, and HEADERS again for trailers; the stream's FIN ends the
message.  Each side also opens unidirectional streams, typed by their first
byte: the control stream (SETTINGS first), and QPACK's encoder and decoder
streams, which keep the two dynamic tables in step.

:class:`HTTP3Connection` is fed the in-order bytes of each stream (the
QUIC stage reassembles them) and returns the
:class:`~layerpeek.http.message.HTTPExchange` records of the streams that
finished, the same records HTTP/1.x and HTTP/2 give, so ``layerpeek http``,
``--export`` and the notebooks take them as they are.

Header blocks are decoded by ``pylsqpack`` (the ``quic`` extra), one decoder
per sending side.  A decoder must be built with the table capacity *the
receiving side* announced in its SETTINGS (the Required Insert Count of
each block is encoded relative to it), so a side's decoder is made when its
first encoder-stream bytes or header block arrive, after the peer's
SETTINGS in any ordinary capture; before any SETTINGS the capacity is 0, as
RFC 9204 §3.2.3 makes the encoder assume.  A block that refers to table
entries not yet received waits (``StreamBlocked``) and is finished when the
encoder stream catches up.

Bounds: bodies are kept up to ``max_body`` bytes each (the rest counted),
frames up to ``max_frame`` bytes of header block or control payload, and
at most ``max_streams`` request streams are followed at once; what exceeds
them is told in the exchange's problems or the connection's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from layerpeek.http.message import Headers, HTTPExchange, HTTPMessage
from layerpeek.quic.frames import Cursor, Short

VERSION = "HTTP/3"

#: HTTP/3 frame types (RFC 9114 §7.2, RFC 9218 PRIORITY_UPDATE).
FRAME_NAMES: dict[int, str] = {
    0x00: "DATA", 0x01: "HEADERS", 0x03: "CANCEL_PUSH", 0x04: "SETTINGS",
    0x05: "PUSH_PROMISE", 0x07: "GOAWAY", 0x0D: "MAX_PUSH_ID",
    0xF0700: "PRIORITY_UPDATE", 0xF0701: "PRIORITY_UPDATE",
}  # fmt: skip
#: Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2).
STREAM_TYPES = {0x00: "control", 0x01: "push", 0x02: "QPACK encoder", 0x03: "QPACK decoder"}
#: SETTINGS identifiers (RFC 9114 §7.2.4.1, RFC 9204 §5, RFC 9220).
SETTINGS_NAMES = {0x01: "QPACK_MAX_TABLE_CAPACITY", 0x06: "MAX_FIELD_SECTION_SIZE",
                  0x07: "QPACK_BLOCKED_STREAMS", 0x08: "ENABLE_CONNECT_PROTOCOL",
                  0x33: "H3_DATAGRAM"}


@dataclass(slots=True, eq=False)
class _Part:
    """A request or response being read."""

    msg: HTTPMessage
    body: bytearray = field(default_factory=bytearray)
    frames: dict[int, None] = field(default_factory=dict)
    headers_seen: int = 0


@dataclass(slots=True, eq=False)
class _Stream:
    """One stream's bytes as they are read into frames."""

    stream_id: int
    sender: str  #: "client" or "server": who sends on this side of the stream
    kind: str = ""  #: "request", "control", "QPACK encoder", … ("" until known)
    buffer: bytearray = field(default_factory=bytearray)
    ended: bool = False
    part: _Part | None = None
    #: frames waiting behind a header block that cannot be decoded yet:
    #: (frame type, payload, frame, time, fed to the decoder and blocked on its table)
    blocked: list[tuple[int, bytes, int, int, bool]] = field(default_factory=list)
    ignored: bool = False  #: its bytes are not read any more


@dataclass(slots=True, eq=False)
class _Exchange:
    index: int
    request: _Part | None = None
    response: _Part | None = None
    request_done: bool = False
    response_done: bool = False
    interim: list[HTTPMessage] = field(default_factory=list)


class HTTP3Connection:
    """HTTP/3 on one QUIC connection: stream bytes in, HTTP exchanges out (sans-IO)."""

    def __init__(self, conversation: int, client: str, server: str, *,
                 max_body: int = 16 * 1024 * 1024, max_frame: int = 256 * 1024,
                 max_streams: int = 10_000) -> None:
        self.conversation = conversation
        self.client = client
        self.server = server
        self.max_body = max_body
        self.max_frame = max_frame
        self.max_streams = max_streams
        self.settings: dict[str, dict[int, int]] = {}
        self.problems: list[str] = []
        self._streams: dict[tuple[int, str], _Stream] = {}
        self._exchanges: dict[int, _Exchange] = {}
        self._decoders: dict[str, Any] = {}
        self._held: dict[str, bytearray] = {}  #: encoder instructions before SETTINGS
        self._count = 0
        self.goaway: int | None = None
        #: HTTP/3 frame types read, by the frame that completed them (for display filters)
        self.frames_by_packet: dict[int, list[int]] = {}

    # -- input ---------------------------------------------------------------

    def stream_data(self, stream_id: int, sender: str, data: bytes, fin: bool, frame: int,
                    ts_ns: int) -> list[HTTPExchange]:
        """In-order bytes of ``stream_id`` sent by ``sender`` (``fin``: the stream ends)."""
        key = (stream_id, sender)
        stream = self._streams.get(key)
        if stream is None:
            bidi = stream_id & 0x02 == 0
            if bidi and stream_id & 0x01:
                return []  # server-initiated bidirectional streams: not used by HTTP/3
            if bidi and len(self._exchanges) >= self.max_streams:
                self._problem(f"more than {self.max_streams} request streams open: "
                              f"stream {stream_id} not followed")
                stream = _Stream(stream_id, sender, "request", ignored=True)
            else:
                stream = _Stream(stream_id, sender, "request" if bidi else "")
            self._streams[key] = stream
        if stream.ignored:
            return []
        stream.buffer += data
        stream.ended = stream.ended or fin
        out = self._read(stream, frame, ts_ns)
        if stream.ended and not stream.buffer and stream.kind != "request":
            del self._streams[key]
        return out

    def finish(self) -> list[HTTPExchange]:
        """The input ended: every exchange still open, as far as it went."""
        out: list[HTTPExchange] = []
        for stream in list(self._streams.values()):
            if stream.blocked and not stream.blocked[0][4]:
                out.extend(self._drain(stream, force=True))
        for stream_id in sorted(self._exchanges):
            ex = self._exchanges[stream_id]
            out.append(self._exchange(stream_id, ex, ended=False))
        self._exchanges.clear()
        return out

    # -- reading -------------------------------------------------------------

    def _problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def _read(self, stream: _Stream, frame: int, ts_ns: int) -> list[HTTPExchange]:
        buf = stream.buffer
        if not stream.kind:
            c = Cursor(bytes(buf[:8]))
            try:
                kind = c.varint()
            except Short:
                return []
            del buf[: c.pos]
            stream.kind = STREAM_TYPES.get(kind, f"unknown (0x{kind:x})")
        if stream.kind == "QPACK encoder":
            data = bytes(buf)
            buf.clear()
            return self._encoder(stream.sender, data, frame, ts_ns)
        if stream.kind not in ("control", "request"):
            buf.clear()  # QPACK decoder stream, push streams, grease: not needed for exchanges
            return []
        out: list[HTTPExchange] = []
        while True:
            c = Cursor(bytes(buf[:16]))
            try:
                ftype, length = c.varint(), c.varint()
            except Short:
                break
            if length > self.max_frame and not (stream.kind == "request" and ftype == 0x00):
                self._problem(f"stream {stream.stream_id}: {FRAME_NAMES.get(ftype, 'a')} frame "
                              f"of {length} bytes exceeds {self.max_frame}: not read further")
                stream.ignored = True
                buf.clear()
                break
            if len(buf) - c.pos < length:
                if ftype == 0x00 and stream.kind == "request" and len(buf) > c.pos:
                    # DATA: hand over what is here; the frame goes on in later bytes.
                    part = len(buf) - c.pos
                    self._data(stream, bytes(buf[c.pos :]), frame)
                    del buf[:]
                    buf += _frame_header(0x00, length - part)
                break
            payload = bytes(buf[c.pos : c.pos + length])
            del buf[: c.pos + length]
            self.frames_by_packet.setdefault(frame, []).append(ftype)
            if stream.kind == "control":
                out.extend(self._control(stream, ftype, payload, frame, ts_ns))
            else:
                out.extend(self._request_frame(stream, ftype, payload, frame, ts_ns))
        if stream.kind == "request" and stream.ended and not buf:
            out.extend(self._ended(stream, frame, ts_ns))
        return out

    def _control(self, stream: _Stream, ftype: int, payload: bytes, frame: int,
                 ts_ns: int) -> list[HTTPExchange]:
        if ftype == 0x04:
            c = Cursor(payload)
            values: dict[int, int] = {}
            try:
                while c.left():
                    ident = c.varint()
                    values[ident] = c.varint()
            except Short:
                self._problem(f"{stream.sender} SETTINGS cut short")
            self.settings[stream.sender] = values
            # Header blocks of the other side that waited for these SETTINGS (0-RTT
            # requests are sent before them) can be decoded now.
            return self._release("server" if stream.sender == "client" else "client")
        if ftype == 0x07:
            try:
                self.goaway = Cursor(payload).varint()
            except Short:
                self._problem(f"{stream.sender} GOAWAY cut short")
        return []

    def _ready(self, sender: str) -> bool:
        """Can ``sender``'s header blocks be decoded (its decoder made, or makeable)?"""
        return sender in self._decoders or (
            "server" if sender == "client" else "client") in self.settings

    def _release(self, sender: str) -> list[HTTPExchange]:
        out: list[HTTPExchange] = []
        for (_, who), stream in list(self._streams.items()):
            if who == sender and stream.blocked and not stream.blocked[0][4]:
                out.extend(self._drain(stream))
        return out

    def _drain(self, stream: _Stream, resumed: bool = False,
               force: bool = False) -> list[HTTPExchange]:
        """Handle the frames queued on ``stream`` as far as the decoder allows.

        ``resumed``: the encoder stream just unblocked the first (fed) block.
        ``force``: the input ended; decode what waits for SETTINGS as if they
        were the defaults (a table of capacity 0).
        """
        from pylsqpack import DecompressionFailed, StreamBlocked

        out: list[HTTPExchange] = []
        frame = ts_ns = 0
        while stream.blocked:
            ftype, payload, frame, ts_ns, fed = stream.blocked[0]
            if ftype == 0x00:
                stream.blocked.pop(0)
                self._data(stream, payload, frame)
                continue
            headers: list[tuple[str, str]] | str
            if fed:
                if not resumed:
                    break  # still waiting on the encoder stream
                resumed = False
                headers = self._resume(stream.sender, stream.stream_id)
            else:
                if not (force or self._ready(stream.sender)):
                    break  # waiting for the peer's SETTINGS
                try:
                    _, raw = self._decoder(stream.sender).feed_header(stream.stream_id, payload)
                    headers = _text(raw)
                except StreamBlocked:
                    stream.blocked[0] = (ftype, payload, frame, ts_ns, True)
                    break
                except DecompressionFailed:
                    headers = "QPACK decompression failed"
            stream.blocked.pop(0)
            out.extend(self._headers(stream, headers, frame, ts_ns, len(payload)))
        if not stream.blocked and stream.ended and not stream.buffer:
            out.extend(self._ended(stream, frame, ts_ns))
        return out

    def _decoder(self, sender: str) -> Any:
        decoder = self._decoders.get(sender)
        if decoder is None:
            from pylsqpack import Decoder

            receiver = self.settings.get("server" if sender == "client" else "client", {})
            decoder = Decoder(receiver.get(0x01, 0), receiver.get(0x07, 0))
            self._decoders[sender] = decoder
            held = self._held.pop(sender, None)
            if held:
                from pylsqpack import EncoderStreamError

                try:
                    decoder.feed_encoder(bytes(held))
                except EncoderStreamError:
                    self._problem(f"{sender} QPACK encoder stream damaged: header blocks "
                                  "after it cannot be decoded")
        return decoder

    def _encoder(self, sender: str, data: bytes, frame: int, ts_ns: int) -> list[HTTPExchange]:
        from pylsqpack import EncoderStreamError

        receiver = "server" if sender == "client" else "client"
        if sender not in self._decoders and receiver not in self.settings:
            # The decoder needs the receiver's SETTINGS: hold the instructions till then
            # (an encoder stream is often opened before the peer's SETTINGS arrive).
            held = self._held.setdefault(sender, bytearray())
            if len(held) + len(data) > self.max_frame:
                self._problem(f"{sender} QPACK encoder stream: more than {self.max_frame} "
                              "bytes before the peer's SETTINGS")
                return []
            held += data
            return []
        data = bytes(self._held.pop(sender, b"")) + data
        if not data:
            return []
        try:
            unblocked = self._decoder(sender).feed_encoder(data)
        except EncoderStreamError:
            self._problem(f"{sender} QPACK encoder stream damaged: header blocks after it "
                          "cannot be decoded")
            return []
        out: list[HTTPExchange] = []
        for stream_id in unblocked:
            stream = self._streams.get((stream_id, sender))
            if stream is not None and stream.blocked and stream.blocked[0][4]:
                out.extend(self._drain(stream, resumed=True))
        return out

    def _resume(self, sender: str, stream_id: int) -> list[tuple[str, str]] | str:
        from pylsqpack import DecompressionFailed

        try:
            _, headers = self._decoder(sender).resume_header(stream_id)
        except DecompressionFailed:
            return "QPACK decompression failed"
        return _text(headers)

    def _request_frame(self, stream: _Stream, ftype: int, payload: bytes, frame: int,
                       ts_ns: int) -> list[HTTPExchange]:
        if ftype not in (0x00, 0x01):
            return []
        if stream.blocked or (ftype == 0x01 and not self._ready(stream.sender)):
            # Behind a block that waits (keep the order), or this block needs the peer's
            # SETTINGS first; bounded like a stream's out-of-order data.
            if sum(len(b[1]) for b in stream.blocked) + len(payload) > self.max_frame * 4:
                self._problem(f"stream {stream.stream_id}: more than {self.max_frame * 4} "
                              "bytes wait behind a header block: not read further")
                stream.ignored = True
                stream.blocked.clear()
                return []
            stream.blocked.append((ftype, payload, frame, ts_ns, False))
            return self._drain(stream) if ftype == 0x01 and len(stream.blocked) == 1 else []
        if ftype == 0x00:
            self._data(stream, payload, frame)
            return []
        stream.blocked.append((ftype, payload, frame, ts_ns, False))
        return self._drain(stream)

    def _headers(self, stream: _Stream, headers: list[tuple[str, str]] | str, frame: int,
                 ts_ns: int, size: int) -> list[HTTPExchange]:
        ex = self._exchanges.get(stream.stream_id)
        if ex is None:
            ex = self._exchanges[stream.stream_id] = _Exchange(self._count)
            self._count += 1
        kind = "request" if stream.sender == "client" else "response"
        part = stream.part
        if part is not None and part.headers_seen and (
                kind == "request" or part.msg.status >= 200):
            # A second block after the head: trailers.
            if isinstance(headers, str):
                part.msg.flag(f"trailer block: {headers}")
            else:
                part.msg.trailers = Headers(list(headers))
            part.frames[frame] = None
            return []
        msg = HTTPMessage(kind, version=VERSION, framing="http3", head_len=size,
                          start_ts_ns=ts_ns, end_ts_ns=ts_ns)
        part = _Part(msg, frames={frame: None}, headers_seen=1)
        if isinstance(headers, str):
            msg.flag(f"header block: {headers}")
        else:
            msg.headers = Headers(list(headers))
            pseudo = {name: value for name, value in headers if name.startswith(":")}
            if kind == "request":
                msg.method = pseudo.get(":method", "")
                msg.target = pseudo.get(":path", "") or pseudo.get(":authority", "")
                if not msg.method:
                    msg.flag("request without :method (RFC 9114 §4.3.1)")
            else:
                code = pseudo.get(":status", "")
                if len(code) == 3 and code.isdigit() and code.isascii():
                    msg.status = int(code)
                else:
                    msg.flag("response without a three-digit :status (RFC 9114 §4.3.2)")
        if kind == "response" and 100 <= msg.status < 200:
            ex.interim.append(msg)
            return []
        stream.part = part
        if kind == "request":
            ex.request = part
        else:
            ex.response = part
        return []

    def _data(self, stream: _Stream, data: bytes, frame: int) -> None:
        part = stream.part
        if part is None:
            self._problem(f"stream {stream.stream_id}: DATA before HEADERS (RFC 9114 §4.1)")
            return
        part.frames[frame] = None
        msg = part.msg
        msg.body_wire_len += len(data)
        room = self.max_body - len(part.body)
        if len(data) > room:
            part.body += data[:max(room, 0)]
            msg.flag(f"body longer than {self.max_body} bytes: only those kept")
        else:
            part.body += data

    def _ended(self, stream: _Stream, frame: int, ts_ns: int) -> list[HTTPExchange]:
        if stream.blocked:
            return []
        ex = self._exchanges.get(stream.stream_id)
        if ex is None:
            return []
        part = stream.part
        if part is not None:
            part.msg.end_ts_ns = ts_ns
            part.frames[frame] = None
        if stream.sender == "client":
            ex.request_done = True
        else:
            ex.response_done = True
        if ex.request_done and ex.response_done:
            del self._exchanges[stream.stream_id]
            self._streams.pop((stream.stream_id, "client"), None)
            self._streams.pop((stream.stream_id, "server"), None)
            return [self._exchange(stream.stream_id, ex, ended=True)]
        return []

    def _exchange(self, stream_id: int, ex: _Exchange, ended: bool) -> HTTPExchange:
        out = HTTPExchange(self.conversation, ex.index, client=self.client, server=self.server)
        out.interim = ex.interim
        for part, done in ((ex.request, ex.request_done), (ex.response, ex.response_done)):
            if part is None:
                continue
            msg = part.msg
            msg.body = bytes(part.body)
            msg.frames = tuple(sorted(part.frames))
            msg.notes.append(f"HTTP/3 stream {stream_id}")
            if not done:
                msg.flag("the stream did not end in the capture")
            if msg.kind == "request":
                out.request = msg
            else:
                out.response = msg
        if ex.response is None:
            out.unanswered = "no response on the stream in the capture"
        return out


def _frame_header(ftype: int, length: int) -> bytes:
    """A frame header for the rest of a DATA frame whose first part was handed over."""
    out = bytearray()
    for value in (ftype, length):
        if value < 0x40:
            out += bytes([value])
        elif value < 0x4000:
            out += (value | 0x4000).to_bytes(2, "big")
        elif value < 0x40000000:
            out += (value | 0x80000000).to_bytes(4, "big")
        else:
            out += (value | 0xC000000000000000).to_bytes(8, "big")
    return bytes(out)


def _text(headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
