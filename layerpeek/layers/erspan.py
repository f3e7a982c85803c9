"""Cisco's Encapsulated Remote SPAN, types II and III, inside GRE.

GRE carries a mirrored Ethernet frame behind an ERSPAN header: protocol type
0x88BE with a GRE sequence number is type II, 0x22EB is type III (type I
has no header at all and is handled in :mod:`layerpeek.layers.gre`).

Type II, 8 bytes::

 |Ver=1 |      VLAN (12)     |COS|En|T|   Session ID (10)   |
 |    Reserved (12)     |            Index (20)             |

Type III, 12 bytes, then 8 of platform-specific data when O is set::

 |Ver=2 |      VLAN (12)     |COS|BSO|T|   Session ID (10)  |
 |                      Timestamp (32)                      |
 |        SGT (16)        |P| FT (5) | HW ID (6) |D|Gra|O|

The frame type FT is 0 for Ethernet (the common case; 2 is IP, handed over
by version nibble).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from layerpeek.dissect import UNCLAIMED, Decoded, Dissector, Next
from layerpeek.errors import Invalid
from layerpeek.packet import Layer
from layerpeek.wire import need

_WORDS2 = struct.Struct("!II")
_WORDS3 = struct.Struct("!IIHH")


@dataclass(slots=True)
class ERSPAN(Layer):
    """An ERSPAN type II or III header."""

    name: ClassVar[str] = "erspan"
    short: ClassVar[str] = "erspan"
    version: int  #: 1 for type II, 2 for type III
    vlan: int
    cos: int
    encapsulation: int  #: type II: En; type III: BSO (bad/short/oversized)
    truncated_frame: bool  #: T: the mirrored frame was cut to fit
    session_id: int
    index: int | None  #: type II
    timestamp: int | None  #: type III (granularity in ``granularity``)
    sgt: int | None  #: type III: security group tag
    frame_type: int | None  #: type III: 0 Ethernet, 2 IP
    hardware_id: int | None
    direction: int | None  #: type III: 0 ingress, 1 egress
    granularity: int | None
    platform: bytes | None  #: type III with O: the platform-specific subheader

    def summary(self) -> str:
        return f"type {self.version + 1} session={self.session_id} vlan={self.vlan}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 8, "erspan")
    first, second = _WORDS2.unpack_from(buf, start)
    version = first >> 28
    vlan = (first >> 16) & 0xFFF
    cos = (first >> 13) & 7
    enc = (first >> 11) & 3
    cut = bool(first & 0x400)
    session = first & 0x3FF
    if version == 1:
        layer = ERSPAN(1, vlan, cos, enc, cut, session, second & 0xFFFFF, None, None, None, None,
                       None, None, None)
        return layer, ("linktype", 1, start + 8, end)
    if version != 2:
        raise Invalid(f"erspan version {version} unknown", start)
    need(start, end, 12, "erspan")
    _, timestamp, sgt, last = _WORDS3.unpack_from(buf, start)
    at = start + 12
    platform = None
    if last & 1:
        need(at, end, 8, "erspan.platform")
        platform = buf[at : at + 8]
        at += 8
    frame_type = (last >> 10) & 0x1F
    layer = ERSPAN(2, vlan, cos, enc, cut, session, None, timestamp, sgt, frame_type,
                   (last >> 4) & 0x3F, (last >> 3) & 1, (last >> 1) & 3, platform)
    nxt: Next
    if frame_type == 0:
        nxt = ("linktype", 1, at, end)
    elif frame_type == 2 and at < end:
        nibble = buf[at] >> 4
        nxt = ("ethertype", 0x0800 if nibble == 4 else 0x86DD if nibble == 6 else UNCLAIMED,
               at, end)
    else:
        nxt = ("ethertype", UNCLAIMED, at, end)
    return layer, nxt


DISSECTOR = Dissector("erspan", decode)
