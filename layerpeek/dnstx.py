"""DNS transactions: each query paired with its answer, over UDP and TCP.

The per-packet decoder (:mod:`layerpeek.layers.dns`) sees one message at a
time.  A student looking at a capture wants the conversation instead: which
name was asked, what came back, how long it took, and what went wrong
(no answer, a retransmitted query, a truncated answer retried over TCP).

>>> from layerpeek import dnstx
>>> tx = dnstx.transactions("captures/page_load.pcap")[0]    # the A query; then AAAA
>>> tx.question_text, tx.query_frame, tx.response_frame, tx.rcode_name, tx.response_time_ns
('A www.example.test', 1, 2, 'NOERROR', 342000)
>>> tx.cname_chain, tx.addresses
(('www.example.test', 'edge.example.test', 'host1.example.test'), ('127.0.0.1',))

Theory of operation
===================

:class:`DNSTracker` is a sans-IO stage of the analysis pipeline
(:class:`~layerpeek.analysis.Analysis`): for every packet it gets the
packet (IP-defragmented, so a large answer in IPv6 fragments is whole), the
packet's flow info and the TCP events the packet caused.

* **UDP**: one datagram is one message, already decoded by the DNS layer.
* **TCP**: messages carry a two-byte length prefix (RFC 1035 §4.2.2) and
  may span segments or share one, so the per-packet layer is not used:
  the reassembled :class:`~layerpeek.flows.events.StreamData` of
  conversations on a DNS port are framed here.  A message belongs to the
  frame that completed it (as Wireshark shows it).  A hole in the stream
  (:class:`~layerpeek.flows.events.StreamGap`) loses the framing for good:
  that direction is abandoned and the loss reported in :attr:`DNSTracker.problems`.

Pairing follows Wireshark's rules so ``dns.response_to`` and ``dns.time``
can be compared one for one:

* A query and its response share the DNS id and the conversation (transport
  and stream, with the response going from the query's server back to its
  client).  A response pairs with the most recent unanswered query.
* A query with the id and the questions of an unanswered query of the same
  conversation, sent within :data:`RETRANSMIT_WINDOW_NS` of it, is a
  retransmission of it (Wireshark's ``dns.retransmission``, whose timer
  defaults to 5 s); later it starts a new transaction and the old one stays
  unanswered.  Wireshark looks at the id alone; mDNS, where every id is 0,
  needs the questions too.
* The response time counts from the *first* copy of the query (``dns.time``).
* A second response to an answered query is a duplicate; a response with no
  query at all is kept as an "unsolicited" transaction.
* A query sent to a multicast group (LLMNR, mDNS) may be answered by anyone:
  a unicast response back to the querier pairs with it by id.  mDNS
  announcements sent to the group stay unsolicited (Wireshark pairs packets
  that travel the *same* way in such a "conversation"; we do not, because an
  announcement is not an answer).

After the capture, a UDP answer with the TC bit is linked to the TCP
transaction that retried it: the first later TCP query from the same client
address to the same server address asking the same question.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from layerpeek.flows.events import (
    ConnectionClosed,
    ConnectionOpened,
    Problem,
    StreamData,
    StreamGap,
)
from layerpeek.flows.key import Endpoint
from layerpeek.flows.tracker import PacketFlowInfo, TCPConversation
from layerpeek.layers.dns import DNS, DNSQuestion, DNSRecord, Rcode
from layerpeek.layers.dns import decode_message as _decode_message
from layerpeek.layers.icmp import ICMP
from layerpeek.layers.icmpv6 import ICMPv6
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.udp import UDP
from layerpeek.packet import Malformed, Packet
from layerpeek.tls.events import DecryptedData
from layerpeek.wire import enum_name

if TYPE_CHECKING:
    from layerpeek.analysis import Step

#: Wireshark's default ``dns.retransmission_timer``: a query repeated later
#: than this is a new request, not a retransmission.
RETRANSMIT_WINDOW_NS = 5_000_000_000

#: TCP ports whose streams are framed as DNS (the registry decodes DNS on 53).
DNS_TCP_PORTS: frozenset[int] = frozenset({53})
#: TCP ports of DNS over TLS (RFC 7858): framed as DNS over TCP once the TLS stage
#: decrypts them (its DecryptedData, with a key log); their ciphertext is ignored.
DNS_TLS_PORTS: frozenset[int] = frozenset({853})

#: Extended RCODEs (EDNS, RFC 6891 §6.1.3 and the IANA registry); the 4-bit
#: header codes are :class:`~layerpeek.layers.dns.Rcode`.
_EXTENDED_RCODES = {
    16: "BADVERS",
    17: "BADKEY",
    18: "BADTIME",
    19: "BADMODE",
    20: "BADNAME",
    21: "BADALG",
    22: "BADTRUNC",
    23: "BADCOOKIE",
}

#: Longest CNAME chain followed: real resolvers give up around 8-16 hops, and
#: the bound keeps a hostile answer (a CNAME loop) from looping here.
MAX_CNAME_HOPS = 32


def rcode_name(value: int) -> str:
    """``NOERROR``, ``NXDOMAIN`` … for a (possibly extended) RCODE; unknown → hex."""
    if value in _EXTENDED_RCODES:
        return _EXTENDED_RCODES[value]
    return enum_name(Rcode, value)


def full_rcode(message: DNS) -> int:
    """The 12-bit RCODE: EDNS carries the upper 8 bits in the OPT record."""
    opt = message.edns
    return message.rcode if opt is None else (opt.extended_rcode << 4) | message.rcode


@dataclass(slots=True)
class DNSMessage:
    """One DNS message as seen on the wire, with where and when it was seen."""

    dns: DNS
    frame: int  #: the frame that carried it (for TCP: the one that completed it)
    ts_ns: int
    transport: str  #: "udp" or "tcp"
    stream: int  #: udp.stream / tcp.stream of its conversation
    src: Endpoint
    dst: Endpoint
    frames: tuple[int, ...] = ()  #: TCP: every frame that carried part of it
    problem: str | None = None  #: why it decoded only partly (cut, malformed), else None


@dataclass(slots=True, eq=False)
class DNSTransaction:
    """A query and its response (either may be missing), with what went wrong."""

    transport: str  #: "udp" or "tcp"
    stream: int  #: the conversation: udp.stream or tcp.stream
    client: Endpoint  #: who asked
    server: Endpoint  #: who was asked (for a multicast query: the group)
    dns_id: int
    query: DNSMessage | None = None  #: the first copy; None for an unsolicited response
    response: DNSMessage | None = None  #: the first response; None when unanswered
    retransmissions: list[DNSMessage] = field(default_factory=list)  #: later copies
    duplicate_responses: list[DNSMessage] = field(default_factory=list)
    tcp_retry: DNSTransaction | None = field(default=None, repr=False)
    #: for a TCP transaction, the truncated UDP one it retried
    retry_of: DNSTransaction | None = field(default=None, repr=False)

    @property
    def query_frame(self) -> int | None:
        return None if self.query is None else self.query.frame

    @property
    def response_frame(self) -> int | None:
        return None if self.response is None else self.response.frame

    # -- what was asked ---------------------------------------------------

    @property
    def questions(self) -> tuple[DNSQuestion, ...]:
        msg = self.query if self.query is not None else self.response
        if msg is not None and msg.dns.questions:
            return msg.dns.questions
        if self.response is not None:
            return self.response.dns.questions
        return ()

    @property
    def name(self) -> str | None:
        """The first question's name (a query practically always has exactly one)."""
        q = self.questions
        return q[0].name if q else None

    @property
    def qtype(self) -> int | None:
        q = self.questions
        return q[0].type if q else None

    @property
    def question_text(self) -> str:
        """``A www.example.test`` (or ``-`` when no question was carried)."""
        q = self.questions
        if not q:
            return "-"
        return str(q[0]) + (f" (+{len(q) - 1} more)" if len(q) > 1 else "")

    @property
    def opcode(self) -> int:
        msg = self.query if self.query is not None else self.response
        return msg.dns.opcode if msg is not None else 0

    # -- what came back ---------------------------------------------------

    @property
    def status(self) -> str:
        """``answered``, ``unanswered`` or ``unsolicited`` (a response without a query)."""
        if self.query is None:
            return "unsolicited"
        return "answered" if self.response is not None else "unanswered"

    @property
    def rcode(self) -> int | None:
        """The response's full RCODE (EDNS-extended), None when unanswered."""
        return None if self.response is None else full_rcode(self.response.dns)

    @property
    def rcode_name(self) -> str | None:
        code = self.rcode
        return None if code is None else rcode_name(code)

    @property
    def truncated(self) -> bool:
        """The answer had the TC bit: it did not fit, the client should retry over TCP."""
        return self.response is not None and self.response.dns.tc

    @property
    def answers(self) -> tuple[DNSRecord, ...]:
        return () if self.response is None else self.response.dns.answers

    @property
    def authorities(self) -> tuple[DNSRecord, ...]:
        return () if self.response is None else self.response.dns.authorities

    @property
    def response_time_ns(self) -> int | None:
        """First query → first response (Wireshark's ``dns.time``)."""
        if self.query is None or self.response is None:
            return None
        return self.response.ts_ns - self.query.ts_ns

    @property
    def cname_chain(self) -> tuple[str, ...]:
        """The asked name and every CNAME target followed from it, in order.

        Only the asked name when there is no CNAME (or no answer).
        """
        start = self.name
        if start is None:
            return ()
        return follow_cnames(start, self.answers)

    @property
    def canonical_name(self) -> str | None:
        """Where the CNAME chain ends (the asked name itself without CNAMEs)."""
        chain = self.cname_chain
        return chain[-1] if chain else None

    @property
    def addresses(self) -> tuple[str, ...]:
        """The A and AAAA addresses the asked name resolves to, CNAMEs followed."""
        chain = self.cname_chain
        if not chain:
            return ()
        names = {n.lower() for n in chain}
        return tuple(
            r.data
            for r in self.answers
            if r.type in (1, 28) and isinstance(r.data, str) and r.name.lower() in names
        )

    @property
    def first_frame(self) -> int:
        msg = self.query if self.query is not None else self.response
        assert msg is not None
        return msg.frame

    @property
    def first_ts_ns(self) -> int:
        msg = self.query if self.query is not None else self.response
        assert msg is not None
        return msg.ts_ns

    @property
    def frames(self) -> tuple[int, ...]:
        """Every frame of the transaction (TCP: each frame carrying a message part)."""
        out: set[int] = set()
        for msg in (self.query, self.response, *self.retransmissions, *self.duplicate_responses):
            if msg is not None:
                out.add(msg.frame)
                out.update(msg.frames)
        return tuple(sorted(out))

    @property
    def problems(self) -> list[str]:
        """Messages of this transaction that decoded only partly, and why."""
        out = []
        for what, msg in (("query", self.query), ("response", self.response)):
            if msg is not None and msg.problem:
                out.append(f"{what} (frame {msg.frame}): {msg.problem}")
        return out

    def describe(self) -> str:
        """The answer in one phrase: ``www.example.test → edge… → 127.0.0.1``."""
        from layerpeek.render.dns import answer_text

        return answer_text(self)

    def to_dict(self) -> dict[str, Any]:
        """The documented ``dns --json`` record (see :mod:`layerpeek.commands.dns`)."""
        from layerpeek.render.dns import transaction_to_dict

        return transaction_to_dict(self)


def follow_cnames(name: str, answers: Iterable[DNSRecord]) -> tuple[str, ...]:
    """``name`` followed through the CNAME records of ``answers`` (names compare
    case-insensitively, RFC 4343); stops at a loop or after :data:`MAX_CNAME_HOPS`."""
    targets: dict[str, str] = {}
    for record in answers:
        if record.type == 5 and isinstance(record.data, str):
            targets.setdefault(record.name.lower(), record.data)
    chain = [name]
    seen = {name.lower()}
    while len(chain) <= MAX_CNAME_HOPS:
        nxt = targets.get(chain[-1].lower())
        if nxt is None or nxt.lower() in seen:
            break
        chain.append(nxt)
        seen.add(nxt.lower())
    return tuple(chain)


def is_multicast(addr: bytes) -> bool:
    """An IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) multicast address: LLMNR and mDNS queries."""
    return (len(addr) == 4 and addr[0] & 0xF0 == 0xE0) or (len(addr) == 16 and addr[0] == 0xFF)


# ---------------------------------------------------------------------------
# TCP framing
# ---------------------------------------------------------------------------


class _TCPFramer:
    """One direction of a DNS-over-TCP stream: bytes in, whole messages out.

    ``pieces`` remembers which frames carried the buffered bytes, so each
    message knows the frames it came from and the one that completed it.
    """

    __slots__ = ("buf", "dead", "pieces")  # dead: framing lost, the rest is ignored

    def __init__(self) -> None:
        self.buf = bytearray()
        self.pieces: deque[tuple[int, tuple[int, ...]]] = deque()  # (bytes left in buf, frames)
        self.dead = False

    def feed(self, data: bytes, frames: tuple[int, ...]) -> list[tuple[bytes, tuple[int, ...]]]:
        """Add bytes; return each message now whole (without its prefix) and its frames.

        At most one message (65,537 bytes with its prefix) is buffered, and
        nothing once the framing is lost.
        """
        if self.dead:
            return []
        self.buf += data
        self.pieces.append((len(data), frames))
        out: list[tuple[bytes, tuple[int, ...]]] = []
        while len(self.buf) >= 2 and not self.dead:
            length = (self.buf[0] << 8) | self.buf[1]
            if length < 12:  # not even a DNS header: this is not DNS (or lost its framing)
                self.dead = True
                break
            if len(self.buf) < 2 + length:
                break
            message = bytes(self.buf[2 : 2 + length])
            out.append((message, self._take(2 + length)))
            del self.buf[: 2 + length]
        return out

    def _take(self, n: int) -> tuple[int, ...]:
        """Consume ``n`` bytes' worth of ``pieces``; return the frames they came from.

        Linear in the pieces taken: a dict keeps the frames unique in order and
        ``pieces`` is a deque (a list's ``pop(0)`` and membership test made one
        64 kB message in one-byte segments take 16 s).
        """
        frames: dict[int, None] = {}
        while n > 0 and self.pieces:
            size, fr = self.pieces[0]
            for f in fr:
                frames[f] = None
            if size <= n:
                n -= size
                self.pieces.popleft()
            else:
                self.pieces[0] = (size - n, fr)
                n = 0
        return tuple(frames)


# ---------------------------------------------------------------------------
# The tracker
# ---------------------------------------------------------------------------

_Key = tuple[str, int, Endpoint, Endpoint, int]  # transport, stream, client, server, id


class DNSTracker:
    """Pair DNS queries and responses (sans-IO: fed by the flow stages).

    A TCP stream is DNS when one of its ports is in ``tcp_ports``, or DNS
    over TLS when one is in ``tls_ports``: then the TLS stage's
    :class:`~layerpeek.tls.events.DecryptedData` (with a key log) is framed
    in place of the ciphertext, and without keys nothing of it is told.  Its
    endpoints come from the tracker's ``ConnectionOpened`` events (or, for
    callers feeding events by hand, from ``tcp_conversations``, the TCP
    tracker's ``conversations`` dict).  UDP messages are found through the
    packet's flow info.  ``finish()`` returns the transactions once the
    capture has been fed; as a stage of :class:`~layerpeek.analysis.Analysis`
    they are raised as events at the end, sorted, with TC → TCP retries linked.
    """

    stage_name: ClassVar[str] = "dns"
    requires: ClassVar[Mapping[str, Mapping[str, Any]]] = {"tcp": {}, "udp": {}}
    needs_flow_info: ClassVar[bool] = True

    def __init__(
        self,
        tcp_conversations: Mapping[int, TCPConversation] | None = None,
        *,
        retransmit_window_ns: int = RETRANSMIT_WINDOW_NS,
        tcp_ports: frozenset[int] = DNS_TCP_PORTS,
        tls_ports: frozenset[int] = DNS_TLS_PORTS,
    ) -> None:
        self._tcp_conversations = tcp_conversations
        self._tls_ports = tls_ports
        self._tls_streams: set[int] = set()  #: DNS-over-TLS conversations
        #: DNS-over-TLS conversations seen, and those with plaintext (from the TLS stage)
        self.tls_seen: set[int] = set()
        self.tls_read: set[int] = set()
        # DNS streams' (client, server), learnt from ConnectionOpened; other streams: None
        self._streams: dict[int, tuple[Endpoint, Endpoint] | None] = {}
        self._window = retransmit_window_ns
        self._tcp_ports = tcp_ports
        self._transactions: list[DNSTransaction] = []
        self._by_key: dict[_Key, list[DNSTransaction]] = {}
        # multicast queries, answerable by anyone: (transport, client, id)
        self._multicast: dict[tuple[str, Endpoint, int], list[DNSTransaction]] = {}
        self._framers: dict[tuple[int, str], _TCPFramer] = {}
        self._is_dns_stream: dict[int, bool] = {}
        #: what could not be followed (a hole in a DNS-over-TCP stream …)
        self.problems: list[str] = []

    def feed(self, packet: Packet, info: PacketFlowInfo | None, events: Iterable[object]) -> None:
        """One packet, as the flow pipeline returned it, and the TCP events it caused."""
        self.feed_events(events)
        if info is None or info.proto != "udp":
            return
        found = _udp_dns(packet)
        if found is None:
            return
        message, src, dst, problem = found
        frames: tuple[int, ...] = (packet.index,)
        frag = info.defrag
        if frag is not None and getattr(frag, "complete", False) and frag.frames:
            frames = tuple(frag.frames)  # an IP datagram reassembled from fragments
        self._message(
            DNSMessage(message, packet.index, packet.ts_ns, "udp", info.stream, src, dst,
                       frames, problem)
        )

    def feed_events(self, events: Iterable[object]) -> None:
        """TCP events not tied to a packet (the pipeline's ``finish()``)."""
        for event in events:
            if isinstance(event, StreamData):
                if self._dns_stream(event.conversation):
                    if event.conversation not in self._tls_streams:
                        self._stream_data(event)
                    else:
                        self.tls_seen.add(event.conversation)
            elif isinstance(event, DecryptedData):
                if self._dns_stream(event.conversation) and (
                        event.conversation in self._tls_streams):
                    self.tls_read.add(event.conversation)
                    self._stream_data(event.as_stream_data())
            elif isinstance(event, StreamGap):
                self._stream_gap(event)
            elif isinstance(event, ConnectionOpened):
                self._opened(event)
            elif isinstance(event, ConnectionClosed):
                self._streams.pop(event.conversation, None)
                self._tls_streams.discard(event.conversation)

    # -- as a stage of layerpeek.analysis.Analysis -----------------------------

    def on_packet(self, step: Step) -> list[Problem]:
        known = len(self.problems)
        self.feed(step.packet, step.flow, step.events)
        return [Problem("dns", text) for text in self.problems[known:]]

    def on_finish(self, events: Sequence[object]) -> list[DNSTransaction | Problem]:
        known = len(self.problems)
        self.feed_events(events)
        done: list[DNSTransaction | Problem] = list(self.finish())
        done.extend(Problem("dns", text) for text in self.problems[known:])
        return done

    def _opened(self, event: ConnectionOpened) -> None:
        client, server = event.client, event.server
        if client is None or server is None:
            return
        if client.port in self._tcp_ports or server.port in self._tcp_ports:
            self._streams[event.conversation] = (client, server)
        elif client.port in self._tls_ports or server.port in self._tls_ports:
            self._streams[event.conversation] = (client, server)
            self._tls_streams.add(event.conversation)

    def finish(self) -> list[DNSTransaction]:
        """Every transaction, in order of first frame, with TC → TCP retries linked."""
        self._link_tcp_retries()
        return sorted(self._transactions, key=lambda t: (t.first_frame, t.first_ts_ns))

    # -- TCP ---------------------------------------------------------------

    def _dns_stream(self, conversation: int) -> tuple[Endpoint, Endpoint] | None:
        """The stream's (client, server) if it is DNS over TCP, else None."""
        found = self._streams.get(conversation)
        if found is not None or self._tcp_conversations is None:
            return found
        conv = self._tcp_conversations.get(conversation)
        if conv is None:
            return None
        known = self._is_dns_stream.get(conversation)
        if known is None:
            ports = (conv.client.port, conv.server.port)
            known = any(p in self._tcp_ports for p in ports)
            if not known and any(p in self._tls_ports for p in ports):
                known = True
                self._tls_streams.add(conversation)
            self._is_dns_stream[conversation] = known
        return (conv.client, conv.server) if known else None

    def _stream_data(self, event: StreamData) -> None:
        ends = self._dns_stream(event.conversation)
        if ends is None:
            return
        key = (event.conversation, event.direction)
        framer = self._framers.get(key)
        if framer is None:
            framer = self._framers[key] = _TCPFramer()
        if framer.dead:
            return
        src, dst = ends if event.direction == "client" else (ends[1], ends[0])
        for raw, frames in framer.feed(event.data, event.frames):
            layer, after = _decode_message(raw, 0, len(raw), cut=False)
            assert isinstance(layer, DNS)
            problem = after.reason if isinstance(after, Malformed) else None
            frame = frames[-1] if frames else (event.frames[-1] if event.frames else 0)
            self._message(
                DNSMessage(layer, frame, event.ts_ns, "tcp", event.conversation, src, dst,
                           frames, problem)
            )
        if framer.dead:
            self.problems.append(
                f"tcp.stream {event.conversation} ({event.direction}): a DNS length prefix of "
                f"{framer.buf[0] << 8 | framer.buf[1]} bytes (less than a DNS header); "
                "the rest of this direction is not DNS"
            )

    def _stream_gap(self, event: StreamGap) -> None:
        if self._dns_stream(event.conversation) is None or (
                event.conversation in self._tls_streams):
            return  # (a gap in DNS over TLS: the TLS stage says the rest is not read)
        key = (event.conversation, event.direction)
        framer = self._framers.get(key)
        if framer is None:
            framer = self._framers[key] = _TCPFramer()
        if framer.dead:
            return
        framer.dead = True
        framer.buf.clear()
        framer.pieces.clear()
        self.problems.append(
            f"tcp.stream {event.conversation} ({event.direction}): {event.length} bytes never "
            f"captured at stream offset {event.offset} ({event.reason}); the DNS messages "
            "after them cannot be framed"
        )

    # -- pairing -----------------------------------------------------------

    def _message(self, msg: DNSMessage) -> None:
        if msg.dns.qr:
            self._response(msg)
        else:
            self._query(msg)

    def _query(self, msg: DNSMessage) -> None:
        key: _Key = (msg.transport, msg.stream, msg.src, msg.dst, msg.dns.id)
        txs = self._by_key.setdefault(key, [])
        if txs:
            last = txs[-1]
            if (
                last.response is None
                and last.query is not None
                and msg.ts_ns - last.query.ts_ns < self._window
                and _same_questions(last.query.dns, msg.dns)
            ):
                last.retransmissions.append(msg)
                return
        tx = DNSTransaction(msg.transport, msg.stream, msg.src, msg.dst, msg.dns.id, query=msg)
        txs.append(tx)
        self._transactions.append(tx)
        if is_multicast(msg.dst.addr):
            self._multicast.setdefault((msg.transport, msg.src, msg.dns.id), []).append(tx)

    def _response(self, msg: DNSMessage) -> None:
        # the response goes server → client: its dst is the query's client
        key: _Key = (msg.transport, msg.stream, msg.dst, msg.src, msg.dns.id)
        candidates = self._by_key.get(key, [])
        if not candidates and not is_multicast(msg.dst.addr):
            candidates = self._multicast.get((msg.transport, msg.dst, msg.dns.id), [])
        for tx in reversed(candidates):
            if tx.response is None and tx.query is not None:
                tx.response = msg
                return
        if candidates:
            last = candidates[-1]
            # A response to an answered query is a duplicate (Wireshark's
            # retransmitted response).  Without a query, only a repeat of the
            # same records is: mDNS announces new records under the same id 0.
            first = last.response
            if last.query is not None or (
                first is not None and _same_records(first.dns, msg.dns)
            ):
                last.duplicate_responses.append(msg)
                return
        # Unsolicited: no query seen.  Later copies of it are duplicates.
        tx = DNSTransaction(msg.transport, msg.stream, msg.dst, msg.src, msg.dns.id, response=msg)
        self._by_key.setdefault(key, []).append(tx)
        self._transactions.append(tx)

    def _link_tcp_retries(self) -> None:
        """Link each TCP query to the truncated UDP answer that prompted it.

        The retry is the one that *follows* the truncated answer most closely:
        a client that got two TC answers for the same question (dig with
        ``+ignore`` first, say) retries the later one.
        """
        truncated = sorted(
            (t for t in self._transactions if t.transport == "udp" and t.truncated),
            key=lambda t: t.response.ts_ns if t.response is not None else 0,
        )
        if not truncated:
            return
        tcp = sorted(
            (t for t in self._transactions if t.transport == "tcp" and t.query is not None),
            key=lambda t: t.first_ts_ns,
        )
        for cand in tcp:
            assert cand.query is not None
            asked = _question_key(cand)
            for tx in reversed(truncated):
                assert tx.response is not None
                if (
                    tx.tcp_retry is None
                    and tx.response.ts_ns <= cand.query.ts_ns
                    and cand.client.addr == tx.client.addr
                    and cand.server.addr == tx.server.addr
                    and _question_key(tx) == asked
                ):
                    tx.tcp_retry = cand
                    cand.retry_of = tx
                    break


def _same_records(a: DNS, b: DNS) -> bool:
    return (a.questions, a.answers, a.authorities) == (b.questions, b.answers, b.authorities)


def _same_questions(a: DNS, b: DNS) -> bool:
    """Whether two queries ask the same (names compare case-insensitively)."""
    if len(a.questions) != len(b.questions):
        return False
    return all(
        # class bit 15 is mDNS's "unicast response" flag, which a prober drops
        # after its first query (RFC 6762 §5.4): the same question either way
        x.name.lower() == y.name.lower()
        and x.type == y.type
        and x.rclass & 0x7FFF == y.rclass & 0x7FFF
        for x, y in zip(a.questions, b.questions, strict=True)
    )


def _question_key(tx: DNSTransaction) -> tuple[str, int, int] | None:
    q = tx.questions
    return (q[0].name.lower(), q[0].type, q[0].rclass) if q else None


def _udp_dns(packet: Packet) -> tuple[DNS, Endpoint, Endpoint, str | None] | None:
    """The DNS message of a UDP packet with its endpoints, or None.

    DNS quoted inside an ICMP error (a "port unreachable" quoting the query)
    is not a message of the conversation and is skipped.
    """
    layers = packet.layers
    d = len(layers) - 1
    while d >= 0 and not isinstance(layers[d], DNS):
        d -= 1
    if d < 1:
        return None
    message = layers[d]
    udp = layers[d - 1]
    if not isinstance(udp, UDP) or not isinstance(message, DNS):
        return None
    i = d - 2
    while i >= 0:
        layer = layers[i]
        if isinstance(layer, (IPv4, IPv6)):
            malformed = packet.malformed
            problem = malformed.reason if malformed is not None else None
            return (
                message,
                Endpoint(layer.src, udp.src_port),
                Endpoint(layer.dst, udp.dst_port),
                problem,
            )
        if isinstance(layer, (ICMP, ICMPv6)):
            return None
        i -= 1
    return None


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------

Source = str | os.PathLike[str] | BinaryIO | Iterable[Packet]


def transactions(
    source: Source, *, retransmit_window_ns: int = RETRANSMIT_WINDOW_NS
) -> list[DNSTransaction]:
    """Every DNS transaction of a capture (a path, a binary file, or packets).

    ::

        for tx in layerpeek.dnstx.transactions("captures/dns_query.pcap"):
            print(tx.query_frame, tx.question_text, tx.rcode_name, tx.addresses)
    """
    from layerpeek.analysis import Analysis

    analysis = Analysis(["defrag", DNSTracker(retransmit_window_ns=retransmit_window_ns)])
    return [e for e in analysis.events(source) if isinstance(e, DNSTransaction)]


__all__ = [
    "DNSMessage",
    "DNSTracker",
    "DNSTransaction",
    "follow_cnames",
    "full_rcode",
    "is_multicast",
    "rcode_name",
    "transactions",
]
