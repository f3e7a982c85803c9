"""IEEE 802.1Q VLAN tag and IEEE 802.1ad (QinQ) service tag.

A tag sits where the EtherType would be: the outer type field holds the TPID
(0x8100 C-tag, 0x88A8 S-tag, 0x9100 pre-standard QinQ) and this layer's four
bytes follow it::

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
| PCP |D|         VLAN ID       |     EtherType of the payload  |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   TCI (Tag Control Information)

Stacked tags (QinQ) are one VLAN layer each, outermost first, because the
inner type of one tag is simply the TPID of the next: the registry sends
0x8100/0x88A8/0x9100 back here.  VID 0 means "priority tag only" (802.1p),
not VLAN 0.  As for Ethernet, an inner type below 0x0600 is an 802.3 length
(LLC follows, e.g. CDP), handed over as :data:`~layerpeek.layers.ethernet.LENGTH`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from layerpeek.dissect import Decoded, Dissector
from layerpeek.layers.ethernet import EtherType, next_key
from layerpeek.packet import Layer
from layerpeek.wire import enum_name, need

_TAG = struct.Struct("!HH")

#: TPIDs that announce a tag (the values the registry routes to this decoder).
TPIDS = frozenset((0x8100, 0x88A8, 0x9100))


@dataclass(slots=True)
class VLAN(Layer):
    """One 802.1Q / 802.1ad tag."""

    name: ClassVar[str] = "vlan"
    short: ClassVar[str] = "vlan"
    pcp: int  #: Priority Code Point, 0-7 (802.1p class of service)
    dei: int  #: Drop Eligible Indicator, 0 or 1 (formerly CFI)
    vid: int  #: VLAN identifier, 0-4095 (0: priority-tagged, no VLAN)
    type: int  #: EtherType of what the tag carries (or an 802.3 length when < 0x0600)
    tpid: int  #: the Tag Protocol Identifier that announced this tag (0x8100, 0x88A8, 0x9100)

    def summary(self) -> str:
        return f"vid={self.vid} pcp={self.pcp} {enum_name(EtherType, self.type)}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 4, "vlan")
    tci, inner = _TAG.unpack_from(buf, start)
    # The TPID belongs to the carrier (it is its type field), just before the tag
    # for Ethernet, SLL and an outer tag.  SLL2 puts its protocol field first, so
    # the two bytes before the tag are part of its address: fall back to 802.1Q.
    tpid = 0x8100
    if start >= 2:
        before = (buf[start - 2] << 8) | buf[start - 1]
        if before in TPIDS:
            tpid = before
    return VLAN(tci >> 13, (tci >> 12) & 1, tci & 0xFFF, inner, tpid), (
        "ethertype",
        next_key(inner),
        start + 4,
        end,
    )


DISSECTOR = Dissector("vlan", decode)
