"""Internet Protocol version 4, RFC 791 (options: RFC 791 §3.1, RFC 2113, RFC 7126).

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|Version|  IHL  |Type of Service|          Total Length         |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|         Identification        |Flags|      Fragment Offset    |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|  Time to Live |    Protocol   |         Header Checksum       |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                       Source Address                          |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                    Destination Address                        |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                    Options (IHL > 5)                          |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Choices made here, and why:

* ``header_len`` and ``fragment_offset`` are in **bytes** (IHL × 4, offset
  field × 8): the units people compute with, unlike dpkt's words and 8-byte
  blocks.
* The payload handed on ends at ``total_len``, so Ethernet padding (frames
  are padded to 60 bytes) is not read as TCP data.  ``total_len == 0`` is what
  captures taken on a host with TCP segmentation offload show for outgoing
  super-packets; we then use the captured length, as Wireshark does.
* A fragment (MF set or offset > 0) is handed to no decoder (key ``-1`` →
  :class:`~layerpeek.packet.Payload`): the first fragment's transport header
  would describe a datagram we do not have whole.  Reassembly is a separate
  stage (:mod:`layerpeek.flows.defrag`).
* The header checksum is *not* checked while decoding: captures taken on the
  sending host carry zeros or garbage where the NIC fills it in later.  Call
  :func:`verify_header_checksum` when it matters.
* A damaged option keeps the header: the layer is returned with the options
  read so far, followed by a :class:`~layerpeek.packet.Malformed` marker whose
  reason names the field (``ipv4.options[1].length``), as
  :mod:`layerpeek.dissect` says for every option list.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING, ClassVar

from layerpeek.dissect import (
    Damage,
    Decoded,
    Dissector,
    length_below,
    length_missing,
    length_overflows,
)
from layerpeek.errors import Invalid, Short
from layerpeek.packet import Layer
from layerpeek.wire import enum_name

if TYPE_CHECKING:
    from ipaddress import IPv4Address

    from layerpeek.packet import Packet

#: The fixed 20-byte header (options follow when IHL > 5).
#: Public: the fast path in :mod:`layerpeek.decode` unpacks it in line.
HEADER = struct.Struct("!BBHHHBBH4s4s")
_unpack_header = HEADER.unpack_from
_new = object.__new__
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")


class IPProto(IntEnum):
    """IANA Assigned Internet Protocol Numbers (IPv4 Protocol, IPv6 Next Header)."""

    HOPOPT = 0
    ICMP = 1
    IGMP = 2
    IPIP = 4
    TCP = 6
    EGP = 8
    IGP = 9
    UDP = 17
    DCCP = 33
    IPV6 = 41
    ROUTING = 43
    FRAGMENT = 44
    RSVP = 46
    GRE = 47
    ESP = 50
    AH = 51
    ICMPV6 = 58
    NO_NEXT_HEADER = 59
    DSTOPTS = 60
    EIGRP = 88
    OSPF = 89
    ETHERIP = 97
    PIM = 103
    IPCOMP = 108
    VRRP = 112
    L2TP = 115
    SCTP = 132
    MOBILITY = 135
    UDPLITE = 136
    MPLS_IN_IP = 137
    HIP = 139
    SHIM6 = 140


class IPv4Flags(IntFlag):
    """The three flag bits, as kept in :attr:`IPv4.flags` (RFC 791 §3.1, RFC 3514)."""

    MF = 0x1  #: more fragments follow
    DF = 0x2  #: don't fragment
    RESERVED = 0x4  #: must be zero (RFC 3514's "evil bit")


class IPv4OptionKind(IntEnum):
    """IANA IP Option Numbers (the whole type octet: copied flag, class, number)."""

    EOL = 0
    NOP = 1
    RECORD_ROUTE = 7
    MTU_PROBE = 11
    MTU_REPLY = 12
    QUICK_START = 25
    TIMESTAMP = 68
    TRACEROUTE = 82
    SECURITY = 130
    LSRR = 131
    EXTENDED_SECURITY = 133
    COMMERCIAL_SECURITY = 134
    STREAM_ID = 136
    SSRR = 137
    ROUTER_ALERT = 148


@dataclass(slots=True)
class EOL:
    """End of Option List (type 0): what follows it in the header is padding."""

    kind: int = 0


@dataclass(slots=True)
class NOP:
    """No Operation (type 1): one byte, aligns the next option."""

    kind: int = 1


@dataclass(slots=True)
class Route:
    """Record Route (7), Loose (131) or Strict (137) Source and Record Route."""

    json_formats: ClassVar[dict[str, str]] = {"addresses": "ipv4"}
    kind: int
    pointer: int  #: 1-based octet offset of the next slot, counted from the option's type byte
    addresses: tuple[bytes, ...]  #: raw 4-byte addresses: recorded so far or still to visit


@dataclass(slots=True)
class Timestamp:
    """Internet Timestamp (68), RFC 791 §3.1."""

    json_formats: ClassVar[dict[str, str]] = {"addresses": "ipv4"}
    kind: int
    pointer: int  #: 1-based octet offset of the next free slot
    overflow: int  #: hops that could not record a timestamp (4 bits)
    flag: int  #: 0: timestamps only; 1: each hop adds its address; 3: prespecified addresses
    timestamps: tuple[int, ...]  #: milliseconds since midnight UT (high bit set: non-standard)
    addresses: tuple[bytes, ...]  #: raw 4-byte addresses paired with ``timestamps`` (flag 1, 3)


@dataclass(slots=True)
class RouterAlert:
    """Router Alert (148), RFC 2113: routers should look at this packet (RSVP, IGMP)."""

    kind: int
    value: int  #: 0: "router shall examine packet"


@dataclass(slots=True)
class UnknownOption:
    """Any other option, kept as its raw data (the bytes after type and length)."""

    kind: int
    data: bytes


IPv4Option = EOL | NOP | Route | Timestamp | RouterAlert | UnknownOption

_ROUTE_KINDS = frozenset((7, 131, 137))


@dataclass(slots=True)
class IPv4(Layer):
    """An IPv4 header."""

    name: ClassVar[str] = "ipv4"
    short: ClassVar[str] = "ipv4"
    json_formats: ClassVar[dict[str, str]] = {"src": "ipv4", "dst": "ipv4"}
    version: int
    header_len: int  #: bytes (IHL × 4): 20 without options, at most 60
    tos: int  #: the whole octet: DSCP (high 6 bits) and ECN (low 2); see ``dscp``/``ecn``
    total_len: int  #: header + payload in bytes, as sent (0: segmentation offload)
    id: int
    flags: int  #: 3 bits: 0x2 DF, 0x1 MF, 0x4 reserved (see :class:`IPv4Flags`)
    fragment_offset: int  #: bytes (the 13-bit field × 8)
    ttl: int
    protocol: int  #: IANA protocol number (:class:`IPProto`)
    checksum: int  #: as sent; not verified while decoding (see :func:`verify_header_checksum`)
    src: bytes  #: 4 raw bytes; ``src_ip`` for an ``ipaddress`` object
    dst: bytes
    options: tuple[IPv4Option, ...] = field(default=())

    @property
    def src_ip(self) -> IPv4Address:
        from ipaddress import IPv4Address

        return IPv4Address(self.src)

    @property
    def dst_ip(self) -> IPv4Address:
        from ipaddress import IPv4Address

        return IPv4Address(self.dst)

    @property
    def dont_fragment(self) -> bool:
        return bool(self.flags & 0x2)

    @property
    def more_fragments(self) -> bool:
        return bool(self.flags & 0x1)

    @property
    def is_fragment(self) -> bool:
        """Part of a fragmented datagram: MF set or a non-zero offset."""
        return bool(self.flags & 0x1) or self.fragment_offset != 0

    @property
    def dscp(self) -> int:
        """Differentiated Services Code Point, RFC 2474 (the high 6 bits of ``tos``)."""
        return self.tos >> 2

    @property
    def ecn(self) -> int:
        """Explicit Congestion Notification, RFC 3168 (the low 2 bits of ``tos``)."""
        return self.tos & 0x3

    def summary(self) -> str:
        text = f"ttl={self.ttl} id=0x{self.id:04x}"
        if self.flags & 0x2:
            text += " DF"
        if self.flags & 0x1:
            text += " MF"
        if self.fragment_offset:
            text += f" off={self.fragment_offset}"
        return f"{text} proto={enum_name(IPProto, self.protocol)}"


def new_ipv4(
    version: int,
    header_len: int,
    tos: int,
    total_len: int,
    ident: int,
    flags: int,
    fragment_offset: int,
    ttl: int,
    protocol: int,
    checksum: int,
    src: bytes,
    dst: bytes,
    options: tuple[IPv4Option, ...],
) -> IPv4:
    """Build an :class:`IPv4`: the one constructor site decoders use (this module's
    ``decode`` and the fast path in :mod:`layerpeek.decode`).

    ``object.__new__`` and one store per field, not a call of the class: on
    CPython 3.11 a dataclass call goes through ``type.__call__`` and a
    C-to-Python ``__init__`` call, which costs about as much as the stores.
    """
    obj = _new(IPv4)
    obj.version = version
    obj.header_len = header_len
    obj.tos = tos
    obj.total_len = total_len
    obj.id = ident
    obj.flags = flags
    obj.fragment_offset = fragment_offset
    obj.ttl = ttl
    obj.protocol = protocol
    obj.checksum = checksum
    obj.src = src
    obj.dst = dst
    obj.options = options
    return obj


def decode(buf: bytes, start: int, end: int) -> Decoded:
    if end - start < 20:
        raise Short(f"ipv4: need 20 bytes, have {max(end - start, 0)}", start)
    vihl, tos, total_len, ident, frag, ttl, proto, checksum, src, dst = _unpack_header(buf, start)
    if vihl == 0x45 and total_len >= 20:
        # The common case (version 4, no options, a plausible length) in one straight line.
        payload_end = start + total_len
        if payload_end > end:
            payload_end = end  # cut by the snaplen: decode what is there
        return new_ipv4(4, 20, tos, total_len, ident, frag >> 13, (frag & 0x1FFF) << 3, ttl,
                        proto, checksum, src, dst, ()), (
            "ip_proto",
            -1 if frag & 0x3FFF else proto,  # MF or an offset: a fragment is not decodable alone
            start + 20,
            payload_end,
        )
    version = vihl >> 4
    if version != 4:
        raise Invalid(f"ipv4: version {version} != 4", start)
    header_len = (vihl & 0xF) << 2
    if header_len < 20:
        raise Invalid(f"ipv4: header length {header_len} < 20 (IHL {vihl & 0xF})", start)
    if total_len < header_len and total_len != 0:
        raise Invalid(f"ipv4: total length {total_len} < header length {header_len}", start + 2)
    if end - start < header_len:
        raise Short(f"ipv4: need {header_len} bytes (header with options), have {end - start}",
                    start)
    options: tuple[IPv4Option, ...] = ()
    damage: Damage | None = None
    if header_len > 20:
        options, damage = _options(buf, start + 20, start + header_len)
    layer = new_ipv4(4, header_len, tos, total_len, ident, frag >> 13, (frag & 0x1FFF) << 3, ttl,
                     proto, checksum, src, dst, options)
    if damage is not None:
        return layer, damage.marker("ipv4", buf, end)
    if total_len == 0:  # segmentation offload: the NIC fills the length in; trust the capture
        payload_end = end
    else:
        payload_end = start + total_len
        if payload_end > end:
            payload_end = end
    return layer, ("ip_proto", -1 if frag & 0x3FFF else proto, start + header_len, payload_end)


def _options(buf: bytes, pos: int, stop: int) -> tuple[tuple[IPv4Option, ...], Damage | None]:
    """Parse the options area ``[pos, stop)`` (all present): the options, and any damage.

    Damage is reported as :mod:`layerpeek.dissect` says: the options before it
    are kept, the offset is the damaged option's type byte.
    """
    found: list[IPv4Option] = []
    while pos < stop:
        path = f"ipv4.options[{len(found)}]"
        kind = buf[pos]
        if kind == 0:
            found.append(EOL())
            break  # the rest of the header is padding
        if kind == 1:
            found.append(NOP())
            pos += 1
            continue
        if pos + 1 >= stop:
            return tuple(found), length_missing(path, kind, pos)
        length = buf[pos + 1]
        if length < 2:
            return tuple(found), length_below(path, length, 2, pos)
        if pos + length > stop:
            return tuple(found), length_overflows(path, length, stop - pos, pos)
        data_start = pos + 2
        option: IPv4Option
        if kind in _ROUTE_KINDS:
            if length < 3 or (length - 3) % 4:
                return tuple(found), Damage(
                    f"{path}.length {length}: a route option is 3 + 4n bytes", pos
                )
            option = Route(kind, buf[data_start],
                           tuple(buf[a : a + 4] for a in range(pos + 3, pos + length, 4)))
        elif kind == 68:
            if length < 4:
                return tuple(found), Damage(f"{path}.length {length} < 4 (timestamp)", pos)
            oflw_flag = buf[pos + 3]
            flag = oflw_flag & 0xF
            step = 8 if flag in (1, 3) else 4
            if (length - 4) % step:
                return tuple(found), Damage(
                    f"{path}.length {length}: timestamp flag {flag} needs 4 + {step}n bytes", pos
                )
            if step == 8:
                addresses = tuple(buf[a : a + 4] for a in range(pos + 4, pos + length, 8))
                stamps = tuple(_U32.unpack_from(buf, a)[0] for a in range(pos + 8, pos + length, 8))
            else:
                addresses = ()
                stamps = tuple(_U32.unpack_from(buf, a)[0] for a in range(pos + 4, pos + length, 4))
            option = Timestamp(kind, buf[pos + 2], oflw_flag >> 4, flag, stamps, addresses)
        elif kind == 148:
            if length != 4:
                return tuple(found), Damage(f"{path}.length {length} != 4 (router alert)", pos)
            option = RouterAlert(kind, _U16.unpack_from(buf, data_start)[0])
        else:
            option = UnknownOption(kind, buf[data_start : pos + length])
        found.append(option)
        pos += length
    return tuple(found), None


def header_checksum_ok(buf: bytes, start: int, header_len: int) -> bool:
    """True if the IPv4 header at ``buf[start:start + header_len]`` sums correctly.

    RFC 1071: the ones'-complement sum of every 16-bit word of the header,
    checksum included, is 0xFFFF.  A header not wholly present is not OK.
    """
    if header_len < 20 or header_len & 1 or start < 0 or start + header_len > len(buf):
        return False
    total: int = sum(struct.unpack_from(f"!{header_len >> 1}H", buf, start))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def verify_header_checksum(packet: Packet) -> bool | None:
    """Check every IPv4 header of the chain (tunnels included); None if there is none.

    Not done while decoding: captures taken on the sending host often carry
    a zero or stale checksum that the NIC replaces on the wire.
    """
    seen = False
    for layer, (start, _) in zip(packet.layers, packet.spans, strict=True):
        if isinstance(layer, IPv4):
            seen = True
            if not header_checksum_ok(packet.data, start, layer.header_len):
                return False
    return True if seen else None


DISSECTOR = Dissector("ipv4", decode)
