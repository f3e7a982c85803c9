"""The page-load story: a capture told step by step, as the explainer tells it.

The explainer walks through the life of a web request: (1) the DNS lookup,
(2) the TCP three-way handshake, (3) the HTTP request, (4) the server's
response, (5) further requests for the page's resources on the same
connection, (6) the teardown.  :func:`explain` finds those steps in a
capture and says what happened in plain language, with the packet numbers a
student can look up in ``layerpeek dump`` or Wireshark.

Nothing here is specific to page loads: each step comes from one of the
analysis stages and is told whenever it is in the capture, so a UDP demo,
a refused connection, a reset, or somebody's own capture of anything gets
a sensible account too.

* DNS steps come from :mod:`layerpeek.dnstx` (queries paired with answers).
* Connection steps (handshake, refusal, teardown and the states each side
  went through) come from the TCP tracker's
  :class:`~layerpeek.flows.tracker.TCPConversation`.
* TLS steps (the handshake, the encrypted data when the key log does not
  open it, alerts) come from the TLS stage's events, gathered per connection
  by :class:`~layerpeek.tls.summary.TLSSummary`; with a key log the HTTP
  inside is told like cleartext HTTP.
* HTTP steps come from :func:`layerpeek.http.exchanges`.
* Other TCP payload is told as data runs (who sent how many bytes, with a
  preview), and UDP that is not DNS as its datagrams.

The steps are plain data (:class:`Step`, :class:`Story`); their layout as
text and as the ``explain --json`` form is :mod:`layerpeek.render.story`
(``Story.text()`` and ``to_dict()`` hand over to it).
The functions here read no files: the capture comes in as packets.

>>> import layerpeek
>>> from layerpeek import story
>>> told = story.explain(layerpeek.read("captures/page_load.pcap"))
>>> for step in told.steps[:5]:
...     print(step.kind, step.frames, step.title)
dns (1, 2) DNS lookup: www.example.test (A)
dns (3, 4) DNS lookup: www.example.test (AAAA)
handshake (5, 6, 7) TCP three-way handshake
request (8,) HTTP request
response (10,) HTTP response
>>> told.steps[-1].title
'Teardown: four-way close'
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from layerpeek.dnstx import DNSTransaction, is_multicast
from layerpeek.flows.events import ConversationSummary, Problem, StateChanged, StreamData
from layerpeek.flows.records import JOINED_MIDSTREAM, initial_states
from layerpeek.flows.tracker import TCPConversation
from layerpeek.flows.udp import UDPConversation, udp_payload
from layerpeek.http.message import HTTPExchange
from layerpeek.layers.dns import RRType
from layerpeek.packet import Packet
from layerpeek.quic.stage import QUICConnection, QUICConversation
from layerpeek.quic.versions import version_name
from layerpeek.render.story import frames_text
from layerpeek.tls.names import cipher_suite_name
from layerpeek.tls.summary import TLSSummaries, TLSSummary, version_words
from layerpeek.wire import enum_name

if TYPE_CHECKING:
    from layerpeek.analysis import Step as AnalysisStep
    from layerpeek.http.message import HTTPMessage
    from layerpeek.tls.keylog import KeyLog

#: Data runs told per TCP connection without HTTP (the rest are counted).
MAX_RUNS = 12
#: UDP datagrams told per conversation that is not DNS.
MAX_DATAGRAMS = 8
#: Bytes of payload quoted in a preview.
PREVIEW = 48

_REFERENCE = re.compile(rb"""(?:src|href)\s*=\s*["']([^"'#?]+)""", re.IGNORECASE)


@dataclass(slots=True)
class Step:
    """One step of the story: what happened, in words, and where to look."""

    kind: str  #: dns, handshake, refused, no-answer, midstream, tls-handshake, request,
    #: response, data, tls-data, tls-alert, udp, teardown, reset, open
    title: str  #: a short heading, e.g. "TCP three-way handshake"
    text: str  #: the explanation, in plain sentences
    frames: tuple[int, ...]  #: the packets of this step (1-based, as in Wireshark)
    ts_ns: int  #: when the step began
    stream: str | None = None  #: "tcp 0" / "udp 1": the conversation (tcp.stream / udp.stream)
    facts: dict[str, Any] = field(default_factory=dict)  #: the numbers behind the text

    @property
    def first_frame(self) -> int:
        return self.frames[0] if self.frames else 0

    def to_dict(self) -> dict[str, Any]:
        from layerpeek.render.story import step_to_dict

        return step_to_dict(self)


@dataclass(slots=True)
class Story:
    """A capture's story: an overview, the steps in order, and remarks."""

    kind: str  #: "page load", "web", "https", "dns", "tcp", "udp" or "other"
    overview: str
    steps: list[Step]
    notes: list[str] = field(default_factory=list)  #: what could not be followed, etc.
    start_ns: int = 0  #: time of the first packet (step times are shown relative to it)
    conclusion: str = ""  #: the explainer's last step for web traffic: what was fetched

    def to_dict(self) -> dict[str, Any]:
        from layerpeek.render.story import story_to_dict

        return story_to_dict(self)

    def text(self, *, width: int = 100, max_steps: int = 0) -> str:
        """The story as wrapped text; ``max_steps`` > 0 tells only that many steps."""
        from layerpeek.render.story import story_text

        return story_text(self, width=width, max_steps=max_steps)


# ---------------------------------------------------------------------------
# HTTP exchanges, without their bodies
# ---------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class BodyFacts:
    """What the story says of one message body: kept so that the body need not be."""

    length: int  #: body bytes (as sent, content coding kept), gaps included
    decoded: int  #: bytes once the Content-Encoding is undone
    references: tuple[str, ...] = ()  #: resources an HTML body refers to (src=, href=)


@dataclass(slots=True)
class ToldExchange:
    """An HTTP exchange as the story needs it: the messages, and facts about their bodies.

    Why: a story tells a body's size and, for a web page, what it refers to;
    holding every body until the end would make ``explain`` grow with the
    HTTP data of the capture (189 MiB for the 105 MB bench capture, 353 MiB
    at twice that).  :func:`told_exchanges` keeps the facts and drops the
    bytes as each exchange is paired.
    """

    exchange: HTTPExchange  #: with its bodies dropped when made by :func:`told_exchanges`
    request: BodyFacts | None
    response: BodyFacts | None


def _body_facts(msg: HTTPMessage | None) -> BodyFacts | None:
    if msg is None:
        return None
    decoded = msg.decoded_body
    refs = tuple(_references(decoded)) if "html" in msg.content_type.lower() else ()
    return BodyFacts(len(msg.body) + msg.missing, len(decoded), refs)


def tell_of(ex: HTTPExchange, *, keep_bodies: bool = True) -> ToldExchange:
    """``ex`` with the facts the story tells of its bodies (and without the bodies, if asked)."""
    told = ToldExchange(ex, _body_facts(ex.request), _body_facts(ex.response))
    if not keep_bodies:
        told.exchange = replace(
            ex,
            request=None if ex.request is None else replace(ex.request, body=b"", _decoded=None),
            response=None if ex.response is None else replace(ex.response, body=b"", _decoded=None),
        )
    return told


def told_exchanges(exchanges: Iterable[HTTPExchange]) -> list[ToldExchange]:
    """Each exchange reduced as it comes (bodies dropped, facts kept), in listing order.

    Give it :func:`layerpeek.http.iter_exchanges` to keep memory to one
    compact record per exchange.
    """
    told = [tell_of(ex, keep_bodies=False) for ex in exchanges]
    told.sort(key=lambda t: (t.exchange.first_frame, t.exchange.stream, t.exchange.index))
    return told


# ---------------------------------------------------------------------------
# Gathering: one pass over the packets
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Run:
    """Consecutive stream bytes one side sent (a "message" in a non-HTTP protocol)."""

    direction: str
    size: int
    preview: bytearray
    frames: list[int]
    ts_ns: int
    seen: set[int] | None = None  #: the frames as a set, once one came out of order


@dataclass(slots=True)
class _Datagram:
    frame: int
    ts_ns: int
    direction: str
    size: int
    preview: bytes


@dataclass(slots=True)
class _Gathered:
    dns: list[DNSTransaction]
    dns_problems: list[str]
    tcp: list[TCPConversation]
    udp: list[UDPConversation]
    runs: dict[int, list[_Run]]
    runs_dropped: dict[int, int]
    datagrams: dict[int, list[_Datagram]]
    others: dict[str, int]  #: packets in no TCP/UDP conversation, by protocol path end
    start_ns: int
    packets: int
    tls: dict[int, TLSSummary] = field(default_factory=dict)  #: by TCP conversation
    quic: list[QUICConnection] = field(default_factory=list)  #: QUIC connections, in order


class Storyteller:
    """The story as a stage of :class:`~layerpeek.analysis.Analysis`: everyone's events in,
    one :class:`Story` out at the end.

    It gathers as the packets pass (the runs of non-HTTP stream bytes, a few
    datagrams per UDP conversation, the packets in no conversation) and
    keeps of each HTTP exchange only what it tells (:func:`tell_of` without
    the bodies), so one pass over the capture is enough and memory does not
    grow with its HTTP data.  ``http`` gives exchanges paired elsewhere
    instead (then the HTTP stage is not required and its events are ignored).
    """

    stage_name: ClassVar[str] = "story"
    requires: Mapping[str, Mapping[str, Any]] = {
        "tcp": {"keep_frames": True}, "udp": {"keep_frames": True}, "dns": {}, "http": {},
        "tls": {"keep_connections": False}, "quic": {"keep_connections": False},
    }

    def __init__(
        self,
        *,
        http: Sequence[HTTPExchange | ToldExchange] | None = None,
        http_problems: Iterable[str] = (),
    ) -> None:
        self._given = http is not None
        if http is not None:
            self.requires = {k: v for k, v in Storyteller.requires.items() if k != "http"}
        self._told = [] if http is None else [
            x if isinstance(x, ToldExchange) else tell_of(x) for x in http]
        self._http_problems = list(http_problems)
        self._dns_problems: list[str] = []
        self._tcp: list[TCPConversation] = []
        self._udp: list[UDPConversation] = []
        self._dns: list[DNSTransaction] = []
        self._runs: dict[int, list[_Run]] = {}
        self._dropped: dict[int, int] = {}
        self._datagrams: dict[int, list[_Datagram]] = {}
        self._others: dict[str, int] = {}
        self._tls = TLSSummaries()
        self._quic: list[QUICConnection] = []
        self._start = 0
        self._count = 0

    def on_packet(self, step: AnalysisStep) -> Sequence[object]:
        packet, info = step.packet, step.flow
        if self._count == 0:
            self._start = packet.ts_ns
        self._count += 1
        self._take(step.events)
        if info is None or not info.proto:
            if info is None or info.defrag is None:
                label = _label(packet)
                self._others[label] = self._others.get(label, 0) + 1
        elif info.proto == "udp":
            kept = self._datagrams.setdefault(info.stream, [])
            if len(kept) < MAX_DATAGRAMS:
                payload = udp_payload(packet)
                kept.append(_Datagram(packet.index, packet.ts_ns, info.direction,
                                      len(payload), payload[:PREVIEW]))
        return ()

    def on_finish(self, events: Sequence[object]) -> list[Story]:
        self._take(events)
        self._tcp.sort(key=lambda c: c.id)
        self._udp.sort(key=lambda c: c.id)
        self._told.sort(key=lambda t: (t.exchange.first_frame, t.exchange.stream,
                                       t.exchange.index))
        gathered = _Gathered(self._dns, self._dns_problems, self._tcp, self._udp, self._runs,
                             self._dropped, self._datagrams, self._others, self._start,
                             self._count, self._tls.by_conversation,
                             sorted(self._quic, key=lambda c: c.index))
        return [_tell(gathered, self._told, self._http_problems)]

    def _take(self, events: Iterable[object]) -> None:
        tls = self._tls
        for event in events:
            tls.feed(event)
            if isinstance(event, StreamData):
                _add_run(self._runs, self._dropped, event)
            elif isinstance(event, ConversationSummary):
                conv = event.summary
                if isinstance(conv, TCPConversation):
                    self._tcp.append(conv)
                else:
                    self._udp.append(conv)
            elif isinstance(event, HTTPExchange):
                if not self._given:
                    self._told.append(tell_of(event, keep_bodies=False))
            elif isinstance(event, DNSTransaction):
                self._dns.append(event)
            elif isinstance(event, QUICConversation):
                self._quic.append(event.connection)
            elif isinstance(event, Problem):
                if event.stage == "dns":
                    self._dns_problems.append(event.text)
                elif event.stage == "http" and not self._given:
                    self._http_problems.append(event.text)


def _label(packet: Packet) -> str:
    """What a packet outside any TCP/UDP conversation is, for the overview's counts.

    An ICMP error quotes the TCP or UDP header it is about; it counts as ICMP.
    """
    for layer in packet.layers:
        if layer.short in ("icmp", "icmpv6", "arp"):
            return layer.short
    last = packet.malformed
    if last is not None:
        return f"malformed {last.protocol}"
    return packet.layers[-1].short if packet.layers else "empty"


def _add_frames(run: _Run, frames: tuple[int, ...]) -> None:
    """Append the frames ``run`` lacks, in O(1) each.

    Frames mostly arrive in increasing order, so a frame above the last one
    is new; only an older one (an out-of-order delivery) is looked up, in a
    set built the first time that happens.  (Testing membership in the list
    made one 200 MB download take 87 s.)
    """
    for f in frames:
        if run.frames and f <= run.frames[-1]:
            if run.seen is None:
                run.seen = set(run.frames)
            if f in run.seen:
                continue
        run.frames.append(f)
        if run.seen is not None:
            run.seen.add(f)


def _add_run(runs: dict[int, list[_Run]], dropped: dict[int, int], event: StreamData) -> None:
    conv_runs = runs.setdefault(event.conversation, [])
    if conv_runs and conv_runs[-1].direction == event.direction:
        run = conv_runs[-1]
        run.size += len(event.data)
        if len(run.preview) < PREVIEW:
            run.preview += event.data[: PREVIEW - len(run.preview)]
        _add_frames(run, event.frames)
        return
    if len(conv_runs) >= MAX_RUNS:
        dropped[event.conversation] = dropped.get(event.conversation, 0) + 1
        return
    conv_runs.append(_Run(event.direction, len(event.data), bytearray(event.data[:PREVIEW]),
                          list(event.frames), event.ts_ns))


# ---------------------------------------------------------------------------
# Telling
# ---------------------------------------------------------------------------


def explain(
    packets: Iterable[Packet],
    *,
    http: Sequence[HTTPExchange | ToldExchange] | None = None,
    http_problems: Iterable[str] = (),
    keylog: KeyLog | str | os.PathLike[str] | None = None,
) -> Story:
    """The story of a capture's packets (read them with :func:`layerpeek.read`).

    The packets are walked once, through the analysis stages the story
    needs (:class:`Storyteller`).  ``http`` gives HTTP exchanges paired
    elsewhere (with the problems that pairing reported) instead of pairing
    them here; it may hold :class:`ToldExchange` records from
    :func:`told_exchanges`, which keep what the story says of the bodies
    without the bodies.  ``keylog`` (a :class:`~layerpeek.tls.KeyLog`, or
    the path of an NSS key log) decrypts HTTPS so its requests and responses
    are told too; without it TLS connections are told as far as the
    handshake and the record sizes allow.
    """
    from layerpeek.analysis import Analysis

    teller = Storyteller(http=http, http_problems=http_problems)
    # TLS is always told (handshakes, sizes); with a key log, the HTTP inside too (and QUIC's)
    analysis = Analysis(["defrag", teller],
                        settings={"tls": {"keylog": keylog, "keep_connections": False},
                                  "quic": {"keylog": keylog, "keep_connections": False}})
    for _ in analysis.run(packets):
        pass
    (story,) = (e for e in analysis.finish() if isinstance(e, Story))
    return story


def _tell(g: _Gathered, http: list[ToldExchange], http_problems: list[str]) -> Story:
    steps: list[Step] = []
    resolved = _resolved_addresses(g.dns)
    for tx in g.dns:
        steps.append(_dns_step(tx, over_tls=tx.transport == "tcp" and tx.stream in g.tls))
    http_by_stream: dict[int, list[ToldExchange]] = {}
    http3_by_stream: dict[int, list[ToldExchange]] = {}  #: by udp.stream: HTTP/3 over QUIC
    for told in http:
        msg = told.exchange.request or told.exchange.response
        into = http3_by_stream if msg is not None and msg.version == "HTTP/3" else http_by_stream
        into.setdefault(told.exchange.stream, []).append(told)
    dns_tcp_streams = {t.stream for t in g.dns if t.transport == "tcp"}
    for conv in g.tcp:
        steps.extend(_connection_steps(conv, {} if conv.id in dns_tcp_streams else resolved))
        if conv.id in dns_tcp_streams and steps and steps[-1].stream == _stream(conv):
            steps[-1].text += (" This connection carries DNS messages (DNS over "
                               f"{'TLS' if conv.id in g.tls else 'TCP'}).")
        exchanges = http_by_stream.get(conv.id, [])
        tls = g.tls.get(conv.id)
        if tls is not None:
            steps.extend(_tls_steps(conv, tls, bool(exchanges)))
        if exchanges:
            steps.extend(_http_steps(conv, exchanges))
        elif tls is not None and conv.id not in dns_tcp_streams:  # (DNS over TLS: told)
            steps.extend(_tls_data_steps(conv, tls))
        elif conv.id not in dns_tcp_streams:
            steps.extend(_data_steps(conv, g.runs.get(conv.id, []), g.runs_dropped.get(conv.id, 0)))
        steps.extend(_close_steps(conv))
    dns_udp_streams = {t.stream for t in g.dns if t.transport == "udp"}
    for quic in g.quic:
        steps.append(_quic_step(quic))
        label = f"udp {quic.udp_stream}" if quic.udp_stream is not None else None
        h3 = http3_by_stream.get(quic.udp_stream, []) if quic.udp_stream is not None else []
        if h3:
            steps.extend(_http_steps(None, h3, label))
    quic_streams = {q.udp_stream for q in g.quic}
    for udp in g.udp:
        if udp.id not in dns_udp_streams and udp.id not in quic_streams:
            steps.append(_udp_step(udp, g.datagrams.get(udp.id, [])))
    order = {kind: i for i, kind in enumerate(
        ("dns", "udp", "handshake", "quic-handshake", "midstream", "refused", "no-answer",
         "tls-handshake",
         "request", "response", "data", "tls-data", "tls-alert", "teardown", "reset", "open"))}
    steps.sort(key=lambda s: (s.first_frame, s.ts_ns, order.get(s.kind, 99)))
    notes = [*g.dns_problems, *http_problems]
    kind, overview = _overview(g, http)
    return Story(kind, overview, steps, notes, g.start_ns, _conclusion(g, http))


# -- DNS ---------------------------------------------------------------------

_TYPE_WORDS = {1: "the IPv4 address (A record)", 28: "the IPv6 address (AAAA record)",
               15: "the mail servers (MX records)", 16: "the text records (TXT)",
               12: "the name pointers (PTR records)", 2: "the name servers (NS)",
               5: "the alias (CNAME)", 33: "the service location (SRV)", 6: "the zone (SOA)",
               255: "every record (ANY)", 65: "the HTTPS service binding (HTTPS record)"}


def _ms(ns: int | None) -> str:
    return "?" if ns is None else f"{ns / 1e6:.3f} ms"


def _dns_step(tx: DNSTransaction, *, over_tls: bool = False) -> Step:
    name = tx.name or "(no question)"
    qtype = tx.qtype
    what = _TYPE_WORDS.get(qtype, f"the {enum_name(RRType, qtype)} records") if qtype else "?"
    over = "" if tx.transport == "udp" else (
        " over TLS (DNS over TLS, read with the key log)" if over_tls else " over TCP")
    parts: list[str] = []
    if tx.query is not None:  # (empty parts are dropped when joined)
        asked = f"the DNS server {tx.server}{over}"
        if is_multicast(tx.server.addr):
            how = {5353: "mDNS", 5355: "LLMNR"}.get(tx.server.port, "multicast DNS")
            asked = f"every host on the local network ({how}, multicast group {tx.server})"
        parts.append(
            f"The client {tx.client} asked {asked} for {what} of "
            f"{name} (query id 0x{tx.dns_id:04x}, frame {tx.query.frame})."
        )
        if tx.retry_of is not None and tx.retry_of.query is not None:
            parts.append(
                f"This is the retry over TCP of the query in frame {tx.retry_of.query.frame}, "
                "whose UDP answer was truncated."
            )
        if tx.retransmissions:
            frames = ", ".join(str(m.frame) for m in tx.retransmissions)
            parts.append(f"No answer came in time, so the client sent the query again "
                         f"(frame {frames}).")
    else:
        parts.append(f"{tx.server} sent a DNS response to {tx.client} without a query in the "
                     f"capture (frame {tx.first_frame}): an announcement or an answer to a "
                     "query sent before the capture began.")
    r = tx.response
    if r is None:
        parts.append("No answer was captured.")
    else:
        if tx.query is not None:
            parts.append(f"The answer came in frame {r.frame}, {_ms(tx.response_time_ns)} "
                         "after the query.")
        parts.append(_dns_answer_words(tx))
        if tx.truncated:
            if tx.tcp_retry is not None and tx.tcp_retry.query is not None:
                parts.append(
                    "The answer did not fit in a UDP datagram: the server set the TC "
                    "(truncated) flag, and the client asked again over TCP (frame "
                    f"{tx.tcp_retry.query.frame})."
                )
            else:
                parts.append("The answer did not fit in a UDP datagram: the server set the TC "
                             "(truncated) flag; no retry over TCP is in the capture.")
        if tx.duplicate_responses:
            frames = ", ".join(str(m.frame) for m in tx.duplicate_responses)
            parts.append(f"The same answer came again in frame {frames}.")
    title = f"DNS lookup: {name}" + (f" ({enum_name(RRType, qtype)})" if qtype else "")
    facts = {k: v for k, v in tx.to_dict().items() if k in (
        "transport", "client", "server", "dns_id", "name", "type", "status", "query_frame",
        "response_frame", "response_time_ms", "rcode", "truncated", "cname_chain", "addresses",
        "retransmission_frames", "tcp_retry_frame", "retry_of_frame")}
    return Step("dns", title, " ".join(p for p in parts if p), tx.frames, tx.first_ts_ns,
                f"{tx.transport} {tx.stream}", facts)


def _dns_answer_words(tx: DNSTransaction) -> str:
    rcode = tx.rcode_name
    name = tx.name or "?"
    if rcode == "NXDOMAIN":
        return f"The server answered NXDOMAIN: the name {name} does not exist."
    if rcode != "NOERROR":
        return f"The server answered with the error {rcode}: no records."
    chain = tx.cname_chain
    words = []
    for alias, target in itertools.pairwise(chain):
        words.append(f"{alias} is an alias (CNAME) of {target}")
    addresses = tx.addresses
    end = chain[-1] if chain else name
    if addresses:
        shown = ", ".join(addresses[:6])
        if len(addresses) > 6:
            shown += f" and {len(addresses) - 6} more"
        words.append(f"{end} has the address{'es' if len(addresses) > 1 else ''} {shown}")
    elif tx.qtype in (1, 28) and not tx.truncated:
        words.append(f"{end} has no {enum_name(RRType, tx.qtype)} record")
    elif tx.answers and len(chain) <= 1:
        records = ", ".join(f"{enum_name(RRType, r.type)} {_short(r)}" for r in tx.answers[:4])
        more = f" and {len(tx.answers) - 4} more" if len(tx.answers) > 4 else ""
        words.append(f"the records are {records}{more}")
    elif not tx.answers and not tx.truncated:
        words.append("no records of that type exist")
    if not words:
        return ""
    text = "; ".join(words)
    return "It says: " + text + "."


def _short(record: Any) -> str:
    from layerpeek.layers.dns import data_text

    text = data_text(record.data)
    return text if len(text) <= 60 else text[:59] + "…"


def _resolved_addresses(txs: list[DNSTransaction]) -> dict[str, tuple[str, int, int]]:
    """address → (name asked, response frame, response time) for each answered lookup."""
    out: dict[str, tuple[str, int, int]] = {}
    for tx in txs:
        if tx.response is None or tx.name is None:
            continue
        for address in tx.addresses:
            out.setdefault(address, (tx.name, tx.response.frame, tx.response.ts_ns))
    return out


# -- TCP connections ---------------------------------------------------------


def _stream(conv: TCPConversation) -> str:
    return f"tcp {conv.id}"


def _connection_steps(
    conv: TCPConversation, resolved: dict[str, tuple[str, int, int]]
) -> list[Step]:
    hs = conv.handshake
    close = conv.close
    server_ip = conv.server.ip
    via = ""
    found = resolved.get(server_ip)
    if found is not None and found[2] <= conv.first_ts_ns:
        via = f" ({server_ip} is the address {found[0]} resolved to in frame {found[1]})"
    frames_of = conv.frames or []
    if close.kind == "refused":
        syn = hs.syn_frame or conv.first_frame
        rst = close.rst_frame or conv.last_frame
        text = (
            f"The client {conv.client} tried to open a TCP connection to {conv.server}{via}: "
            f"its SYN (frame {syn}) was answered by RST (frame {rst}). Nothing accepts "
            f"connections on port {conv.server.port} there, so the connection was refused; "
            f"{_paths(conv)}."
        )
        return [Step("refused", "Connection refused", text,
                     tuple(f for f in frames_of if f <= rst), conv.first_ts_ns, _stream(conv),
                     {"handshake": hs.to_dict(), "close": close.to_dict()})]
    if hs.complete:
        assert hs.syn_frame is not None or hs.synack_frame is not None
        client_isn = hs.client_isn
        server_isn = hs.server_isn
        lines = []
        syn_part = (
            f"SYN (frame {hs.syn_frame}, the client's initial sequence number {client_isn})"
            if hs.syn_frame is not None else "the SYN was not captured"
        )
        ack_of = "" if client_isn is None else f", acknowledging {(client_isn + 1) & 0xFFFFFFFF}"
        lines.append(
            f"The client {conv.client} opened a TCP connection to {conv.server}{via} with the "
            f"three-way handshake: {syn_part}; SYN-ACK (frame {hs.synack_frame}, the server's "
            f"initial sequence number {server_isn}{ack_of}); ACK (frame {hs.ack_frame})."
        )
        if hs.syn_count > 1:
            lines.append(f"The SYN was sent {hs.syn_count} times before it was answered.")
        if hs.rtt_ns is not None:
            lines.append(
                f"Round-trip time seen from the capture point: {_ms(hs.rtt_ns)} "
                f"(SYN → SYN-ACK {_ms(hs.rtt_server_ns)}, SYN-ACK → ACK "
                f"{_ms(hs.rtt_client_ns)})."
            )
        options = _options_words(conv)
        if options:
            lines.append(options)
        lines.append("Both sides are now ESTABLISHED.")
        frames = tuple(f for f in (hs.syn_frame, hs.synack_frame, hs.ack_frame) if f is not None)
        return [Step("handshake", "TCP three-way handshake", " ".join(lines), frames,
                     conv.first_ts_ns, _stream(conv), {"handshake": hs.to_dict()})]
    if hs.syn_frame is not None and hs.synack_frame is None:
        tries = f", sent {hs.syn_count} times," if hs.syn_count > 1 else ""
        text = (f"The client {conv.client} sent a SYN to {conv.server}{via} (frame "
                f"{hs.syn_frame}){tries} but no answer is in the capture: the server may be "
                "unreachable, or a firewall dropped the SYN.")
        ended = [f for f in (close.rst_frame, close.client_fin_frame, close.server_fin_frame)
                 if f is not None]
        limit = min(ended) if ended else conv.last_frame + 1
        syns = tuple(f for f in frames_of if f < limit)
        return [Step("no-answer", "Connection attempt without answer", text,
                     syns or (hs.syn_frame,), conv.first_ts_ns, _stream(conv),
                     {"handshake": hs.to_dict()})]
    how = "its SYN was not captured" if hs.synack_frame is not None else (
        "the capture starts after its handshake")
    text = (f"A TCP connection between {conv.client} and {conv.server}{via} was already "
            f"under way: {how}, so its initial sequence numbers and RTT are unknown "
            f"(the client is taken to be {conv.client}, chosen by {conv.client_by}).")
    return [Step("midstream", "TCP connection joined mid-stream", text,
                 (conv.first_frame,), conv.first_ts_ns, _stream(conv),
                 {"handshake": hs.to_dict(), "client_by": conv.client_by})]


def _options_words(conv: TCPConversation) -> str:
    hs = conv.handshake
    c, s = hs.client_options, hs.server_options
    parts = []
    if c is not None and s is not None and c.mss and s.mss:
        parts.append(f"maximum segment sizes {c.mss} (client) and {s.mss} (server)")
    if hs.window_scaling and c is not None and s is not None:
        parts.append(f"window scaling (shift {c.window_scale} and {s.window_scale})")
    if hs.sack:
        parts.append("selective acknowledgements")
    if hs.timestamps:
        parts.append("timestamps")
    return ("They agreed on " + ", ".join(parts) + ".") if parts else ""


def _paths(conv: TCPConversation) -> str:
    """Each side's states through the connection: ``client CLOSED → SYN_SENT → …``."""
    client0, server0 = initial_states(conv)
    paths: dict[str, list[str]] = {"client": [client0], "server": [server0]}
    for t in conv.transitions:
        if t.why != JOINED_MIDSTREAM:
            paths[t.endpoint].append(t.new.value)
        else:  # "joined mid-stream ESTABLISHED → …"
            paths[t.endpoint][0] += f": {t.new.value}"
    return "; ".join(
        f"{side} {' → '.join(path)}" if len(path) > 1 or path[0].startswith(JOINED_MIDSTREAM)
        else f"{side} {path[0]} throughout"
        for side, path in paths.items()
    )


def _close_steps(conv: TCPConversation) -> list[Step]:
    close = conv.close
    if close.kind == "refused":
        return []
    first_close = min(
        (f for f in (close.client_fin_frame, close.server_fin_frame, close.rst_frame)
         if f is not None),
        default=None,
    )
    stream = _stream(conv)
    if first_close is None:
        if not conv.handshake.complete and conv.handshake.synack_frame is None and (
                conv.handshake.syn_frame is not None):
            return []  # an unanswered SYN: told by its own step
        text = (f"The connection between {conv.client} and {conv.server} was still open when "
                f"the capture ended (last frame {conv.last_frame}): no FIN or RST was "
                f"captured. Final states: client {conv.client_state.value}, server "
                f"{conv.server_state.value}.")
        return [Step("open", "Still open at the end of the capture", text, (conv.last_frame,),
                     conv.last_ts_ns, stream, {"close": close.to_dict()})]
    closing = [t for t in conv.transitions if t.frame >= first_close]
    moves = _moves(closing)
    frames = tuple(f for f in (conv.frames or []) if f >= first_close) or (first_close,)
    facts = {
        "close": close.to_dict(),
        "transitions": [
            {"frame": t.frame, "endpoint": t.endpoint, "from": t.old.value, "to": t.new.value,
             "why": t.why}
            for t in closing
        ],
        "client_state": conv.client_state.value,
        "server_state": conv.server_state.value,
    }
    final = (f"Final states: client {conv.client_state.value}, server "
             f"{conv.server_state.value}. Over the whole connection: {_paths(conv)}.")
    seen = _analysis_words(conv)
    if seen:
        final += " " + seen
    if close.kind == "rst":
        who = close.rst_by or "?"
        text = (f"The connection was aborted: the {who} sent RST (frame {close.rst_frame}) "
                "instead of closing with FIN, so any data still in flight is thrown away "
                f"(typical when a program exits or closes with unread data). {moves}. {final}")
        return [Step("reset", "Connection reset (RST)", text, frames, _ts_of(conv, first_close),
                     stream, facts)]
    initiator = close.initiator or "?"
    other = "server" if initiator == "client" else "client"
    if close.kind == "four-way":
        lead = (f"The {initiator} closed first: four-way teardown, each side sending its own "
                f"FIN and acknowledging the other's.")
        if close.client_fin_frame is not None and close.server_fin_frame is not None:
            second = max(close.client_fin_frame, close.server_fin_frame)
            acks = [t.frame for t in closing if "acknowledged the peer's FIN" in t.why]
            if acks and acks[0] == second:
                lead += (f" The {other} acknowledged the FIN and sent its own in the same "
                         f"segment (frame {second}), so only three packets were needed.")
        title = "Teardown: four-way close"
    elif close.kind == "simultaneous":
        lead = ("Both sides closed at once: their FINs crossed on the wire, so each went "
                "through CLOSING.")
        title = "Teardown: simultaneous close"
    elif close.kind == "half-close":
        return _half_close_steps(conv, closing, facts, final)
    else:
        lead = f"{close.describe().capitalize()}."
        title = "Teardown"
    text = f"{lead} {moves}. {final}"
    if conv.client_state.value == "TIME_WAIT" or conv.server_state.value == "TIME_WAIT":
        text += (" TIME_WAIT lasts twice the maximum segment lifetime, so a late duplicate "
                 "cannot be taken for part of a new connection.")
    return [Step("teardown", title, text, frames, _ts_of(conv, first_close), stream, facts)]


def _moves(transitions: list[StateChanged]) -> str:
    """``State changes: frame 16, the client ESTABLISHED → FIN_WAIT_1 (sent FIN); …``"""
    by_frame: dict[int, list[str]] = {}
    for t in transitions:
        by_frame.setdefault(t.frame, []).append(
            f"the {t.endpoint} {t.old.value} → {t.new.value} ({t.why})")
    return "State changes: " + "; ".join(
        f"frame {f}, {', '.join(items)}" for f, items in sorted(by_frame.items()))


def _half_close_steps(
    conv: TCPConversation, closing: list[StateChanged], facts: dict[str, Any], final: str
) -> list[Step]:
    """A half-close is two steps with data between them: one side's FIN, and later the other's.

    Told as one step, the data the other side sent in between would come
    after the whole teardown, which is not what happened.
    """
    close = conv.close
    initiator = close.initiator or "client"
    other = "server" if initiator == "client" else "client"
    first = close.client_fin_frame if initiator == "client" else close.server_fin_frame
    second = close.server_fin_frame if initiator == "client" else close.client_fin_frame
    stream = _stream(conv)
    part1 = [t for t in closing if second is None or t.frame < second]
    frames1 = tuple(sorted({t.frame for t in part1})) or ((first,) if first else ())
    text1 = (f"Half-close: the {initiator} sent FIN (frame {first}): it has nothing more to "
             f"send, but it keeps receiving. {_moves(part1)}.")
    steps = [Step("teardown", f"Half-close: the {initiator} sent FIN", text1, frames1,
                  _ts_of(conv, frames1[0]) if frames1 else conv.last_ts_ns, stream, facts)]
    if second is None:
        steps[0].text += f" The {other} had not closed its side when the capture ended. {final}"
        return steps
    part2 = [t for t in closing if t.frame >= second]
    frames2 = tuple(f for f in (conv.frames or []) if f >= second) or (second,)
    text2 = (f"The {other} kept sending data after the {initiator}'s FIN, then closed its "
             f"side too (FIN in frame {second}). {_moves(part2)}. {final}")
    steps.append(Step("teardown", "Teardown: half-close", text2, frames2,
                      _ts_of(conv, second), stream, facts))
    return steps


def _analysis_words(conv: TCPConversation) -> str:
    """What Wireshark-style sequence analysis flagged on the connection, if anything."""
    if not conv.analysis:
        return ""
    items = ", ".join(
        f"{name.removeprefix('tcp.analysis.').replace('_', ' ')} ×{count}"
        for name, count in sorted(conv.analysis.items())
    )
    return f"Along the way the analysis flagged: {items}."


def _ts_of(conv: TCPConversation, frame: int) -> int:
    for t in conv.transitions:
        if t.frame == frame:
            return t.ts_ns
    return conv.last_ts_ns


# -- HTTP --------------------------------------------------------------------


def _http_steps(conv: TCPConversation | None, exchanges: list[ToldExchange],
                label: str | None = None) -> list[Step]:
    """The requests and responses of one connection (``conv`` None: a QUIC one, ``label``)."""
    steps: list[Step] = []
    stream = _stream(conv) if conv is not None else label
    referenced: set[str] = set()
    previous: HTTPExchange | None = None
    for n, told in enumerate(exchanges):
        ex = told.exchange
        req, resp = ex.request, ex.response
        h2 = ex.http2_stream
        if req is not None:
            host = f" (Host: {ex.host})" if ex.host else ""
            on = f" on HTTP/2 stream {h2}" if h2 is not None and req.version == "HTTP/2" else ""
            if req.version == "HTTP/3":
                on = " over HTTP/3 (QUIC)"
            if ex.pushed_by is not None:
                title = "HTTP/2 server push"
                lead = (f"The server pushed {req.method} {req.target}{host} before the client "
                        f"asked: it promised stream {h2} on stream {ex.pushed_by} (PUSH_PROMISE)")
            elif n == 0:
                title = "HTTP request"
                lead = f"The client sent the HTTP request {req.method} {req.target}{host}{on}"
            elif h2 is not None or req.version == "HTTP/3":
                title = "Further HTTP request"
                lead = (f"On the same connection, the client asked for "
                        f"{req.method} {req.target}{host}{on}")
            else:
                title = "Further HTTP request"
                lead = (f"On the same connection (keep-alive), the client asked for "
                        f"{req.method} {req.target}{host}")
            words = [f"{lead} in {frames_text(req.frames)}."]
            if h2 is not None and req.version != "HTTP/2":
                words.append("It asked to switch the connection to HTTP/2 (Upgrade: h2c).")
            if req.target in referenced:
                words.append("The page refers to it: pushed so that the browser need not ask."
                             if ex.pushed_by is not None
                             else "The page it loaded earlier refers to this resource.")
            if (
                previous is not None
                and previous.response is not None
                and req.first_frame < previous.response.first_frame
                and ex.pushed_by is None
            ):
                words.append("It was sent before the previous answer arrived ("
                             + ("HTTP/2 streams run side by side)." if h2 is not None
                                else "each request has its own QUIC stream)."
                                if req.version == "HTTP/3" else "pipelining)."))
            if told.request is not None and told.request.length:
                words.append(f"It carries a body of {told.request.length} bytes"
                             f"{_type_words(req.content_type)}.")
            words.extend(f"Problem: {p}." for p in req.problems)
            steps.append(Step("request", title, " ".join(words), req.frames, req.start_ts_ns,
                              stream, {"method": req.method, "target": req.target,
                                       "host": ex.host or None, "index": ex.index,
                                       "http2_stream": h2}))
        if resp is not None:
            on = f" on HTTP/2 stream {h2}" if h2 is not None else ""
            words = [f"The server answered {resp.status} {resp.reason}".rstrip()
                     + f"{on} in {frames_text(resp.frames)}"]
            if ex.duration_ns is not None:
                words[0] += f", {_ms(ex.duration_ns)} after the request began"
            words[0] += "."
            for interim in ex.interim:
                words.append(f"Before it, an interim {interim.status} {interim.reason}".rstrip()
                             + f" (frame {interim.first_frame})"
                             + (": from there on the connection speaks HTTP/2."
                                if interim.status == 101 and h2 is not None else "."))
            body = told.response
            assert body is not None  # made with the response
            words.append(_body_words(resp, body, req.method if req is not None else ""))
            words.extend(f"Problem: {p}." for p in resp.problems)
            refs = body.references
            if refs:
                referenced.update(refs)
                shown = ", ".join(refs[:6]) + (" …" if len(refs) > 6 else "")
                words.append(f"The page refers to {shown}: a browser asks for these next.")
            steps.append(Step("response", "HTTP response", " ".join(w for w in words if w),
                              resp.frames, resp.start_ts_ns, stream,
                              {"status": resp.status, "reason": resp.reason,
                               "content_type": resp.content_type or None,
                               "body_len": body.length,
                               "complete": resp.complete, "index": ex.index,
                               "http2_stream": h2}))
        elif req is not None:
            steps[-1].text += f" No response: {ex.unanswered or 'none was captured'}."
        previous = ex
    return steps


def _type_words(content_type: str) -> str:
    return f" ({content_type.split(';')[0].strip()})" if content_type else ""


def _body_words(resp: HTTPMessage, body: BodyFacts, method: str) -> str:
    size = body.length
    if method == "HEAD":
        return "A HEAD request gets only the headers, no body."
    if resp.status in (204, 304) or 100 <= resp.status < 200:
        return {204: "204 means there is no content to send.",
                304: "304 means the copy the client already has is still good: no body."}.get(
                    resp.status, "")
    if size == 0:
        return "The response has no body."
    words = f"The body is {size} bytes{_type_words(resp.content_type)}"
    coding = resp.content_encoding
    if coding:
        words += f", sent {coding}-compressed ({body.decoded} bytes once decoded)"
    if resp.framing == "chunked":
        words += ", sent in chunks (Transfer-Encoding: chunked)"
    elif resp.framing == "close":
        words += ", ending when the server closed the connection"
    return words + "."


def _references(body: bytes) -> list[str]:
    """Resources a page refers to (src=/href= attributes), in order, without repeats."""
    out: list[str] = []
    for match in _REFERENCE.finditer(body[:200_000]):
        ref = match.group(1).decode("latin-1").strip()
        if ref and ref not in out:
            out.append(ref)
    return out


# -- TLS -------------------------------------------------------------------------

#: What the alerts people meet say, in plain words (RFC 8446 §6).
_ALERT_WORDS = {
    0: "the polite end of the TLS session (the sender will send nothing more)",
    10: "a message arrived that was not expected at that point",
    20: "a record did not authenticate (wrong keys, or bytes changed on the way)",
    40: "the two sides found no parameters they both accept",
    42: "the certificate was damaged or could not be checked",
    44: "the certificate was revoked by its issuer",
    45: "the certificate has expired or is not valid yet",
    46: "the certificate was not accepted",
    47: "a field of a handshake message had a value out of range",
    48: "the certificate authority that issued the server's certificate is not trusted",
    49: "the peer refused access",
    50: "a message could not be decoded",
    51: "a handshake signature or Finished check failed",
    70: "the client offered no protocol version the server accepts",
    71: "the server requires stronger cipher suites than the client offered",
    80: "the sender hit an internal error",
    86: "the client fell back to a lower version it should not need",
    90: "the user cancelled the handshake",
    109: "a required extension is missing",
    112: "the server does not know the server name the client asked for (SNI)",
    116: "a certificate was required and none was sent",
    120: "the server supports none of the application protocols offered (ALPN)",
}


def _names(items: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _and(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _offered_versions(tls: TLSSummary) -> list[str]:
    from layerpeek.tls.names import is_grease

    ch = tls.client_hello
    if ch is None:
        return []
    codes = [v for v in ch.supported_versions if not is_grease(v)] or [ch.version]
    return [version_words(v) for v in codes]


def _tls_handshake_frames(tls: TLSSummary) -> tuple[int, ...]:
    """The frames of the handshake messages, up to where the client could send data."""
    limit = tls.ready_frame
    frames = {m.frame for m in tls.messages
              if limit is None or m.frame <= limit or "Hello" in m.label}
    if limit is not None:
        frames.add(limit)
    return tuple(sorted(frames))


def _tls_decryption_words(tls: TLSSummary, http: bool) -> str:
    if tls.decrypted:
        words = "With the key log, layerpeek decrypted the session"
        if http:
            what = "HTTP/2" if tls.alpn == "h2" else "HTTP"
            return words + f": the {what} requests and responses inside are told below."
        return words + ": what it carried is told below."
    why = _tls_not_decrypted(tls)
    return f"What the two sides sent after it stays encrypted: {why}."


def _tls_not_decrypted(tls: TLSSummary) -> str:
    for p in tls.problems:
        if p.kind in ("no-keys", "unsupported", "auth-failed"):
            return p.reason.removesuffix(": its content stays encrypted")
    if tls.problems:
        return tls.problems[0].reason
    return ("no key log was given (--keylog FILE, or the SSLKEYLOGFILE a browser or curl "
            "writes, lets layerpeek read it)")


def _tls_steps(conv: TCPConversation, tls: TLSSummary, http: bool) -> list[Step]:
    """The TLS handshake in the explainer's words, and the alerts either side sent."""
    from layerpeek.tls.names import cipher_suite_name, group_name

    steps: list[Step] = []
    stream = _stream(conv)
    ch, sh = tls.client_hello, tls.server_hello
    words: list[str] = []
    if ch is not None:
        offered = _offered_versions(tls)
        sni = (f" for the server name {tls.server_name} (SNI: sent in the clear, so anyone "
               "on the path can read it)" if tls.server_name else " without a server name (SNI)")
        alpn = (f" and the application protocols {_names(list(ch.alpn))} (ALPN)"
                if ch.alpn else "")
        words.append(
            f"The client began TLS with a ClientHello ({frames_text(tls.client_hello_frames)})"
            f"{sni}, offering {_and(offered)} with {len(ch.cipher_suites)} cipher suites"
            f"{alpn}.")
    else:
        words.append("The ClientHello was not captured (the capture starts after it).")
    if tls.retry is not None:
        from layerpeek.tls import handshake

        share = handshake.find(tls.retry.extensions, handshake.KeyShare)
        wants = (f": it wants a key share for {group_name(share.selected_group)} instead"
                 if share is not None and share.selected_group is not None else "")
        words.append(f"The server asked for a second ClientHello (HelloRetryRequest, "
                     f"{frames_text(tls.retry_frames)}){wants}, which costs one more round "
                     "trip.")
    if sh is not None:
        version = version_words(tls.version)
        cipher = cipher_suite_name(sh.cipher_suite)
        words.append(f"The server answered with a ServerHello "
                     f"({frames_text(tls.server_hello_frames)}): {version}, with the cipher "
                     f"suite {cipher}.")
        if tls.alpn:
            words.append(f"The application protocol is {tls.alpn} (ALPN).")
        elif tls.tls13 and not tls.certificate_frames and ch is not None and ch.alpn:
            words.append("The protocol it chose (ALPN) travels in the encrypted part of the "
                         "handshake.")
        if tls.resumed:
            how = ("a pre-shared key from a session ticket" if tls.tls13
                   else "the session id or ticket of an earlier session")
            words.append(f"It resumed an earlier session ({how}): no certificate is sent and "
                         "the keys come from that session.")
        if tls.tls13:
            if tls.certificate_frames and tls.certificate_decrypted:
                words.append("TLS 1.3 encrypts the rest of the handshake; read with the key "
                             "log, it holds "
                             + _names([m.label.split()[0] for m in tls.messages
                                       if m.decrypted and m.direction != tls.client_side
                                       and (tls.ready_frame is None
                                            or m.frame <= tls.ready_frame)], 8) + ".")
            elif tls.encrypted_handshake:
                words.append("TLS 1.3 encrypts the rest of the handshake: without the key log "
                             "its messages (the server's certificate among them) cannot be "
                             "read.")
    elif ch is not None:
        words.append("No ServerHello was captured.")
    if tls.certificates:
        leaf = tls.certificates[0]
        if leaf.subject is not None:
            names = f" (names: {_names(list(leaf.san))})" if leaf.san else ""
            until = f", valid until {leaf.not_after}" if leaf.not_after else ""
            chain = (f"; the chain has {len(tls.certificates)} certificates"
                     if len(tls.certificates) > 1 else "")
            words.append(f"The server's certificate ({frames_text(tls.certificate_frames)}) is "
                         f"for {leaf.subject}{names}, issued by {leaf.issuer}{until}{chain}.")
        elif leaf.problem:
            words.append(f"The server sent a certificate ({leaf.problem}).")
    rounds = tls.round_trips
    if rounds is not None:
        took = f"{rounds} round trip{'s' if rounds != 1 else ''}"
        elapsed = tls.handshake_ns
        words.append(f"The handshake took {took}: it was over {_ms(elapsed)} after the "
                     f"ClientHello (frame {tls.ready_frame}).")
        if tls.version == 0x0303 and rounds == 2 and not tls.resumed:
            words.append("(TLS 1.3 needs one round trip for the same.)")
        words.append(_tls_decryption_words(tls, http))
    elif tls.alerts:
        words.append("The handshake did not complete.")
    frames = _tls_handshake_frames(tls)
    start = tls.client_hello_ts_ns if ch is not None else (
        tls.messages[0].ts_ns if tls.messages else conv.first_ts_ns)
    facts: dict[str, Any] = {
        "version": version_words(tls.version) if tls.version is not None else None,
        "cipher_suite": cipher_suite_name(sh.cipher_suite) if sh is not None else None,
        "server_name": tls.server_name,
        "alpn_offered": list(ch.alpn) if ch is not None else [],
        "alpn": tls.alpn,
        "resumed": tls.resumed,
        "hello_retry": tls.retry is not None,
        "certificate_subject": tls.certificates[0].subject if tls.certificates else None,
        "certificate_issuer": tls.certificates[0].issuer if tls.certificates else None,
        "round_trips": rounds,
        "handshake_ms": None if tls.handshake_ns is None else tls.handshake_ns / 1e6,
        "decrypted": tls.decrypted,
    }
    title = f"TLS handshake ({version_words(tls.version)}" + (
        ", resumed)" if tls.resumed else ")") if tls.version is not None else "TLS handshake"
    steps.append(Step("tls-handshake", title, " ".join(words), frames or (conv.first_frame,),
                      start, stream, facts))
    for alert in tls.alerts:
        steps.append(_tls_alert_step(conv, tls, alert))
    return steps


def _tls_alert_step(conv: TCPConversation, tls: TLSSummary, alert: Any) -> Step:
    from layerpeek.tls.names import alert_level_name, alert_name

    who = tls.role(alert.direction)
    a = alert.alert
    frames = tuple(alert.frames)
    where = frames_text(frames)
    if a.level is None or a.description is None:
        title = "TLS alert (encrypted)"
        text = (f"The {who} sent an encrypted TLS alert ({where}); without the keys its kind "
                "cannot be read (at the end of a session it is usually close_notify, the "
                "polite goodbye).")
        facts: dict[str, Any] = {"from": who, "level": None, "description": None}
    else:
        name = alert_name(a.description)
        level = alert_level_name(a.level)
        title = "TLS close_notify" if a.description == 0 else f"TLS alert: {name}"
        meaning = _ALERT_WORDS.get(a.description, "")
        text = f"The {who} sent the TLS alert {name} ({level}, {where})"
        text += f": {meaning}." if meaning else "."
        if a.level == 2:
            text += " A fatal alert ends the TLS session at once."
        facts = {"from": who, "level": level, "description": name}
    return Step("tls-alert", title, text, frames or (conv.last_frame,), alert.ts_ns,
                _stream(conv), facts)


def _tls_data_steps(conv: TCPConversation, tls: TLSSummary) -> list[Step]:
    """What can be said of data that stays encrypted: who sent how much, and when."""
    client, server = tls.sent["client"], tls.sent["server"]
    if not client.records and not server.records:
        return []
    why = _tls_not_decrypted(tls)
    words = [f"The content is encrypted: {why}." if not tls.decrypted
             else "The decrypted data is not HTTP."]

    def side(who: str, t: Any) -> str:
        if not t.records:
            return f"the {who} sent no application data"
        return (f"the {who} sent {t.records} record{'s' if t.records != 1 else ''} "
                f"({t.length} bytes)")

    words.append(f"What can be seen: {side('client', client)} and {side('server', server)}.")
    if tls.alpn in ("h2", "http/1.1") and tls.server_name:
        proto = "HTTP/2" if tls.alpn == "h2" else "HTTP/1.1"
        words.append(f"ALPN says these are {proto} requests and responses to "
                     f"{tls.server_name}; their sizes and times are all there is to see.")
    elif tls.alpn in ("h2", "http/1.1"):
        words.append(f"ALPN says these are {'HTTP/2' if tls.alpn == 'h2' else 'HTTP/1.1'} "
                     "requests and responses.")
    if tls.tls13 and not tls.decrypted:
        words.append("(In TLS 1.3 the session tickets the server sends after the handshake "
                     "look like application data too.)")
    told = []
    previous: int | None = None
    for burst in tls.bursts:
        where = (f"frame {burst.first_frame}" if burst.first_frame == burst.last_frame
                 else f"frames {burst.first_frame}-{burst.last_frame}")
        later = "" if previous is None else f", {_ms(burst.ts_ns - previous)} later"
        told.append(f"{where}, the {burst.direction}: {burst.records} "
                    f"record{'s' if burst.records != 1 else ''}, {burst.length} bytes{later}")
        previous = burst.end_ts_ns
    if told:
        words.append("In order: " + "; ".join(told) + ".")
    if tls.bursts_dropped:
        words.append(f"({tls.bursts_dropped} more records are not told here.)")
    bursts = tls.bursts
    frames = tuple(sorted({f for b in bursts for f in (b.first_frame, b.last_frame)}))
    first_ts = min((t.first_ts_ns for t in (client, server) if t.records), default=0)
    facts = {
        "client_records": client.records, "client_bytes": client.length,
        "server_records": server.records, "server_bytes": server.length,
        "client_plaintext": client.plaintext, "server_plaintext": server.plaintext,
        "decrypted": tls.decrypted,
    }
    return [Step("tls-data", "Encrypted application data" if not tls.decrypted
                 else "Decrypted application data", " ".join(words),
                 frames or (conv.first_frame,), first_ts, _stream(conv), facts)]


# -- other TCP data, UDP -----------------------------------------------------


def _preview(data: bytes | bytearray, size: int) -> str:
    text = bytes(data).decode("latin-1")
    shown = "".join(c if 32 <= ord(c) < 127 else "." for c in text)
    if sum(c == "." for c in shown) > len(shown) // 2:
        return f"{size} bytes of binary data"
    more = "…" if size > len(data) else ""
    return f'"{shown}{more}"'


def _data_steps(conv: TCPConversation, runs: list[_Run], dropped: int) -> list[Step]:
    steps = []
    for run in runs:
        sender = conv.client if run.direction == "client" else conv.server
        receiver = conv.server if run.direction == "client" else conv.client
        text = (f"The {run.direction} ({sender}) sent {run.size} byte"
                f"{'s' if run.size != 1 else ''} to {receiver}: {_preview(run.preview, run.size)}.")
        steps.append(Step("data", f"Data from the {run.direction}", text, tuple(run.frames),
                          run.ts_ns, _stream(conv), {"direction": run.direction,
                                                     "bytes": run.size}))
    if dropped and steps:
        steps[-1].text += f" ({dropped} further exchanges of data are not told here.)"
    return steps


def _quic_step(conn: QUICConnection) -> Step:
    """The QUIC handshake: where the TCP handshake and TLS are told for HTTPS over TCP."""
    client = f"{conn.client[0]}:{conn.client[1]}"
    server = f"{conn.server[0]}:{conn.server[1]}"
    sni = f" for {conn.sni}" if conn.sni else ""
    offered = f", offering {', '.join(conn.offered_alpn)}" if conn.offered_alpn else ""
    words = [f"The client {client} sent its first QUIC Initial packet to {server} over UDP "
             f"(frame {conn.first_frame}). Inside it is the TLS 1.3 ClientHello{sni}{offered}, "
             "protected only by keys anyone can derive from the packet's connection id."]
    if conn.negotiated_versions:
        words.append("The server did not speak the version offered: it answered with a Version "
                     "Negotiation packet listing "
                     + ", ".join(version_name(x) for x in conn.negotiated_versions)
                     + ", and the client started again in "
                     f"version {version_name(conn.version)}.")
    if conn.retry:
        words.append("The server first sent a Retry packet with a token, to check the client's "
                     "address; the client sent its Initial again with the token (one more round "
                     "trip).")
    if conn.zero_rtt:
        words.append(f"It resumed an earlier session and sent {conn.zero_rtt} 0-RTT packet"
                     f"{'s' if conn.zero_rtt != 1 else ''} with its first flight: its requests "
                     "left before any answer, with no round trip at all (early data, which an "
                     "attacker could replay).")
    if conn.handshake_rtt_ns is not None:
        suite = f" ({cipher_suite_name(conn.suite)})" if conn.suite is not None else ""
        words.append(f"The server answered {_ms(conn.handshake_rtt_ns)} later with its Initial "
                     f"packet, the ServerHello{suite}, and its encrypted Handshake packets (its "
                     "certificate, unless the session was resumed, and Finished): after one round "
                     "trip the client had the keys and could send its requests at once.")
    if conn.alpn:
        words.append(f"They agreed on {conn.alpn}"
                     + (" (HTTP/3)." if conn.alpn.startswith("h3") else "."))
    words.append("Unlike HTTPS over TCP, where the three-way handshake comes first and TLS "
                 "needs its own round trip on top, QUIC carries the TLS handshake inside its "
                 "own first packets: connection and encryption are set up together, and "
                 "every packet after the handshake is encrypted, headers included.")
    if conn.undecrypted:
        n = sum(conn.undecrypted.values())
        words.append(f"{n} packet{'s' if n != 1 else ''} stayed encrypted "
                     "(the key log has no secrets for this connection, or none was given).")
    words.extend(f"The connection moved: {m}." for m in conn.migrations)
    if conn.close:
        who, _, why = conn.close.partition(": ")
        words.append(f"The {who} ended it with CONNECTION_CLOSE ({why}).")
    frames = tuple(conn.handshake_frames) or (conn.first_frame,)
    return Step("quic-handshake", "QUIC handshake (1 round trip, TLS inside)", " ".join(words),
                frames, conn.first_ts_ns,
                f"udp {conn.udp_stream}" if conn.udp_stream is not None else None,
                {"sni": conn.sni, "alpn": conn.alpn, "version": conn.version,
                 "retry": conn.retry, "handshake_rtt_ns": conn.handshake_rtt_ns,
                 "zero_rtt_packets": conn.zero_rtt,
                 "undecrypted": dict(conn.undecrypted)})


def _udp_step(conv: UDPConversation, datagrams: list[_Datagram]) -> Step:
    lines = [
        f"UDP has no connection, no handshake and no teardown: the client {conv.client} simply "
        f"sent {conv.packets_client} datagram{'s' if conv.packets_client != 1 else ''} to "
        f"{conv.server}, and {conv.server} sent {conv.packets_server} back."
    ]
    for d in datagrams:
        who = "client → server" if d.direction == "client" else "server → client"
        lines.append(f"Frame {d.frame}, {who}: {_preview(d.preview, d.size)}.")
    if conv.packets > len(datagrams):
        lines.append(f"({conv.packets - len(datagrams)} more datagrams.)")
    frames = tuple(conv.frames or [conv.first_frame])
    return Step("udp", f"UDP exchange with {conv.server}", " ".join(lines), frames,
                conv.first_ts_ns, f"udp {conv.id}",
                {"packets_client": conv.packets_client, "packets_server": conv.packets_server,
                 "bytes_client": conv.bytes_client, "bytes_server": conv.bytes_server})


# -- overview and conclusion -------------------------------------------------


def _conclusion(g: _Gathered, told: list[ToldExchange]) -> str:
    """The explainer's last step: what the client ended up with, and how long it took."""
    decoded = {id(t.exchange): t.response.decoded for t in told if t.response is not None}
    http = [t.exchange for t in told]
    fetched = [ex for ex in http if ex.request is not None and ex.response is not None]
    if not fetched:
        return ""
    items = []
    total = 0
    for ex in fetched:
        assert ex.response is not None
        size = decoded[id(ex)]
        total += size
        kind = ex.response.content_type.split(";")[0].strip() or "no type"
        items.append(f"{ex.target} ({ex.status}, {kind}, {size} bytes)")
    shown = ", ".join(items[:8]) + (f" and {len(items) - 8} more" if len(items) > 8 else "")
    connections = len({ex.stream for ex in fetched})
    starts = [t.first_ts_ns for t in g.dns if t.query is not None]
    starts += [ex.start_ts_ns for ex in fetched]
    end = max(ex.response.end_ts_ns for ex in fetched if ex.response is not None)
    since = "the first DNS query" if g.dns else "the first request"
    incomplete = sum(1 for ex in http if not ex.complete)
    text = (f"In the end the client has {len(fetched)} response{'s' if len(fetched) != 1 else ''}"
            f": {shown}; {total} bytes of content over {connections} TCP "
            f"connection{'s' if connections != 1 else ''}, {_ms(end - min(starts))} from "
            f"{since} to the last byte of the last response.")
    if incomplete:
        text += (f" {incomplete} exchange{' is' if incomplete == 1 else 's are'} incomplete "
                 "(see the steps).")
    return text



def _overview(g: _Gathered, told: list[ToldExchange]) -> tuple[str, str]:
    http = [t.exchange for t in told]
    if g.packets == 0:
        return "other", "The capture holds no packets."
    names = [t.name for t in g.dns if t.query is not None and t.name]
    hosts = {ex.host.split(":")[0].lower() for ex in http if ex.host}
    tls = list(g.tls.values())
    sni = {t.server_name.lower() for t in tls if t.server_name}
    looked_up = {n.lower() for n in names}
    requests = sum(1 for ex in http if ex.request is not None)
    dns_tcp = {t.stream for t in g.dns if t.transport == "tcp"}
    non_dns_tcp = [c for c in g.tcp if c.id not in dns_tcp]
    parts = []
    if g.dns:
        unique = list(dict.fromkeys(names))
        shown = ", ".join(unique[:5]) + (f" and {len(unique) - 5} more" if len(unique) > 5 else "")
        parts.append(f"{len(g.dns)} DNS lookup{'s' if len(g.dns) != 1 else ''}"
                     + (f" ({shown})" if shown else ""))
    if g.tcp:
        parts.append(f"{len(g.tcp)} TCP connection{'s' if len(g.tcp) != 1 else ''}")
    if tls:
        opened = sum(1 for t in tls if t.decrypted)
        parts.append(f"{len(tls)} TLS session{'s' if len(tls) != 1 else ''}"
                     + (f" ({opened} decrypted with the key log)" if opened else ""))
    if requests:
        parts.append(f"{requests} HTTP request{'s' if requests != 1 else ''}")
    if g.quic:
        parts.append(f"{len(g.quic)} QUIC connection{'s' if len(g.quic) != 1 else ''}")
    dns_udp = len({t.stream for t in g.dns if t.transport == "udp"})
    other_udp = len(g.udp) - dns_udp - len({q.udp_stream for q in g.quic})
    if other_udp > 0:
        besides = " besides DNS" if dns_udp else ""
        parts.append(f"{other_udp} UDP conversation{'s' if other_udp != 1 else ''}{besides}")
    if g.others:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(g.others.items()))
        parts.append(f"{sum(g.others.values())} other packets ({counts})")
    listing = "; ".join(parts) if parts else "nothing layerpeek can follow"
    secure = " the TLS handshake," if tls else ""
    if http and g.dns and hosts & looked_up:
        kind = "page load"
        lead = (f"A page load, as the explainer tells it: the DNS lookup, the TCP handshake,"
                f"{secure} the HTTP requests and responses, and the teardown.")
    elif http:
        kind = "web"
        lead = ("Web traffic (HTTPS, decrypted with the key log)" if tls and any(
            t.decrypted for t in tls) else "Web traffic (HTTP)")
        lead += ", without the DNS lookup of the server's name."
    elif g.dns and not non_dns_tcp:
        kind = "dns"
        lead = "DNS lookups only."
    elif tls and g.dns and sni & looked_up:
        kind = "page load"
        lead = ("An HTTPS page load, encrypted: the DNS lookup, the TCP handshake, the TLS "
                "handshake, then requests and responses whose content the capture does not "
                "show without the key log (only their sizes and timing), and the teardown.")
    elif tls:
        kind = "https"
        lead = ("Encrypted traffic (TLS): the handshakes tell the server names, protocols and "
                "certificates, and the records how much each side sent and when; the content "
                "needs the key log (--keylog).")
    elif g.tcp:
        kind = "tcp"
        lead = "TCP connections without HTTP."
    elif g.udp:
        kind = "udp"
        lead = "UDP traffic."
    else:
        kind = "other"
        lead = ("No TCP or UDP traffic, so no story of lookups, connections or requests to "
                "tell; `layerpeek dump` shows these packets one by one.")
    return kind, f"{lead} {g.packets} packets: {listing}."


__all__ = [
    "BodyFacts",
    "Step",
    "Story",
    "Storyteller",
    "ToldExchange",
    "explain",
    "tell_of",
    "told_exchanges",
]
