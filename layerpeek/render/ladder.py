"""A TCP conversation drawn: an SVG ladder diagram in HTML, or a few lines of text.

The ladder is the figure every TCP explanation draws: the client's timeline
on the left, the server's on the right, time running down, and one sloped
arrow per segment labelled with its flags, relative sequence and
acknowledgement numbers and payload length (and the TLS messages it
completed).  ``layerpeek handshake`` draws it in text; this module draws it
in SVG for notebooks, with the state each side enters printed beside its
timeline and the handshake and teardown shaded.
``TCPConversation._repr_html_``/``_repr_pretty_`` hand over to
:func:`conversation_html` and :func:`conversation_text`.

The arrows need each packet's facts, which a conversation summary does not
keep: :func:`layerpeek.notebook.conversations` records them as the
``segments`` of each conversation (objects with the attributes of
:class:`Segment`).  A conversation without them is drawn as its state
transitions and summary, with a hint on how to get the segments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from layerpeek.flows.events import CLOSE_LABELS
from layerpeek.flows.records import initial_states
from layerpeek.layers.tcp import flag_names
from layerpeek.render.flows import handshake_options, teardown_text
from layerpeek.render.html import esc

if TYPE_CHECKING:
    from layerpeek.flows.events import StateChanged
    from layerpeek.flows.records import TCPConversation

_SYN, _FIN, _RST = 0x02, 0x01, 0x04

#: Segments drawn per ladder before the rest are summarised in one line; a
#: 200 kB transfer would otherwise be a figure several metres tall.
MAX_SEGMENTS = 400


class Segment(Protocol):
    """What the ladder reads of one recorded packet
    (:class:`layerpeek.notebook.ladder.LadderSegment` has it)."""

    @property
    def frame(self) -> int: ...
    @property
    def ts_ns(self) -> int: ...
    @property
    def direction(self) -> str: ...
    @property
    def flags(self) -> int: ...
    @property
    def seglen(self) -> int: ...
    @property
    def window(self) -> int: ...
    @property
    def analysis(self) -> int: ...
    @property
    def labels(self) -> tuple[str, ...]: ...
    @property
    def changes(self) -> tuple[StateChanged, ...]: ...
    @property
    def tls(self) -> tuple[str, ...]: ...
    @property
    def label(self) -> str: ...


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


def _colour(seg: Segment) -> str:
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
    segs: list[Segment] = list(getattr(conv, "segments", []))
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
    parts.extend(handshake_options(hs))
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
    lines.append(f"  end: {teardown_text(conv.close)}; Zeek {conv.conn_state} {conv.history}")
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
        f"end: {esc(teardown_text(conv.close))}; Zeek <code>{esc(conv.conn_state)}</code> "
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


__all__ = [
    "MAX_SEGMENTS",
    "Segment",
    "conversation_html",
    "conversation_text",
    "ladder_svg",
]
