"""Generic Routing Encapsulation: RFC 2784 with RFC 2890's key and sequence
number, RFC 1701's routing, and PPTP's enhanced GRE (RFC 2637, version 1).

::

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|C|R|K|S|s|Recur|A| Flags | Ver |         Protocol Type         |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|      Checksum (optional)      |       Offset (optional)       |  C or R
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                         Key (optional)                        |  K
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                 Sequence Number (optional)                    |  S
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|             Acknowledgment Number (optional, version 1)       |  A
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                         Routing (optional, RFC 1701)           |  R
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

The protocol type is an EtherType, so the payload is handed to the
``ethertype`` table: IPv4 and IPv6, transparent Ethernet bridging (0x6558, a
whole Ethernet frame: the registry maps it to Ethernet), PPP (0x880B, PPTP),
MPLS, ERSPAN.  In version 1 the key field holds the payload length and the
call id (both kept in ``key`` as PPTP sends them); its payload is PPP.
ERSPAN type I is protocol 0x88BE without a sequence number and has no header
of its own: the mirrored Ethernet frame follows the GRE header directly, so
it is handed over as transparent Ethernet bridging.

Why keep ``key``: it tells apart the tunnels that share two endpoints (an
NVGRE virtual subnet, a per-customer tunnel), so the flow tracker puts it in
the key of the conversations inside.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar

from layerpeek.dissect import Decoded, Dissector
from layerpeek.errors import Invalid
from layerpeek.packet import Layer
from layerpeek.wire import enum_name, need

_HEAD = struct.Struct("!HH")
_U32 = struct.Struct("!I")
_SRE = struct.Struct("!HBB")
_TEB = 0x6558  #: transparent Ethernet bridging (a plain int: hand-over keys are ints)


class GREFlags(IntFlag):
    """The flag bits of the first 16 bits (version in the low three)."""

    ACK = 0x0080  #: an acknowledgement number follows (version 1)
    STRICT_ROUTE = 0x0800
    SEQUENCE = 0x1000
    KEY = 0x2000
    ROUTING = 0x4000
    CHECKSUM = 0x8000


class GREProtocol(IntEnum):
    """Protocol types seen in GRE beyond the common EtherTypes."""

    IPV4 = 0x0800
    IPV6 = 0x86DD
    TRANSPARENT_ETHERNET_BRIDGING = 0x6558
    PPP = 0x880B
    MPLS = 0x8847
    ERSPAN_II = 0x88BE  #: type I too, when no sequence number is present
    ERSPAN_III = 0x22EB
    WCCP = 0x883E


@dataclass(slots=True)
class GRE(Layer):
    """A GRE header with its optional fields (None when absent)."""

    name: ClassVar[str] = "gre"
    short: ClassVar[str] = "gre"
    flags: int  #: the first 16 bits without the version (C, R, K, S, s, recursion, A)
    version: int  #: 0 (RFC 2784) or 1 (PPTP's enhanced GRE)
    protocol: int  #: EtherType of the payload (0x6558: an Ethernet frame)
    checksum: int | None  #: present when C (or R) is set
    offset: int | None  #: routing offset, present with the checksum field
    key: int | None  #: RFC 2890 key; in version 1, payload length << 16 | call id
    sequence: int | None
    ack: int | None  #: version 1 only
    routing: bytes | None  #: RFC 1701 source route entries, up to the null entry

    @property
    def call_id(self) -> int | None:
        """PPTP's call id (version 1): the low 16 bits of the key field."""
        return None if self.key is None or self.version != 1 else self.key & 0xFFFF

    def summary(self) -> str:
        parts = [enum_name(GREProtocol, self.protocol)]
        if self.key is not None:
            parts.append(f"call_id={self.key & 0xFFFF}" if self.version == 1
                         else f"key={self.key:#x}")
        if self.sequence is not None:
            parts.append(f"seq={self.sequence}")
        return " ".join(parts)


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 4, "gre")
    first, protocol = _HEAD.unpack_from(buf, start)
    version = first & 7
    if version > 1:
        raise Invalid(f"gre version {version} unknown", start)
    flags = first & ~7
    at = start + 4
    checksum = offset = key = sequence = ack = None
    if flags & (GREFlags.CHECKSUM | GREFlags.ROUTING):
        need(at, end, 4, "gre.checksum")
        checksum, offset = _HEAD.unpack_from(buf, at)
        at += 4
    if flags & GREFlags.KEY:
        need(at, end, 4, "gre.key")
        (key,) = _U32.unpack_from(buf, at)
        at += 4
    if flags & GREFlags.SEQUENCE:
        need(at, end, 4, "gre.sequence")
        (sequence,) = _U32.unpack_from(buf, at)
        at += 4
    if version == 1 and flags & GREFlags.ACK:
        need(at, end, 4, "gre.ack")
        (ack,) = _U32.unpack_from(buf, at)
        at += 4
    routing = None
    if flags & GREFlags.ROUTING:
        first_sre = at
        while True:  # source route entries, ended by one with family 0 and length 0
            need(at, end, 4, "gre.routing")
            family, _, length = _SRE.unpack_from(buf, at)
            need(at, end, 4 + length, "gre.routing")
            at += 4 + length
            if family == 0 and length == 0:
                break
        routing = buf[first_sre:at]
    layer = GRE(flags, version, protocol, checksum, offset, key, sequence, ack, routing)
    if protocol == GREProtocol.ERSPAN_II and sequence is None:
        # ERSPAN type I: no header of its own, the mirrored frame follows at once.
        return layer, ("ethertype", _TEB, at, end)
    return layer, ("ethertype", protocol, at, end)


#: Also GRE in UDP (RFC 8086, port 4754): the same header right after UDP's.
DISSECTOR = Dissector("gre", decode, tunnel=True)
