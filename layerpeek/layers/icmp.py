"""Internet Control Message Protocol (for IPv4), RFC 792.

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|     Type      |     Code      |          Checksum             |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|            rest of header (meaning depends on the type)       |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|   body: echo data, or the start of the datagram that caused   |
|   an error (its IP header + at least 8 bytes)                 |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Echo (ping):        | Identifier | Sequence Number |  data ...
Unreachable (3):    | unused | length | Next-Hop MTU |  quoted datagram ...
Time Exceeded (11): | unused | length |    unused    |  quoted datagram ...
Redirect (5):       |     Gateway Internet Address  |  quoted datagram ...
Param Problem (12): | pointer | length |   unused    |  quoted datagram ...

ICMP is terminal: the typed ``body`` holds what follows the first four bytes.
The *quoted* datagram of an error message is what makes it useful ("port 53
unreachable for which flow?"), so its IPv4 header is decoded into ``quoted``
(an :class:`~layerpeek.layers.ipv4.IPv4`) and the first four bytes of its
transport header into ``quoted_ports``.  Routers quote as little as RFC 792
requires and captures cut it further, so a short quote never raises: what is
there is kept (``quoted_data``), and what cannot be decoded is ``None``.

The ``length`` byte of RFC 4884 (multi-part messages) gives the quoted
datagram's length in 32-bit words when extension objects follow it; we then
bound the quote by it (as ``original_len``, in bytes).  The extension objects
themselves are not decoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from layerpeek.dissect import Decoded, Dissector
from layerpeek.errors import DecodeError
from layerpeek.layers import ipv4
from layerpeek.layers.ipv4 import IPv4
from layerpeek.packet import Layer
from layerpeek.wire import enum_name, ip_str, ipv4_str, need

_HEADER = struct.Struct("!BBHHH")
_TIMESTAMPS = struct.Struct("!III")
_PORTS = struct.Struct("!HH")

#: Transport protocols whose header starts with source and destination ports.
PORT_PROTOCOLS = frozenset((6, 17, 33, 132, 136))  # TCP, UDP, DCCP, SCTP, UDP-Lite


class ICMPType(IntEnum):
    """IANA ICMP Type Numbers, the ones still in use plus the classic deprecated ones."""

    ECHO_REPLY = 0
    DEST_UNREACHABLE = 3
    SOURCE_QUENCH = 4
    REDIRECT = 5
    ECHO_REQUEST = 8
    ROUTER_ADVERTISEMENT = 9
    ROUTER_SOLICITATION = 10
    TIME_EXCEEDED = 11
    PARAMETER_PROBLEM = 12
    TIMESTAMP_REQUEST = 13
    TIMESTAMP_REPLY = 14
    INFO_REQUEST = 15
    INFO_REPLY = 16
    ADDRESS_MASK_REQUEST = 17
    ADDRESS_MASK_REPLY = 18
    TRACEROUTE = 30
    EXTENDED_ECHO_REQUEST = 42
    EXTENDED_ECHO_REPLY = 43


class UnreachableCode(IntEnum):
    """Codes of Destination Unreachable (type 3), RFC 792 and RFC 1812."""

    NET = 0
    HOST = 1
    PROTOCOL = 2
    PORT = 3
    FRAGMENTATION_NEEDED = 4  #: with the next-hop MTU (RFC 1191 path MTU discovery)
    SOURCE_ROUTE_FAILED = 5
    NET_UNKNOWN = 6
    HOST_UNKNOWN = 7
    SOURCE_HOST_ISOLATED = 8
    NET_PROHIBITED = 9
    HOST_PROHIBITED = 10
    NET_TOS = 11
    HOST_TOS = 12
    ADMIN_PROHIBITED = 13
    HOST_PRECEDENCE_VIOLATION = 14
    PRECEDENCE_CUTOFF = 15


class TimeExceededCode(IntEnum):
    TTL = 0  #: TTL reached zero in transit (what traceroute provokes)
    REASSEMBLY = 1  #: fragment reassembly time exceeded


class RedirectCode(IntEnum):
    NET = 0
    HOST = 1
    TOS_NET = 2
    TOS_HOST = 3


@dataclass(slots=True)
class Echo:
    """Echo request/reply (8/0); also Information request/reply (15/16), which has no data."""

    id: int
    seq: int
    data: bytes  #: the echoed payload, as captured


@dataclass(slots=True)
class Timestamp:
    """Timestamp request/reply (13/14): times in milliseconds since midnight UT."""

    id: int
    seq: int
    originate: int
    receive: int
    transmit: int


@dataclass(slots=True)
class Unreachable:
    """Destination Unreachable (3)."""

    next_hop_mtu: int  #: code 4 (fragmentation needed) only, RFC 1191; 0 for the other codes
    original_len: int  #: RFC 4884 length of the quoted datagram in bytes (0: not given)
    quoted: IPv4 | None  #: the quoted IP header, when at least its 20 bytes are there
    quoted_ports: tuple[int, int] | None  #: (source, destination) of a quoted TCP/UDP/SCTP header
    quoted_data: bytes  #: the quoted datagram as captured (header included)


@dataclass(slots=True)
class TimeExceeded:
    """Time Exceeded (11)."""

    original_len: int  #: RFC 4884 length of the quoted datagram in bytes (0: not given)
    quoted: IPv4 | None
    quoted_ports: tuple[int, int] | None
    quoted_data: bytes


@dataclass(slots=True)
class ParameterProblem:
    """Parameter Problem (12)."""

    pointer: int  #: offset in the quoted datagram of the byte in error
    original_len: int  #: RFC 4884 length of the quoted datagram in bytes (0: not given)
    quoted: IPv4 | None
    quoted_ports: tuple[int, int] | None
    quoted_data: bytes


@dataclass(slots=True)
class Redirect:
    """Redirect (5): use ``gateway`` for the quoted datagram's destination."""

    json_formats: ClassVar[dict[str, str]] = {"gateway": "ipv4"}
    gateway: bytes  #: 4 raw bytes
    quoted: IPv4 | None
    quoted_ports: tuple[int, int] | None
    quoted_data: bytes


@dataclass(slots=True)
class SourceQuench:
    """Source Quench (4), deprecated by RFC 6633 but still seen."""

    quoted: IPv4 | None
    quoted_ports: tuple[int, int] | None
    quoted_data: bytes


@dataclass(slots=True)
class RawBody:
    """A type without a typed body: the four rest-of-header bytes and what follows."""

    rest_of_header: bytes
    data: bytes


ICMPBody = (
    Echo | Timestamp | Unreachable | TimeExceeded | ParameterProblem | Redirect | SourceQuench
    | RawBody
)

_QUOTING = (Unreachable, TimeExceeded, ParameterProblem, Redirect, SourceQuench)

_TYPE_TEXT = {
    0: "echo reply",
    3: "destination unreachable",
    4: "source quench",
    5: "redirect",
    8: "echo request",
    11: "time exceeded",
    12: "parameter problem",
    13: "timestamp request",
    14: "timestamp reply",
    15: "information request",
    16: "information reply",
}


@dataclass(slots=True)
class ICMP(Layer):
    """An ICMP message."""

    name: ClassVar[str] = "icmp"
    short: ClassVar[str] = "icmp"
    type: int  #: :class:`ICMPType`
    code: int  #: meaning depends on the type (:class:`UnreachableCode`, …)
    checksum: int  #: as sent, not verified
    body: ICMPBody

    @property
    def quoted(self) -> IPv4 | None:
        """The IP header quoted by an error message, or None."""
        body = self.body
        return body.quoted if isinstance(body, _QUOTING) else None

    @property
    def quoted_ports(self) -> tuple[int, int] | None:
        """(source, destination) ports of the transport header quoted by an error, or None."""
        body = self.body
        return body.quoted_ports if isinstance(body, _QUOTING) else None

    def summary(self) -> str:
        text = _TYPE_TEXT.get(self.type) or f"type {self.type}"
        body = self.body
        if isinstance(body, (Echo, Timestamp)):
            return f"{text} id={body.id} seq={body.seq}"
        if self.type == 3:
            text += f" ({_code_text(UnreachableCode, self.code)})"
            if isinstance(body, Unreachable) and self.code == 4:
                text += f" mtu={body.next_hop_mtu}"
        elif self.type == 11:
            text += f" ({_code_text(TimeExceededCode, self.code)})"
        elif isinstance(body, Redirect):
            text += f" ({_code_text(RedirectCode, self.code)}) to {ipv4_str(body.gateway)}"
        elif isinstance(body, ParameterProblem):
            text += f" pointer={body.pointer}"
        elif self.code:
            text += f" code={self.code}"
        return text + quote_text(self.quoted, self.quoted_ports)


def _code_text(codes: type[IntEnum], code: int) -> str:
    return enum_name(codes, code).lower().replace("_", " ")


def quote_text(quoted: Layer | None, ports: tuple[int, int] | None) -> str:
    """`` for udp 10.0.0.1:40000 → 10.0.0.2:53``: the flow an error message is about."""
    if quoted is None:
        return ""
    src = getattr(quoted, "src", b"")
    dst = getattr(quoted, "dst", b"")
    proto = getattr(quoted, "protocol", -1)
    name = enum_name(ipv4.IPProto, proto).lower()
    if ports is None:
        return f" for {name} {ip_str(src)} → {ip_str(dst)}"
    if len(src) == 16:
        return f" for {name} [{ip_str(src)}]:{ports[0]} → [{ip_str(dst)}]:{ports[1]}"
    return f" for {name} {ip_str(src)}:{ports[0]} → {ip_str(dst)}:{ports[1]}"


def _quote(buf: bytes, start: int, end: int) -> tuple[IPv4 | None, tuple[int, int] | None, bytes]:
    """Decode a quoted IPv4 datagram as far as it goes; never raises."""
    data = buf[start:end]
    try:
        layer, after = ipv4.decode(buf, start, end)
    except DecodeError:
        return None, None, data
    if not isinstance(layer, IPv4):  # pragma: no cover - ipv4.decode returns IPv4
        return None, None, data
    ports: tuple[int, int] | None = None
    if isinstance(after, tuple):
        _, key, pstart, pend = after
        if key in PORT_PROTOCOLS and pend - pstart >= 4:
            ports = _PORTS.unpack_from(buf, pstart)
    return layer, ports, data


def decode(buf: bytes, start: int, end: int) -> Decoded:
    need(start, end, 8, "icmp")
    icmp_type, code, checksum, word1, word2 = _HEADER.unpack_from(buf, start)
    rest = start + 8
    body: ICMPBody
    if icmp_type in (0, 8, 15, 16):
        body = Echo(word1, word2, buf[rest:end])
    elif icmp_type == 3 or icmp_type == 11 or icmp_type == 12:
        original_len = (word1 & 0xFF) << 2
        qend = end if not original_len or rest + original_len > end else rest + original_len
        quoted, ports, data = _quote(buf, rest, qend)
        if icmp_type == 3:
            body = Unreachable(word2 if code == 4 else 0, original_len, quoted, ports, data)
        elif icmp_type == 11:
            body = TimeExceeded(original_len, quoted, ports, data)
        else:
            body = ParameterProblem(word1 >> 8, original_len, quoted, ports, data)
    elif icmp_type == 5:
        quoted, ports, data = _quote(buf, rest, end)
        body = Redirect(buf[start + 4 : rest], quoted, ports, data)
    elif icmp_type == 4:
        body = SourceQuench(*_quote(buf, rest, end))
    elif icmp_type == 13 or icmp_type == 14:
        need(start, end, 20, "icmp timestamp")
        originate, receive, transmit = _TIMESTAMPS.unpack_from(buf, rest)
        body = Timestamp(word1, word2, originate, receive, transmit)
    else:
        body = RawBody(buf[start + 4 : rest], buf[rest:end])
    return ICMP(icmp_type, code, checksum, body), None


DISSECTOR = Dissector("icmp", decode)
