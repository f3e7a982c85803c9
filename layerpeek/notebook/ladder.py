"""A TCP conversation as an SVG ladder diagram, with each side's state as it changes.

The ladder is the figure every TCP explanation draws: the client's timeline
on the left, the server's on the right, time running down, and one sloped
arrow per segment labelled with its flags, relative sequence and
acknowledgement numbers and payload length.  ``layerpeek handshake`` draws
it in text; this module draws it in SVG for notebooks, with the state each
side enters printed beside its timeline and the handshake and teardown
shaded.

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

from layerpeek.flows.events import CLOSE_LABELS, StateChanged
from layerpeek.flows.key import innermost_transport
from layerpeek.flows.records import initial_states
from layerpeek.flows.tcp_state import TCPState
from layerpeek.flows.tracker import TCPConversation
from layerpeek.flows.udp import UDPConversation
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.tcp import TCP, flag_names
from layerpeek.layers.udp import UDP
from layerpeek.notebook._source import Source, iter_packets
from layerpeek.notebook.html import HTML, conversations_table, esc

if TYPE_CHECKING:
    # The fields RecordedConversation inherits are annotated with these names;
    # the API reference (docs/build.py) resolves inherited annotations here.
    from layerpeek.flows.events import UnexpectedSegment  # noqa: F401
    from layerpeek.flows.key import Endpoint, Tunnel  # noqa: F401
    from layerpeek.flows.records import Handshake, StreamContent, Teardown  # noqa: F401
    from layerpeek.flows.zeek import ZeekTracker  # noqa: F401
    from layerpeek.tls.keylog import KeyLog
    from layerpeek.tls.summary import TLSSummary

_SYN, _FIN, _RST = 0x02, 0x01, 0x04

#: Segments drawn per ladder before the rest are summarised in one line; a
#: 200 kB transfer would otherwise be a figure several metres tall.
MAX_SEGMENTS = 400


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


# --------------------------------------------------------------------------- drawing

#: Geometry of the ladder, in SVG user units (pixels at 100 %).
WIDTH = 780
CLIENT_X = 250
SERVER_X = 600
ROW = 38  #: vertical distance between two segments
SLOPE = 16  #: how far an arrow drops between its two ends
TOP = 58  #: where the first row starts (below the column titles and initial states)

#: The colour of the TLS messages under an arrow's TCP label.
_TLS_COLOUR = "#00695c"

_COLOURS = {
    "syn": "#2e7d32",
    "fin": "#ef6c00",
    "rst": "#c62828",
    "data": "#1565c0",
    "ack": "#616161",
}
_SHADE_HANDSHAKE = "#e3f2fd"
_SHADE_TEARDOWN = "#fff3e0"
_BAD = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20  # retransmissions, out-of-order, lost, ACKed unseen


def _colour(seg: LadderSegment) -> str:
    if seg.flags & _RST:
        return _COLOURS["rst"]
    if seg.flags & _SYN:
        return _COLOURS["syn"]
    if seg.flags & _FIN:
        return _COLOURS["fin"]
    return _COLOURS["data"] if seg.seglen else _COLOURS["ack"]


def _phase_rows(conv: TCPConversation, frames: list[int]) -> list[tuple[str, int, int]]:
    """(label, first row, last row) of the handshake and the teardown, where captured."""
    index = {f: i for i, f in enumerate(frames)}
    out: list[tuple[str, int, int]] = []
    hs = conv.handshake
    hs_rows = [index[f] for f in (hs.syn_frame, hs.synack_frame, hs.ack_frame) if f in index]
    if hs_rows:
        out.append(("handshake", min(hs_rows), max(hs_rows)))
    close = conv.close
    ends = [
        index[f] for f in (close.client_fin_frame, close.server_fin_frame, close.rst_frame)
        if f in index
    ]
    if ends:
        label = CLOSE_LABELS.get(close.kind, "teardown")
        out.append((label, min(ends), len(frames) - 1))
    return out


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 11,
          colour: str = "#222", cls: str = "", extra: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text{klass} x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{colour}"{extra}>{esc(text)}</text>'
    )


def ladder_svg(conv: TCPConversation, max_segments: int = MAX_SEGMENTS) -> str:
    """The ladder of a recorded conversation as one ``<svg>`` element.

    Every drawn segment is a ``<g class="lp-seg" data-frame=…>``, every state
    a side enters a ``<text class="lp-state" data-side=… data-state=…>``, in
    order, so tests (and people using the browser's inspector) can find them.
    """
    segs: list[LadderSegment] = list(getattr(conv, "segments", []))
    drawn = segs[:max_segments]
    n = len(drawn)
    height = TOP + n * ROW + (34 if len(segs) > n else 14)
    parts: list[str] = []
    # Shaded phases first, so everything else is drawn over them.
    for label, first, last in _phase_rows(conv, [s.frame for s in drawn]):
        y0 = TOP + first * ROW - 8
        y1 = TOP + last * ROW + SLOPE + 12
        fill = _SHADE_HANDSHAKE if label == "handshake" else _SHADE_TEARDOWN
        parts.append(
            f'<rect class="lp-phase" data-phase="{esc(label)}" x="{CLIENT_X - 150}" '
            f'y="{y0}" width="{SERVER_X - CLIENT_X + 300}" height="{y1 - y0}" '
            f'fill="{fill}" rx="4"/>'
        )
        parts.append(_text(SERVER_X + 146, y0 + 12, label, anchor="end", size=10,
                           colour="#666", extra=' font-style="italic"'))
    # Column titles, timelines, and the states before the first packet.
    bottom = TOP + n * ROW + 4
    parts.append(_text(CLIENT_X, 14, f"client {conv.client}", anchor="middle", size=12,
                       extra=' font-weight="bold"'))
    parts.append(_text(SERVER_X, 14, f"server {conv.server}", anchor="middle", size=12,
                       extra=' font-weight="bold"'))
    for x in (CLIENT_X, SERVER_X):
        parts.append(
            f'<line x1="{x}" y1="22" x2="{x}" y2="{bottom}" stroke="#333" stroke-width="1.5"/>'
        )
    client0, server0 = initial_states(conv)
    parts.append(_state(CLIENT_X, 36, "client", client0))
    parts.append(_state(SERVER_X, 36, "server", server0))
    t0: int | None = getattr(conv, "capture_t0_ns", None)
    origin = "since the capture's first packet"
    if t0 is None:
        t0, origin = (drawn[0].ts_ns if drawn else 0), "since the conversation's first packet"
    parts.append(_text(8, 36, "frame  time (s)", size=10, colour="#666",
                       extra=f' data-origin="{esc(origin)}"'))
    parts.append(_text(8, 48, origin, size=9, colour="#888"))
    for i, seg in enumerate(drawn):
        y = TOP + i * ROW
        from_client = seg.direction == "client"
        x0, x1 = (CLIENT_X, SERVER_X) if from_client else (SERVER_X, CLIENT_X)
        colour = _colour(seg)
        bad = bool(seg.analysis & _BAD)
        dash = ' stroke-dasharray="5,3"' if bad else ""
        tip = x1 - 9 if from_client else x1 + 9
        y_tip = y + SLOPE
        # the arrowhead: a small triangle pointing along the arrow
        dy = SLOPE / (SERVER_X - CLIENT_X) * 9
        head = (
            f'<polygon points="{x1},{y_tip} {tip},{y_tip - dy - 4:.1f} {tip},{y_tip - dy + 4:.1f}" '
            f'fill="{colour}"/>'
        )
        notes = " ".join(f"[{label}]" for label in seg.labels)
        items = [
            f'<g class="lp-seg" data-frame="{seg.frame}" data-dir="{seg.direction}" '
            f'data-flags="{esc(flag_names(seg.flags))}">',
            f"<title>{esc(f'frame {seg.frame}: {seg.label} win={seg.window} {notes}')}</title>",
            f'<line x1="{x0}" y1="{y}" x2="{tip}" y2="{y_tip - dy:.1f}" stroke="{colour}" '
            f'stroke-width="1.6"{dash}/>',
            head,
            _text((CLIENT_X + SERVER_X) / 2, y + SLOPE / 2 - 6, seg.label, anchor="middle",
                  size=11, colour=colour),
            _text(8, y + SLOPE / 2 + 3, f"{seg.frame:>4}  {(seg.ts_ns - t0) / 1e9:.6f}",
                  size=10, colour="#444", extra=' xml:space="preserve"'),
        ]
        if seg.tls:
            text = "TLS " + ", ".join(seg.tls)
            if len(text) > 62:
                text = text[:61] + "…"
            items.append(_text((CLIENT_X + SERVER_X) / 2, y + SLOPE / 2 + 6, text,
                               anchor="middle", size=10, colour=_TLS_COLOUR, cls="lp-tls",
                               extra=f' data-messages="{esc(" | ".join(seg.tls))}"'))
        if notes:
            items.append(_text((CLIENT_X + SERVER_X) / 2, y + SLOPE + 10, notes,
                               anchor="middle", size=10, colour="#c62828"))
        items.append("</g>")
        parts.extend(items)
        # States entered because of this packet, beside each timeline, in order.
        for side, x in (("client", CLIENT_X), ("server", SERVER_X)):
            states = [c.new.value for c in seg.changes if c.endpoint == side]
            if states:
                parts.append(_state(x, y + SLOPE + 6, side, " → ".join(states), states))
    if len(segs) > n:
        rest = segs[n:]
        parts.append(_text(
            (CLIENT_X + SERVER_X) / 2, bottom + 18,
            f"… {len(rest)} more segments (frames {rest[0].frame}–{rest[-1].frame}) not drawn",
            anchor="middle", colour="#777"))
    return (
        f'<svg class="lp-ladder" data-stream="{conv.id}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        'font-family="ui-monospace,SFMono-Regular,Menlo,Consolas,monospace">'
        + "".join(parts) + "</svg>"
    )


def _state(x: float, y: float, side: str, text: str, states: list[str] | None = None) -> str:
    """A state label beside a timeline: left of the client's, right of the server's."""
    if states is None:
        states = [text]
    left = side == "client"
    tx = x - 8 if left else x + 8
    return _text(
        tx, y, text, anchor="end" if left else "start", size=10, colour="#6a1b9a",
        cls="lp-state",
        extra=f' data-side="{side}" data-state="{esc(" ".join(states))}" font-weight="bold"',
    )


def _handshake_text(conv: TCPConversation) -> str:
    hs = conv.handshake
    parts: list[str] = []
    if hs.rtt_ns is not None:
        parts.append(f"initial RTT {hs.rtt_ns / 1e6:.3f} ms")
    elif not hs.complete:
        parts.append("handshake not fully captured")
    parts.extend(hs.options_text())
    return "; ".join(parts)


def conversation_text(conv: TCPConversation) -> str:
    """A few lines for terminals: who talked to whom, how it began and ended."""
    lines = [
        f"TCP stream {conv.id}: client {conv.client}, server {conv.server}, "
        f"frames {conv.first_frame}-{conv.last_frame}, {conv.packets} packets",
    ]
    hs = _handshake_text(conv)
    if hs:
        lines.append(f"  {hs}")
    tls = getattr(conv, "tls", None)
    if tls is not None:
        from layerpeek.tls.summary import settled_text

        lines.append(f"  TLS: {settled_text(tls)}")
    lines.append(f"  end: {conv.close.describe()}; Zeek {conv.conn_state} {conv.history}")
    for t in conv.transitions:
        lines.append(f"  frame {t.frame}: {t.endpoint} {t.old.value} → {t.new.value} ({t.why})")
    return "\n".join(lines)


def conversation_html(conv: TCPConversation) -> str:
    """``TCPConversation._repr_html_``: the facts, then the ladder (or the state changes)."""
    facts = [
        f"<b>TCP stream {conv.id}</b>: client {esc(conv.client)} → server {esc(conv.server)}",
        f"frames {conv.first_frame}–{conv.last_frame}, {conv.packets} packets, "
        f"{conv.bytes_client} bytes → / {conv.bytes_server} bytes ←, "
        f"{conv.duration_ns / 1e9:.6f} s",
    ]
    hs = _handshake_text(conv)
    if hs:
        facts.append(esc(hs))
    tls = getattr(conv, "tls", None)
    if tls is not None:
        from layerpeek.tls.summary import settled_text

        facts.append("TLS: " + esc(settled_text(tls)))
    facts.append(
        f"end: {esc(conv.close.describe())}; Zeek <code>{esc(conv.conn_state)}</code> "
        f"<code>{esc(conv.history)}</code>"
    )
    if conv.analysis:
        facts.append("analysis: " + esc(", ".join(
            f"{name} ×{count}" for name, count in sorted(conv.analysis.items())
        )))
    head = "".join(f"<div>{f}</div>" for f in facts)
    if getattr(conv, "segments", None):
        body = ladder_svg(conv)
    else:
        rows = "".join(
            f"<tr><td>{t.frame}</td><td>{esc(t.endpoint)}</td><td>{esc(t.old.value)}</td>"
            f"<td>{esc(t.new.value)}</td><td>{esc(t.why)}</td></tr>"
            for t in conv.transitions
        )
        body = (
            '<table class="lp-transitions" style="border-collapse:collapse">'
            "<thead><tr><th>frame</th><th>side</th><th>from</th><th>to</th><th>why</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
            '<div style="color:#777">Per-segment arrows need the packets: '
            "<code>layerpeek.notebook.conversations(path)</code> records them.</div>"
        )
    return (
        f'<div class="lp-conversation" data-stream="{conv.id}" style="font-family:'
        'ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;line-height:1.4">'
        f"{head}{body}</div>"
    )


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
