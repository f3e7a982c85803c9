"""Incremental HTTP/1.x message readers over one direction of a reassembled stream (sans-IO).

Theory of operation
===================

A :class:`MessageReader` is fed the bytes one endpoint sent, in stream order,
as the TCP reassembler delivers them (``feed``), told about holes the
capture never saw (``gap``) and about the end of the stream (``finish``).
Each call returns the messages it completed, possibly none ("need more
data"); nothing is read from files or clocks, and nothing raises on bad
input: damage is recorded on the message (``complete=False``,
``problems``) or, for bytes that belong to no message, on
:attr:`MessageReader.problems`.

The reader is a small state machine (RFC 9112 §6.3 decides the framing)::

    DETECT ──start token──▶ HEAD ──blank line──▶ LENGTH | CHUNK_SIZE | CLOSE | (no body)
       │                     ▲                      │
       └──not HTTP──▶ NOT_HTTP                     message done ──▶ IDLE ──▶ HEAD …
                             │
    gap / bad framing ──▶ RESYNC ──request or status line at a line start──┘

    after CONNECT / Upgrade request: PAUSED (until the response says yes or no)
    after 101 Switching Protocols / 2xx to CONNECT: SWITCHED (bytes counted, not parsed)

* ``DETECT`` is the state of a connection seen from its start: its first
  bytes must begin like HTTP, or the whole direction is quietly ignored (it
  is some other protocol, which is no error).  A reader for a connection
  picked up mid-stream starts in ``RESYNC`` instead.
* The head ends at the first empty line.  The search resumes where the last
  one stopped, so a head arriving one byte at a time costs linear time, and
  the head is capped (:data:`MAX_HEAD`, :data:`MAX_HEADERS`): a hostile or
  broken peer cannot make the reader buffer without bound.
* A body segment that arrives while nothing else is buffered (most
  segments of a large body) goes straight into the body; other bytes are
  copied once, from the receive buffer into the body, and the buffer is
  compacted as it is consumed.  Either way a 200 kB body in 140 segments
  costs one pass.  Bodies past ``max_body`` are counted but not kept
  (flagged), for the same reason as the head cap.
* After a gap the reader cannot know where the next message begins unless
  the framing tells it: a hole inside a Content-Length body or inside a
  chunk's data is skipped (counted in ``missing``, never zero-filled) and
  reading goes on; a hole anywhere else ends the current message as damaged
  and the reader searches for the next start line (``RESYNC``).
* The start-line and header parsing is shared with the per-packet decoder
  (:func:`layerpeek.layers.http.decode`), so ``dump`` and ``http`` read a
  head the same way (bare-LF line ends accepted, obsolete folding joined).

Responses need one fact from the other direction: the method of the request
they answer (a response to HEAD has no body; a 2xx to CONNECT opens a
tunnel).  A :class:`ResponseReader` asks its ``method_of(n)`` callback for
the method of the n-th request; :class:`~layerpeek.http.pairing.HTTPPairer`
wires that up.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Final, Literal

from layerpeek.flows.events import CLOSE_TEXTS, CloseHow
from layerpeek.http.message import Framing, Headers, HTTPMessage
from layerpeek.layers import http as http_layer
from layerpeek.layers.http import REQUEST_STARTS

#: Largest message head (start line + fields + blank line) read, in bytes.
MAX_HEAD = 64 * 1024
#: Most header fields kept from one head (the rest are dropped, and that is flagged).
MAX_HEADERS = 256
#: Largest body kept in memory, in bytes; longer bodies are counted, not kept.
MAX_BODY = 256 * 1024 * 1024
#: Body bytes all unfinished messages sharing one :class:`BodyBudget` may hold
#: (the pairer's readers: every connection of a capture).  Past it a growing
#: body stops being kept, with a problem on its message, as past ``max_body``.
MAX_INFLIGHT = 1024 * 1024 * 1024


class BodyBudget:
    """Body bytes held by the unfinished messages of many readers (one total cap)."""

    __slots__ = ("limit", "used")

    def __init__(self, limit: int = MAX_INFLIGHT) -> None:
        self.limit = limit
        self.used = 0
#: Longest chunk-size line accepted (size, extensions and line end).
MAX_CHUNK_LINE = 4096

METHODS = REQUEST_STARTS  #: a method and its space (:data:`layerpeek.layers.http.METHODS`)
RESPONSE_START = (b"HTTP/1.",)
_LONGEST = max(len(t) for t in METHODS)
_STATUS_LINE = re.compile(rb"HTTP/1\.\d [0-9]{3}")
_REQUEST_VERSION = re.compile(rb" HTTP/1\.\d\r?$")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_MISSING = " (stream gap, not zero-filled)"

#: A reader's state: plain strings (they show up readably in a debugger and in
#: tests), typed so that mypy knows the vocabulary.
ReaderState = Literal[
    "detect", "idle", "head", "length", "chunk-size", "chunk-data", "chunk-end", "trailers",
    "close", "resync", "paused", "switched", "not-http",
]
DETECT: Final = "detect"
IDLE: Final = "idle"
HEAD: Final = "head"
LENGTH: Final = "length"
CHUNK_SIZE: Final = "chunk-size"
CHUNK_DATA: Final = "chunk-data"
CHUNK_END: Final = "chunk-end"
TRAILERS: Final = "trailers"
CLOSE: Final = "close"
RESYNC: Final = "resync"
PAUSED: Final = "paused"
SWITCHED: Final = "switched"
NOT_HTTP: Final = "not-http"
_BODY_STATES = frozenset({LENGTH, CHUNK_DATA, CLOSE})

#: How a stream ended (the tracker's ConnectionClosed.how), for messages cut by it:
#: the one table of close texts.
ENDED: dict[CloseHow, str] = CLOSE_TEXTS


class MessageReader:
    """Read HTTP/1.x messages of one ``kind`` ("request" or "response") from a byte stream.

    ``midstream=True`` for a stream whose beginning was not captured: the
    reader then looks for the first start line instead of deciding from the
    first bytes whether the stream is HTTP at all.
    """

    def __init__(
        self,
        kind: str,
        *,
        midstream: bool = False,
        max_head: int = MAX_HEAD,
        max_headers: int = MAX_HEADERS,
        max_body: int = MAX_BODY,
    ) -> None:
        if kind not in ("request", "response"):
            raise ValueError(f"kind must be 'request' or 'response', not {kind!r}")
        self.kind = kind
        self.max_head = max_head
        self.max_headers = max_headers
        self.max_body = max_body
        self.state: ReaderState = RESYNC if midstream else DETECT
        #: Problems with bytes that belong to no message (skipped while resynchronising).
        self.problems: list[str] = []
        #: Messages whose head was read (requests and responses alike).
        self.heads = 0
        #: Bytes after a protocol switch (101, CONNECT): counted, not parsed.
        self.tunnel_bytes = 0
        #: Called with each message as soon as its head is read (before its body).
        self.on_head: Callable[[HTTPMessage], None] | None = None
        self._starts = METHODS if kind == "request" else RESPONSE_START
        self._buf = bytearray()
        self._pos = 0  # next unparsed byte in _buf
        self._base = 0  # stream offset of _buf[0]
        self._scan = 0  # where the head-end search resumes (index into _buf)
        self._line_start = True  # is _buf[_pos] at the start of a line? (resync)
        self._skipped = 0  # bytes dropped while resynchronising, not yet reported
        self._skip_why = ""
        self._chunks: deque[tuple[int, int, tuple[int, ...], int]] = deque()  # (start, end, …)
        self._attributed = 0  # stream offset up to which chunks were credited to _msg
        self._msg: HTTPMessage | None = None
        self._frames: dict[int, None] = {}
        self._body = bytearray()
        self._body_kept = True
        #: Shared with other readers (see :class:`BodyBudget`); None: no total cap.
        self.budget: BodyBudget | None = None
        self._remaining = 0  # bytes left in a Content-Length body or in a chunk
        self._trailer_lines = 0
        self._end_offset = 0  # stream offset just past the last byte fed or skipped
        #: where resume() goes (RESYNC after a gap while paused)
        self._resume_to: ReaderState = IDLE
        #: Messages handed out so far.
        self.messages = 0
        #: After :meth:`switch`: the stream offset where the new protocol begins,
        #: the bytes of it already received, and the packets that carried them.
        self.switched_at = -1
        self.switched_bytes = b""
        self.switched_frames: tuple[int, ...] = ()

    # -- public API ----------------------------------------------------------

    @property
    def offset(self) -> int:
        """Stream offset just past the last byte fed (or skipped by a gap)."""
        return self._end_offset

    @property
    def is_http(self) -> bool:
        """Has this stream shown an HTTP message (or at least its start)?"""
        return self.messages > 0 or self.state == HEAD

    def feed(self, data: bytes, frames: tuple[int, ...] = (), ts_ns: int = 0) -> list[HTTPMessage]:
        """The next bytes of the stream, from ``frames`` delivered at ``ts_ns``."""
        if not data:
            return []
        start = self._end_offset
        self._end_offset += len(data)
        if self.state in (SWITCHED, NOT_HTTP):
            if self.state == SWITCHED:
                self.tunnel_bytes += len(data)
            return []
        out: list[HTTPMessage] = []
        state = self.state
        n = len(data)
        if (
            state in _BODY_STATES
            and self._pos == len(self._buf)
            and (state == CLOSE or n < self._remaining
                 or (state == LENGTH and n == self._remaining))
            and len(self._body) + n <= self.max_body
            and (self.budget is None or self.budget.used + n <= self.budget.limit)
        ):
            # Fast path, most segments of a large body: straight into the body,
            # without the receive buffer (one copy, no parsing).
            msg = self._msg
            assert msg is not None
            self._body += data
            if self.budget is not None:
                self.budget.used += n
            self._frames.update(dict.fromkeys(frames))
            msg.end_ts_ns = ts_ns
            self._base = self._attributed = self._end_offset
            if state != CLOSE:
                self._remaining -= n
                if self._remaining == 0:
                    self._done(out, self._end_offset)
            return out
        self._chunks.append((start, self._end_offset, frames, ts_ns))
        self._buf += data
        self._run(out)
        self._compact()
        return out

    def gap(self, length: int, reason: str = "") -> list[HTTPMessage]:
        """``length`` bytes of the stream were never captured (a hole, not zero bytes)."""
        if length <= 0:
            return []
        self._end_offset += length
        why = f"{length}-byte gap in the stream" + (f" ({reason})" if reason else "")
        out: list[HTTPMessage] = []
        state = self.state
        if state in (SWITCHED, NOT_HTTP):
            if state == SWITCHED:
                self.tunnel_bytes += length
            return out
        msg = self._msg
        if msg is not None and state in (LENGTH, CHUNK_DATA, CLOSE):
            # Inside a body of known extent the framing survives: skip the hole.
            # (The reader consumes every buffered byte in these states.)
            take = length if state == CLOSE else min(length, self._remaining)
            msg.missing += take
            # One problem line however many holes: the running total.
            msg.problems[:] = [p for p in msg.problems if not p.endswith(_MISSING)]
            msg.flag(f"{msg.missing} body bytes missing{_MISSING}")
            if state != CLOSE:
                self._remaining -= take
            length -= take
            self._drop_all()
            self._base = self._end_offset - length
            if state == LENGTH and self._remaining == 0:
                self._done(out, self._base)
            elif state == CHUNK_DATA and self._remaining == 0:
                self.state = CHUNK_END
            if length == 0:
                return out
            state = self.state
        # A hole anywhere else: the framing is lost.
        if self._msg is not None and state not in (DETECT, IDLE, RESYNC, PAUSED):
            self._cut(out, f"{why} in the {_where(state)}")
        elif state in (DETECT, IDLE, RESYNC, PAUSED):
            self._skip(len(self._buf) - self._pos, f"before a {why}")
        if not self._skip_why:
            self._skip_why = f"after a {why}"
        self._drop_all()
        self._base = self._end_offset
        if state == PAUSED:
            self._resume_to = RESYNC
        else:
            self.state = RESYNC
        self._line_start = True
        return out

    def finish(self, how: CloseHow = "eof") -> list[HTTPMessage]:
        """The stream ended: ``how`` is the tracker's ConnectionClosed.how ("fin", "rst", …)."""
        out: list[HTTPMessage] = []
        ended = ENDED.get(how, f"the connection ended ({how})")
        state = self.state
        msg = self._msg
        if state == CLOSE and msg is not None:
            if how != "fin":
                msg.flag(f"body delimited by the connection's close, but {ended}")
            self._done(out, self._end_offset)
        elif state == HEAD and msg is not None:
            self._cut(out, f"head incomplete: {ended}")
        elif msg is not None and state in (LENGTH, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS):
            if state == LENGTH:
                got = len(self._body) + msg.missing
                self._cut(out, f"body incomplete: {got} of {got + self._remaining} bytes, "
                               f"then {ended}")
            elif state == TRAILERS:
                self._cut(out, f"trailer section incomplete: {ended}")
            else:
                self._cut(out, f"chunked body incomplete (no last chunk): {ended}")
        elif state in (DETECT, IDLE) and self._pos < len(self._buf) and self.heads:
            self._skip(len(self._buf) - self._pos, f"when {ended}")
        elif state == PAUSED and self._pos < len(self._buf):
            self._skip(len(self._buf) - self._pos,
                       "sent after a CONNECT or Upgrade request that got no answer")
        elif state == RESYNC and self._pos < len(self._buf):
            self._skip(len(self._buf) - self._pos, self._skip_why or "that are not HTTP")
        self._report_skipped()
        self._drop_all()
        if self.state != SWITCHED:
            self.state = NOT_HTTP  # nothing more is read from a finished stream
        return out

    def resume(self) -> list[HTTPMessage]:
        """The server refused to switch: go on reading HTTP."""
        out: list[HTTPMessage] = []
        if self.state == PAUSED:
            self.state = self._resume_to
            self._resume_to = IDLE
            self._run(out)
            self._compact()
        return out

    def switch(self) -> None:
        """The connection switched protocols: the rest of the stream is not HTTP/1.

        The bytes already received past the last message are kept in
        :attr:`switched_bytes` for the reader of the new protocol (an
        ``Upgrade: h2c`` connection goes on in HTTP/2), which takes them
        with :meth:`take_switched`.
        """
        if self.state in (PAUSED, IDLE):
            left = len(self._buf) - self._pos
            self.tunnel_bytes += left
            self.switched_at = self._base + self._pos
            self.switched_bytes = bytes(self._buf[self._pos:])
            self.switched_frames = tuple(dict.fromkeys(
                f for _, end, frames, _ in self._chunks if end > self.switched_at
                for f in frames))
            self._drop_all()
            self.state = SWITCHED

    def take_switched(self) -> bytes:
        """The bytes that followed the switch (see :meth:`switch`); empty after the first call."""
        data, self.switched_bytes = self.switched_bytes, b""
        return data

    # -- framing hooks ---------------------------------------------------------

    def _framing(self, msg: HTTPMessage) -> Framing:
        """How the body of ``msg`` is delimited (RFC 9112 §6.3); sets ``_remaining``."""
        codings = msg.headers.tokens("transfer-encoding")
        lengths = msg.headers.get_all("content-length")
        if codings:
            if lengths:
                msg.flag("both Content-Length and Transfer-Encoding "
                         "(Transfer-Encoding used, RFC 9112 §6.3)")
            if codings[-1] == "chunked":
                return "chunked"
            if self.kind == "request":
                msg.flag(f"request Transfer-Encoding {', '.join(codings)!r} does not end "
                         "in chunked: body length unknown")
                return "none"
            return "close"
        if lengths:
            values = {v.strip() for value in lengths for v in value.split(",")}
            value = values.pop() if len(values) == 1 else ""
            if value.isdigit() and value.isascii():
                self._remaining = int(value)
                return "length" if self._remaining else "none"
            msg.flag(f"invalid Content-Length {', '.join(lengths)!r}")
            return "close" if self.kind == "response" else "none"
        return "close" if self.kind == "response" else "none"

    def _after_head(self, msg: HTTPMessage) -> Framing:
        """The framing once the head is read; responses override (they need the method)."""
        return self._framing(msg)

    # -- the state machine -----------------------------------------------------

    def _run(self, out: list[HTTPMessage]) -> None:
        buf = self._buf
        while True:
            state = self.state
            end = len(buf)
            if state in (DETECT, IDLE):
                pos = self._pos
                while pos < end and buf[pos] in b"\r\n":  # empty lines between messages
                    pos += 1
                self._pos = pos
                if pos == end:
                    return
                verdict = self._looks_like_start(pos)
                if verdict is None:
                    return  # too few bytes to tell
                if not verdict:
                    if state == DETECT and self.heads == 0:
                        self.state = NOT_HTTP
                        self._drop_all()
                        return
                    self._skip_why = "that are not HTTP, after a message"
                    self.state = RESYNC
                    self._line_start = False
                    continue
                self._start_message(pos)
            elif state == HEAD:
                if not self._read_head(out):
                    return
            elif state in (LENGTH, CHUNK_DATA):
                avail = end - self._pos
                if avail == 0:
                    return
                take = min(avail, self._remaining)
                self._take_body(take)
                self._remaining -= take
                if self._remaining:
                    return
                if state == LENGTH:
                    self._done(out, self._base + self._pos)
                else:
                    self.state = CHUNK_END
            elif state == CHUNK_SIZE:
                if not self._read_chunk_size(out):
                    return
            elif state == CHUNK_END:
                pos = self._pos
                if end - pos < 1 or (buf[pos] == 13 and end - pos < 2):
                    return
                if buf[pos] == 10:
                    self._pos = pos + 1
                elif buf[pos] == 13 and buf[pos + 1] == 10:
                    self._pos = pos + 2
                else:
                    assert self._msg is not None
                    self._msg.flag("chunk data not followed by CRLF")
                self.state = CHUNK_SIZE
            elif state == TRAILERS:
                if not self._read_trailer(out):
                    return
            elif state == CLOSE:
                take = end - self._pos
                if take:
                    self._take_body(take)
                return
            elif state == RESYNC:
                if not self._resync():
                    return
            else:  # PAUSED keeps its bytes; SWITCHED and NOT_HTTP never get here with bytes
                return

    def flag_current(self, problem: str) -> bool:
        """Flag the message being read (if any) with ``problem``; True if there was one."""
        msg = self._msg
        if msg is None:
            return False
        if not any(p.startswith(problem.split(":")[0]) for p in msg.problems):
            msg.flag(problem)  # the first such problem per message: bounded
        return True

    def _looks_like_start(self, pos: int) -> bool | None:
        """Does the buffer at ``pos`` begin a message? None: not enough bytes to say."""
        buf = self._buf
        have = len(buf) - pos
        for token in self._starts:
            n = min(have, len(token))
            if buf[pos : pos + n] == token[:n]:
                return True if n == len(token) else None
        return False

    def _start_message(self, pos: int) -> None:
        offset = self._base + pos
        msg = HTTPMessage(self.kind, start_offset=offset)
        self._report_skipped(msg)
        self._msg = msg
        self._frames = {}
        if self.budget is not None:
            self.budget.used -= len(self._body)
        self._body = bytearray()
        self._body_kept = True
        self._attributed = offset
        for start, end, _, ts in self._chunks:
            if start <= offset < end:
                msg.start_ts_ns = ts
                break
        self.state = HEAD
        self._scan = pos

    def _read_head(self, out: list[HTTPMessage]) -> bool:
        """Look for the end of the head; parse it when found.  False: need more bytes."""
        buf, pos = self._buf, self._pos
        scan = max(self._scan, pos)
        limit = pos + self.max_head
        blank = buf.find(b"\n\r\n", scan)
        bare = buf.find(b"\n\n", scan, blank + 1 if blank >= 0 else len(buf))
        if bare >= 0 and (blank < 0 or bare < blank):
            head_end = bare + 2
        elif blank >= 0:
            head_end = blank + 3
        else:
            if len(buf) - pos <= self.max_head:
                self._scan = max(pos, len(buf) - 2)
                return False
            head_end = -1
        if head_end < 0 or head_end - pos > self.max_head:
            # Too large: keep what fits under the cap, then look for the next message.
            msg = self._msg
            assert msg is not None
            self._parse_head(msg, bytes(buf[pos:limit]), complete=False)
            msg.head_len = self.max_head
            self._take_framing(limit)
            msg.flag(f"head larger than {self.max_head} bytes")
            self._done(out, self._base + limit)
            self._to_resync("after an oversized head")
            return True
        msg = self._msg
        assert msg is not None
        self._parse_head(msg, bytes(buf[pos:head_end]), complete=True)
        msg.head_len = head_end - pos
        self._credit(self._base + head_end)
        self._pos = head_end
        self.heads += 1
        framing = self._after_head(msg)
        msg.framing = framing
        if self.on_head is not None:
            self.on_head(msg)
        if framing == "length":
            self.state = LENGTH
        elif framing == "chunked":
            self.state = CHUNK_SIZE
        elif framing == "close":
            self.state = CLOSE
        else:
            self._done(out, self._base + head_end)
            if framing == "tunnel":
                self.switch()
        return True

    def _parse_head(self, msg: HTTPMessage, head: bytes, complete: bool) -> None:
        layer, _ = http_layer.decode(head, 0, len(head))
        if not isinstance(layer, http_layer.HTTP):  # cannot happen: the start was checked
            msg.flag("not an HTTP start line")
            return
        fields = list(layer.headers)
        if len(fields) > self.max_headers:
            msg.flag(f"more than {self.max_headers} header fields (the rest dropped)")
            del fields[self.max_headers :]
        msg.headers = Headers(fields)
        msg.version = layer.version
        if layer.kind == "request":
            msg.method = layer.method or ""
            msg.target = layer.target or ""
        else:
            msg.status = layer.status or 0
            msg.reason = layer.reason or ""
            if layer.status is None:
                msg.flag("status code is not three digits")
        if complete and not layer.complete:
            msg.flag("head cut short by the header-field cap")

    def _read_chunk_size(self, out: list[HTTPMessage]) -> bool:
        buf, pos = self._buf, self._pos
        nl = buf.find(b"\n", pos, pos + MAX_CHUNK_LINE)
        msg = self._msg
        assert msg is not None
        if nl < 0:
            if len(buf) - pos < MAX_CHUNK_LINE:
                return False
            self._cut(out, f"chunk-size line longer than {MAX_CHUNK_LINE} bytes")
            self._to_resync("after a bad chunk")
            return True
        line = bytes(buf[pos:nl]).split(b";", 1)[0].strip(b" \t\r")
        if not line or len(line) > 16 or not _HEX.issuperset(line):
            shown = bytes(buf[pos:nl]).rstrip(b"\r")[:40].decode("latin-1")
            self._cut(out, f"bad chunk size line {shown!r}")
            self._to_resync("after a bad chunk")
            return True
        size = int(line, 16)
        self._take_framing(nl + 1)
        if size == 0:
            self.state = TRAILERS
            self._trailer_lines = 0
        else:
            self._remaining = size
            self.state = CHUNK_DATA
        return True

    def _read_trailer(self, out: list[HTTPMessage]) -> bool:
        buf, pos = self._buf, self._pos
        nl = buf.find(b"\n", pos, pos + self.max_head)
        msg = self._msg
        assert msg is not None
        if nl < 0:
            if len(buf) - pos < self.max_head:
                return False
            self._cut(out, f"trailer line longer than {self.max_head} bytes")
            self._to_resync("after an oversized trailer")
            return True
        line = bytes(buf[pos:nl]).rstrip(b"\r")
        self._take_framing(nl + 1)
        if not line:
            self._done(out, self._base + nl + 1)
            return True
        self._trailer_lines += 1
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            msg.flag(f"trailer line without a colon {line[:40].decode('latin-1')!r}")
        elif self._trailer_lines > self.max_headers:
            msg.flag(f"more than {self.max_headers} trailer fields (the rest dropped)")
        else:
            msg.trailers.fields.append((name.rstrip(" \t"), value.strip(" \t")))
        return True

    def _resync(self) -> bool:
        """Find the next start line at a line start; drop what precedes it.  False: need more."""
        buf, pos = self._buf, self._pos
        end = len(buf)
        best = -1
        wait = -1
        for token in self._starts:
            i = buf.find(token, pos)
            while i >= 0:
                if (i == pos and self._line_start) or (i > pos and buf[i - 1] == 10):
                    ok = self._plausible(i)
                    if ok is None:
                        wait = i if wait < 0 else min(wait, i)
                        break
                    if ok:
                        best = i if best < 0 else min(best, i)
                        break
                i = buf.find(token, i + 1)
        if wait >= 0 and (best < 0 or wait < best):
            self._skip(wait - pos, self._skip_why)
            self._pos = wait
            self._line_start = True  # the candidate was at a line start
            return False
        if best < 0:
            keep = max(pos, end - _LONGEST)
            if keep > pos:
                self._line_start = buf[keep - 1] == 10
                self._skip(keep - pos, self._skip_why)
                self._pos = keep
            return False
        self._skip(best - pos, self._skip_why)
        self._pos = best
        self.state = IDLE
        return True

    def _plausible(self, i: int) -> bool | None:
        """Is there a real start line at ``i`` (not just the word GET in a body)?"""
        buf = self._buf
        if self.kind == "response":
            if len(buf) - i < 12:
                return None
            return _STATUS_LINE.match(buf, i) is not None
        nl = buf.find(b"\n", i, i + self.max_head)
        if nl < 0:
            return None if len(buf) - i < self.max_head else False
        return _REQUEST_VERSION.search(buf, i, nl) is not None

    # -- bookkeeping -------------------------------------------------------------

    def _credit(self, upto: int) -> None:
        """Credit the frames and times of stream bytes up to offset ``upto`` to the message."""
        msg = self._msg
        chunks = self._chunks
        for start, end, frames, ts in chunks:
            if start >= upto:
                break
            if end > self._attributed:
                self._frames.update(dict.fromkeys(frames))
                if msg is not None:
                    msg.end_ts_ns = ts
        while chunks and chunks[0][1] <= upto:
            chunks.popleft()
        self._attributed = max(self._attributed, upto)

    def _take_body(self, n: int) -> None:
        pos = self._pos
        if self._body_kept:
            room = self.max_body - len(self._body)
            budget = self.budget
            shared = room if budget is None else budget.limit - budget.used
            if n <= room and n <= shared:
                self._body += self._buf[pos : pos + n]
                if budget is not None:
                    budget.used += n
            else:
                take = max(min(room, shared), 0)
                self._body += self._buf[pos : pos + take]
                if budget is not None:
                    budget.used += take
                self._body_kept = False
                assert self._msg is not None
                if n > room:
                    self._msg.flag(f"body longer than {self.max_body} bytes: only those kept")
                else:
                    self._msg.flag(f"bodies in flight over {budget.limit if budget else 0} "
                                   "bytes in all: the rest of this one not kept")
        self._pos = pos + n
        self._credit(self._base + self._pos)

    def _take_framing(self, upto: int) -> None:
        self._pos = upto
        self._credit(self._base + upto)

    def _done(self, out: list[HTTPMessage], end_offset: int) -> None:
        """The current message is finished (whole or not): hand it out."""
        msg = self._msg
        assert msg is not None
        self._credit(end_offset)
        msg.end_offset = end_offset
        msg.body = bytes(self._body)
        if self.budget is not None:
            self.budget.used -= len(self._body)  # handed out: no longer in flight
        msg.body_wire_len = max(0, end_offset - msg.start_offset - msg.head_len)
        msg.frames = tuple(sorted(self._frames))
        if not msg.end_ts_ns:
            msg.end_ts_ns = msg.start_ts_ns
        out.append(msg)
        self.messages += 1
        self._msg = None
        self._body = bytearray()
        self._frames = {}
        self.state = IDLE
        if self.kind == "request" and (msg.method == "CONNECT" or "upgrade" in msg.headers):
            # The next bytes may be another protocol: wait for the server's answer
            # (h11's MIGHT_SWITCH_PROTOCOL).  The pairer calls resume() or switch().
            self.state = PAUSED

    def _cut(self, out: list[HTTPMessage], problem: str) -> None:
        """End the current message as damaged, keeping what was read of it."""
        msg = self._msg
        assert msg is not None
        if self.state == HEAD:
            head = bytes(self._buf[self._pos : self._pos + self.max_head])
            self._parse_head(msg, head, complete=False)
            self._credit(self._base + len(self._buf))
            self._pos = len(self._buf)
            msg.head_len = len(head)
        msg.flag(problem)
        self._done(out, self._base + self._pos)

    def _to_resync(self, why: str) -> None:
        self.state = RESYNC
        self._skip_why = why
        self._line_start = False

    def _skip(self, n: int, why: str) -> None:
        if n > 0:
            self._skipped += n
            if not self._skip_why:
                self._skip_why = why

    def _report_skipped(self, msg: HTTPMessage | None = None) -> None:
        if self._skipped:
            text = f"skipped {self._skipped} bytes {self._skip_why or 'that are not HTTP'}"
            if msg is not None:
                msg.notes.append(f"preceded by {text}")
            self.problems.append(text)
            self._skipped = 0
        self._skip_why = ""

    def _drop_all(self) -> None:
        self._base += len(self._buf)
        self._buf.clear()
        self._pos = 0
        self._scan = 0
        self._chunks.clear()

    def _compact(self) -> None:
        pos = self._pos
        if pos == 0:
            return
        if pos == len(self._buf):
            self._drop_all()
        elif pos >= 65536 and pos * 2 >= len(self._buf):
            del self._buf[:pos]
            self._base += pos
            self._scan = max(0, self._scan - pos)
            self._pos = 0


def _where(state: str) -> str:
    return {
        HEAD: "head",
        LENGTH: "body",
        CHUNK_SIZE: "chunked body",
        CHUNK_DATA: "chunked body",
        CHUNK_END: "chunked body",
        TRAILERS: "trailer section",
        CLOSE: "body",
    }.get(state, state)


class RequestReader(MessageReader):
    """Requests, as a client sends them."""

    def __init__(
        self,
        *,
        midstream: bool = False,
        max_head: int = MAX_HEAD,
        max_headers: int = MAX_HEADERS,
        max_body: int = MAX_BODY,
    ) -> None:
        super().__init__("request", midstream=midstream, max_head=max_head,
                         max_headers=max_headers, max_body=max_body)


class ResponseReader(MessageReader):
    """Responses, as a server sends them; ``method_of(n)`` names the n-th request's method."""

    def __init__(
        self,
        method_of: Callable[[int], str | None] | None = None,
        *,
        midstream: bool = False,
        max_head: int = MAX_HEAD,
        max_headers: int = MAX_HEADERS,
        max_body: int = MAX_BODY,
    ) -> None:
        super().__init__("response", midstream=midstream, max_head=max_head,
                         max_headers=max_headers, max_body=max_body)
        self.method_of = method_of
        #: Final (non-1xx) responses whose head was read: the index of the next one.
        self.finals = 0

    def _after_head(self, msg: HTTPMessage) -> Framing:
        status = msg.status
        if 100 <= status < 200:
            # Interim: no body (RFC 9112 §6.3 rule 1); 101 ends HTTP/1 on this connection.
            return "tunnel" if status == 101 else "none"
        method = self.method_of(self.finals) if self.method_of is not None else None
        self.finals += 1
        if method == "HEAD" or status in (204, 304):
            return "none"
        if method == "CONNECT" and 200 <= status < 300:
            return "tunnel"
        return self._framing(msg)
