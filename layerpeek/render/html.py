"""Packets and lists as HTML: the explainer's nested boxes, and tables.

A packet is drawn the way the explainer draws a web request: one box per
layer, each *inside* the layer that carries it (Ethernet ⊃ IPv4 ⊃ TCP ⊃
HTTP), with the layer's key fields in its header strip and every field one
click away in a ``<details>`` block.  The nesting is the flat
``Packet.layers`` chain drawn as containment, and the byte span of each
layer is printed in its corner so the boxes can be matched to the hex dump.

Why inline ``style`` attributes and no ``<style>`` block: notebook front ends
differ in what they keep.  JupyterLab drops ``<style>`` from untrusted
outputs, and GitHub's and nbviewer's static renderers sanitise them, so the
figure must look right with nothing but the elements' own attributes.

Captures are hostile input: every piece of text that came from a packet
(HTTP targets and headers, DNS names, payload previews) goes through
:func:`esc`, which HTML-escapes it and shows control bytes as ``\\xNN``.
The text itself comes from :mod:`layerpeek.render.text`, so the notebook,
``dump -V`` and ``_repr_pretty_`` agree on names and formats.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from layerpeek.packet import Layer, Malformed, Packet, Payload
from layerpeek.render.flows import flow_tree_lines, teardown_text
from layerpeek.render.hexdump import byte_range
from layerpeek.render.text import (
    endpoints,
    frame_line,
    key_facts,
    layer_lines,
    layer_title,
    numbered_layer_lines,
    numbered_summary,
    packet_line,
    relative_time,
)

if TYPE_CHECKING:
    from layerpeek.flows.tracker import PacketFlowInfo

#: Fields shown in a layer's header strip, by ``Layer.name``; the rest are in
#: the box's "all fields" block.  Unknown layers show their first fields.
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "ethernet": ("src", "dst", "type"),
    "vlan": ("vid", "pcp", "type"),
    "sll": ("packet_type", "addr", "protocol"),
    "sll2": ("packet_type", "interface_index", "addr", "protocol"),
    "null": ("family",),
    "arp": ("opcode", "sender_mac", "sender_ip", "target_ip"),
    "ipv4": ("src", "dst", "protocol", "ttl", "total_len", "id", "flags"),
    "ipv6": ("src", "dst", "next_header", "hop_limit", "payload_len"),
    "icmp": ("type", "code"),
    "icmpv6": ("type", "code"),
    "tcp": ("src_port", "dst_port", "flags", "seq", "ack", "window", "payload_len"),
    "udp": ("src_port", "dst_port", "length"),
    "dns": ("id", "qr", "opcode", "rcode", "questions", "answers"),
    "http": ("kind", "method", "target", "status", "reason", "version"),
}

#: Fill colours from the outermost layer inwards (link, network, transport, application).
PALETTE = ("#e8eef9", "#e6f4ea", "#fdf3e1", "#f3e8fb", "#e4f5f7", "#fbe9ef")
#: Border and fill of a Malformed/Truncated box: it must stand out.
MALFORMED_STYLE = "border:2px dashed #c62828;background:#fdecea"

#: Payload bytes previewed in a box (the rest is counted, not shown).
PREVIEW_BYTES = 96
#: Rows drawn by a table before it says how many more there are.
TABLE_ROWS = 500

_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_TEXT_ESCAPES = {c: e for c, e in _ESCAPES.items() if c not in (0x09, 0x0A)}
_FONT = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px"


def esc(text: object, *, lines: bool = False) -> str:
    """HTML-escape ``text`` and show control characters as ``\\xNN``.

    Escaping alone is not enough for text from packets: a NUL or an ANSI
    escape is invisible in a browser and could hide what a packet really holds.
    ``lines`` keeps line feeds and tabs (for bodies shown in ``<pre>``); a
    carriage return before a line feed is dropped, a lone one escaped.
    """
    s = str(text)
    if not s.isprintable():
        if lines:
            s = s.replace("\r\n", "\n").translate(_TEXT_ESCAPES)
        else:
            s = s.translate(_ESCAPES)
    return html.escape(s, quote=True)


@dataclass(frozen=True, slots=True)
class HTML:
    """A ready HTML fragment that Jupyter displays as such and a terminal prints as text.

    Returned by the functions here so that a notebook cell's last expression
    renders without importing IPython (the library must not depend on it).
    """

    html: str
    text: str = ""

    def _repr_html_(self) -> str:
        return self.html

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text or self.html)

    def __str__(self) -> str:
        return self.html


# --------------------------------------------------------------------------- layer fields


def layer_fields(layer: Layer) -> dict[str, list[str]]:
    """Field label → its rendered value lines, in declaration order.

    Taken from :func:`layerpeek.render.text.layer_lines`, so the value text is
    exactly ``dump -V``'s (``flags: 0x012 (SYN, ACK)``); a field with nested
    lines (TCP options, DNS questions, HTTP headers) gets them after its own.
    """
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in layer_lines(layer)[1:]:
        if line.startswith("  ") and not line.startswith("   "):
            label, _, value = line[2:].partition(": ")
            current = out[label] = [value]
        elif current is not None:
            current.append(line.strip())
    return out


def _bytes_preview(data: bytes) -> str:
    """Printable ASCII as is, everything else as ``·``, and the hex beside it."""
    shown = data[:PREVIEW_BYTES]
    ascii_text = "".join(chr(b) if 0x20 <= b < 0x7F else "·" for b in shown)
    more = f" … ({len(data)} bytes)" if len(data) > len(shown) else f" ({len(data)} bytes)"
    return (
        f'<div style="white-space:pre-wrap;word-break:break-all">{esc(ascii_text)}'
        f'<span style="color:#777">{esc(more)}</span></div>'
        f'<div style="color:#777;word-break:break-all">{shown.hex(" ")}</div>'
    )


def _key_rows(layer: Layer, fields: dict[str, list[str]]) -> list[tuple[str, str]]:
    wanted = KEY_FIELDS.get(layer.name)
    if wanted is None:
        wanted = tuple(list(fields)[:4])
    rows: list[tuple[str, str]] = []
    for name in wanted:
        lines = fields.get(name)
        if lines is None or lines[0] in ("-", ""):
            continue
        value = lines[0]
        if len(lines) > 1:  # a list field: its items, shortened
            items = lines[1:4]
            value = "; ".join(item.removeprefix("- ") for item in items)
            if len(lines) > 4:
                value += f"; … ({len(lines) - 1} in all)"
        elif value == "(none)":
            continue
        rows.append((name, value))
    return rows


def _http_extra(layer: Layer, fields: dict[str, list[str]]) -> str:
    """The HTTP head as it was sent, and a preview of the body bytes in this packet."""
    headers = fields.get("headers", [])[1:]
    body = getattr(layer, "body", b"")
    parts = []
    if headers:
        lines = "".join(f"<div>{esc(h)}</div>" for h in headers[:12])
        if len(headers) > 12:
            lines += f"<div>… {len(headers) - 12} more</div>"
        parts.append(f'<div style="margin-top:3px">{lines}</div>')
    if isinstance(body, bytes) and body:
        parts.append(f'<div style="margin-top:3px">body: {_bytes_preview(body)}</div>')
    return "".join(parts)


def _layer_box(
    packet: Packet, i: int, inner: str, flow: PacketFlowInfo | None
) -> str:
    layer = packet.layers[i]
    start, end = packet.spans[i] if i < len(packet.spans) else (0, 0)
    header_end = packet.spans[i + 1][0] if i + 1 < len(packet.spans) else end
    malformed = isinstance(layer, Malformed)
    style = MALFORMED_STYLE if malformed else (
        f"border:1px solid #8a94a6;background:{PALETTE[i % len(PALETTE)]}"
    )
    title = layer_title(layer)
    # The segment the conversation numbered shows relative numbers, raw labelled.
    summary = numbered_summary(packet, i, flow)
    numbered = numbered_layer_lines(packet, i, flow)
    if inner:
        span = f"{byte_range(start, end)} · header {header_end - start} B"
    else:
        span = f"{byte_range(start, end)} · {end - start} B"
    head = (
        f'<div style="display:flex;justify-content:space-between;gap:8px">'
        f'<span><b>{esc(title)}</b> <span style="color:#444">{esc(summary)}</span></span>'
        f'<span style="color:#777;white-space:nowrap">{esc(span)}</span></div>'
    )
    body = ""
    if malformed:
        assert isinstance(layer, Malformed)
        kind = "ran out of captured bytes" if layer.truncated else "invalid bytes"
        body = (
            f'<div style="color:#c62828"><b>{esc(layer.protocol)}</b>: {esc(layer.reason)} '
            f"(at byte {layer.offset}; {kind})</div>"
        )
        if layer.data:
            body += _bytes_preview(layer.data)
    elif isinstance(layer, Payload):
        body = _bytes_preview(layer.data)
    else:
        fields = layer_fields(layer)
        rows = _key_rows(layer, fields)
        if rows:
            cells = "".join(
                f'<span style="margin-right:12px"><span style="color:#666">{esc(k)}</span> '
                f"{esc(v)}</span>"
                for k, v in rows
            )
            body = f'<div style="margin-top:2px">{cells}</div>'
        if layer.name == "http":
            body += _http_extra(layer, fields)
        if flow is not None and flow.proto in ("tcp", "udp") and layer.name == flow.proto:
            generated = flow_tree_lines(flow)
            if generated:
                body += (
                    '<div style="color:#555;margin-top:2px">'
                    + "".join(f"<div>[{esc(t)}]</div>" for t in generated)
                    + "</div>"
                )
        details = "\n".join(numbered[1:])
        if details:
            body += (
                '<details style="margin-top:2px"><summary style="color:#666;cursor:pointer">'
                f'all fields</summary><pre style="margin:2px 0;{_FONT}">{esc(details)}'
                "</pre></details>"
            )
    return (
        f'<div class="lp-layer" data-layer="{esc(layer.name)}" '
        f'data-malformed="{"true" if malformed else "false"}" '
        f'style="{style};border-radius:6px;padding:4px 8px 6px;margin:4px 0 0">'
        f"{head}{body}{inner}</div>"
    )


def packet_html(packet: Packet, flow: PacketFlowInfo | None = None) -> str:
    """One packet as nested boxes, outermost layer outside (``Packet._repr_html_``).

    ``flow`` adds the conversation facts (stream, relative numbers, states,
    analysis) to the TCP or UDP box, as ``dump -V`` adds them to its tree.
    """
    inner = ""
    for i in range(len(packet.layers) - 1, -1, -1):
        inner = _layer_box(packet, i, inner, flow)
    if not packet.layers:
        inner = '<div style="color:#777">(no bytes decoded)</div>'
    warn = ""
    if len(packet.data) < packet.wire_len:
        warn = (
            f'<div style="color:#c62828">captured {len(packet.data)} of {packet.wire_len} '
            "bytes: the capture cut this frame (snap length)</div>"
        )
    return (
        f'<div class="lp-packet" data-frame="{packet.index}" '
        f'style="{_FONT};line-height:1.35;max-width:960px">'
        f'<div style="color:#555">{esc(frame_line(packet))}</div>{warn}{inner}</div>'
    )


# --------------------------------------------------------------------------- tables

_TH = "text-align:left;padding:2px 8px;border-bottom:1px solid #999;white-space:nowrap"
_TD = "text-align:left;padding:1px 8px;vertical-align:top"


def table_html(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    total: int,
    kind: str,
    row_styles: Sequence[str] | None = None,
) -> str:
    """A plain HTML table; every cell escaped; a last row counting what was left out."""
    head = "".join(f'<th style="{_TH}">{esc(c)}</th>' for c in columns)
    body: list[str] = []
    for n, row in enumerate(rows):
        extra = row_styles[n] if row_styles is not None and n < len(row_styles) else ""
        last = len(row) - 1
        cells = "".join(
            f'<td style="{_TD}{"" if i == last else ";white-space:nowrap"}">'
            f'{esc("" if v is None else v)}</td>'
            for i, v in enumerate(row)
        )
        body.append(f'<tr style="{extra}">{cells}</tr>')
    if total > len(body):
        body.append(
            f'<tr><td colspan="{len(columns)}" style="{_TD};color:#777">… '
            f"{total - len(body)} more {esc(kind)} not shown</td></tr>"
        )
    return (
        f'<table class="lp-table" data-kind="{esc(kind)}" '
        f'style="{_FONT};border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def info_text(packet: Packet, t0: int, flow: PacketFlowInfo | None = None) -> str:
    """``dump``'s line without its first columns: the same facts, relative numbers, flags.

    Taken from :func:`~layerpeek.render.text.packet_line` rather than rebuilt,
    so a notebook's Info column and ``layerpeek dump`` never disagree.
    """
    line = packet_line(packet, t0, flow=flow)
    prefix = f"#{packet.index} {relative_time(packet.ts_ns, t0)} {packet.protocols or '-'}"
    if not line.startswith(prefix):
        return key_facts(packet)[0]
    rest = line[len(prefix):].lstrip()
    ends, _ = endpoints(packet)
    if ends and rest.startswith(ends):
        rest = rest[len(ends):].lstrip()
    return rest


PACKET_COLUMNS = ("No.", "Time", "Protocols", "Endpoints", "Length", "Info")


def packets_table(
    packets: Sequence[Packet],
    flows: Sequence[PacketFlowInfo | None] | None = None,
    limit: int = TABLE_ROWS,
) -> HTML:
    """A packet list like Wireshark's top pane: one row per packet.

    Malformed or truncated packets are tinted red; ``flows`` (parallel to
    ``packets``, as :func:`layerpeek.flows.annotate` yields them) adds the
    stream, states and analysis labels to the Info column.
    """
    t0 = packets[0].ts_ns if packets else 0
    rows: list[tuple[object, ...]] = []
    styles: list[str] = []
    for n, packet in enumerate(packets[:limit]):
        flow = flows[n] if flows is not None and n < len(flows) else None
        ends, _ = endpoints(packet)
        when = relative_time(packet.ts_ns, t0)
        rows.append((
            packet.index, when, packet.protocols, ends, packet.wire_len,
            info_text(packet, t0, flow),
        ))
        bad = packet.malformed is not None or packet.truncated
        styles.append("background:#fdecea" if bad else "")
    text = "\n".join(f"#{r[0]} {r[1]} {r[2]} {r[3]} {r[5]}" for r in rows)
    return HTML(table_html(PACKET_COLUMNS, rows, len(packets), "packets", styles), text)


CONVERSATION_COLUMNS = (
    "Stream", "Proto", "Client", "Server", "Frames", "Packets", "Bytes →", "Bytes ←",
    "Duration s", "Zeek state", "History", "End",
)


def conversations_table(convs: Sequence[Any], limit: int = TABLE_ROWS) -> HTML:
    """TCP and UDP conversations as a table (what ``layerpeek flows`` lists)."""
    rows: list[tuple[object, ...]] = []
    for conv in convs[:limit]:
        close = getattr(conv, "close", None)
        end = teardown_text(close) if close is not None else ""
        rows.append((
            conv.id, conv.proto, str(conv.client), str(conv.server),
            f"{conv.first_frame}–{conv.last_frame}", conv.packets, conv.bytes_client,
            conv.bytes_server, f"{conv.duration_ns / 1e9:.6f}", conv.conn_state,
            conv.history, end,
        ))
    text = "\n".join(" ".join(str(v) for v in r) for r in rows)
    return HTML(table_html(CONVERSATION_COLUMNS, rows, len(convs), "conversations"), text)


__all__ = [
    "HTML",
    "KEY_FIELDS",
    "conversations_table",
    "esc",
    "info_text",
    "layer_fields",
    "packet_html",
    "packets_table",
    "table_html",
]
