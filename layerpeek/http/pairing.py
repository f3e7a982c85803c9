"""Pairing requests with responses, per TCP connection, from the tracker's events (sans-IO).

Theory of operation
===================

:class:`HTTPPairer` consumes the TCP tracker's events
(:mod:`layerpeek.flows.events`) and returns :class:`HTTPExchange` records.
Per conversation it keeps a :class:`RequestReader` for the client's stream
and a :class:`ResponseReader` for the server's, and a FIFO of requests not
yet answered.  HTTP/1.1 answers requests in the order they were sent
(RFC 9112 §9.3.2), pipelined or not, so the n-th final response on a
connection belongs to the n-th request:

* a request joins the FIFO as soon as its head is read, so the response
  reader knows the method it answers (HEAD and CONNECT change the framing)
  even when the server answers before the request body is complete;
* a 1xx interim response (``100 Continue``) is attached to the oldest
  unanswered request and answers nothing; ``101 Switching Protocols`` is the
  final answer to an Upgrade request and, like a 2xx to ``CONNECT``, ends
  HTTP on the connection in both directions (h11's ``SWITCHED_PROTOCOL``);
* an exchange is handed out when its response is complete (whole or
  damaged); at the connection's close the requests still waiting come out
  with ``response=None`` and the reason (closed, reset, capture ended), and a
  response with no request waiting comes out with ``request=None``;
* a stream gap that the readers cannot skip over (anything but the inside
  of a body of known size) may have swallowed whole messages, so every
  exchange made after it on that connection says its pairing is uncertain.

HTTP/2 (:mod:`layerpeek.http2`) is read on the same connections, found by
content on any port: a connection whose client begins with the HTTP/2
preface (prior knowledge, or TLS with ALPN ``h2`` once decrypted) is handed
whole to an :class:`~layerpeek.http2.pairing.HTTP2Pairer` (the first events
wait here until the client's first bytes tell), and an ``Upgrade: h2c``
request answered by ``101`` goes on in HTTP/2 with that request as stream 1.
Both kinds come out as the same :class:`HTTPExchange` records.

A connection picked up mid-stream has its client guessed by the tracker
from the ports; the pairer checks that guess against the first request or
status line before reading (see :meth:`HTTPPairer._probe`).

Streams that never begin like HTTP are ignored without a word: a TLS or SSH
connection is not an HTTP error.  Bytes skipped inside an HTTP stream are
reported in :attr:`HTTPPairer.problems`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from layerpeek.flows.events import (
    CloseHow,
    ConnectionClosed,
    ConnectionOpened,
    Event,
    Problem,
    StreamData,
    StreamGap,
    StreamInconsistency,
)
from layerpeek.http.message import NO_RESPONSE, HTTPExchange, HTTPMessage
from layerpeek.http.reader import (
    MAX_BODY,
    MAX_HEAD,
    MAX_HEADERS,
    MAX_INFLIGHT,
    PAUSED,
    RESYNC,
    BodyBudget,
    MessageReader,
    RequestReader,
    ResponseReader,
)
from layerpeek.http2.pairing import HTTP2Pairer
from layerpeek.layers.http import METHODS
from layerpeek.layers.http2 import PREFACE
from layerpeek.tls.events import DecryptedData

if TYPE_CHECKING:
    from layerpeek.analysis import Step

#: Looks up a conversation's ``(client, server)`` as "addr:port" strings.
Endpoints = Callable[[int], tuple[str, str]]

_UNCERTAIN = "paired after a stream gap: messages in between may be missing"
#: Bytes per direction held back, on a connection picked up mid-stream, while
#: looking for the first request or status line that tells the roles apart.
PROBE_LIMIT = 64 * 1024
#: Conflicting retransmissions listed in :attr:`HTTPPairer.problems` (the rest counted).
MAX_CONFLICTS = 100
#: Events held back at most (each costs ~200 B of bookkeeping besides its bytes).
PROBE_EVENTS = 4096
_REQUEST_LINE = re.compile(
    rb"(?:^|\n)(?:" + "|".join(METHODS).encode() + rb") \S+ HTTP/1\.\d\r?\n"
)
_STATUS_LINE = re.compile(rb"(?:^|\n)HTTP/1\.\d [0-9]{3}")


@dataclass(slots=True, eq=False)
class _Conn:
    cid: int
    requests: RequestReader
    responses: ResponseReader
    methods: list[str] = field(default_factory=list)
    pending: deque[HTTPExchange] = field(default_factory=deque)
    announced: deque[HTTPMessage] = field(default_factory=deque)  # heads read, not yet done
    count: int = 0  # exchanges made so far
    uncertain: bool = False
    request_side: str = "client"  # the tracker's direction that carries the requests
    endpoints: tuple[str, str] | None = None  # (client, server) from ConnectionOpened
    probe: list[StreamData | StreamGap] | None = None  # events held until roles are known
    # events held until the client's first bytes say whether it speaks HTTP/2
    sniff: list[StreamData | StreamGap] | None = None
    sniff_client: bytearray = field(default_factory=bytearray)  # its first bytes (≤ 24)
    sniff_server: int = 0  # server bytes held meanwhile
    sniff_gap: bool = False  # the client's stream began with a gap
    h2: HTTP2Pairer | None = None  # the connection speaks HTTP/2 (from the start or upgraded)
    seen: _Probe | None = None  # what the held events showed so far (scanned once)


class _Probe:
    """Request and status lines found in a mid-stream connection's held bytes.

    Each new byte is looked at once: lines are tested when their newline
    arrives (both patterns stop at a line's end), never by searching the
    whole held buffer again per segment, which made 64k one-byte segments
    take 234 s.  An unfinished last line is tested at the end.
    """

    __slots__ = ("data", "events", "found", "line")

    def __init__(self) -> None:
        self.data = {"client": bytearray(), "server": bytearray()}
        self.line = {"client": 0, "server": 0}  # where the unfinished line starts
        self.found: set[tuple[str, str]] = set()  # (direction, "request" | "status")
        self.events = 0

    def add(self, direction: str, data: bytes) -> None:
        buf = self.data[direction]
        at = len(buf)
        buf += data
        newline = buf.find(b"\n", at)
        while newline >= 0:
            self._test(direction, buf, newline)
            self.line[direction] = newline
            newline = buf.find(b"\n", newline + 1)

    def finish(self) -> None:
        for direction, buf in self.data.items():
            self._test(direction, buf, len(buf))

    def _test(self, direction: str, buf: bytearray, end: int) -> None:
        start = self.line[direction]
        if _REQUEST_LINE.match(buf, start, end + 1):
            self.found.add((direction, "request"))
        if _STATUS_LINE.match(buf, start, end + 1):
            self.found.add((direction, "status"))

    def count(self, requests: str, responses: str) -> int:
        return ((requests, "request") in self.found) + ((responses, "status") in self.found)


class HTTPPairer:
    """TCP tracker events in, HTTP exchanges out.

    ``endpoints`` (optional) names a conversation's client and server; without
    it they are taken from the tracker's ``ConnectionOpened`` events.  The
    caps are the readers' (see :mod:`layerpeek.http.reader`), and
    ``max_inflight`` bounds the body bytes all unfinished messages hold
    together.  As a stage of :class:`~layerpeek.analysis.Analysis` it raises
    each :class:`~layerpeek.http.message.HTTPExchange` as an event when it is
    complete, and each new entry of :attr:`problems` as a ``Problem``.
    """

    stage_name: ClassVar[str] = "http"
    requires: ClassVar[Mapping[str, Mapping[str, Any]]] = {"tcp": {}}

    def __init__(
        self,
        *,
        endpoints: Endpoints | None = None,
        max_head: int = MAX_HEAD,
        max_headers: int = MAX_HEADERS,
        max_body: int = MAX_BODY,
        max_inflight: int = MAX_INFLIGHT,
    ) -> None:
        self.endpoints = endpoints
        self.caps = {"max_head": max_head, "max_headers": max_headers, "max_body": max_body}
        #: Plain-language problems not tied to one message ("stream 3 client: …").
        self.problems: list[str] = []
        self._conns: dict[int, _Conn] = {}
        self._decrypted: set[int] = set()  # TLS connections read as plaintext
        #: Retransmissions with different bytes seen on HTTP connections.
        self.conflicts = 0
        #: Body bytes held by unfinished messages of every connection (one total cap).
        self.budget = BodyBudget(max_inflight)

    # -- as a stage of layerpeek.analysis.Analysis -----------------------------

    def on_packet(self, step: Step) -> list[HTTPExchange | Problem]:
        return self._feed_all(step.events, final=False)

    def on_finish(self, events: Sequence[object]) -> list[HTTPExchange | Problem]:
        return self._feed_all(events, final=True)

    def _feed_all(self, events: Sequence[object], *, final: bool) -> list[HTTPExchange | Problem]:
        known = len(self.problems)
        out: list[HTTPExchange | Problem] = []
        for event in events:
            if isinstance(event, (StreamData, StreamGap, ConnectionOpened, ConnectionClosed,
                                  DecryptedData, StreamInconsistency)):
                out.extend(self.feed(event))
        if final:
            out.extend(self.finish())
        out.extend(Problem("http", text) for text in self.problems[known:])
        return out

    def feed(self, event: Event | DecryptedData) -> list[HTTPExchange]:
        """One tracker event; returns the exchanges it completed (often none).

        A TLS connection's :class:`~layerpeek.tls.events.DecryptedData` (from
        the TLS stage, with a key log) is read like a cleartext stream; from
        its first plaintext on, that connection's ciphertext is ignored.
        """
        out: list[HTTPExchange] = []
        if isinstance(event, DecryptedData):
            self._plaintext_from_now(event.conversation)
            event = event.as_stream_data()
        elif isinstance(event, (StreamData, StreamGap)) and event.conversation in self._decrypted:
            return out  # ciphertext: its plaintext comes as DecryptedData
        if isinstance(event, (StreamData, StreamGap)):
            conn = self._conn(event.conversation, True)
            if conn.h2 is not None:
                out.extend(conn.h2.feed(event))
            elif conn.sniff is not None:
                conn.sniff.append(event)
                if event.direction != conn.request_side:
                    conn.sniff_server += len(event.data) if isinstance(event, StreamData) else 0
                elif isinstance(event, StreamGap):
                    conn.sniff_gap = conn.sniff_gap or len(conn.sniff_client) < len(PREFACE)
                elif len(conn.sniff_client) < len(PREFACE) and not conn.sniff_gap:
                    conn.sniff_client += event.data[:len(PREFACE) - len(conn.sniff_client)]
                self._sniff(conn, out, final=False)
            elif conn.probe is not None:
                conn.probe.append(event)
                self._probe(conn, out, final=False)
            else:
                self._dispatch(conn, event, out)
        elif isinstance(event, ConnectionOpened):
            conn = self._conn(event.conversation, event.how == "midstream")
            if event.client is not None and event.server is not None:
                conn.endpoints = (str(event.client), str(event.server))
        elif isinstance(event, StreamInconsistency):
            self._conflict(event)
        elif isinstance(event, ConnectionClosed):
            self._decrypted.discard(event.conversation)
            conn_or_none = self._conns.pop(event.conversation, None)
            if conn_or_none is not None:
                self._close(conn_or_none, event.how, out)
        return out

    def _plaintext_from_now(self, cid: int) -> None:
        """A TLS connection's first plaintext: read it afresh from the plaintext's start.

        What was read of its ciphertext was not HTTP (a TLS handshake), so
        the connection's readers are replaced, keeping its endpoints.
        """
        if cid in self._decrypted:
            return
        self._decrypted.add(cid)
        old = self._conns.pop(cid, None)
        conn = self._conn(cid, False)
        if old is not None:
            conn.endpoints = old.endpoints

    def _dispatch(
        self, conn: _Conn, event: StreamData | StreamGap, out: list[HTTPExchange]
    ) -> None:
        to_requests = event.direction == conn.request_side
        reader: MessageReader = conn.requests if to_requests else conn.responses
        if isinstance(event, StreamData):
            msgs = reader.feed(event.data, event.frames, event.ts_ns)
        else:
            msgs = reader.gap(event.length, event.reason)
            if reader.state == RESYNC and (conn.requests.is_http or conn.responses.is_http):
                conn.uncertain = True
        for msg in msgs:
            if to_requests:
                self._request_done(conn, msg, out)
            else:
                self._response_done(conn, msg, out)

    def _probe(self, conn: _Conn, out: list[HTTPExchange], *, final: bool) -> None:
        """Which side of a connection picked up mid-stream sends the requests?

        The tracker guesses the client of such a connection from the ports
        (the higher one), which is wrong for, say, a client on port 3000
        talking to a server on 8080.  The first request line or status line
        seen decides instead; until then the events wait here (at most
        :data:`PROBE_LIMIT` bytes per direction), then are replayed in order.
        """
        probe = conn.probe
        assert probe is not None
        seen = conn.seen
        if seen is None:
            seen = conn.seen = _Probe()
        for event in probe[seen.events:]:
            if isinstance(event, StreamData):
                seen.add(event.direction, event.data)
        seen.events = len(probe)
        if final:
            seen.finish()
        normal = seen.count("client", "server")
        swapped = seen.count("server", "client")
        full = (max(len(d) for d in seen.data.values()) >= PROBE_LIMIT
                or len(probe) >= PROBE_EVENTS)
        if not (final or full or normal or swapped):
            return
        conn.seen = None
        if swapped > normal:
            conn.request_side = "server"
        conn.probe = None
        for event in probe:
            self._dispatch(conn, event, out)

    def _conflict(self, event: StreamInconsistency) -> None:
        """A retransmission carried other bytes than the first copy, which the
        messages are read from: said on the message being read, and in
        :attr:`problems` (the first :data:`MAX_CONFLICTS`, then counted)."""
        conn = self._conns.get(event.conversation)
        if conn is None or (conn.requests.heads == 0 and conn.responses.heads == 0
                            and conn.probe is None):
            return  # not (yet) an HTTP connection
        first = f"#{event.first_frame}" if event.first_frame else "an earlier frame"
        text = (f"retransmission with different bytes: offset {event.offset}, "
                f"{event.length} bytes in #{event.frame} differ from {first} (first copy used)")
        reader = conn.requests if event.direction == conn.request_side else conn.responses
        reader.flag_current(text)
        self.conflicts += 1
        if self.conflicts <= MAX_CONFLICTS:
            self.problems.append(f"stream {event.conversation} {event.direction}: {text}")
        elif self.conflicts == MAX_CONFLICTS + 1:
            self.problems.append(f"more than {MAX_CONFLICTS} conflicting retransmissions: "
                                 "the rest not listed")

    def _sniff(self, conn: _Conn, out: list[HTTPExchange], *, final: bool) -> None:
        """Does the client begin with the HTTP/2 connection preface?

        Held events are replayed, in order, to the HTTP/2 pairer or to the
        HTTP/1 readers once the client's first bytes decide (one byte that
        differs from the preface is enough), or when the server alone has
        sent :data:`PROBE_LIMIT` bytes, or the client's stream begins with a
        gap, or the connection ends.
        """
        held = conn.sniff
        assert held is not None
        client = conn.sniff_client
        h2 = client == PREFACE
        if not (h2 or final or conn.sniff_gap or conn.sniff_server >= PROBE_LIMIT
                or PREFACE[:len(client)] != client):
            return
        conn.sniff = None
        conn.sniff_client = bytearray()
        if h2:
            conn.h2 = self._http2(conn)
            for event in held:
                out.extend(conn.h2.feed(event))
        else:
            for event in held:
                self._dispatch(conn, event, out)

    def _http2(self, conn: _Conn) -> HTTP2Pairer:
        caps = self.caps
        return HTTP2Pairer(lambda request: self._exchange(conn, request),
                           request_side=conn.request_side, max_body=caps["max_body"],
                           budget=self.budget)

    def _upgrade_h2c(self, conn: _Conn, ex: HTTPExchange, out: list[HTTPExchange]) -> None:
        """``101`` to ``Upgrade: h2c``: HTTP/2 from the next byte, the request as stream 1."""
        h2 = conn.h2 = self._http2(conn)
        h2.upgrade(ex)
        responses, requests = conn.responses, conn.requests
        resp = ex.interim[-1]
        out.extend(h2.feed_bytes("server", responses.take_switched(), responses.switched_frames,
                                 resp.end_ts_ns))
        out.extend(h2.feed_bytes("client", requests.take_switched(), requests.switched_frames,
                                 resp.end_ts_ns))

    def finish(self) -> list[HTTPExchange]:
        """No more events: close what is still open (as if the capture ended)."""
        out: list[HTTPExchange] = []
        for cid in list(self._conns):
            self._close(self._conns.pop(cid), "eof", out)
        return out

    # -- per connection ----------------------------------------------------------

    def _conn(self, cid: int, midstream: bool) -> _Conn:
        conn = self._conns.get(cid)
        if conn is None:
            caps = self.caps
            requests = RequestReader(midstream=midstream, max_head=caps["max_head"],
                                     max_headers=caps["max_headers"], max_body=caps["max_body"])
            responses = ResponseReader(midstream=midstream, max_head=caps["max_head"],
                                       max_headers=caps["max_headers"],
                                       max_body=caps["max_body"])
            requests.budget = responses.budget = self.budget
            conn = _Conn(cid, requests, responses, probe=[] if midstream else None,
                         sniff=None if midstream else [])
            methods = conn.methods
            responses.method_of = lambda n: methods[n] if n < len(methods) else None
            requests.on_head = lambda msg: self._request_head(conn, msg)
            self._conns[cid] = conn
        return conn

    def _exchange(self, conn: _Conn, request: HTTPMessage | None) -> HTTPExchange:
        ex = HTTPExchange(conn.cid, conn.count, request)
        conn.count += 1
        names = self.endpoints(conn.cid) if self.endpoints is not None else conn.endpoints
        if names is not None:
            ex.client, ex.server = names
            if conn.request_side == "server":  # the tracker's guess was the wrong way round
                ex.client, ex.server = ex.server, ex.client
        if conn.uncertain:
            ex.pairing.append(_UNCERTAIN)
        return ex

    def _request_head(self, conn: _Conn, msg: HTTPMessage) -> None:
        conn.announced.append(msg)
        conn.methods.append(msg.method)
        conn.pending.append(self._exchange(conn, msg))

    def _request_done(self, conn: _Conn, msg: HTTPMessage, out: list[HTTPExchange]) -> None:
        if conn.announced and conn.announced[0] is msg:
            conn.announced.popleft()
        else:  # cut before its head was whole: never announced
            conn.methods.append(msg.method)
            conn.pending.append(self._exchange(conn, msg))

    def _response_done(self, conn: _Conn, msg: HTTPMessage, out: list[HTTPExchange]) -> None:
        if msg.informational and msg.status != 101:
            if conn.pending:
                conn.pending[0].interim.append(msg)
                return
            ex = self._exchange(conn, None)
            ex.response = msg
            out.append(ex)
            return
        if conn.pending:
            ex = conn.pending.popleft()
        else:
            ex = self._exchange(conn, None)
        requests = conn.requests
        if msg.status == 101 and "h2c" in msg.headers.tokens("upgrade"):
            ex.interim.append(msg)
            requests.switch()
            conn.responses.switch()
            self._upgrade_h2c(conn, ex, out)
            return
        ex.response = msg
        out.append(ex)
        switched = msg.status == 101 or (ex.method == "CONNECT" and 200 <= msg.status < 300)
        if switched:
            requests.switch()
            conn.responses.switch()
        elif requests.state == PAUSED and not conn.pending:
            for req in requests.resume():
                self._request_done(conn, req, out)

    def _close(self, conn: _Conn, how: CloseHow, out: list[HTTPExchange]) -> None:
        if conn.sniff is not None:
            self._sniff(conn, out, final=True)
        if conn.h2 is not None:
            out.extend(conn.h2.close(how))
            self.problems.extend(f"stream {conn.cid} HTTP/2 {p}" for p in conn.h2.problems)
        if conn.probe is not None:
            self._probe(conn, out, final=True)
        for msg in conn.requests.finish(how):
            self._request_done(conn, msg, out)
        for msg in conn.responses.finish(how):
            self._response_done(conn, msg, out)
        while conn.pending:
            ex = conn.pending.popleft()
            ex.unanswered = NO_RESPONSE.get(how, f"no response (connection ended: {how})")
            out.append(ex)
        if conn.requests.is_http or conn.responses.is_http:
            other = "server" if conn.request_side == "client" else "client"
            for direction, reader in ((conn.request_side, conn.requests), (other, conn.responses)):
                self.problems.extend(
                    f"stream {conn.cid} {direction}: {p}" for p in reader.problems
                )
