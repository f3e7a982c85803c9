"""Internet Control Message Protocol for IPv6, RFC 4443, and Neighbor Discovery, RFC 4861.

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|     Type      |     Code      |          Checksum             |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                     Message Body                              |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Errors (types 1-4) carry 4 bytes (length/MTU/pointer) and then as much of
the offending packet as fits in the minimum MTU; its IPv6 header is decoded
into ``quoted`` and its transport ports into ``quoted_ports``, tolerating a
short quote exactly as :mod:`layerpeek.layers.icmp` does.

Neighbor Discovery (types 133-137) replaces ARP in IPv6::

Neighbor Solicitation (135)        Neighbor Advertisement (136)
+---------------+---------------+  +-+-+-+---------+---------------+
|           reserved            |  |R|S|O|       reserved          |
+---------------+---------------+  +-+-+-+---------+---------------+
|  Target Address (16 bytes)    |  |  Target Address (16 bytes)    |
+---------------+---------------+  +---------------+---------------+
|  Options ...                  |  |  Options ...                  |

Router Advertisement (134)
+---------------+-+-+-----------+-------------------------------+
| Cur Hop Limit |M|O|  flags    |       Router Lifetime         |
+---------------+-+-+-----------+-------------------------------+
|                  Reachable Time (ms)                          |
|                  Retrans Timer (ms)                           |
|  Options ...                                                  |

NDP options are TLVs whose length counts 8-byte units; a length of 0 is
invalid (RFC 4861 §4.6: the packet must be discarded).  A damaged option
keeps the message: the layer carries the options read so far and a
Malformed marker follows it (the convention of every option list,
:mod:`layerpeek.dissect`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar

from layerpeek.dissect import (
    Damage,
    Decoded,
    Dissector,
    length_below,
    length_missing,
    length_overflows,
)
from layerpeek.errors import DecodeError
from layerpeek.layers import ipv6
from layerpeek.layers.icmp import PORT_PROTOCOLS, Echo, RawBody, quote_text
from layerpeek.layers.ipv6 import IPv6
from layerpeek.packet import Layer
from layerpeek.wire import enum_name, ipv6_str, mac_str, need

_HEADER = struct.Struct("!BBHHH")
_U32 = struct.Struct("!I")
_RA = struct.Struct("!BBHII")
_PREFIX = struct.Struct("!BBII4x16s")
_PORTS = struct.Struct("!HH")


class ICMPv6Type(IntEnum):
    """IANA ICMPv6 "type" Numbers, a selection."""

    DEST_UNREACHABLE = 1
    PACKET_TOO_BIG = 2
    TIME_EXCEEDED = 3
    PARAMETER_PROBLEM = 4
    ECHO_REQUEST = 128
    ECHO_REPLY = 129
    MLD_QUERY = 130
    MLD_REPORT = 131
    MLD_DONE = 132
    ROUTER_SOLICITATION = 133
    ROUTER_ADVERTISEMENT = 134
    NEIGHBOR_SOLICITATION = 135
    NEIGHBOR_ADVERTISEMENT = 136
    REDIRECT = 137
    ROUTER_RENUMBERING = 138
    NODE_INFO_QUERY = 139
    NODE_INFO_RESPONSE = 140
    INVERSE_NS = 141
    INVERSE_NA = 142
    MLDV2_REPORT = 143
    RPL_CONTROL = 155
    EXTENDED_ECHO_REQUEST = 160
    EXTENDED_ECHO_REPLY = 161


class UnreachableCode(IntEnum):
    """Codes of Destination Unreachable (type 1), RFC 4443 §3.1 and RFC 7112."""

    NO_ROUTE = 0
    ADMIN_PROHIBITED = 1
    BEYOND_SCOPE = 2
    ADDRESS_UNREACHABLE = 3
    PORT_UNREACHABLE = 4
    SOURCE_POLICY_FAILED = 5
    REJECT_ROUTE = 6
    SOURCE_ROUTING_HEADER_ERROR = 7
    HEADERS_TOO_LONG = 8


class TimeExceededCode(IntEnum):
    HOP_LIMIT = 0
    REASSEMBLY = 1


class NAFlags(IntFlag):
    """Flags of a Neighbor Advertisement, as kept in :attr:`NeighborAdvertisement.flags`."""

    OVERRIDE = 0x20
    SOLICITED = 0x40
    ROUTER = 0x80


class RAFlags(IntFlag):
    """Flags of a Router Advertisement (RFC 4861, RFC 3775 H, RFC 4191 preference bits)."""

    PROXY = 0x04  #: RFC 4389
    HOME_AGENT = 0x20
    OTHER_CONFIG = 0x40  #: O: other configuration via DHCPv6
    MANAGED = 0x80  #: M: addresses via DHCPv6


class NDPOptionType(IntEnum):
    SOURCE_LINK_ADDRESS = 1
    TARGET_LINK_ADDRESS = 2
    PREFIX_INFORMATION = 3
    REDIRECTED_HEADER = 4
    MTU = 5
    ROUTE_INFORMATION = 24
    RDNSS = 25
    DNSSL = 31


@dataclass(slots=True)
class LinkLayerAddress:
    """Source (1) or Target (2) Link-layer Address option."""

    json_formats: ClassVar[dict[str, str]] = {"address": "mac"}
    kind: int
    address: bytes  #: raw; 6 bytes on Ethernet


@dataclass(slots=True)
class PrefixInformation:
    """Prefix Information option (3): an on-link prefix and SLAAC permission."""

    json_formats: ClassVar[dict[str, str]] = {"prefix": "ipv6"}
    kind: int
    prefix_len: int  #: bits
    flags: int  #: 0x80 L (on-link), 0x40 A (autonomous address configuration)
    valid_lifetime: int  #: seconds (0xFFFFFFFF: infinity)
    preferred_lifetime: int  #: seconds
    prefix: bytes  #: 16 raw bytes


@dataclass(slots=True)
class MTUOption:
    """MTU option (5): the link MTU a router advertises."""

    kind: int
    mtu: int


@dataclass(slots=True)
class UnknownNDPOption:
    """Any other option, as its raw data (after the type and length bytes)."""

    kind: int
    data: bytes


NDPOption = LinkLayerAddress | PrefixInformation | MTUOption | UnknownNDPOption


@dataclass(slots=True)
class Unreachable:
    """Destination Unreachable (1)."""

    original_len: int  #: RFC 4884 length of the quoted packet in bytes (0: not given)
    quoted: IPv6 | None  #: the quoted IPv6 header, when at least its 40 bytes are there
    quoted_ports: tuple[int, int] | None  #: (source, destination) of a quoted TCP/UDP header
    quoted_data: bytes  #: the quoted packet as captured (header included)


@dataclass(slots=True)
class PacketTooBig:
    """Packet Too Big (2): path MTU discovery, RFC 8201."""

    mtu: int
    quoted: IPv6 | None
    quoted_ports: tuple[int, int] | None
    quoted_data: bytes


@dataclass(slots=True)
class TimeExceeded:
    """Time Exceeded (3)."""

    original_len: int  #: RFC 4884 length of the quoted packet in bytes (0: not given)
    quoted: IPv6 | None
    quoted_ports: tuple[int, int] | None
    quoted_data: bytes


@dataclass(slots=True)
class ParameterProblem:
    """Parameter Problem (4)."""

    pointer: int  #: offset in the quoted packet of the byte in error
    quoted: IPv6 | None
    quoted_ports: tuple[int, int] | None
    quoted_data: bytes


@dataclass(slots=True)
class RouterSolicitation:
    """Router Solicitation (133)."""

    options: tuple[NDPOption, ...]


@dataclass(slots=True)
class RouterAdvertisement:
    """Router Advertisement (134)."""

    cur_hop_limit: int  #: hop limit hosts should use (0: unspecified)
    flags: int  #: :class:`RAFlags`; bits 0x18 are the default router preference (RFC 4191)
    router_lifetime: int  #: seconds (0: not a default router)
    reachable_time: int  #: milliseconds (0: unspecified)
    retrans_timer: int  #: milliseconds (0: unspecified)
    options: tuple[NDPOption, ...]


@dataclass(slots=True)
class NeighborSolicitation:
    """Neighbor Solicitation (135): who has ``target``?"""

    json_formats: ClassVar[dict[str, str]] = {"target": "ipv6"}
    target: bytes  #: 16 raw bytes
    options: tuple[NDPOption, ...]


@dataclass(slots=True)
class NeighborAdvertisement:
    """Neighbor Advertisement (136): ``target`` is at (the Target Link-layer option)."""

    json_formats: ClassVar[dict[str, str]] = {"target": "ipv6"}
    flags: int  #: :class:`NAFlags`: 0x80 router, 0x40 solicited, 0x20 override
    target: bytes  #: 16 raw bytes
    options: tuple[NDPOption, ...]


@dataclass(slots=True)
class Redirect:
    """Redirect (137): ``destination`` is better reached via ``target``."""

    json_formats: ClassVar[dict[str, str]] = {"target": "ipv6", "destination": "ipv6"}
    target: bytes
    destination: bytes
    options: tuple[NDPOption, ...]


ICMPv6Body = (
    Echo | Unreachable | PacketTooBig | TimeExceeded | ParameterProblem | RouterSolicitation
    | RouterAdvertisement | NeighborSolicitation | NeighborAdvertisement | Redirect | RawBody
)

_QUOTING = (Unreachable, PacketTooBig, TimeExceeded, ParameterProblem)

_TYPE_TEXT = {
    1: "destination unreachable",
    2: "packet too big",
    3: "time exceeded",
    4: "parameter problem",
    128: "echo request",
    129: "echo reply",
    130: "multicast listener query",
    131: "multicast listener report",
    132: "multicast listener done",
    133: "router solicitation",
    134: "router advertisement",
    135: "neighbor solicitation",
    136: "neighbor advertisement",
    137: "redirect",
    143: "multicast listener report v2",
}


@dataclass(slots=True)
class ICMPv6(Layer):
    """An ICMPv6 message."""

    name: ClassVar[str] = "icmpv6"
    short: ClassVar[str] = "icmpv6"
    type: int  #: :class:`ICMPv6Type`
    code: int
    checksum: int  #: as sent, not verified
    body: ICMPv6Body

    @property
    def quoted(self) -> IPv6 | None:
        """The IPv6 header quoted by an error message, or None."""
        body = self.body
        return body.quoted if isinstance(body, _QUOTING) else None

    @property
    def quoted_ports(self) -> tuple[int, int] | None:
        body = self.body
        return body.quoted_ports if isinstance(body, _QUOTING) else None

    def summary(self) -> str:
        text = _TYPE_TEXT.get(self.type) or f"type {self.type}"
        body = self.body
        if isinstance(body, Echo):
            return f"{text} id={body.id} seq={body.seq}"
        if isinstance(body, NeighborSolicitation):
            return f"{text} for {ipv6_str(body.target)}"
        if isinstance(body, NeighborAdvertisement):
            text += f" {ipv6_str(body.target)}"
            mac = _link_address(body.options, 2)
            if mac is not None:
                text += f" is-at {mac}"
            flags = [n for bit, n in ((0x80, "router"), (0x40, "solicited"), (0x20, "override"))
                     if body.flags & bit]
            return text + (f" ({', '.join(flags)})" if flags else "")
        if isinstance(body, RouterAdvertisement):
            return f"{text} hlim={body.cur_hop_limit} lifetime={body.router_lifetime}"
        if isinstance(body, Redirect):
            return f"{text} {ipv6_str(body.destination)} via {ipv6_str(body.target)}"
        if isinstance(body, PacketTooBig):
            text += f" mtu={body.mtu}"
        elif self.type == 1:
            text += f" ({enum_name(UnreachableCode, self.code).lower().replace('_', ' ')})"
        elif self.type == 3:
            text += f" ({enum_name(TimeExceededCode, self.code).lower().replace('_', ' ')})"
        elif isinstance(body, ParameterProblem):
            text += f" code={self.code} pointer={body.pointer}"
        elif self.code:
            text += f" code={self.code}"
        return text + quote_text(self.quoted, self.quoted_ports)


def _link_address(options: tuple[NDPOption, ...], kind: int) -> str | None:
    for option in options:
        if isinstance(option, LinkLayerAddress) and option.kind == kind:
            return mac_str(option.address)
    return None


def _quote(buf: bytes, start: int, end: int) -> tuple[IPv6 | None, tuple[int, int] | None, bytes]:
    """Decode a quoted IPv6 packet as far as it goes; never raises."""
    data = buf[start:end]
    try:
        layer, after = ipv6.decode(buf, start, end)
    except DecodeError:
        return None, None, data
    if not isinstance(layer, IPv6):  # pragma: no cover - ipv6.decode returns IPv6
        return None, None, data
    ports: tuple[int, int] | None = None
    if isinstance(after, tuple):
        _, key, pstart, pend = after
        if key in PORT_PROTOCOLS and pend - pstart >= 4:
            ports = _PORTS.unpack_from(buf, pstart)
    return layer, ports, data


def _ndp_options(buf: bytes, pos: int, end: int) -> tuple[tuple[NDPOption, ...], Damage | None]:
    """The options ending an NDP message, ``[pos, end)``: the options, and any damage.

    Damage is reported as :mod:`layerpeek.dissect` says.  The options run to
    the end of the message, so an option past it is truncated when the
    capture ends there and invalid when the IPv6 payload length ends first.
    """
    found: list[NDPOption] = []
    cut = end >= len(buf)  # nothing captured after the message
    while pos < end:
        path = f"icmpv6.options[{len(found)}]"
        left = end - pos
        if left < 2:
            if cut:
                return tuple(found), Damage(f"{path}: need 2 bytes, have {left}", pos, True)
            return tuple(found), length_missing(path, buf[pos], pos, "message")
        kind = buf[pos]
        units = buf[pos + 1]
        if units == 0:
            return tuple(found), length_below(path, 0, 1, pos)
        size = units << 3
        if size > left:
            if cut:
                return tuple(found), Damage(f"{path}: need {size} bytes, have {left}", pos, True)
            return tuple(found), length_overflows(path, units, left, pos, "message")
        option: NDPOption
        if kind == 1 or kind == 2:
            option = LinkLayerAddress(kind, buf[pos + 2 : pos + size])
        elif kind == 3:
            if size != 32:
                return tuple(found), Damage(f"{path}.length {units} != 4 (prefix information)", pos)
            prefix_len, flags, valid, preferred, prefix = _PREFIX.unpack_from(buf, pos + 2)
            option = PrefixInformation(kind, prefix_len, flags, valid, preferred, prefix)
        elif kind == 5:
            if size != 8:
                return tuple(found), Damage(f"{path}.length {units} != 1 (MTU)", pos)
            option = MTUOption(kind, _U32.unpack_from(buf, pos + 4)[0])
        else:
            option = UnknownNDPOption(kind, buf[pos + 2 : pos + size])
        found.append(option)
        pos += size
    return tuple(found), None


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 8, "icmpv6")
    icmp_type, code, checksum, word1, word2 = _HEADER.unpack_from(buf, start)
    rest = start + 8
    word = (word1 << 16) | word2
    body: ICMPv6Body
    damage: Damage | None = None
    if icmp_type == 128 or icmp_type == 129:
        body = Echo(word1, word2, buf[rest:end])
    elif 1 <= icmp_type <= 4:
        original_len = (word1 >> 8) << 3 if icmp_type in (1, 3) else 0
        qend = end if not original_len or rest + original_len > end else rest + original_len
        quoted, ports, data = _quote(buf, rest, qend)
        if icmp_type == 1:
            body = Unreachable(original_len, quoted, ports, data)
        elif icmp_type == 2:
            body = PacketTooBig(word, quoted, ports, data)
        elif icmp_type == 3:
            body = TimeExceeded(original_len, quoted, ports, data)
        else:
            body = ParameterProblem(word, quoted, ports, data)
    elif icmp_type == 133:
        options, damage = _ndp_options(buf, rest, end)
        body = RouterSolicitation(options)
    elif icmp_type == 134:
        need(start, end, 16, "icmpv6 router advertisement")
        hop_limit, flags, lifetime, reachable, retrans = _RA.unpack_from(buf, start + 4)
        options, damage = _ndp_options(buf, start + 16, end)
        body = RouterAdvertisement(hop_limit, flags, lifetime, reachable, retrans, options)
    elif icmp_type == 135 or icmp_type == 136:
        need(start, end, 24, "icmpv6 neighbor " +
             ("solicitation" if icmp_type == 135 else "advertisement"))
        target = buf[rest : rest + 16]
        options, damage = _ndp_options(buf, start + 24, end)
        if icmp_type == 135:
            body = NeighborSolicitation(target, options)
        else:
            body = NeighborAdvertisement(word1 >> 8, target, options)
    elif icmp_type == 137:
        need(start, end, 40, "icmpv6 redirect")
        options, damage = _ndp_options(buf, start + 40, end)
        body = Redirect(buf[rest : rest + 16], buf[rest + 16 : rest + 32], options)
    else:
        body = RawBody(buf[start + 4 : rest], buf[rest:end])
    layer = ICMPv6(icmp_type, code, checksum, body)
    if damage is not None:
        return layer, damage.marker("icmpv6", buf, end)
    return layer, None


DISSECTOR = Dissector("icmpv6", decode)
