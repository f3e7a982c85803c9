"""Hex dump of a frame with the layer boundaries marked (``dump -x``).

A plain hex dump makes the reader count bytes to find where the TCP header
starts.  Here each layer's bytes (from ``Packet.spans``) get their own block,
introduced by a separator line naming the layer and its byte range
(half-open, as everywhere: :func:`byte_range`)::

    -- eth: Ethernet II, bytes 0–14 (14 bytes)
    0000  02 00 00 00 00 02 02 00  00 00 00 01 08 00        ........ ......
    -- ipv4: Internet Protocol v4, bytes 14–34 (20 bytes)
    000e  45 00 00 28 00 01 40 00  40 06 26 cc 0a 00 00 01  E..(..@.@.&.....
    …

Offsets are absolute in the frame, so they match ``Malformed.offset`` and the
tree.  Bytes that belong to no layer are shown too, labelled ``trailer``
(Ethernet padding after an IP packet's ``total_len``, a frame check sequence)
or ``gap``: a dump that silently skipped bytes would mislead.
"""

from __future__ import annotations

from layerpeek.packet import Malformed, Packet
from layerpeek.render.text import layer_title

#: Bytes per row, as tcpdump -X and xxd print them.
ROW = 16

#: Printable ASCII stays, everything else becomes "." in the text column.
_ASCII = bytes(b if 0x20 <= b < 0x7F else 0x2E for b in range(256))

_CYAN = "\x1b[36m"
_RESET = "\x1b[0m"


def regions(packet: Packet) -> list[tuple[int, int, str]]:
    """``(start, end, label)`` blocks covering the captured bytes in order.

    Layer spans come from the decoder and are contiguous in practice; this
    still tolerates overlaps (clipped) and holes (labelled ``gap``) rather than
    trusting them blindly.
    """
    data_len = len(packet.data)
    out: list[tuple[int, int, str]] = []
    pos = 0
    for layer, (start, end) in zip(packet.layers, packet.spans, strict=False):
        start = min(max(start, pos), data_len)
        end = min(max(end, start), data_len)
        if start > pos:
            out.append((pos, start, "gap: not part of any layer"))
        if isinstance(layer, Malformed):
            state = "truncated" if layer.truncated else "invalid"
            label = f"{layer.short}: {layer_title(layer)} ({layer.protocol}, {state})"
        else:
            label = f"{layer.short}: {layer_title(layer)}"
        out.append((start, end, label))
        pos = end
    if pos < data_len:
        out.append((pos, data_len, "trailer: after the last layer (padding or FCS)"))
    return out


def hex_rows(data: bytes, start: int, end: int) -> list[str]:
    """Rows of ``offset  hex (two groups of 8)  ascii`` for ``data[start:end]``."""
    rows = []
    for off in range(start, end, ROW):
        chunk = data[off : min(off + ROW, end)]
        hex_part = chunk[:8].hex(" ")
        if len(chunk) > 8:
            hex_part = f"{hex_part}  {chunk[8:].hex(' ')}"
        text = chunk.translate(_ASCII).decode("ascii")
        rows.append(f"{off:04x}  {hex_part:<48}  {text}")
    return rows


def byte_range(start: int, end: int) -> str:
    """``bytes 14–34``: the one way every view writes a span of bytes.

    Half-open, as Python slices and ``Packet.spans`` are: byte 14 up to, not
    including, byte 34 (20 bytes), so the end of one layer is the start of
    the next.  Where a range is shown its length is shown beside it.
    """
    return f"bytes {start}–{end}"


def hexdump(packet: Packet, color: bool = False) -> str:
    """The whole captured frame, one block per layer, each under a separator line."""
    lines: list[str] = []
    data = packet.data
    for start, end, label in regions(packet):
        size = end - start
        where = byte_range(start, end) if size else f"at byte {start}"
        header = f"-- {label}, {where} ({size} byte{'' if size == 1 else 's'})"
        lines.append(f"{_CYAN}{header}{_RESET}" if color else header)
        lines.extend(hex_rows(data, start, end))
    return "\n".join(lines)
