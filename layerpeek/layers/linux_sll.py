"""Linux "cooked" capture headers: LINKTYPE_LINUX_SLL (113) and LINKTYPE_LINUX_SLL2 (276).

libpcap writes these when capturing on "any" or on devices without a usable
link-layer header: the real header is replaced by what the kernel's
``sockaddr_ll`` says about the packet (https://www.tcpdump.org/linktypes/).

SLL (v1), 16 bytes::

 0               2               4               6
+---------------+---------------+---------------+-------------------------------+
|  packet type  |  ARPHRD type  | address length| link-layer address (8 bytes)  |
+---------------+---------------+---------------+-------------------------------+
 14             16
+---------------+
|   protocol    |
+---------------+

SLL2, 20 bytes (adds the interface index, moves the protocol first)::

 0               2               4                               8
+---------------+---------------+-------------------------------+
|   protocol    | reserved (0)  |        interface index        |
+---------------+---------------+-------------------------------+
 8               10      11      12
+---------------+-------+-------+-------------------------------+
|  ARPHRD type  |pkttype|addrlen| link-layer address (8 bytes)  |
+---------------+-------+-------+-------------------------------+

``protocol`` is an EtherType for ordinary traffic and is handed over as one;
values below 0x0600 are Linux ``ETH_P_*`` pseudo-types (802.2 LLC, CAN, …)
that no decoder claims, so they become a payload.  For ``ARPHRD_NETLINK``
the field is a netlink family, not an EtherType, and is never dispatched.
Only the first ``addr_len`` bytes (at most 8) of the address are kept.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from layerpeek.dissect import Decoded, Dissector
from layerpeek.layers.ethernet import EtherType
from layerpeek.packet import Layer
from layerpeek.wire import enum_name, mac_str, need

_SLL = struct.Struct("!HHH8sH")
_SLL2 = struct.Struct("!HHIHBB8s")


class PacketType(IntEnum):
    """``sll_pkttype``: where the packet was going (linux/if_packet.h)."""

    HOST = 0  #: to us
    BROADCAST = 1
    MULTICAST = 2
    OTHERHOST = 3  #: to someone else (promiscuous mode)
    OUTGOING = 4  #: sent by us


class ARPHRD(IntEnum):
    """``sll_hatype``: the device's ARP hardware type (linux/if_arp.h), a selection."""

    NETROM = 0
    ETHER = 1
    IEEE802 = 6
    INFINIBAND = 32
    CAN = 280
    PPP = 512
    RAWIP = 519
    TUNNEL = 768
    TUNNEL6 = 769
    FRAD = 770
    LOOPBACK = 772
    SIT = 776
    IPGRE = 778
    IEEE80211 = 801
    IEEE80211_RADIOTAP = 803
    IP6GRE = 823
    NETLINK = 824
    NONE = 0xFFFE
    VOID = 0xFFFF


@dataclass(slots=True)
class SLL(Layer):
    """A Linux cooked-capture v1 header."""

    name: ClassVar[str] = "sll"
    short: ClassVar[str] = "sll"
    json_formats: ClassVar[dict[str, str]] = {"addr": "mac"}
    packet_type: int  #: :class:`PacketType`
    arphrd_type: int  #: :class:`ARPHRD`
    addr_len: int  #: as sent (may exceed 8; only 8 bytes are stored)
    addr: bytes  #: the first ``min(addr_len, 8)`` address bytes (the sender's)
    protocol: int  #: EtherType of the payload (see the module notes for < 0x0600)

    def summary(self) -> str:
        return _summary(self.packet_type, self.addr, self.protocol)


@dataclass(slots=True)
class SLL2(Layer):
    """A Linux cooked-capture v2 header."""

    name: ClassVar[str] = "sll2"
    short: ClassVar[str] = "sll2"
    json_formats: ClassVar[dict[str, str]] = {"addr": "mac"}
    protocol: int  #: EtherType of the payload (see the module notes for < 0x0600)
    interface_index: int  #: the kernel's ifindex of the capturing interface
    arphrd_type: int  #: :class:`ARPHRD`
    packet_type: int  #: :class:`PacketType`
    addr_len: int
    addr: bytes  #: the first ``min(addr_len, 8)`` address bytes (the sender's)

    def summary(self) -> str:
        return f"if={self.interface_index} " + _summary(self.packet_type, self.addr, self.protocol)


def _summary(packet_type: int, addr: bytes, protocol: int) -> str:
    text = enum_name(PacketType, packet_type).lower()
    if addr:
        text += f" {mac_str(addr)}"
    return f"{text} {enum_name(EtherType, protocol)}"


def decode_sll(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 16, "sll")
    packet_type, arphrd_type, addr_len, addr, protocol = _SLL.unpack_from(buf, start)
    if addr_len < 8:
        addr = addr[:addr_len]
    key = -1 if arphrd_type == 824 else protocol  # netlink: a family, not an EtherType
    return SLL(packet_type, arphrd_type, addr_len, addr, protocol), (
        "ethertype",
        key,
        start + 16,
        end,
    )


def decode_sll2(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 20, "sll2")
    protocol, _, ifindex, arphrd_type, packet_type, addr_len, addr = _SLL2.unpack_from(buf, start)
    if addr_len < 8:
        addr = addr[:addr_len]
    key = -1 if arphrd_type == 824 else protocol
    return SLL2(protocol, ifindex, arphrd_type, packet_type, addr_len, addr), (
        "ethertype",
        key,
        start + 20,
        end,
    )


SLL_DISSECTOR = Dissector("sll", decode_sll)
SLL2_DISSECTOR = Dissector("sll2", decode_sll2)
