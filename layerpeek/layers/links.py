"""Small link-layer headers: IPNET (226), IPoIB (242), FDDI (10), Frame Relay
(107), Apple's PKTAP (258), and the marker for a link type nobody decodes.

Each is a fixed header that names the network layer after it; they share a
module because none is more than a few lines.

* IPNET (Solaris ``/dev/ipnet``): version 2, an address family (2 IPv4,
  26 IPv6), then hook type, packet length, interface indexes and zone ids:
  24 bytes, big-endian.
* IPoIB (LINKTYPE_IPOIB as Linux writes it): 44 bytes, the 40 bytes of the
  link-layer addresses and then RFC 4391's 4-byte header, an EtherType and
  two reserved bytes (tcpdump's print-ipoib.c reads the type at 40).
* FDDI: frame control, destination, source, then an LLC header.  The
  addresses are kept as captured (libpcap writes them in canonical order).
* Frame Relay (Q.922 address, two bytes here: the DLCI, FECN, BECN, DE),
  then RFC 2427's multiprotocol encapsulation: control 0x03, an optional pad
  byte, and an NLPID (0xCC IPv4, 0x8E IPv6, 0x80 SNAP: OUI and PID follow);
  anything but 0x03 there is Cisco's encapsulation, an EtherType.
* PKTAP (macOS ``tcpdump -k``): a little-endian header of its own length
  that names the process and interface and the link type of the frame after
  it (``dlt``), handed to the ``linktype`` table.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from layerpeek.dissect import UNCLAIMED, Decoded, Dissector
from layerpeek.errors import Invalid
from layerpeek.layers.ethernet import LENGTH
from layerpeek.packet import Layer
from layerpeek.wire import mac_str, need

_IPNET = struct.Struct("!BBHIIIII")
_IPOIB = struct.Struct("!40sHH")
_FDDI = struct.Struct("!B6s6s")
_PKTAP = struct.Struct("<III24sIIII")
_PKTAP_PROC = struct.Struct("<i17s")


@dataclass(slots=True)
class IPNet(Layer):
    name: ClassVar[str] = "ipnet"
    short: ClassVar[str] = "ipnet"
    version: int
    family: int  #: 2 IPv4, 26 IPv6 (Solaris AF_INET6)
    htype: int  #: 0 outbound, 1 inbound, 2 local
    length: int
    ifindex: int
    grifindex: int
    zsrc: int
    zdst: int

    def summary(self) -> str:
        return f"family={self.family} ifindex={self.ifindex}"


_IPNET_FAMILIES = {2: 0x0800, 26: 0x86DD}


def decode_ipnet(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 24, "ipnet")
    layer = IPNet(*_IPNET.unpack_from(buf, start))
    return layer, ("ethertype", _IPNET_FAMILIES.get(layer.family, UNCLAIMED), start + 24, end)


@dataclass(slots=True)
class IPoIB(Layer):
    name: ClassVar[str] = "ipoib"
    short: ClassVar[str] = "ipoib"
    addresses: bytes  #: the 40 bytes of link-layer addresses before the type
    type: int  #: an EtherType
    reserved: int

    def summary(self) -> str:
        return f"type={self.type:#06x}"


def decode_ipoib(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 44, "ipoib")
    addresses, kind, reserved = _IPOIB.unpack_from(buf, start)
    return IPoIB(addresses, kind, reserved), ("ethertype", kind, start + 44, end)


@dataclass(slots=True)
class FDDI(Layer):
    name: ClassVar[str] = "fddi"
    short: ClassVar[str] = "fddi"
    json_formats: ClassVar[dict[str, str]] = {"src": "mac", "dst": "mac"}
    frame_control: int
    dst: bytes
    src: bytes

    def summary(self) -> str:
        return f"{mac_str(self.src)} → {mac_str(self.dst)}"


def decode_fddi(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 13, "fddi")
    fc, dst, src = _FDDI.unpack_from(buf, start)
    layer = FDDI(fc, dst, src)
    if fc & 0x30 != 0x10:  # not an LLC frame (SMT, MAC frames, tokens)
        return layer, ("ethertype", UNCLAIMED, start + 13, end)
    return layer, ("ethertype", LENGTH, start + 13, end)


@dataclass(slots=True)
class FrameRelay(Layer):
    name: ClassVar[str] = "fr"
    short: ClassVar[str] = "fr"
    dlci: int
    fecn: bool
    becn: bool
    de: bool
    control: int | None  #: 0x03 (UI) in RFC 2427 encapsulation
    nlpid: int | None  #: 0xCC IPv4, 0x8E IPv6, 0x80 SNAP
    oui: bytes | None  #: with SNAP
    pid: int | None

    def summary(self) -> str:
        return f"dlci={self.dlci}"


_NLPID_ETHERTYPES = {0xCC: 0x0800, 0x8E: 0x86DD}


def decode_frame_relay(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 2, "fr")
    a, b = buf[start], buf[start + 1]
    if a & 1 or not b & 1:
        raise Invalid("fr: only a two-byte Q.922 address is decoded", start)
    dlci = ((a >> 2) << 4) | (b >> 4)
    at = start + 2
    layer = FrameRelay(dlci, bool(b & 8), bool(b & 4), bool(b & 2), None, None, None, None)
    need(at, end, 2, "fr")
    if buf[at] != 0x03:  # Cisco's encapsulation: an EtherType right after the address
        return layer, ("ethertype", struct.unpack_from("!H", buf, at)[0], at + 2, end)
    layer.control = 0x03
    at += 1
    if buf[at] == 0:  # a pad byte aligns what follows
        at += 1
    need(at, end, 1, "fr.nlpid")
    layer.nlpid = nlpid = buf[at]
    at += 1
    if nlpid == 0x80:
        need(at, end, 5, "fr.snap")
        layer.oui = buf[at : at + 3]
        (layer.pid,) = struct.unpack_from("!H", buf, at + 3)
        at += 5
        key = layer.pid if layer.oui == b"\0\0\0" else UNCLAIMED
        return layer, ("ethertype", key, at, end)
    return layer, ("ethertype", _NLPID_ETHERTYPES.get(nlpid, UNCLAIMED), at, end)


@dataclass(slots=True)
class PKTAP(Layer):
    name: ClassVar[str] = "pktap"
    short: ClassVar[str] = "pktap"
    length: int  #: of this header
    type_next: int  #: 1: a packet follows
    dlt: int  #: the link type of the frame after this header
    ifname: str
    flags: int
    protocol_family: int
    pre_length: int
    post_length: int
    pid: int | None  #: the process (and its command name), when the header reaches them
    comm: str | None

    def summary(self) -> str:
        who = f" {self.comm}[{self.pid}]" if self.comm else ""
        return f"{self.ifname}{who}"


def decode_pktap(buf: bytes, start: int, end: int) -> Decoded:
    fixed = _PKTAP.size  # 52: up to the frame's post length
    need(start, end, fixed, "pktap")
    length, type_next, dlt, ifname, flags, family, pre, post = _PKTAP.unpack_from(buf, start)
    if length < fixed:
        raise Invalid(f"pktap.length {length} < {fixed}", start)
    need(start, end, length, "pktap")
    pid = comm = None
    if length >= fixed + _PKTAP_PROC.size:
        pid, raw = _PKTAP_PROC.unpack_from(buf, start + fixed)
        comm = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    layer = PKTAP(length, type_next, dlt, ifname.split(b"\0", 1)[0].decode("utf-8", "replace"),
                  flags, family, pre, post, pid, comm)
    return layer, ("linktype", dlt, start + length, end)


IPNET_DISSECTOR = Dissector("ipnet", decode_ipnet)
IPOIB_DISSECTOR = Dissector("ipoib", decode_ipoib)
FDDI_DISSECTOR = Dissector("fddi", decode_fddi)
FRAME_RELAY_DISSECTOR = Dissector("fr", decode_frame_relay)
PKTAP_DISSECTOR = Dissector("pktap", decode_pktap)


@dataclass(slots=True)
class UnknownLink(Layer):
    """A frame of a link type nobody decodes: said so, and the bytes kept as data after it.

    Zero bytes long (its span is empty): it names the link type, so a dump
    says ``linktype 147 not decoded`` rather than a silent ``data``.
    """

    name: ClassVar[str] = "unknown_link"
    short: ClassVar[str] = "link"
    linktype: int

    def summary(self) -> str:
        return f"linktype {self.linktype} not decoded"
