"""Packet lists for Jupyter: :func:`packets` reads a capture into a list shown as a table.

The HTML itself (the nested layer boxes, the tables, :func:`esc`) is drawn by
:mod:`layerpeek.render.html`, so ``Packet._repr_html_`` and the CLI need
nothing from this package; the names are re-exported here for notebooks that
import them from ``layerpeek.notebook.html``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from layerpeek.packet import Packet
from layerpeek.render.html import (
    HTML,
    KEY_FIELDS,
    conversations_table,
    esc,
    info_text,
    layer_fields,
    packet_html,
    packets_table,
    table_html,
)

if TYPE_CHECKING:
    from layerpeek.flows.tracker import PacketFlowInfo


class PacketList(list[Packet]):
    """A list of packets that Jupyter shows as a packet table.

    It is an ordinary list (index it, slice it, loop over it); only its
    display differs.  ``flows`` holds the parallel flow facts when the list
    came from :func:`packets` with ``flows=True``.
    """

    flows: list[PacketFlowInfo | None] | None = None

    def _repr_html_(self) -> str:
        return packets_table(self, self.flows)._repr_html_()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(packets_table(self, self.flows, limit=50).text)


def packets(source: Any, *, flows: bool = True) -> PacketList:
    """Every packet of a capture (path, file object or packets) as a :class:`PacketList`.

    With ``flows`` (the default) the packets go through the flow stages
    (:func:`layerpeek.flows.annotate`) so the table shows relative sequence
    numbers, states and Wireshark's analysis labels; a frame that completed
    a fragmented IP datagram is replaced by the reassembled packet.
    """
    from layerpeek.flows.pipeline import annotate
    from layerpeek.notebook._source import iter_packets

    out = PacketList()
    if flows:
        infos: list[PacketFlowInfo | None] = []
        for packet, info in annotate(iter_packets(source)):
            out.append(packet)
            infos.append(info)
        out.flows = infos
    else:
        out.extend(iter_packets(source))
    return out


__all__ = [
    "HTML",
    "KEY_FIELDS",
    "PacketList",
    "conversations_table",
    "esc",
    "info_text",
    "layer_fields",
    "packet_html",
    "packets",
    "packets_table",
    "table_html",
]
