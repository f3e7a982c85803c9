"""Conversations for Jupyter: recorded for the ladder diagram, and listed as a table.

The ladder itself (an SVG diagram with each side's state as it changes) is
drawn by :mod:`layerpeek.render.ladder`; its names are re-exported here.

Why a recording pass: a :class:`~layerpeek.flows.tracker.TCPConversation` is
a summary (endpoints, counters, state transitions) that the tracker keeps
small on purpose; the per-segment facts (relative numbers, analysis flags)
exist only while the packet goes through the tracker, as its
:class:`~layerpeek.flows.tracker.PacketFlowInfo`.  :func:`conversations`
runs that pass and keeps one :class:`LadderSegment` per packet in a
:class:`RecordedConversation`, a ``TCPConversation`` with a ``segments``
list.  A conversation that was not recorded (from
:func:`layerpeek.flows.conversations`) is still drawn, as its state
transitions and summary, with a hint on how to get the segments.

A TLS conversation's arrows also carry the TLS messages each segment
completed (``ClientHello SNI=…``, ``ServerHello TLS1.3 …``), drawn under the
TCP label, so the TLS handshake shows after the TCP one; ``keylog=`` names
TLS 1.3's encrypted handshake messages too, and the conversation's
``tls`` (a :class:`~layerpeek.tls.summary.TLSSummary`) says what the
handshake settled.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from layerpeek.flows.events import StateChanged
from layerpeek.flows.key import innermost_transport
from layerpeek.flows.tcp_state import TCPState
from layerpeek.flows.tracker import TCPConversation
from layerpeek.flows.udp import UDPConversation
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.tcp import TCP, flag_names
from layerpeek.layers.udp import UDP
from layerpeek.notebook._source import Source, iter_packets
from layerpeek.render.html import HTML, conversations_table
from layerpeek.render.ladder import MAX_SEGMENTS, conversation_html, conversation_text, ladder_svg

if TYPE_CHECKING:
    # The fields RecordedConversation inherits are annotated with these names;
    # the API reference (docs/build.py) resolves inherited annotations here.
    from layerpeek.flows.events import UnexpectedSegment  # noqa: F401
    from layerpeek.flows.key import Endpoint, Tunnel  # noqa: F401
    from layerpeek.flows.records import Handshake, StreamContent, Teardown  # noqa: F401
    from layerpeek.flows.zeek import ZeekTracker  # noqa: F401
    from layerpeek.tls.keylog import KeyLog
    from layerpeek.tls.summary import TLSSummary


@dataclass(slots=True)
class LadderSegment:
    """One TCP packet of a conversation as the ladder draws it."""

    frame: int
    ts_ns: int
    direction: str  #: "client" or "server": who sent it
    flags: int  #: the TCP flag bits
    seq: int | None  #: relative sequence number
    ack: int | None  #: relative acknowledgement number, None without ACK
    next_seq: int | None
    seglen: int  #: payload bytes on the wire
    window: int  #: the advertised window field as sent (not scaled)
    analysis: int  #: :class:`~layerpeek.flows.analysis.Flag` bits
    labels: tuple[str, ...]  #: Wireshark's Info labels, e.g. ``("TCP Retransmission",)``
    changes: tuple[StateChanged, ...]  #: state transitions this packet caused
    client_state: TCPState | None  #: after this packet
    server_state: TCPState | None
    ip_len: int = 0  #: IP header + payload bytes (Zeek's ``*_ip_bytes``)
    tls: tuple[str, ...] = ()  #: TLS messages this segment completed (``ClientHello …``)

    @property
    def label(self) -> str:
        """``SYN, ACK seq=0 ack=1 len=0``: the text on the arrow."""
        parts = [f"{flag_names(self.flags)} seq={self.seq}"]
        if self.ack is not None:
            parts.append(f"ack={self.ack}")
        parts.append(f"len={self.seglen}")
        return " ".join(parts)


@dataclass(slots=True, eq=False, repr=False)
class RecordedConversation(TCPConversation):
    """A TCP conversation with every packet's ladder facts (``segments``).

    It displays through ``TCPConversation._repr_html_``, which draws the
    arrows when ``segments`` are there.  ``repr=False``: a generated
    ``__repr__`` here would list every segment, and IPython would prefer it
    to the inherited ``_repr_pretty_``.
    """

    segments: list[LadderSegment] = field(default_factory=list)
    services: tuple[str, ...] = ()  #: application layers seen in it ("http", "dns")
    ip_bytes_client: int = 0  #: IP bytes the client sent (headers included)
    ip_bytes_server: int = 0
    #: The capture's first packet's time: the ladder's time origin, as ``dump``'s.
    capture_t0_ns: int | None = None
    tls: TLSSummary | None = None  #: what its TLS handshake settled, if it is TLS


class ConversationList(list[Any]):
    """Conversations (TCP and UDP) that Jupyter shows as a table; an ordinary list otherwise.

    ``services`` maps ``(proto, id)`` to the application layers decoded in
    that conversation (``("dns",)``), Zeek's ``service`` column.
    """

    services: dict[tuple[str, int], tuple[str, ...]]
    #: ``(proto, id)`` → [client's, server's] IP bytes, headers included (Zeek's ``*_ip_bytes``).
    ip_bytes: dict[tuple[str, int], list[int]]

    def __init__(self) -> None:
        super().__init__()
        self.services = {}
        self.ip_bytes = {}

    def tcp(self, stream: int) -> RecordedConversation:
        """The TCP conversation with id ``stream`` (``tcp.stream`` in Wireshark)."""
        for conv in self:
            if isinstance(conv, TCPConversation) and conv.id == stream:
                assert isinstance(conv, RecordedConversation)
                return conv
        ids = [c.id for c in self if isinstance(c, TCPConversation)]
        have = f"streams {min(ids)}-{max(ids)}" if ids else "no TCP streams"
        raise KeyError(f"no TCP stream {stream} (this capture has {have})")

    def _repr_html_(self) -> str:
        return conversations_table(self)._repr_html_()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(conversations_table(self, limit=50).text)


def _ip_len(packet: Any, tcp_index: int) -> int:
    for i in range(tcp_index - 1, -1, -1):
        layer = packet.layers[i]
        if isinstance(layer, IPv4):
            return layer.total_len or len(packet.data) - packet.spans[i][0]
        if isinstance(layer, IPv6):
            return 40 + layer.payload_len
    return 0


def conversations(
    source: Source, *, keep_data: bool = False, defrag: bool = True,
    keylog: KeyLog | str | os.PathLike[str] | None = None,
) -> ConversationList:
    """Every conversation of a capture, the TCP ones recorded for the ladder and plots.

    Like :func:`layerpeek.flows.conversations` (same order, same summaries,
    frames kept), but each TCP conversation is a :class:`RecordedConversation`
    whose ``segments`` hold one :class:`LadderSegment` per packet, so it
    displays as a ladder in Jupyter.  ``keep_data`` also keeps each
    direction's reassembled bytes.  TLS conversations carry their TLS
    messages on the arrows and a :class:`~layerpeek.tls.summary.TLSSummary`
    (``tls``); ``keylog`` (a :class:`~layerpeek.tls.KeyLog` or the path of
    an NSS key log) decrypts, so TLS 1.3's encrypted handshake is named.
    """
    from layerpeek.analysis import Analysis
    from layerpeek.flows.events import ConversationSummary
    from layerpeek.tls.summary import TLSSummaries, message_labels

    analysis = Analysis(
        ["defrag", "tcp", "udp", "tls"] if defrag else ["tcp", "udp", "tls"],
        settings={"tcp": {"keep_frames": True, "keep_data": keep_data},
                  "udp": {"keep_frames": True},
                  "tls": {"keylog": keylog, "keep_connections": False}},
    )
    tls = TLSSummaries()
    summaries: list[TCPConversation | UDPConversation] = []
    segments: dict[int, list[LadderSegment]] = {}
    services: dict[tuple[str, int], dict[str, None]] = {}
    ip_bytes: dict[tuple[str, int], list[int]] = {}
    t0: int | None = None
    for step in analysis.run(iter_packets(source)):
        packet, info, events = step.packet, step.flow, step.events
        if t0 is None:
            t0 = packet.ts_ns
        summaries.extend(e.summary for e in events if isinstance(e, ConversationSummary))
        for e in events:
            tls.feed(e)
        if info is None or info.proto not in ("tcp", "udp"):
            continue
        key = (info.proto, info.stream)
        app = services.setdefault(key, {})
        for layer in packet.layers:
            if layer.name in ("http", "dns"):
                app[layer.name] = None
        found = innermost_transport(packet, TCP if info.proto == "tcp" else UDP)
        if found is None:
            continue
        t = found[0]
        ip_len = _ip_len(packet, t)
        ip_bytes.setdefault(key, [0, 0])[info.direction != "client"] += ip_len
        if info.proto != "tcp":
            continue
        tcp = packet.layers[t]
        assert isinstance(tcp, TCP)
        verdict = info.analysis
        changes = tuple(
            e for e in events if isinstance(e, StateChanged) and e.conversation == info.stream
        )
        segments.setdefault(info.stream, []).append(LadderSegment(
            packet.index, packet.ts_ns, info.direction, tcp.flags, info.seq, info.ack,
            info.next_seq, info.seglen, tcp.window, info.flags,
            tuple(verdict.labels()) if verdict is not None else (), changes,
            info.client_state, info.server_state, ip_len,
            tuple(message_labels(events, info.stream)),
        ))
    for e in analysis.finish():
        tls.feed(e)
        if isinstance(e, ConversationSummary):
            summaries.append(e.summary)
    summaries.sort(key=lambda c: (c.first_frame, c.proto))
    out = ConversationList()
    out.services = {key: tuple(names) for key, names in services.items()}
    out.ip_bytes = ip_bytes
    names = [f.name for f in dataclasses.fields(TCPConversation)]
    for conv in summaries:
        if isinstance(conv, TCPConversation):
            rows = segments.get(conv.id, [])
            rec = RecordedConversation(**{n: getattr(conv, n) for n in names})
            rec.segments = rows
            rec.capture_t0_ns = t0
            rec.services = tuple(services.get(("tcp", conv.id), {}))
            rec.ip_bytes_client, rec.ip_bytes_server = ip_bytes.get(("tcp", conv.id), (0, 0))
            rec.tls = tls.get(conv.id)
            if rec.tls is not None and "tls" not in rec.services:
                rec.services += ("tls",)
            out.append(rec)
        else:
            assert isinstance(conv, UDPConversation)
            out.append(conv)
    return out


def ladder(conv: TCPConversation) -> HTML:
    """The ladder of ``conv`` as a displayable object (what its ``_repr_html_`` shows)."""
    return HTML(conversation_html(conv), conversation_text(conv))


__all__ = [
    "MAX_SEGMENTS",
    "ConversationList",
    "LadderSegment",
    "RecordedConversation",
    "conversation_html",
    "conversation_text",
    "conversations",
    "flag_names",
    "ladder",
    "ladder_svg",
]
