"""Virtual eXtensible LAN (RFC 7348) over UDP port 4789, and its Generic
Protocol Extension (VXLAN-GPE, draft-ietf-nvo3-vxlan-gpe) on port 4790.

::

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|R|R|Ver|I|P|B|O|       Reserved                |Next Protocol  |  (GPE)
|R|R|R|R|I|R|R|R|            Reserved                           |  (VXLAN)
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                VXLAN Network Identifier (VNI) |   Reserved    |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Plain VXLAN always carries an Ethernet frame (handed to the ``linktype``
table as LINKTYPE_ETHERNET, 1).  With the P bit set (GPE) the last byte of
the first word names what follows: IPv4, IPv6, Ethernet, NSH.  The I bit
says whether the VNI is valid; the VNI is kept whatever it says, because it
is what tells the overlays apart (it goes into the key of the conversations
inside).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from layerpeek.dissect import UNCLAIMED, Decoded, Dissector, Next
from layerpeek.packet import Layer
from layerpeek.wire import need

_HEADER = struct.Struct("!II")

#: The default ports (the registry's wiring; any port can be mapped instead).
PORT = 4789
GPE_PORT = 4790

_I, _P = 0x08, 0x04


class NextProtocol(IntEnum):
    """VXLAN-GPE's next-protocol byte."""

    IPV4 = 1
    IPV6 = 2
    ETHERNET = 3
    NSH = 4


#: GPE next protocol → hand-over (table, key).
_GPE_NEXT: dict[int, tuple[str, int]] = {
    1: ("ethertype", 0x0800),
    2: ("ethertype", 0x86DD),
    3: ("linktype", 1),
    4: ("ethertype", 0x894F),  # NSH's EtherType
}


@dataclass(slots=True)
class VXLAN(Layer):
    """A VXLAN (or VXLAN-GPE) header."""

    name: ClassVar[str] = "vxlan"
    short: ClassVar[str] = "vxlan"
    flags: int  #: the first byte (0x08: the VNI is valid; 0x04: GPE's next protocol is set)
    gpe: bool  #: the P bit: a GPE header, ``next_protocol`` names the payload
    next_protocol: int | None  #: GPE only (1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH)
    vni: int  #: the 24-bit VXLAN Network Identifier

    def summary(self) -> str:
        return f"vni={self.vni}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 8, "vxlan")
    first, second = _HEADER.unpack_from(buf, start)
    flags = first >> 24
    gpe = bool(flags & _P)
    vni = second >> 8
    nxt: Next | None
    if gpe:
        proto = first & 0xFF
        target = _GPE_NEXT.get(proto)
        nxt = None if target is None else (target[0], target[1], start + 8, end)
        layer = VXLAN(flags, True, proto, vni)
        if nxt is None:
            return layer, ("ethertype", UNCLAIMED, start + 8, end)
        return layer, nxt
    return VXLAN(flags, False, None, vni), ("linktype", 1, start + 8, end)


DISSECTOR = Dissector("vxlan", decode, tunnel=True)
