"""Ethernet II, IEEE 802.3.

 0                   6                  12        14
+-------------------+-------------------+---------+---------------
| destination MAC   | source MAC        |EtherType| payload (46-1500)
+-------------------+-------------------+---------+---------------

A type/length field below 0x0600 is an 802.3 length, followed by an LLC
header: the hand-over key is then :data:`LENGTH` (0, never an EtherType),
which the registry maps to :mod:`layerpeek.layers.llc`.  The length is kept
in ``type`` as sent.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from layerpeek.dissect import Decoded, Dissector
from layerpeek.packet import Layer
from layerpeek.wire import enum_name, mac_str, need

#: The hand-over key for an 802.3 length field (what follows is LLC): no EtherType is 0.
LENGTH = 0


def next_key(type_or_length: int) -> int:
    """The ``ethertype`` table key for a type field: itself, or :data:`LENGTH` below 0x0600."""
    return type_or_length if type_or_length >= 0x0600 else LENGTH


#: The 14-byte header: destination, source, EtherType.
#: Public: the fast path in :mod:`layerpeek.decode` unpacks it in line.
HEADER = struct.Struct("!6s6sH")


class EtherType(IntEnum):
    IPV4 = 0x0800
    ARP = 0x0806
    VLAN = 0x8100
    IPV6 = 0x86DD
    QINQ = 0x88A8
    QINQ_OLD = 0x9100
    LLDP = 0x88CC
    PPPOE_DISCOVERY = 0x8863
    PPPOE_SESSION = 0x8864
    MPLS = 0x8847


@dataclass(frozen=True, slots=True)
class Ethernet(Layer):
    """An Ethernet II header.

    Frozen, unlike most layers: a reader shares one object between all the
    frames whose 14 header bytes are equal (see :data:`layerpeek.decode.EthernetCache`),
    so it must not be changed in place.  ``dataclasses.replace`` makes a changed copy.
    """

    name: ClassVar[str] = "ethernet"
    short: ClassVar[str] = "eth"
    json_formats: ClassVar[dict[str, str]] = {"src": "mac", "dst": "mac"}
    dst: bytes  #: 6 raw bytes; ``dst_mac`` for text
    src: bytes
    type: int  #: EtherType, or an 802.3 length when < 0x0600

    @property
    def src_mac(self) -> str:
        return mac_str(self.src)

    @property
    def dst_mac(self) -> str:
        return mac_str(self.dst)

    def summary(self) -> str:
        return f"{mac_str(self.src)} → {mac_str(self.dst)} {enum_name(EtherType, self.type)}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 14, "ethernet")
    dst, src, ethertype = HEADER.unpack_from(buf, start)
    return Ethernet(dst, src, ethertype), ("ethertype", next_key(ethertype), start + 14, end)


DISSECTOR = Dissector("ethernet", decode)
