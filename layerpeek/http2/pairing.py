"""Requests and responses of one HTTP/2 connection, paired per stream (sans-IO).

Theory of operation
===================

:class:`HTTP2Pairer` takes the flow tracker's events for one TCP connection
that speaks HTTP/2 (:class:`~layerpeek.flows.events.StreamData`,
:class:`~layerpeek.flows.events.StreamGap`), reads its frames with an
:class:`~layerpeek.http2.connection.HTTP2Connection`, and builds the same
:class:`~layerpeek.http.message.HTTPExchange` records as HTTP/1.x, one per
stream.  Where HTTP/1.1 pairs the n-th response with the n-th request,
HTTP/2 says which is which: every frame names its stream (RFC 9113 §5).

* A client's header block on a new stream opens it and is the request
  head: ``:method``, ``:path`` (the target), ``:authority`` (the host);
  every field is kept in ``headers`` as sent, pseudo-header fields
  included.  DATA frames are the body, END_STREAM ends the message, and a
  header block after the body is the trailer section.
* A server's header block is the response head (``:status``), an interim
  one when 1xx (kept in ``interim``), trailers after the body.
* PUSH_PROMISE opens the promised stream with the request the server made
  up; the pushed response then arrives on that stream.  The exchange says
  ``pushed_by``: the stream whose promise announced it.
* An exchange is handed out when both messages have ended (END_STREAM), when
  its stream is reset (RST_STREAM: the message cut short says so), when a
  GOAWAY says the server never processed it, or when the connection ends.
* A direction whose framing is lost (a gap over a frame header) ends every
  message still open in that direction, flagged with the reason.
* A connection upgraded from HTTP/1.1 (``Upgrade: h2c`` answered by ``101``)
  continues the upgrade request as stream 1 (RFC 7540 §3.2): the exchange
  keeps the HTTP/1.1 request, the ``101`` as interim, and the HTTP/2
  response.

Bodies are kept up to ``max_body`` bytes (as HTTP/1.x); Content-Encoding is
undone by :mod:`layerpeek.http.decoding`, through the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from layerpeek.flows.events import CloseHow, StreamData, StreamGap
from layerpeek.http.message import NO_RESPONSE, Headers, HTTPExchange, HTTPMessage
from layerpeek.http.reader import ENDED, MAX_BODY, BodyBudget
from layerpeek.http2.connection import (
    MAX_BLOCK,
    MAX_HEADER_LIST,
    FrameRead,
    HeaderBlock,
    HTTP2Connection,
    Read,
    ReadStopped,
)
from layerpeek.layers.http2 import (
    DataFrame,
    ErrorCode,
    GoAwayFrame,
    RstStreamFrame,
)
from layerpeek.wire import enum_name

#: ``HTTPMessage.version`` of a message sent in HTTP/2.
VERSION = "HTTP/2"
#: ``HTTPMessage.framing`` of a message carried in HTTP/2 frames.
FRAMING: Final = "http2"
_MISSING = " (stream gap, not zero-filled)"

#: Most streams followed at once on one connection (RFC 9113 leaves the number to
#: SETTINGS_MAX_CONCURRENT_STREAMS, 100 or so in practice): past it, new streams are
#: not followed, and that is reported once, so a peer cannot grow memory without end.
MAX_OPEN_STREAMS = 10_000

#: Makes the exchange for a new stream (its index and endpoints come from the caller).
NewExchange = Callable[[HTTPMessage | None], HTTPExchange]


@dataclass(slots=True, eq=False)
class _Message:
    """A message being read: its record, body so far, and the packets that carried it."""

    msg: HTTPMessage
    body: bytearray = field(default_factory=bytearray)
    kept: bool = True
    frames: dict[int, None] = field(default_factory=dict)
    wire: int = 0  # DATA frame bytes (headers and padding included)
    finished: bool = False


@dataclass(slots=True, eq=False)
class _Stream:
    id: int
    exchange: HTTPExchange
    request: _Message | None = None
    response: _Message | None = None
    request_ended: bool = False
    response_ended: bool = False


def _error_name(code: int) -> str:
    return enum_name(ErrorCode, code)


class HTTP2Pairer:
    """Flow events of one HTTP/2 connection in, its exchanges out.

    ``new_exchange(request)`` makes each stream's :class:`HTTPExchange`
    (:class:`~layerpeek.http.pairing.HTTPPairer` passes its own, which
    numbers them and fills in the endpoints).  ``request_side`` is the
    tracker's direction that carries the requests.
    """

    def __init__(
        self,
        new_exchange: NewExchange,
        *,
        request_side: str = "client",
        max_body: int = MAX_BODY,
        max_header_list: int = MAX_HEADER_LIST,
        max_block: int = MAX_BLOCK,
        budget: BodyBudget | None = None,
    ) -> None:
        self.new_exchange = new_exchange
        #: shared with the HTTP/1.x readers of the same pairer: body bytes in flight
        self.budget = budget
        self.request_side = request_side
        self.max_body = max_body
        self.connection = HTTP2Connection(max_header_list=max_header_list, max_block=max_block)
        self._streams: dict[int, _Stream] = {}
        self._highest = {"client": 0, "server": 0}  # highest stream id opened by each
        self._stopped: dict[str, str] = {}  # role → why its framing was lost
        self._goaway: str = ""
        self._overflow = False

    @property
    def problems(self) -> list[str]:
        """The connection's problems (see :class:`HTTP2Connection`)."""
        return self.connection.problems

    # -- input -----------------------------------------------------------------

    def upgrade(self, exchange: HTTPExchange) -> None:
        """Stream 1 is the HTTP/1.1 request that asked for ``Upgrade: h2c`` (RFC 7540 §3.2)."""
        exchange.http2_stream = 1
        self._streams[1] = _Stream(1, exchange, request_ended=True)
        self._highest["client"] = 1

    def feed(self, event: StreamData | StreamGap) -> list[HTTPExchange]:
        """One tracker event of this connection; returns the exchanges it completed."""
        role = "client" if event.direction == self.request_side else "server"
        if isinstance(event, StreamData):
            return self.feed_bytes(role, event.data, event.frames, event.ts_ns)
        return self._reads(self.connection.gap(role, event.length, event.reason, event.ts_ns))

    def feed_bytes(
        self, role: str, data: bytes, frames: tuple[int, ...] = (), ts_ns: int = 0
    ) -> list[HTTPExchange]:
        """Bytes sent by ``role`` ("client" or "server"), e.g. left over from an upgrade."""
        return self._reads(self.connection.feed(role, data, frames, ts_ns))

    def close(self, how: CloseHow) -> list[HTTPExchange]:
        """The connection ended (``how`` as :class:`~layerpeek.flows.events.ConnectionClosed`)."""
        out: list[HTTPExchange] = []
        ended = ENDED.get(how, f"the connection ended ({how})")
        for stream in list(self._streams.values()):
            if stream.request is not None and not stream.request_ended:
                stream.request.msg.flag(f"request incomplete (no END_STREAM): {ended}")
            if stream.response is not None and not stream.response_ended:
                stream.response.msg.flag(f"response incomplete (no END_STREAM): {ended}")
            reason = NO_RESPONSE.get(how, f"no response (connection ended: {how})")
            if self._goaway:
                reason = f"{reason}, after {self._goaway}"
            self._done(stream, out, reason)
        return out

    # -- frames ----------------------------------------------------------------

    def _reads(self, reads: list[Read]) -> list[HTTPExchange]:
        out: list[HTTPExchange] = []
        for read in reads:
            if isinstance(read, FrameRead):
                self._frame(read, out)
            elif isinstance(read, ReadStopped):
                self._lost(read, out)
        return out

    def _frame(self, read: FrameRead, out: list[HTTPExchange]) -> None:
        frame = read.frame
        role = read.direction
        if read.block is not None:
            self._block(read, read.block, out)
        elif isinstance(frame, DataFrame):
            stream = self._streams.get(frame.stream_id)
            part = None
            if stream is not None:
                part = stream.request if role == "client" else stream.response
            if stream is None or part is None:
                if stream is None and frame.stream_id <= max(self._highest.values()):
                    return  # a closed stream: frames crossing its RST_STREAM (§5.4.2)
                self._note(f"{role}: DATA on stream {frame.stream_id}, which has no open "
                           "message")
                return
            self._data(part, read, frame)
            if frame.end_stream:
                self._end(stream, role, read, out)
        elif isinstance(frame, RstStreamFrame):
            stream = self._streams.get(frame.stream_id)
            if stream is not None:
                self._reset(stream, role, frame.error_code, out)
        elif isinstance(frame, GoAwayFrame):
            self._go_away(role, frame, out)

    def _block(self, read: FrameRead, block: HeaderBlock, out: list[HTTPExchange]) -> None:
        role = read.direction
        sid = block.stream_id
        stream = self._streams.get(sid)
        if block.kind == "push_promise":
            self._promise(read, block, stream)
            return
        if role == "client":
            if stream is None:
                if sid <= self._highest["client"] or sid % 2 == 0:
                    self._note(f"client: HEADERS on stream {sid}, which is closed or not the "
                               "client's to open")
                    return
                self._highest["client"] = sid
                if self._too_many():
                    return
                request = self._message("request", block, read)
                ex = self.new_exchange(request.msg)
                ex.http2_stream = sid
                stream = self._streams[sid] = _Stream(sid, ex, request=request)
            elif stream.request is not None and not stream.request_ended:
                self._trailers(stream.request, block, read)
            else:
                self._note(f"client: HEADERS on stream {sid} after its request ended")
                return
            if block.end_stream:
                self._end(stream, role, read, out)
            return
        if stream is None:
            if sid > max(self._highest.values()):
                self._note(f"server: HEADERS on stream {sid}, which has no request")
            return
        if stream.response is None:
            message = self._message("response", block, read)
            if message.msg.informational and not block.end_stream:
                stream.exchange.interim.append(message.msg)
                return
            stream.response = message
        elif not stream.response_ended:
            self._trailers(stream.response, block, read)
        else:
            self._note(f"server: HEADERS on stream {sid} after its response ended")
            return
        if block.end_stream:
            self._end(stream, role, read, out)

    def _promise(self, read: FrameRead, block: HeaderBlock, parent: _Stream | None) -> None:
        promised = block.promised_stream_id
        if read.direction != "server":
            self._note(f"client: PUSH_PROMISE on stream {block.stream_id} (only servers push)")
            return
        if promised in self._streams or promised <= self._highest["server"] or promised % 2:
            self._note(f"server: PUSH_PROMISE of stream {promised}, which is in use or not the "
                       "server's to open")
            return
        self._highest["server"] = promised
        if self._too_many():
            return
        request = self._message("request", block, read)
        request.msg.notes.append(f"pushed by the server: PUSH_PROMISE on stream {block.stream_id}")
        self._finish(request, read.ts_ns)
        ex = self.new_exchange(request.msg)
        ex.http2_stream = promised
        ex.pushed_by = block.stream_id
        self._streams[promised] = _Stream(promised, ex, request=request, request_ended=True)
        if parent is None:
            self._note(f"server: PUSH_PROMISE on stream {block.stream_id}, which is not open")

    def _message(self, kind: str, block: HeaderBlock, read: FrameRead) -> _Message:
        msg = HTTPMessage(kind, version=VERSION, framing=FRAMING, start_offset=block.offset,
                          head_len=block.size, start_ts_ns=block.start_ts_ns,
                          end_ts_ns=read.ts_ns, end_offset=read.offset + read.size)
        part = _Message(msg, frames=dict.fromkeys(block.frames))
        if block.headers is None:
            msg.flag(f"header block {block.problem or 'not decoded'}")
            return part
        msg.headers = Headers(list(block.headers))
        pseudo = {name: value for name, value in block.headers if name.startswith(":")}
        if kind == "request":
            msg.method = pseudo.get(":method", "")
            msg.target = pseudo.get(":path", "")
            if not msg.method:
                msg.flag("request without :method (RFC 9113 §8.3.1)")
            if msg.method == "CONNECT":
                msg.target = msg.target or pseudo.get(":authority", "")
            elif not msg.target:
                msg.flag("request without :path (RFC 9113 §8.3.1)")
        else:
            code = pseudo.get(":status", "")
            if len(code) == 3 and code.isdigit() and code.isascii():
                msg.status = int(code)
            else:
                msg.flag("response without a three-digit :status (RFC 9113 §8.3.2)"
                         if code else "response without :status (RFC 9113 §8.3.2)")
        return part

    def _trailers(self, part: _Message, block: HeaderBlock, read: FrameRead) -> None:
        part.frames.update(dict.fromkeys(block.frames))
        part.msg.end_ts_ns = read.ts_ns
        part.msg.end_offset = read.offset + read.size
        if block.headers is None:
            part.msg.flag(f"trailer block {block.problem or 'not decoded'}")
        else:
            part.msg.trailers = Headers(list(block.headers))
        if not block.end_stream:
            part.msg.flag("a header block after the head without END_STREAM (RFC 9113 §8.1)")

    def _data(self, part: _Message, read: FrameRead, frame: DataFrame) -> None:
        msg = part.msg
        part.frames.update(dict.fromkeys(read.frames))
        part.wire += read.size
        msg.end_ts_ns = read.ts_ns
        msg.end_offset = read.offset + read.size
        data = frame.data
        if part.kept:
            room = self.max_body - len(part.body)
            budget = self.budget
            shared = room if budget is None else budget.limit - budget.used
            take = len(data) if len(data) <= room and len(data) <= shared else max(
                min(room, shared), 0)
            part.body += data[:take]
            if budget is not None:
                budget.used += take
            if take < len(data):
                part.kept = False
                if len(data) > room:
                    msg.flag(f"body longer than {self.max_body} bytes: only those kept")
                else:
                    msg.flag(f"bodies in flight over {budget.limit if budget else 0} "
                             "bytes in all: the rest of this one not kept")
        if read.missing:
            msg.missing += read.missing
            msg.problems[:] = [p for p in msg.problems if not p.endswith(_MISSING)]
            msg.flag(f"{msg.missing} body bytes missing{_MISSING}")

    def _finish(self, part: _Message, ts_ns: int) -> None:
        """The message has ended (or will get no more bytes): fill in its body and packets."""
        if part.finished:
            return
        part.finished = True
        msg = part.msg
        msg.body = bytes(part.body)
        if self.budget is not None:
            self.budget.used -= len(part.body)  # handed out: no longer in flight
        msg.body_wire_len = part.wire
        msg.frames = tuple(sorted(part.frames))
        if not msg.end_ts_ns:
            msg.end_ts_ns = ts_ns
        declared = msg.headers.get("content-length")
        if declared is not None and part.kept and not msg.missing and msg.complete:
            value = declared.strip()
            got = len(part.body)
            if not (value.isdigit() and value.isascii()) or int(value) != got:
                msg.flag(f"content-length {declared!r} but the DATA frames carried {got} bytes "
                         "(RFC 9113 §8.1.1)")

    def _end(self, stream: _Stream, role: str, read: FrameRead, out: list[HTTPExchange]) -> None:
        if role == "client":
            stream.request_ended = True
            if stream.request is not None:
                self._finish(stream.request, read.ts_ns)
        else:
            stream.response_ended = True
            if stream.response is not None:
                self._finish(stream.response, read.ts_ns)
        if stream.request_ended and stream.response_ended:
            self._done(stream, out, "")

    def _reset(self, stream: _Stream, role: str, code: int, out: list[HTTPExchange]) -> None:
        who = "the client" if role == "client" else "the server"
        why = f"stream reset by {who} (RST_STREAM {_error_name(code)})"
        for part, ended, what in ((stream.request, stream.request_ended, "request"),
                                  (stream.response, stream.response_ended, "response")):
            if part is None or ended:
                continue
            if self._whole(part):
                # All the bytes its Content-Length announced arrived: a peer that
                # resets then (curl does) cuts nothing but the END_STREAM.
                part.msg.notes.append(f"{why} after the whole body (Content-Length) arrived")
            elif (what == "request" and code == ErrorCode.NO_ERROR and role == "server"
                  and stream.response_ended):
                part.msg.notes.append(f"{why} after the response: no more body wanted")
            else:
                part.msg.flag(f"{what} cut: {why}")
        self._done(stream, out, f"no response: {why}")

    @staticmethod
    def _whole(part: _Message) -> bool:
        """Has the message all the body bytes its Content-Length announces?"""
        declared = (part.msg.headers.get("content-length") or "").strip()
        return (declared.isdigit() and declared.isascii() and part.kept
                and not part.msg.missing and int(declared) == len(part.body))

    def _go_away(self, role: str, frame: GoAwayFrame, out: list[HTTPExchange]) -> None:
        """Streams the sender never processed (above ``last_stream_id``) end here."""
        self._goaway = (f"GOAWAY from the {role} (last stream {frame.last_stream_id}, "
                        f"{_error_name(frame.error_code)})")
        opener = "server" if role == "client" else "client"
        for stream in list(self._streams.values()):
            if stream.id > frame.last_stream_id and (stream.id % 2 == 1) == (opener == "client"):
                if stream.response is not None and not stream.response_ended:
                    stream.response.msg.flag(f"not processed: {self._goaway}")
                self._done(stream, out, f"no response: not processed, {self._goaway}")

    def _lost(self, read: ReadStopped, out: list[HTTPExchange]) -> None:
        """The framing of one direction is lost: what it still owed can never arrive."""
        role = read.direction
        self._stopped[role] = read.reason
        why = f"HTTP/2 framing lost: {read.reason}"
        for stream in list(self._streams.values()):
            if role == "client" and not stream.request_ended:
                if stream.request is not None:
                    stream.request.msg.flag(why)
                    self._finish(stream.request, read.ts_ns)
                stream.request_ended = True
            elif role == "server" and not stream.response_ended:
                if stream.response is not None:
                    stream.response.msg.flag(why)
                    self._finish(stream.response, read.ts_ns)
                stream.response_ended = True
            if stream.request_ended and stream.response_ended:
                self._done(stream, out, f"no response: {why}")

    def _done(self, stream: _Stream, out: list[HTTPExchange], unanswered: str) -> None:
        """Hand the stream's exchange out (whole or not) and forget the stream."""
        self._streams.pop(stream.id, None)
        ex = stream.exchange
        for part in (stream.request, stream.response):
            if part is not None:
                self._finish(part, part.msg.end_ts_ns)
        if stream.request is not None:
            ex.request = stream.request.msg
        if stream.response is not None:
            ex.response = stream.response.msg
        elif unanswered:
            ex.unanswered = unanswered
        out.append(ex)

    def _too_many(self) -> bool:
        if len(self._streams) < MAX_OPEN_STREAMS:
            return False
        if not self._overflow:
            self._overflow = True
            self._note(f"more than {MAX_OPEN_STREAMS} streams open at once: the others are "
                       "not followed")
        return True

    def _note(self, text: str) -> None:
        self.connection.problems.append(text)
