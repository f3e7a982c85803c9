"""Linux netfilter log (LINKTYPE_NFLOG, 239): what ``iptables -j NFLOG`` or
``tcpdump -i nflog:N`` records.

A four-byte header (address family, version 0, resource id: the NFLOG group,
big-endian) and then TLVs, each with a length (counting its own four bytes)
and a type, both in the *capturing host's* byte order (little-endian on
every machine that matters here, as libpcap and Wireshark assume), and the
value padded to four bytes.  Type 9 (NFULA_PAYLOAD) is the logged packet,
whose network layer is told by the family (2 IPv4, 10 IPv6); 10
(NFULA_PREFIX) is the rule's ``--nflog-prefix``.  Every TLV is kept, the
payload as a reference (its span), not a copy.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from layerpeek.dissect import (
    UNCLAIMED,
    Damage,
    Decoded,
    Dissector,
    length_below,
    length_overflows,
)
from layerpeek.packet import Layer
from layerpeek.wire import need

_HEADER = struct.Struct("!BBH")
_TLV = struct.Struct("<HH")

LINKTYPE = 239
PAYLOAD = 9
PREFIX = 10
_FAMILY_ETHERTYPES = {2: 0x0800, 10: 0x86DD}


class NFLOGType(IntEnum):
    PACKET_HEADER = 1
    MARK = 2
    TIMESTAMP = 3
    IFINDEX_INDEV = 4
    IFINDEX_OUTDEV = 5
    IFINDEX_PHYSINDEV = 6
    IFINDEX_PHYSOUTDEV = 7
    HWADDR = 8
    PAYLOAD = 9
    PREFIX = 10
    UID = 11
    SEQ = 12
    SEQ_GLOBAL = 13
    GID = 14
    HWTYPE = 15
    HWHEADER = 16
    HWLEN = 17
    CT = 18
    CT_INFO = 19


@dataclass(frozen=True, slots=True)
class NFLOGTLV:
    """One TLV: its type and value (the payload's value is empty: it is the next layer)."""

    type: int
    value: bytes


@dataclass(slots=True)
class NFLOG(Layer):
    """An NFLOG header and its TLVs."""

    name: ClassVar[str] = "nflog"
    short: ClassVar[str] = "nflog"
    family: int  #: 2 IPv4, 10 IPv6 (AF_*)
    version: int
    resource_id: int  #: the NFLOG group
    prefix: str | None  #: the rule's log prefix (NFULA_PREFIX), without its NUL
    tlvs: tuple[NFLOGTLV, ...]

    def summary(self) -> str:
        prefix = f" prefix={self.prefix!r}" if self.prefix else ""
        return f"group={self.resource_id}{prefix}"


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 4, "nflog")
    family, version, resource_id = _HEADER.unpack_from(buf, start)
    at = start + 4
    tlvs: list[NFLOGTLV] = []
    payload: tuple[int, int] | None = None
    prefix = None
    damage: Damage | None = None
    while at < end:
        path = f"nflog.tlvs[{len(tlvs)}]"
        if end - at < 4:
            damage = Damage(f"{path}: header cut", at, truncated=True)
            break
        length, kind = _TLV.unpack_from(buf, at)
        if length < 4:
            damage = length_below(f"{path}", length, 4, at)
            break
        if at + length > end:
            # Counted as cut by the snap length (the payload TLV, last, is what a
            # short snaplen cuts): the record does not say how long the frame was.
            reason = length_overflows(path, length, end - at, at, "captured frame").reason
            damage = Damage(reason, at, truncated=True)
            break
        kind &= 0x7FFF  # the top bit marks a nested attribute
        if kind == PAYLOAD:
            payload = (at + 4, at + length)
            tlvs.append(NFLOGTLV(kind, b""))
        else:
            value = buf[at + 4 : at + length]
            if kind == PREFIX:
                prefix = value.split(b"\0", 1)[0].decode("utf-8", "replace")
            tlvs.append(NFLOGTLV(kind, value))
        at += (length + 3) & ~3
    layer = NFLOG(family, version, resource_id, prefix, tuple(tlvs))
    if payload is not None:
        return layer, ("ethertype", _FAMILY_ETHERTYPES.get(family, UNCLAIMED), *payload)
    if damage is not None:
        return layer, damage.marker("nflog", buf, end)
    return layer, None


DISSECTOR = Dissector("nflog", decode)
