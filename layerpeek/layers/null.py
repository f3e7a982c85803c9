"""BSD loopback encapsulation: LINKTYPE_NULL (0) and LINKTYPE_LOOP (108).

One 4-byte header holding the packet's address family (``AF_*``), then the
network-layer packet (https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html)::

 0                   1                   2                   3
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|              address family (host or network order)           |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

LINKTYPE_NULL stores the family in the byte order of the machine that
*captured*, which the file does not record reliably (a pcap written on one
host may be read on another); LINKTYPE_LOOP (OpenBSD) always uses network
order.  Both are decoded with the test Wireshark's null dissector also starts
from: every real family is below 65536, so if the value read little-endian has
its low 16 bits zero, it was written big-endian.  (Wireshark further handles
IRIX snoop's 16-bit family, PPP-in-loopback and EtherType-valued headers;
those are not seen in BSD/macOS/Linux captures and are left out.)

AF_INET is 2 everywhere, but AF_INET6 differs by operating system: 10 on
Linux, 24 on NetBSD/OpenBSD, 28 on FreeBSD and 30 on macOS/Darwin.  All of
them hand over to IPv6; other families become a payload.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from layerpeek.dissect import Decoded, Dissector
from layerpeek.packet import Layer
from layerpeek.wire import enum_name, need

_LE = struct.Struct("<I")
_BE = struct.Struct(">I")


class AddressFamily(IntEnum):
    """``AF_*`` values seen in loopback captures, by operating system where they differ."""

    UNSPEC = 0
    INET = 2
    ISO = 7  #: OSI on the BSDs
    INET6_LINUX = 10
    APPLETALK = 16
    IPX = 23
    INET6_BSD = 24  #: NetBSD, OpenBSD, BSD/OS
    INET6_FREEBSD = 28
    INET6_DARWIN = 30  #: macOS, iOS


#: Family → EtherType of the hand-over.
FAMILY_ETHERTYPES = {2: 0x0800, 10: 0x86DD, 24: 0x86DD, 28: 0x86DD, 30: 0x86DD}


@dataclass(slots=True)
class Null(Layer):
    """A BSD loopback header."""

    name: ClassVar[str] = "null"
    short: ClassVar[str] = "null"
    family: int  #: the address family, byte order already resolved (:class:`AddressFamily`)

    def summary(self) -> str:
        return f"family {enum_name(AddressFamily, self.family)}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 4, "null")
    family = _LE.unpack_from(buf, start)[0]
    if not family & 0xFFFF:  # written big-endian (LINKTYPE_LOOP, or a big-endian host)
        family = _BE.unpack_from(buf, start)[0]
    return Null(family), ("ethertype", FAMILY_ETHERTYPES.get(family, -1), start + 4, end)


DISSECTOR = Dissector("null", decode)
