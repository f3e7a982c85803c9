"""Address Resolution Protocol, RFC 826 (and RARP/InARP, which share the format).

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|         Hardware Type         |         Protocol Type         |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
| Hardware Len  | Protocol Len  |            Opcode             |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
| Sender hardware address (Hardware Len bytes)                  |
| Sender protocol address (Protocol Len bytes)                  |
| Target hardware address (Hardware Len bytes)                  |
| Target protocol address (Protocol Len bytes)                  |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

The address lengths come from the header, not assumed to be 6 and 4, so ARP
over other hardware (InfiniBand's 20-byte addresses) decodes too.  ARP is the
last layer: the bytes after it in an Ethernet frame are padding.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from layerpeek.dissect import Decoded, Dissector
from layerpeek.packet import Layer
from layerpeek.wire import ip_str, mac_str, need

_FIXED = struct.Struct("!HHBBH")


class HardwareType(IntEnum):
    """IANA ARP Hardware Types, a selection."""

    ETHERNET = 1
    EXPERIMENTAL_ETHERNET = 2
    AX25 = 3
    IEEE802 = 6
    ARCNET = 7
    FRAME_RELAY = 15
    ATM = 16
    HDLC = 17
    FIBRE_CHANNEL = 18
    SERIAL_LINE = 20
    IEEE1394 = 24
    INFINIBAND = 32


class Opcode(IntEnum):
    """IANA ARP Operation Codes, a selection."""

    REQUEST = 1
    REPLY = 2
    RARP_REQUEST = 3
    RARP_REPLY = 4
    DRARP_REQUEST = 5
    DRARP_REPLY = 6
    DRARP_ERROR = 7
    INARP_REQUEST = 8
    INARP_REPLY = 9
    ARP_NAK = 10


@dataclass(slots=True)
class ARP(Layer):
    """An ARP message."""

    name: ClassVar[str] = "arp"
    short: ClassVar[str] = "arp"
    json_formats: ClassVar[dict[str, str]] = {
        "sender_mac": "mac",
        "sender_ip": "ip",
        "target_mac": "mac",
        "target_ip": "ip",
    }
    hardware_type: int  #: :class:`HardwareType`
    protocol_type: int  #: EtherType of the protocol addresses (0x0800 for IPv4)
    hardware_len: int  #: bytes per hardware address
    protocol_len: int  #: bytes per protocol address
    opcode: int  #: :class:`Opcode`
    sender_mac: bytes  #: raw, ``hardware_len`` bytes
    sender_ip: bytes  #: raw, ``protocol_len`` bytes
    target_mac: bytes  #: raw; all zeros in a request (not yet known)
    target_ip: bytes

    @property
    def sender_mac_str(self) -> str:
        return mac_str(self.sender_mac)

    @property
    def target_mac_str(self) -> str:
        return mac_str(self.target_mac)

    @property
    def sender_ip_str(self) -> str:
        """Dotted quad for IPv4 (text for IPv6, hex for other lengths)."""
        return ip_str(self.sender_ip)

    @property
    def target_ip_str(self) -> str:
        return ip_str(self.target_ip)

    def summary(self) -> str:
        # tcpdump's phrasing: the question and the answer read as sentences.
        if self.opcode == 1:
            if self.sender_ip == self.target_ip:
                return f"announce {ip_str(self.sender_ip)}"  # gratuitous ARP
            return f"who-has {ip_str(self.target_ip)} tell {ip_str(self.sender_ip)}"
        if self.opcode == 2:
            return f"{ip_str(self.sender_ip)} is-at {mac_str(self.sender_mac)}"
        try:
            op = Opcode(self.opcode).name.lower().replace("_", " ")
        except ValueError:
            op = f"opcode {self.opcode}"
        return f"{op} {ip_str(self.sender_ip)} → {ip_str(self.target_ip)}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 8, "arp")
    hardware_type, protocol_type, hlen, plen, opcode = _FIXED.unpack_from(buf, start)
    need(start, end, 8 + 2 * (hlen + plen), "arp")
    p = start + 8
    sender_mac = buf[p : p + hlen]
    p += hlen
    sender_ip = buf[p : p + plen]
    p += plen
    target_mac = buf[p : p + hlen]
    p += hlen
    target_ip = buf[p : p + plen]
    return ARP(hardware_type, protocol_type, hlen, plen, opcode, sender_mac, sender_ip,
               target_mac, target_ip), None


DISSECTOR = Dissector("arp", decode)
