"""The TLS stage: TCP tracker events in, TLS events out, for every connection of a capture.

:class:`TLSTracker` follows the stage convention of the flow pipeline
(``feed(event) -> list[event]`` per TCP event, ``finish()`` at the end),
reading :class:`~layerpeek.flows.events.StreamData`,
:class:`~layerpeek.flows.events.StreamGap` and
:class:`~layerpeek.flows.events.ConnectionClosed`.  A conversation is TLS
when the first bytes of either direction are a handshake record header
(``16 03 0x``), on any port; every other conversation is ignored after its
first five bytes.  One :class:`~layerpeek.tls.connection.TLSConnection`
per TLS conversation does the work; finished ones are kept in
:attr:`TLSTracker.connections` (unless ``keep_connections=False``) for
summaries: version, SNI, ALPN, cipher, certificates, what decryption did.

Typical use, with the TCP tracker::

    tcp = TCPTracker()
    tls = TLSTracker(KeyLog.load("keys.log"))
    for packet in layerpeek.read("https.pcap"):
        for event in tcp.feed(packet):
            for tls_event in tls.feed(event):
                ...  # DecryptedData → HTTP; TLSHandshake → the story
"""

from __future__ import annotations

from collections import Counter

from layerpeek.flows.events import ConnectionClosed, Event, StreamData, StreamGap
from layerpeek.tls.connection import TLSConnection
from layerpeek.tls.events import TLSEvent, TLSProblem
from layerpeek.tls.keylog import KeyLog
from layerpeek.tls.records import HEADER_LEN, plausible_header


class TLSTracker:
    """Finds the TLS conversations among the TCP ones and runs a TLSConnection for each."""

    def __init__(self, keylog: KeyLog | None = None, *, keep_connections: bool = True) -> None:
        self.keylog = keylog
        self.keep_connections = keep_connections
        #: Every TLS connection seen (open and closed), by conversation id.
        self.connections: dict[int, TLSConnection] = {}
        self._open: dict[int, TLSConnection] = {}
        self._not_tls: set[int] = set()
        self._head: dict[tuple[int, str], bytes] = {}  # first bytes while fewer than 5
        #: TLS connections with a problem, by TLSProblem.kind (each connection once per kind)
        self.problem_counts: Counter[str] = Counter()
        #: each connection's first problem of each kind, since a caller last emptied it
        self.first_problems: list[TLSProblem] = []
        self._counted: dict[int, set[str]] = {}

    def _count(self, events: list[TLSEvent]) -> list[TLSEvent]:
        for e in events:
            if isinstance(e, TLSProblem):
                kinds = self._counted.setdefault(e.conversation, set())
                if e.kind not in kinds:
                    kinds.add(e.kind)
                    self.problem_counts[e.kind] += 1
                    self.first_problems.append(e)
        return events

    def connection(self, conversation: int) -> TLSConnection | None:
        """The TLS state of an open (or kept) conversation: ALPN, version, keys, …

        The HTTP/2 reader asks ``connection(cid).alpn == "h2"`` to know that a
        conversation's :class:`~layerpeek.tls.events.DecryptedData` is HTTP/2.
        """
        return self._open.get(conversation) or self.connections.get(conversation)

    def is_tls(self, conversation: int) -> bool:
        """Is this conversation (still open, or kept) one this tracker reads as TLS?"""
        return conversation in self._open or conversation in self.connections

    def _start(self, event: StreamData) -> list[TLSEvent]:
        """The first bytes of a conversation not yet classified: TLS or not?"""
        cid = event.conversation
        if cid in self._not_tls:
            return []
        key = (cid, event.direction)
        held = self._head.pop(key, None)
        if held is None and event.offset != 0:
            return []  # picked up mid-stream: records cannot be framed from here
        data = event.data if held is None else held + event.data
        if len(data) < HEADER_LEN:
            self._head[key] = data
            return []
        self._head.pop((cid, "server" if event.direction == "client" else "client"), None)
        if data[0] != 22 or not plausible_header(data, 0):
            self._not_tls.add(cid)
            return []
        conn = TLSConnection(cid, self.keylog)
        self._open[cid] = conn
        if self.keep_connections:
            self.connections[cid] = conn
        return self._count(conn.feed(event.direction, data, event.frames, event.ts_ns))

    def feed(self, event: Event) -> list[TLSEvent]:
        """One TCP tracker event; returns the TLS events it completed (often none)."""
        if isinstance(event, StreamData):
            conn = self._open.get(event.conversation)
            if conn is None:
                return self._start(event)
            return self._count(conn.feed(event.direction, event.data, event.frames,
                                         event.ts_ns))
        if isinstance(event, StreamGap):
            conn = self._open.get(event.conversation)
            return [] if conn is None else self._count(
                conn.gap(event.direction, event.length, event.reason, event.ts_ns))
        if isinstance(event, ConnectionClosed):
            self._not_tls.discard(event.conversation)
            for direction in ("client", "server"):
                self._head.pop((event.conversation, direction), None)
            conn = self._open.pop(event.conversation, None)
            out = [] if conn is None else self._count(conn.close())
            self._counted.pop(event.conversation, None)
            return out
        return []

    def finish(self) -> list[TLSEvent]:
        """End of capture: close what is still open."""
        out: list[TLSEvent] = []
        for cid in list(self._open):
            out.extend(self._count(self._open.pop(cid).close()))
        self._head.clear()
        self._counted.clear()
        return out
