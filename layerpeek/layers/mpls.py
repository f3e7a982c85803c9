"""MPLS label stack entries (RFC 3032), one layer per entry, outermost first.

::

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                Label                  | TC  |S|       TTL     |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Reached by EtherType 0x8847 (unicast) or 0x8848 (multicast), by PPP, GRE,
and MPLS in UDP (RFC 7510, port 6635).  An entry without the bottom-of-stack
bit hands over to the next entry, as a VLAN tag does to the next tag.

Nothing in the stack says what is under it: the label's meaning is agreed
between routers, out of band.  So the bottom entry looks at the payload's
first nibble, as Wireshark and Zeek do: 4 is IPv4, 6 is IPv6, 0 is a
pseudowire control word (RFC 4385) followed by an Ethernet frame; anything
else is kept as data.  The reserved labels say it outright (0: IPv4
explicit null, 2: IPv6 explicit null) and win over the nibble.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from layerpeek.dissect import UNCLAIMED, Decoded, Dissector, Next
from layerpeek.packet import Layer
from layerpeek.wire import need

_ENTRY = struct.Struct("!I")

#: MPLS in UDP (RFC 7510).
PORT = 6635


@dataclass(slots=True)
class MPLS(Layer):
    """One label stack entry."""

    name: ClassVar[str] = "mpls"
    short: ClassVar[str] = "mpls"
    label: int  #: 20 bits; 0-15 are reserved (0 IPv4 / 2 IPv6 explicit null, 3 implicit null…)
    tc: int  #: traffic class, 3 bits (formerly EXP)
    bottom: bool  #: S: the last entry of the stack
    ttl: int
    control_word: int | None = None  #: the pseudowire control word after the bottom entry, if any

    def summary(self) -> str:
        return f"label={self.label} tc={self.tc}{' S' if self.bottom else ''} ttl={self.ttl}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 4, "mpls")
    (entry,) = _ENTRY.unpack_from(buf, start)
    label = entry >> 12
    layer = MPLS(label, (entry >> 9) & 7, bool(entry & 0x100), entry & 0xFF)
    at = start + 4
    if not layer.bottom:
        return layer, ("ethertype", 0x8847, at, end)
    if at >= end:
        return layer, None
    nxt: Next
    nibble = buf[at] >> 4
    if label == 0 or (label != 2 and nibble == 4):
        nxt = ("ethertype", 0x0800, at, end)
    elif label == 2 or nibble == 6:
        nxt = ("ethertype", 0x86DD, at, end)
    elif nibble == 0 and end - at >= 4 + 14:
        (layer.control_word,) = _ENTRY.unpack_from(buf, at)
        nxt = ("linktype", 1, at + 4, end)  # an Ethernet pseudowire (RFC 4448)
    else:
        nxt = ("ethertype", UNCLAIMED, at, end)
    return layer, nxt


DISSECTOR = Dissector("mpls", decode, tunnel=True)
