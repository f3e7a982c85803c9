"""The Point-to-Point Protocol (RFC 1661) and Cisco HDLC.

PPP reaches us in several wrappings, all decoded here:

* LINKTYPE_PPP (9) and LINKTYPE_PPP_HDLC (50): the HDLC-like address and
  control bytes ``FF 03`` (RFC 1662), which may be left out (address and
  control field compression), then the protocol;
* PPPoE sessions and PPTP's GRE (EtherType 0x880B): the same, usually
  without ``FF 03``;
* the protocol field itself is two bytes, or one when compressed (RFC 1661
  §6.5: a protocol whose first byte is odd was sent in one byte).

The protocol decides what follows; IP and MPLS are handed to the
``ethertype`` table (by :data:`PROTOCOL_ETHERTYPES`); LCP, IPCP, PAP, CHAP
and the rest stay data.

Cisco HDLC (LINKTYPE_C_HDLC, 104; and what some routers write as link type
50, recognised by its address byte 0x0F or 0x8F) is a four-byte header:
address, control (0), and an EtherType.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from layerpeek.dissect import UNCLAIMED, Decoded, Dissector
from layerpeek.packet import Layer
from layerpeek.wire import enum_name, need

_U16 = struct.Struct("!H")


class PPPProtocol(IntEnum):
    IPV4 = 0x0021
    IPV6 = 0x0057
    MPLS = 0x0281
    MPLS_MULTICAST = 0x0283
    IPCP = 0x8021
    IPV6CP = 0x8057
    LCP = 0xC021
    PAP = 0xC023
    CHAP = 0xC223
    EAP = 0xC227


#: PPP protocol → the EtherType its payload is handed over as.
PROTOCOL_ETHERTYPES = {0x0021: 0x0800, 0x0057: 0x86DD, 0x0281: 0x8847, 0x0283: 0x8848}


@dataclass(slots=True)
class PPP(Layer):
    """A PPP header (address and control are None when compressed away)."""

    name: ClassVar[str] = "ppp"
    short: ClassVar[str] = "ppp"
    address: int | None  #: 0xFF when present
    control: int | None  #: 0x03 when present
    protocol: int

    def summary(self) -> str:
        return enum_name(PPPProtocol, self.protocol)


@dataclass(slots=True)
class CiscoHDLC(Layer):
    """A Cisco HDLC header."""

    name: ClassVar[str] = "chdlc"
    short: ClassVar[str] = "chdlc"
    address: int  #: 0x0F unicast, 0x8F broadcast
    control: int
    protocol: int  #: an EtherType (0x8035 is Cisco's SLARP keepalive)

    def summary(self) -> str:
        from layerpeek.layers.ethernet import EtherType

        return enum_name(EtherType, self.protocol)


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 1, "ppp")
    at = start
    address = control = None
    if buf[at] == 0xFF:  # the all-stations address (no protocol begins with 0xFF)
        need(at, end, 2, "ppp")
        address, control = 0xFF, buf[at + 1]
        at += 2
    need(at, end, 1, "ppp.protocol")
    if buf[at] & 1:  # protocol field compression: one byte
        protocol = buf[at]
        at += 1
    else:
        need(at, end, 2, "ppp.protocol")
        (protocol,) = _U16.unpack_from(buf, at)
        at += 2
    return PPP(address, control, protocol), (
        "ethertype", PROTOCOL_ETHERTYPES.get(protocol, UNCLAIMED), at, end)


def decode_chdlc(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 4, "chdlc")
    address, control = buf[start], buf[start + 1]
    (protocol,) = _U16.unpack_from(buf, start + 2)
    return CiscoHDLC(address, control, protocol), ("ethertype", protocol, start + 4, end)


def decode_hdlc_link(buf: bytes, start: int, end: int) -> Decoded:
    """LINKTYPE_PPP_HDLC (50): PPP in HDLC-like framing, or Cisco HDLC by its address byte."""
    if end - start >= 1 and buf[start] in (0x0F, 0x8F):
        return decode_chdlc(buf, start, end)
    return decode(buf, start, end)


DISSECTOR = Dissector("ppp", decode)
CHDLC_DISSECTOR = Dissector("chdlc", decode_chdlc)
HDLC_LINK_DISSECTOR = Dissector("ppp", decode_hdlc_link)
