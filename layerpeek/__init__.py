"""layerpeek: dissect network captures layer by layer.

Each frame of a pcap or pcapng file becomes a :class:`Packet`: its layers,
outermost first, each a typed dataclass with the header's fields by their RFC
names (run from the repository root, where the bundled captures are):

>>> import layerpeek
>>> from layerpeek import TCP
>>> for packet in layerpeek.read("captures/tcp_3040_greeting.pcap"):
...     tcp = packet.get(TCP)            # the layer, or None when the packet has none
...     if packet.index <= 3:
...         print(packet.index, packet.protocols, tcp.flags, tcp.seq)
1 eth:ipv4:tcp 2 1110334683
2 eth:ipv4:tcp 18 2125902396
3 eth:ipv4:tcp 16 1110334684

Sequence numbers here are the raw ones on the wire; the conversation stage
(:mod:`layerpeek.flows`, :mod:`layerpeek.analysis`) gives the relative ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerpeek.capture import CaptureReader, open_capture
from layerpeek.capture.frame import RawFrame
from layerpeek.errors import CaptureFormatError, CaptureProblemWarning, LayerpeekError
from layerpeek.layers import (
    ARP,
    DNS,
    HTTP,
    ICMP,
    SLL,
    SLL2,
    TCP,
    UDP,
    VLAN,
    Ethernet,
    ICMPv6,
    IPv4,
    IPv6,
    Null,
)
from layerpeek.packet import Layer, Malformed, Packet, Payload
from layerpeek.reader import PacketReader, decode, read
from layerpeek.registry import Dissector, Registry, default_registry

if TYPE_CHECKING:  # served lazily by __getattr__ below; typed here for editors and mypy
    from layerpeek.capture.live import LiveCapture, live_packets
    from layerpeek.columnar import table

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``layerpeek.live_packets`` and ``layerpeek.LiveCapture``, imported on first use.

    Live capture loads ctypes and libpcap; reading files must not pay for that.
    """
    if name in ("live_packets", "LiveCapture"):
        from layerpeek.capture import live

        return getattr(live, name)
    if name == "table":
        # Columnar tables need numpy and pyarrow (the ``table`` extra): imported
        # on first use so ``import layerpeek`` never pays for them.
        from layerpeek.columnar import table

        return table
    raise AttributeError(f"module 'layerpeek' has no attribute {name!r}")

__all__ = [
    "ARP",
    "DNS",
    "HTTP",
    "ICMP",
    "SLL",
    "SLL2",
    "TCP",
    "UDP",
    "VLAN",
    "CaptureFormatError",
    "CaptureProblemWarning",
    "CaptureReader",
    "Dissector",
    "Ethernet",
    "ICMPv6",
    "IPv4",
    "IPv6",
    "Layer",
    "LayerpeekError",
    "LiveCapture",
    "Malformed",
    "Null",
    "Packet",
    "PacketReader",
    "Payload",
    "RawFrame",
    "Registry",
    "__version__",
    "decode",
    "default_registry",
    "live_packets",
    "open_capture",
    "read",
    "table",
]
