"""Jupyter support: rich displays, DataFrames and plots for captures.

``Packet``, ``TCPConversation`` and ``HTTPExchange`` display themselves in a
notebook (their ``_repr_html_`` draws through :mod:`layerpeek.render`); the
functions here read captures into lists shown as tables, record the ladders,
and add DataFrames and the time-sequence graph::

    from layerpeek import notebook as lpn

    packets = lpn.packets("captures/page_load.pcap")      # a list shown as a table
    packets[7]                                            # nested layer boxes
    convs = lpn.conversations("captures/page_load.pcap")  # a list shown as a table
    convs.tcp(0)                                          # the SVG ladder
    lpn.conversations_frame("captures/page_load.pcap")    # Zeek conn.log columns
    lpn.time_sequence(convs.tcp(0))                       # matplotlib Axes
    lpn.exchanges("captures/http_keepalive.pcap")[0]      # request and response heads
    lpn.http_frame("captures/http_keepalive.pcap")        # one row per exchange

Names are imported on first use: ``import layerpeek`` never imports this
package, and this package imports pandas, pyarrow and matplotlib (the
``notebook`` extra) only inside the functions that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerpeek._lazy import lazy_getattr

if TYPE_CHECKING:
    from layerpeek.notebook.frames import (
        conversations_arrow,
        conversations_frame,
        http_arrow,
        http_frame,
        packets_arrow,
        packets_frame,
        to_arrow,
    )
    from layerpeek.notebook.html import (
        HTML,
        PacketList,
        conversations_table,
        packet_html,
        packets,
        packets_table,
    )
    from layerpeek.notebook.http import ExchangeList, exchanges
    from layerpeek.notebook.ladder import (
        ConversationList,
        LadderSegment,
        RecordedConversation,
        conversations,
        ladder,
        ladder_svg,
    )
    from layerpeek.notebook.plot import time_sequence

_WHERE = {
    "conversations_arrow": "frames",
    "conversations_frame": "frames",
    "packets_arrow": "frames",
    "packets_frame": "frames",
    "to_arrow": "frames",
    "http_arrow": "frames",
    "http_frame": "frames",
    "ExchangeList": "http",
    "exchanges": "http",
    "HTML": "html",
    "PacketList": "html",
    "conversations_table": "html",
    "packet_html": "html",
    "packets": "html",
    "packets_table": "html",
    "ConversationList": "ladder",
    "LadderSegment": "ladder",
    "RecordedConversation": "ladder",
    "conversations": "ladder",
    "ladder": "ladder",
    "ladder_svg": "ladder",
    "time_sequence": "plot",
}

__all__ = [
    "HTML",
    "ConversationList",
    "ExchangeList",
    "LadderSegment",
    "PacketList",
    "RecordedConversation",
    "conversations",
    "conversations_arrow",
    "conversations_frame",
    "conversations_table",
    "exchanges",
    "http_arrow",
    "http_frame",
    "ladder",
    "ladder_svg",
    "packet_html",
    "packets",
    "packets_arrow",
    "packets_frame",
    "packets_table",
    "time_sequence",
    "to_arrow",
]


__getattr__ = lazy_getattr(__name__, _WHERE, globals())
