"""The field registry: Wireshark's field names, mapped onto layerpeek's layers.

People arrive knowing ``ip.src``, ``tcp.port`` and ``dns.qry.name`` from
Wireshark, so those are the names (checked against ``tshark -G fields`` of
Wireshark 4.0), with Wireshark's types and its *multi-valued* view of a
frame: a field has one value per occurrence, so ``ip.addr`` has two (source
and destination), ``vlan.id`` one per tag, ``dns.qry.name`` one per question,
and the IP header quoted inside an ICMP error adds its addresses to ``ip.*``
as Wireshark's tree does.  An extractor returns that list; an empty list
means the field is absent.

Values are stored in the cheapest form that compares correctly: addresses
as integers (a CIDR test is then a mask and a compare), MAC addresses and
byte fields as ``bytes``, times as integer nanoseconds.  :func:`format_value`
turns them into tshark's text for ``-T fields``.

Fields that need the conversation stage (``tcp.stream``, relative
``tcp.seq``/``tcp.ack``, ``tcp.analysis.*``) read the packet's
:class:`~layerpeek.flows.tracker.PacketFlowInfo`; without it they are absent,
except ``tcp.seq``/``tcp.ack``, which fall back to the raw numbers (as
``tcpdump -S`` and Wireshark with relative numbers turned off show them).

Where layerpeek deliberately differs from tshark:

* ``frame.protocols`` is layerpeek's own path (``eth:ipv4:tcp:http``), not
  Wireshark's (``eth:ethertype:ip:tcp:http``).
* HTTP fields come from the head carried by *this* segment (the per-packet
  view of ``dump``); Wireshark shows them on the segment that completes the
  reassembled message.  HTTP/2 fields (``http2.*``) are like Wireshark's:
  the frames a segment completed, read from the reassembled stream, their
  header blocks decoded with the connection's HPACK state, so they exist
  only where the conversation stage ran (``dump``, not ``--no-flows``).
* ``tcp.flags.rst`` and ``tcp.flags.psh`` are accepted as aliases of
  Wireshark's ``tcp.flags.reset`` and ``tcp.flags.push``.
* On the frame that completes a fragmented IP datagram, the flow stage hands
  over the *reassembled* datagram, so ``frame.len``, ``ip.len`` and
  ``ip.frag_offset`` describe it, not the last fragment as captured
  (``dump --no-defrag`` shows the fragment).
* Of a header quoted inside an ICMP error only the IP addresses and the
  TCP/UDP ports are fields (and make ``tcp``/``udp`` present), not the
  quoted lengths, checksums or payloads.
* ``frame.interface_id`` is 0 for pcap files (tshark leaves it empty), and
  ``-T fields`` prints a protocol as its name and a label as ``1``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from layerpeek.layers.arp import ARP
from layerpeek.layers.dns import DNS, DNSMX, DNSRecord
from layerpeek.layers.ethernet import Ethernet
from layerpeek.layers.http import HTTP
from layerpeek.layers.http2 import (
    HTTP2,
    PREFACE,
    DataFrame,
    FrameFlags,
    FrameType,
    GoAwayFrame,
    HTTP2Frame,
    PingFrame,
    PushPromiseFrame,
    RstStreamFrame,
    Setting,
    SettingsFrame,
    WindowUpdateFrame,
    block_headers,
)
from layerpeek.layers.icmp import ICMP, Echo
from layerpeek.layers.icmp import Unreachable as ICMPUnreachable
from layerpeek.layers.icmpv6 import (
    ICMPv6,
    NeighborAdvertisement,
    NeighborSolicitation,
    PacketTooBig,
)
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.linux_sll import SLL, SLL2
from layerpeek.layers.null import Null
from layerpeek.layers.tcp import MSS, TCP, SACKPermitted, Timestamps, WindowScale
from layerpeek.layers.tls import TLS, TLSRecord
from layerpeek.layers.udp import UDP
from layerpeek.layers.vlan import VLAN
from layerpeek.packet import Layer, Malformed, Packet, Payload
from layerpeek.quic.packets import QUIC, QUICPacket
from layerpeek.tls.handshake import ALPN as TLSALPN
from layerpeek.tls.handshake import Certificate as TLSCertificate
from layerpeek.tls.handshake import (
    ClientHello,
    ServerHello,
    SignatureAlgorithms,
    SupportedGroups,
    SupportedVersions,
)
from layerpeek.tls.handshake import EncryptedExtensions as TLSEncryptedExtensions
from layerpeek.tls.handshake import ServerName as TLSServerName
from layerpeek.tls.records import Alert

L = TypeVar("L", bound=Layer)


class FieldType(Enum):
    """Wireshark's field types, as far as layerpeek has them."""

    UINT = "unsigned integer"
    INT = "signed integer"
    BOOL = "boolean"
    TIME = "time (seconds)"
    IPV4 = "IPv4 address"
    IPV6 = "IPv6 address"
    ETHER = "MAC address"
    BYTES = "byte sequence"
    STRING = "character string"
    NONE = "label (no value)"
    PROTOCOL = "protocol"
    ABSTIME = "date and time"


class Frame:
    """One packet as the field extractors see it, with its flow info and timing.

    The per-type layer lists are built once, in one pass over the layers, and
    shared by every field a filter reads from the same packet.
    """

    __slots__ = ("_by_type", "first_ns", "icmp", "info", "packet", "prev_ns")

    def __init__(self, packet: Packet, info: Any = None, first_ns: int | None = None,
                 prev_ns: int | None = None) -> None:
        self.packet = packet
        self.info = info  #: a PacketFlowInfo or None
        self.first_ns = packet.ts_ns if first_ns is None else first_ns
        self.prev_ns = packet.ts_ns if prev_ns is None else prev_ns
        by_type: dict[type, list[Layer]] = {}
        for layer in packet.layers:
            kind = type(layer)
            found = by_type.get(kind)
            if found is None:
                by_type[kind] = [layer]
            else:
                found.append(layer)
        self._by_type = by_type
        #: an ICMP or ICMPv6 message is present (it may quote IP and TCP/UDP headers)
        self.icmp = ICMP in by_type or ICMPv6 in by_type

    def of(self, kind: type[L]) -> list[L]:
        """Every layer of exactly type ``kind``, outermost first (never modify the list)."""
        return self._by_type.get(kind, _NONE)


_NONE: list[Any] = []  # the shared empty result of Frame.of


Extractor = Callable[[Frame], list[Any]]


@dataclass(frozen=True, slots=True)
class Field:
    """One filterable, printable field."""

    name: str
    type: FieldType
    description: str
    extract: Extractor
    #: tshark's display base for integers in ``-T fields``: 0 decimal, else hex digits
    hex_digits: int = 0
    alias_of: str | None = None  #: the Wireshark name this layerpeek alias stands for
    #: a cheaper presence test than ``bool(extract(frame))`` (protocols, whose values
    #: are their bytes, would copy them just to be counted)
    present: Callable[[Frame], bool] | None = None


# --------------------------------------------------------------------------- helpers


def _ipv4s(f: Frame) -> list[IPv4]:
    """IPv4 headers, plus the one quoted by an ICMP error (Wireshark lists both)."""
    if not f.icmp:
        return f.of(IPv4)
    found = list(f.of(IPv4))
    for icmp in f.of(ICMP):
        quoted = icmp.quoted
        if quoted is not None:
            found.append(quoted)
    return found


def _slls(f: Frame) -> list[SLL | SLL2]:
    return [*f.of(SLL), *f.of(SLL2)]


def _flag_bit(bit: int) -> Extractor:
    return _each(TCP, lambda t: bool(t.flags & bit))


def _h2(get: Callable[[HTTP2Frame], Any]) -> Extractor:
    """One value per HTTP/2 frame of the packet (None from ``get``: not in that frame)."""

    def extract(f: Frame) -> list[Any]:
        layers = f.of(HTTP2)
        if not layers:
            return _NONE
        return [v for layer in layers for v in map(get, layer.frames) if v is not None]

    return extract


def _h2_flag(bit: int, types: tuple[int, ...]) -> Extractor:
    """A flag bit, on the frame types it exists for (as Wireshark shows it)."""
    return _h2(lambda fr: bool(fr.flags & bit) if fr.type in types else None)


def _h2_headers(get: Callable[[str, str], Any]) -> Extractor:
    """One value per decoded header field (every header block the packet completed)."""

    def extract(f: Frame) -> list[Any]:
        out: list[Any] = []
        for layer in f.of(HTTP2):
            for fr in layer.frames:
                headers = block_headers(fr)
                if headers:
                    out.extend(v for v in (get(n, val) for n, val in headers) if v is not None)
        return out

    return extract


def _h2_pseudo(name: str, convert: Callable[[str], Any] = str) -> Extractor:
    def get(n: str, value: str) -> Any:
        if n != name:
            return None
        try:
            return convert(value)
        except ValueError:
            return None

    return _h2_headers(get)


def _h2_settings(get: Callable[[Setting], Any]) -> Extractor:
    return _h2_many(lambda fr: [get(st) for st in fr.settings]
                    if isinstance(fr, SettingsFrame) else [])


def _h2_many(get: Callable[[HTTP2Frame], Iterable[Any]]) -> Extractor:
    def extract(f: Frame) -> list[Any]:
        return [v for layer in f.of(HTTP2) for fr in layer.frames for v in get(fr)]

    return extract


def _ipv6s(f: Frame) -> list[IPv6]:
    if not f.icmp:
        return f.of(IPv6)
    found = list(f.of(IPv6))
    for icmp in f.of(ICMPv6):
        quoted = icmp.quoted
        if quoted is not None:
            found.append(quoted)
    return found


def _quoted_ports(f: Frame, proto: int) -> list[tuple[int, int]]:
    """(src, dst) of the TCP/UDP header quoted inside ICMP errors, for ``proto``."""
    out: list[tuple[int, int]] = []
    if not f.icmp:
        return out
    for icmp in f.of(ICMP):
        if icmp.quoted is not None and icmp.quoted.protocol == proto and icmp.quoted_ports:
            out.append(icmp.quoted_ports)
    for icmp6 in f.of(ICMPv6):
        if icmp6.quoted is not None and icmp6.quoted.protocol == proto and icmp6.quoted_ports:
            out.append(icmp6.quoted_ports)
    return out


def _ports(f: Frame, kind: type[TCP] | type[UDP], proto: int, which: int) -> list[int]:
    """Source (0), destination (1) or both (2) ports of every ``kind`` header."""
    headers = f.of(kind)
    if not f.icmp:  # the common case, kept short
        if which == 2:
            return [p for h in headers for p in (h.src_port, h.dst_port)]
        return [h.dst_port if which else h.src_port for h in headers]
    pairs = [(h.src_port, h.dst_port) for h in headers] + _quoted_ports(f, proto)
    if which == 2:
        return [p for pair in pairs for p in pair]
    return [pair[which] for pair in pairs]


def _each(kind: type[L], get: Callable[[L], Any]) -> Extractor:
    """One value per layer of ``kind`` (None from ``get`` means "not in this one")."""

    def extract(f: Frame) -> list[Any]:
        layers = f.of(kind)
        if not layers:
            return _NONE
        if len(layers) == 1:  # the usual case: one header of this kind
            value = get(layers[0])
            return _NONE if value is None else [value]
        return [v for v in map(get, layers) if v is not None]

    return extract


def _many(kind: type[L], get: Callable[[L], Iterable[Any]]) -> Extractor:
    """Several values per layer of ``kind`` (DNS questions, header lines)."""

    def extract(f: Frame) -> list[Any]:
        return [v for layer in f.of(kind) for v in get(layer)]

    return extract


def _span_bytes(f: Frame, kind: type[Layer]) -> list[bytes]:
    """The bytes of each ``kind`` layer and everything it carries (for ``tcp contains``).

    A :class:`~layerpeek.packet.Malformed` marker left by ``kind``'s decoder
    counts as that protocol being present, as in Wireshark, which adds the
    protocol to the tree before it finds the damage.
    """
    packet = f.packet
    out = []
    last_end = packet.spans[-1][1] if packet.spans else len(packet.data)
    names = (kind.name, kind.short)
    for layer, (start, end) in zip(packet.layers, packet.spans, strict=False):
        if type(layer) is kind or (isinstance(layer, Malformed) and layer.protocol in names):
            out.append(packet.data[start:max(last_end, end)])
    return out


def _protocol(kind: type[Layer]) -> Extractor:
    return lambda f: _span_bytes(f, kind)


def _has(f: Frame, kind: type[Layer]) -> bool:
    """``kind`` decoded in this packet, or its decoder left the Malformed marker."""
    if f.of(kind):
        return True
    damage = f.packet.malformed
    return damage is not None and damage.protocol in (kind.name, kind.short)


def _has_one(kind: type[Layer]) -> Callable[[Frame], bool]:
    return lambda f: _has(f, kind)


def _transport(kind: type[TCP] | type[UDP], proto: int) -> Extractor:
    """TCP or UDP present: its own header, or one quoted inside an ICMP error."""

    def extract(f: Frame) -> list[Any]:
        found: list[Any] = _span_bytes(f, kind)
        return found + [b""] * len(_quoted_ports(f, proto))

    return extract


def _int_be(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def _tcp_info(f: Frame) -> Any:
    info = f.info
    return info if info is not None and getattr(info, "proto", "") == "tcp" else None


def _analysis(flag_field: str) -> Extractor:
    def extract(f: Frame) -> list[Any]:
        info = _tcp_info(f)
        if info is None or info.analysis is None or not info.analysis.flags:
            return []
        from layerpeek.flows.analysis import wireshark_fields

        return [True] if flag_field in wireshark_fields(info.analysis.flags) else []

    return extract


def _any_analysis(f: Frame) -> list[Any]:
    info = _tcp_info(f)
    return [True] if info is not None and info.analysis is not None and info.analysis.flags else []


def _relative(get: Callable[[Any, TCP], int | None], raw: Callable[[TCP], int]) -> Extractor:
    """Relative numbers from flow info for the packet's (outermost) TCP header, else raw."""

    def extract(f: Frame) -> list[Any]:
        tcps = f.of(TCP)
        if not tcps:
            return []
        info = _tcp_info(f)
        if info is None:
            return [raw(t) for t in tcps]
        value = get(info, tcps[0])
        return [] if value is None else [value]

    return extract


def _tcp_time(get: Callable[[Any], int | None]) -> Extractor:
    def extract(f: Frame) -> list[Any]:
        info = _tcp_info(f)
        value = None if info is None else get(info)
        return _NONE if value is None else [value]

    return extract


def _window_size(f: Frame) -> list[Any]:
    tcps = f.of(TCP)
    if not tcps:
        return _NONE
    info = _tcp_info(f)
    raw = tcps[0].window
    return [raw if info is None else info.window_size(raw)]


def _tcp_len(f: Frame) -> list[Any]:
    tcps = f.of(TCP)
    if not tcps:
        return []
    info = _tcp_info(f)
    if info is not None:
        return [info.seglen]
    return [t.payload_len for t in tcps]


def _stream(proto: str) -> Extractor:
    def extract(f: Frame) -> list[Any]:
        info = f.info
        if info is None or getattr(info, "proto", "") != proto or info.stream < 0:
            return []
        return [info.stream]

    return extract


def _dns_kind(f: Frame) -> str:
    """"dns", "mdns" or "llmnr": Wireshark names the protocol by the UDP port."""
    for udp in f.of(UDP):
        if 5353 in (udp.src_port, udp.dst_port):
            return "mdns"
        if 5355 in (udp.src_port, udp.dst_port):
            return "llmnr"
    return "dns"


def _dns_present(kind: str) -> Callable[[Frame], bool]:
    return lambda f: bool(f.of(DNS)) and _dns_kind(f) == kind


def _dns_protocol(kind: str) -> Extractor:
    def extract(f: Frame) -> list[Any]:
        if not f.of(DNS) or _dns_kind(f) != kind:
            return []
        return _span_bytes(f, DNS)

    return extract


def _name(name: str) -> str:
    """Wireshark writes the root name as ``<Root>``."""
    return "<Root>" if name in ("", ".") else name


def _not_llmnr(get: Callable[[DNS], Any]) -> Extractor:
    """DNS header bits LLMNR gives other meanings to (RFC 4795 §2.1.1)."""
    each = _each(DNS, get)
    return lambda f: _NONE if _dns_kind(f) == "llmnr" else each(f)


def _question_class(f: Frame) -> list[Any]:
    """mDNS uses the class's top bit as the "unicast response" flag (RFC 6762 §5.4)."""
    mask = 0x7FFF if _dns_kind(f) == "mdns" else 0xFFFF
    return [q.rclass & mask for d in f.of(DNS) for q in d.questions]


def _records(d: DNS) -> Iterator[DNSRecord]:
    yield from d.answers
    yield from d.authorities
    yield from d.additionals


def _rdata(rtype: int, convert: Callable[[Any], Any] = lambda v: v) -> Extractor:
    """The data of every record of type ``rtype`` in any section."""

    def get(d: DNS) -> Iterator[Any]:
        for r in _records(d):
            if r.type == rtype and not isinstance(r.data, bytes):
                yield convert(r.data)

    return _many(DNS, get)


def _v4_text(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def _v6_text(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


#: tcp.flags.str's letters, most significant bit first (three reserved bits, AE … FIN).
_FLAG_LETTERS = "RRRACEUAPRSF"


def _flags_str(flags: int) -> str:
    return "".join(
        letter if flags & (0x800 >> i) else "\u00b7" for i, letter in enumerate(_FLAG_LETTERS)
    )


def _info_column(f: Frame) -> list[Any]:
    from layerpeek.render.html import info_text

    return [info_text(f.packet, f.first_ns, f.info)]


def _checksum_status(f: Frame) -> list[Any]:
    if not f.of(TCP):
        return _NONE
    from layerpeek.checksum import verify_checksums

    ok = verify_checksums(f.packet).get("tcp")
    return [2 if ok is None else int(ok)]


def _full_uri(h: HTTP) -> str | None:
    target = h.target
    if h.kind != "request" or target is None:
        return None
    if "://" in target:
        return target
    host = h.header("Host")
    if host is None:
        return None
    return f"http://{host}{target}"


def _body_text(body: bytes) -> str | None:
    return body.decode("utf-8", "replace") if body else None


def _header(name: str) -> Extractor:
    return _many(HTTP, lambda h: h.headers_all(name))


def _content_length(h: HTTP) -> Iterator[int]:
    for value in h.headers_all("Content-Length"):
        text = value.strip()
        if text.isdigit():
            yield int(text)


def _lines(kind: str) -> Extractor:
    return _many(HTTP, lambda h: [f"{k}: {v}\r\n" for k, v in h.headers] if h.kind == kind else [])


def _echo(get: Callable[[Echo], int]) -> Callable[[ICMP | ICMPv6], int | None]:
    return lambda m: get(m.body) if isinstance(m.body, Echo) else None


def _tcp_option(get: Callable[[TCP], Any]) -> Extractor:
    return _each(TCP, get)


def _malformed(short: bool) -> Extractor:
    """``_ws.short``: cut by the capture's snaplen; ``_ws.malformed``: any other damage."""

    def extract(f: Frame) -> list[Any]:
        m = f.packet.malformed
        if m is None:
            return []
        cut = m.truncated and f.packet.cap_len < f.packet.wire_len
        return [True] if cut == short else []

    return extract


def _ports_field(kind: type[TCP] | type[UDP], proto: int, which: int) -> Extractor:
    return lambda f: _ports(f, kind, proto, which)


def _addr_pair(get: Callable[[Frame], Sequence[Any]], src: Callable[[Any], Any],
               dst: Callable[[Any], Any]) -> tuple[Extractor, Extractor, Extractor]:
    """src, dst and "either" extractors over the same headers."""

    def both(f: Frame) -> list[Any]:
        return [v for h in get(f) for v in (src(h), dst(h))]

    return ((lambda f: [src(h) for h in get(f)]), (lambda f: [dst(h) for h in get(f)]), both)


def _tls_messages(f: Frame) -> list[Any]:
    """The TLS messages of the frame: in TLS records, and in QUIC's CRYPTO frames (as tshark)."""
    found: list[Any] = [m for layer in f.of(TLS) for m in layer.messages()]
    for quic in f.of(QUIC):
        found.extend(m for p in quic.packets for m in p.messages)
    return found


def _quic(get: Callable[[QUICPacket], Any]) -> Extractor:
    """One value per QUIC packet of the datagram (None from ``get``: not in that one)."""

    def extract(f: Frame) -> list[Any]:
        values = (get(p) for layer in f.of(QUIC) for p in layer.packets)
        return [v for v in values if v is not None]

    return extract


def _quic_frames(kind: type[Any] | tuple[type[Any], ...], get: Callable[[Any], Any]
                 ) -> Extractor:
    """One value per QUIC frame of class ``kind`` in the datagram's decrypted packets."""

    def extract(f: Frame) -> list[Any]:
        values = (get(fr) for layer in f.of(QUIC) for fr in layer.frames()
                  if isinstance(fr, kind))
        return [v for v in values if v is not None]

    return extract


def _tls_records(get: Callable[[TLSRecord], Any]) -> Extractor:
    def extract(f: Frame) -> list[Any]:
        values = (get(r) for layer in f.of(TLS) for r in layer.records)
        return [v for v in values if v is not None]

    return extract


def _tls_handshakes(get: Callable[[Any], Iterable[Any]]) -> Extractor:
    """Values from each whole handshake message of the frame's TLS layers."""

    def extract(f: Frame) -> list[Any]:
        return [v for m in _tls_messages(f) if hasattr(m, "handshake_type") for v in get(m)]

    return extract


def _tls_hellos(get: Callable[[ClientHello | ServerHello], Iterable[Any]]) -> Extractor:
    def extract(f: Frame) -> list[Any]:
        return [v for m in _tls_messages(f) if isinstance(m, (ClientHello, ServerHello))
                for v in get(m)]

    return extract


def _tls_extension(kind: type[Any], get: Callable[[Any], Iterable[Any]]) -> Extractor:
    """An extension's values in the hellos and in EncryptedExtensions (where TLS 1.3, and so
    QUIC, puts the server's ALPN choice; it is in the clear once decrypted, as tshark shows)."""

    def extract(f: Frame) -> list[Any]:
        return [v for m in _tls_messages(f)
                if isinstance(m, (ClientHello, ServerHello, TLSEncryptedExtensions))
                for e in m.extensions if isinstance(e, kind) for v in get(e)]

    return extract


def _tls_alerts(get: Callable[[Alert], Any]) -> Extractor:
    def extract(f: Frame) -> list[Any]:
        return [get(m) for m in _tls_messages(f) if isinstance(m, Alert) and m.level is not None]

    return extract


def _tls_fingerprint(client: bool, which: Callable[[Any], Any], text: bool) -> Extractor:
    def extract(f: Frame) -> list[Any]:
        kind = ClientHello if client else ServerHello
        fps = [which(m) for m in _tls_messages(f) if isinstance(m, kind)]
        return [fp.text if text else fp.hash for fp in fps]

    return extract


# --------------------------------------------------------------------------- the table

U, B, T = FieldType.UINT, FieldType.BOOL, FieldType.TIME
V4, V6, MAC, BY = FieldType.IPV4, FieldType.IPV6, FieldType.ETHER, FieldType.BYTES
S, NONE, P = FieldType.STRING, FieldType.NONE, FieldType.PROTOCOL


def _build() -> list[Field]:
    fields: list[Field] = []

    def add(name: str, ftype: FieldType, description: str, extract: Extractor,
            hex_digits: int = 0, present: Callable[[Frame], bool] | None = None) -> None:
        fields.append(Field(name, ftype, description, extract, hex_digits, None, present))

    def protocol(name: str, description: str, kind: type[Layer]) -> None:
        add(name, P, description, _protocol(kind), present=_has_one(kind))

    # frame
    add("frame", P, "The whole frame", lambda f: [f.packet.data], present=lambda f: True)
    add("frame.number", U, "Frame number (1-based)", lambda f: [f.packet.index])
    add("frame.len", U, "Frame length on the wire (bytes)", lambda f: [f.packet.wire_len])
    add("frame.cap_len", U, "Frame length stored in the capture (bytes)",
        lambda f: [f.packet.cap_len])
    add("frame.time", FieldType.ABSTIME, "Capture time as a local date and time "
        "(\"Nov 25, 2026 08:44:05.130493000 UTC\"; compare with such a string or "
        "\"2026-11-25 08:44:05\")", lambda f: [f.packet.ts_ns])
    add("frame.comment", S, "pcapng packet comment (one value per comment)",
        lambda f: f.packet.comment.split("\n") if f.packet.comment is not None else _NONE)
    add("_ws.col.Info", S, "layerpeek's Info column: what dump prints after the endpoints "
        "(its own wording, not Wireshark's)", _info_column)
    add("frame.time_epoch", T, "Capture time, seconds since 1970-01-01 UTC",
        lambda f: [f.packet.ts_ns])
    add("frame.time_relative", T, "Seconds since the first frame",
        lambda f: [f.packet.ts_ns - f.first_ns])
    add("frame.time_delta", T, "Seconds since the previous captured frame",
        lambda f: [f.packet.ts_ns - f.prev_ns])
    add("frame.interface_id", U, "Interface index within the capture (pcapng)",
        lambda f: [f.packet.interface])
    add("frame.protocols", S, "layerpeek's protocol path, e.g. eth:ipv4:tcp:http",
        lambda f: [f.packet.protocols])
    add("_ws.malformed", NONE, "Decoding stopped: invalid or missing bytes (not a snaplen cut)",
        _malformed(False))
    add("_ws.short", NONE, "Decoding ran out of bytes the capture's snaplen cut off",
        _malformed(True))

    # link layers
    protocol("eth", "Ethernet", Ethernet)
    # eth.addr lists the destination first: Wireshark follows the header's order
    e_dst, e_src, e_addr = _addr_pair(lambda f: f.of(Ethernet), lambda e: e.dst, lambda e: e.src)
    add("eth.src", MAC, "Source MAC address", e_src)
    add("eth.dst", MAC, "Destination MAC address", e_dst)
    add("eth.addr", MAC, "Source or destination MAC address", e_addr)
    add("eth.type", U, "EtherType (Ethernet II frames)",
        _each(Ethernet, lambda e: e.type if e.type >= 0x0600 else None), 4)
    add("eth.len", U, "Length (IEEE 802.3 frames, where the type field is < 0x0600)",
        _each(Ethernet, lambda e: e.type if e.type < 0x0600 else None))
    protocol("vlan", "802.1Q VLAN tag", VLAN)
    add("vlan.id", U, "VLAN identifier (one value per tag)", _each(VLAN, lambda v: v.vid))
    add("vlan.priority", U, "Priority code point (802.1p)", _each(VLAN, lambda v: v.pcp))
    add("vlan.dei", B, "Drop eligible indicator", _each(VLAN, lambda v: bool(v.dei)))
    add("vlan.etype", U, "EtherType the tag carries",
        _each(VLAN, lambda v: v.type if v.type >= 0x0600 else None), 4)
    add("vlan.len", U, "Length (an 802.3 frame inside the tag)",
        _each(VLAN, lambda v: v.type if v.type < 0x0600 else None))
    add("sll", P, "Linux cooked capture (v1 and v2)",
        lambda f: _span_bytes(f, SLL) + _span_bytes(f, SLL2),
        present=lambda f: _has(f, SLL) or _has(f, SLL2))

    def sll_get(get: Callable[[SLL | SLL2], Any]) -> Extractor:
        return lambda f: [get(h) for h in _slls(f)]

    add("sll.pkttype", U, "Packet type (0 to us, 4 sent by us, …)",
        sll_get(lambda h: h.packet_type))
    add("sll.hatype", U, "Link-layer address type (ARPHRD_*)", sll_get(lambda h: h.arphrd_type))
    add("sll.halen", U, "Link-layer address length", sll_get(lambda h: h.addr_len))
    add("sll.src.eth", MAC, "Sender MAC address (6-byte addresses)",
        lambda f: [h.addr for h in _slls(f) if len(h.addr) == 6])
    add("sll.etype", U, "EtherType of the payload", sll_get(lambda h: h.protocol), 4)
    add("sll.ifindex", U, "Interface index (SLL2 only)", _each(SLL2, lambda h: h.interface_index))
    protocol("null", "BSD loopback", Null)
    add("null.family", U, "Address family", _each(Null, lambda h: h.family))

    # ARP
    protocol("arp", "Address Resolution Protocol", ARP)
    add("arp.hw.type", U, "Hardware type", _each(ARP, lambda a: a.hardware_type))
    add("arp.proto.type", U, "Protocol type (EtherType)", _each(ARP, lambda a: a.protocol_type), 4)
    add("arp.hw.size", U, "Hardware address size", _each(ARP, lambda a: a.hardware_len))
    add("arp.proto.size", U, "Protocol address size", _each(ARP, lambda a: a.protocol_len))
    add("arp.opcode", U, "Opcode (1 request, 2 reply)", _each(ARP, lambda a: a.opcode))
    add("arp.src.hw_mac", MAC, "Sender MAC address",
        _each(ARP, lambda a: a.sender_mac if len(a.sender_mac) == 6 else None))
    add("arp.src.proto_ipv4", V4, "Sender IPv4 address",
        _each(ARP, lambda a: _int_be(a.sender_ip) if len(a.sender_ip) == 4 else None))
    add("arp.dst.hw_mac", MAC, "Target MAC address",
        _each(ARP, lambda a: a.target_mac if len(a.target_mac) == 6 else None))
    add("arp.dst.proto_ipv4", V4, "Target IPv4 address",
        _each(ARP, lambda a: _int_be(a.target_ip) if len(a.target_ip) == 4 else None))

    # IPv4
    protocol("ip", "Internet Protocol version 4", IPv4)
    add("ip.version", U, "IP version (4, and 6 on IPv6 packets as in Wireshark)",
        lambda f: [h.version for h in _ipv4s(f)] + [h.version for h in _ipv6s(f)])
    add("ip.hdr_len", U, "Header length (bytes)", lambda f: [h.header_len for h in _ipv4s(f)])
    add("ip.dsfield", U, "Differentiated services field (the whole TOS octet)",
        lambda f: [h.tos for h in _ipv4s(f)], 2)
    add("ip.dsfield.dscp", U, "Differentiated services codepoint",
        lambda f: [h.tos >> 2 for h in _ipv4s(f)])
    add("ip.dsfield.ecn", U, "Explicit congestion notification",
        lambda f: [h.tos & 3 for h in _ipv4s(f)])
    add("ip.len", U, "Total length (bytes)", lambda f: [h.total_len for h in _ipv4s(f)])
    add("ip.id", U, "Identification", lambda f: [h.id for h in _ipv4s(f)], 4)
    add("ip.flags", U, "Flags (0x2 don't fragment, 0x1 more fragments)",
        lambda f: [h.flags for h in _ipv4s(f)], 2)
    add("ip.flags.rb", B, "Reserved bit", lambda f: [bool(h.flags & 4) for h in _ipv4s(f)])
    add("ip.flags.df", B, "Don't fragment", lambda f: [bool(h.flags & 2) for h in _ipv4s(f)])
    add("ip.flags.mf", B, "More fragments", lambda f: [bool(h.flags & 1) for h in _ipv4s(f)])
    add("ip.frag_offset", U, "Fragment offset (8-byte units, as on the wire)",
        lambda f: [h.fragment_offset // 8 for h in _ipv4s(f)])
    add("ip.ttl", U, "Time to live", lambda f: [h.ttl for h in _ipv4s(f)])
    add("ip.proto", U, "Protocol (6 TCP, 17 UDP, 1 ICMP, …)",
        lambda f: [h.protocol for h in _ipv4s(f)])
    add("ip.checksum", U, "Header checksum (as sent)", lambda f: [h.checksum for h in _ipv4s(f)], 4)
    ip_src, ip_dst, ip_addr = _addr_pair(_ipv4s, lambda h: _int_be(h.src), lambda h: _int_be(h.dst))
    add("ip.src", V4, "Source address", ip_src)
    add("ip.dst", V4, "Destination address", ip_dst)
    add("ip.addr", V4, "Source or destination address", ip_addr)

    # IPv6
    protocol("ipv6", "Internet Protocol version 6", IPv6)
    add("ipv6.version", U, "Version (6)", lambda f: [h.version for h in _ipv6s(f)])
    add("ipv6.tclass", U, "Traffic class", lambda f: [h.traffic_class for h in _ipv6s(f)], 8)
    add("ipv6.flow", U, "Flow label", lambda f: [h.flow_label for h in _ipv6s(f)], 6)
    add("ipv6.plen", U, "Payload length (bytes)", lambda f: [h.payload_len for h in _ipv6s(f)])
    add("ipv6.nxt", U, "Next header", lambda f: [h.next_header for h in _ipv6s(f)])
    add("ipv6.hlim", U, "Hop limit", lambda f: [h.hop_limit for h in _ipv6s(f)])
    v6_src, v6_dst, v6_addr = _addr_pair(_ipv6s, lambda h: _int_be(h.src), lambda h: _int_be(h.dst))
    add("ipv6.src", V6, "Source address", v6_src)
    add("ipv6.dst", V6, "Destination address", v6_dst)
    add("ipv6.addr", V6, "Source or destination address", v6_addr)

    # ICMP, ICMPv6
    protocol("icmp", "Internet Control Message Protocol", ICMP)
    add("icmp.type", U, "Type", _each(ICMP, lambda m: m.type))
    add("icmp.code", U, "Code", _each(ICMP, lambda m: m.code))
    add("icmp.checksum", U, "Checksum (as sent)", _each(ICMP, lambda m: m.checksum), 4)
    add("icmp.ident", U, "Echo identifier", _each(ICMP, _echo(lambda e: e.id)))
    add("icmp.seq", U, "Echo sequence number", _each(ICMP, _echo(lambda e: e.seq)))
    add("icmp.mtu", U, "Next-hop MTU (fragmentation needed)",
        _each(ICMP, lambda m: m.body.next_hop_mtu
              if isinstance(m.body, ICMPUnreachable) and m.code == 4 else None))
    protocol("icmpv6", "Internet Control Message Protocol v6", ICMPv6)
    add("icmpv6.type", U, "Type", _each(ICMPv6, lambda m: m.type))
    add("icmpv6.code", U, "Code", _each(ICMPv6, lambda m: m.code))
    add("icmpv6.checksum", U, "Checksum (as sent)", _each(ICMPv6, lambda m: m.checksum), 4)
    add("icmpv6.echo.identifier", U, "Echo identifier", _each(ICMPv6, _echo(lambda e: e.id)), 4)
    add("icmpv6.echo.sequence_number", U, "Echo sequence number",
        _each(ICMPv6, _echo(lambda e: e.seq)))
    add("icmpv6.mtu", U, "MTU (packet too big)",
        _each(ICMPv6, lambda m: m.body.mtu if isinstance(m.body, PacketTooBig) else None))
    add("icmpv6.nd.ns.target_address", V6, "Neighbor solicitation target",
        _each(ICMPv6, lambda m: _int_be(m.body.target)
              if isinstance(m.body, NeighborSolicitation) else None))
    add("icmpv6.nd.na.target_address", V6, "Neighbor advertisement target",
        _each(ICMPv6, lambda m: _int_be(m.body.target)
              if isinstance(m.body, NeighborAdvertisement) else None))

    # TCP
    add("tcp", P, "Transmission Control Protocol", _transport(TCP, 6),
        present=lambda f: _has(f, TCP) or bool(_quoted_ports(f, 6)))
    add("tcp.srcport", U, "Source port", _ports_field(TCP, 6, 0))
    add("tcp.dstport", U, "Destination port", _ports_field(TCP, 6, 1))
    add("tcp.port", U, "Source or destination port", _ports_field(TCP, 6, 2))
    add("tcp.stream", U, "Conversation index (needs the flow stage)", _stream("tcp"))
    add("tcp.seq", U, "Sequence number, relative to the first (raw without the flow stage)",
        _relative(lambda i, t: i.seq, lambda t: t.seq))
    add("tcp.seq_raw", U, "Sequence number as sent", _each(TCP, lambda t: t.seq))
    add("tcp.ack", U, "Acknowledgement number, relative (raw without the flow stage)",
        _relative(lambda i, t: i.ack if i.ack is not None else 0, lambda t: t.ack))
    add("tcp.ack_raw", U, "Acknowledgement number as sent", _each(TCP, lambda t: t.ack))
    add("tcp.nxtseq", U, "Next sequence number, relative (needs the flow stage)",
        lambda f: [] if _tcp_info(f) is None or _tcp_info(f).next_seq is None or not f.of(TCP)
        else [_tcp_info(f).next_seq])
    add("tcp.len", U, "Segment payload length (bytes)", _tcp_len)
    add("tcp.hdr_len", U, "Header length (bytes)", _each(TCP, lambda t: t.header_len))
    add("tcp.flags", U, "Flags (0x002 SYN, 0x010 ACK, …)", _each(TCP, lambda t: t.flags), 4)
    for bit, flag_name, desc in (
        (0x100, "ae", "Accurate ECN (was NS)"), (0x080, "cwr", "Congestion window reduced"),
        (0x040, "ece", "ECN-echo"), (0x020, "urg", "Urgent"), (0x010, "ack", "Acknowledgment"),
        (0x008, "push", "Push"), (0x004, "reset", "Reset"), (0x002, "syn", "Syn"),
        (0x001, "fin", "Fin"),
    ):
        add(f"tcp.flags.{flag_name}", B, desc, _flag_bit(bit))
    add("tcp.window_size_value", U, "Window as sent (unscaled)", _each(TCP, lambda t: t.window))
    add("tcp.time_delta", T, "Seconds since the previous frame of this TCP stream "
        "(needs the conversation stage)", _tcp_time(lambda i: i.time_delta_ns))
    add("tcp.time_relative", T, "Seconds since the first frame of this TCP stream "
        "(needs the conversation stage)", _tcp_time(lambda i: i.time_relative_ns))
    add("tcp.window_size", U, "Window in bytes: as sent, shifted by the scale the handshake "
        "agreed (as sent when the handshake was not captured)", _window_size)
    add("tcp.checksum", U, "Checksum (as sent)", _each(TCP, lambda t: t.checksum), 4)
    add("tcp.checksum.status", U, "Checksum verified: 1 good, 0 bad, 2 unverified (the "
        "segment not all captured); tshark says 2 unless run with -o tcp.check_checksum:TRUE",
        _checksum_status)
    add("tcp.flags.str", S, "Flags as tshark spells them: one letter per bit set "
        "(RRRACEUAPRSF), '·' for each bit clear", _each(TCP, lambda t: _flags_str(t.flags)))
    add("tcp.urgent_pointer", U, "Urgent pointer", _each(TCP, lambda t: t.urgent_pointer))
    add("tcp.options.mss_val", U, "MSS option value (bytes)",
        _tcp_option(lambda t: None if (o := t.option(MSS)) is None else o.value))
    add("tcp.options.wscale.shift", U, "Window scale option shift count",
        _tcp_option(lambda t: None if (o := t.option(WindowScale)) is None else o.shift))
    add("tcp.options.sack_perm", NONE, "SACK permitted option present",
        _tcp_option(lambda t: None if t.option(SACKPermitted) is None else True))
    add("tcp.options.timestamp.tsval", U, "Timestamp option value",
        _tcp_option(lambda t: None if (o := t.option(Timestamps)) is None else o.value))
    add("tcp.options.timestamp.tsecr", U, "Timestamp option echo reply",
        _tcp_option(lambda t: None if (o := t.option(Timestamps)) is None else o.echo_reply))
    add("tcp.payload", BY, "Segment payload bytes",
        lambda f: [p] if f.of(TCP) and (p := f.packet.payload_after(TCP)) else [])
    add("tcp.analysis.flags", NONE, "Any TCP analysis flag is set (needs the flow stage)",
        _any_analysis)
    from layerpeek.flows.analysis import FLAG_ORDER, REASONS, wireshark_field

    for flag in FLAG_ORDER:
        name = wireshark_field(flag)
        add(name, NONE, f"This segment {REASONS[flag]} (needs the flow stage)", _analysis(name))
    add("tcp.analysis.duplicate_ack_num", U, "Duplicate ACK count (needs the flow stage)",
        lambda f: [i.analysis.dupack_num] if (i := _tcp_info(f)) is not None
        and i.analysis is not None and i.analysis.dupack_num else [])
    add("tcp.analysis.duplicate_ack_frame", U, "Frame whose ACK this one repeats",
        lambda f: [i.analysis.dupack_frame] if (i := _tcp_info(f)) is not None
        and i.analysis is not None and i.analysis.dupack_frame else [])

    # UDP
    add("udp", P, "User Datagram Protocol", _transport(UDP, 17),
        present=lambda f: _has(f, UDP) or bool(_quoted_ports(f, 17)))
    add("udp.srcport", U, "Source port", _ports_field(UDP, 17, 0))
    add("udp.dstport", U, "Destination port", _ports_field(UDP, 17, 1))
    add("udp.port", U, "Source or destination port", _ports_field(UDP, 17, 2))
    add("udp.length", U, "Length, header included (bytes)", _each(UDP, lambda u: u.length))
    add("udp.checksum", U, "Checksum (as sent)", _each(UDP, lambda u: u.checksum), 4)
    add("udp.stream", U, "Conversation index (needs the flow stage)", _stream("udp"))
    add("udp.payload", BY, "Datagram payload bytes",
        lambda f: [p] if f.of(UDP) and (p := f.packet.payload_after(UDP)) else [])

    # DNS (also mDNS and LLMNR, which share the fields)
    for name, kind, description in (
        ("dns", "dns", "Domain Name System (not mDNS/LLMNR)"),
        ("mdns", "mdns", "Multicast DNS (udp/5353)"),
        ("llmnr", "llmnr", "Link-local multicast name resolution (udp/5355)"),
    ):
        add(name, P, description, _dns_protocol(kind), present=_dns_present(kind))
    add("dns.id", U, "Transaction ID", _each(DNS, lambda d: d.id), 4)
    add("dns.flags.response", B, "Message is a response", _each(DNS, lambda d: d.qr))
    add("dns.flags.opcode", U, "Opcode", _each(DNS, lambda d: d.opcode))
    add("dns.flags.authoritative", B, "Authoritative answer",
        _each(DNS, lambda d: d.aa if d.qr else None))
    add("dns.flags.truncated", B, "Truncated", _each(DNS, lambda d: d.tc))
    add("dns.flags.recdesired", B, "Recursion desired (not LLMNR)", _not_llmnr(lambda d: d.rd))
    add("dns.flags.recavail", B, "Recursion available",
        _each(DNS, lambda d: d.ra if d.qr else None))
    add("dns.flags.z", B, "Reserved (Z; not LLMNR)", _not_llmnr(lambda d: d.z))
    add("dns.flags.authenticated", B, "Answer authenticated (AD bit; in queries only when set)",
        _each(DNS, lambda d: d.ad if d.qr or d.ad else None))
    add("dns.flags.checkdisable", B, "Checking disabled (not LLMNR)", _not_llmnr(lambda d: d.cd))
    add("dns.flags.rcode", U, "Reply code (0 no error, 3 NXDOMAIN, …)",
        _each(DNS, lambda d: d.rcode if d.qr else None))
    add("dns.count.queries", U, "Questions", _each(DNS, lambda d: len(d.questions)))
    add("dns.count.answers", U, "Answer records", _each(DNS, lambda d: len(d.answers)))
    add("dns.count.auth_rr", U, "Authority records", _each(DNS, lambda d: len(d.authorities)))
    add("dns.count.add_rr", U, "Additional records", _each(DNS, lambda d: len(d.additionals)))
    add("dns.qry.name", S, "Question name (<Root> for the root)",
        _many(DNS, lambda d: [_name(q.name) for q in d.questions]))
    add("dns.qry.type", U, "Question type (1 A, 28 AAAA, …)",
        _many(DNS, lambda d: [q.type for q in d.questions]))
    add("dns.qry.class", U, "Question class (mDNS: without the unicast-response bit)",
        _question_class, 4)
    add("dns.resp.name", S, "Record name (any section; <Root> for the root)",
        _many(DNS, lambda d: [_name(r.name) for r in _records(d)]))
    add("dns.resp.type", U, "Record type (any section)",
        _many(DNS, lambda d: [r.type for r in _records(d)]))
    add("dns.resp.ttl", U, "Record time to live (seconds)",
        _many(DNS, lambda d: [r.ttl for r in _records(d) if r.type != 41]))
    add("dns.a", V4, "A record address", _rdata(1, _v4_text))
    add("dns.aaaa", V6, "AAAA record address", _rdata(28, _v6_text))
    add("dns.cname", S, "CNAME record target", _rdata(5))
    add("dns.ns", S, "NS record name server", _rdata(2))
    add("dns.ptr.domain_name", S, "PTR record domain name", _rdata(12))
    add("dns.mx.mail_exchange", S, "MX record mail exchange",
        _rdata(15, lambda v: v.exchange if isinstance(v, DNSMX) else None))

    # HTTP (the head in this segment)
    protocol("http", "Hypertext Transfer Protocol (a head in this segment)", HTTP)
    add("http.request", B, "The message is a request",
        _each(HTTP, lambda h: True if h.kind == "request" else None))
    add("http.response", B, "The message is a response",
        _each(HTTP, lambda h: True if h.kind == "response" else None))
    add("http.request.method", S, "Request method", _each(HTTP, lambda h: h.method))
    add("http.request.uri", S, "Request target as sent", _each(HTTP, lambda h: h.target))
    add("http.request.full_uri", S, "The request's URL: http:// Host and target (an "
        "absolute target as sent)", _each(HTTP, _full_uri))
    add("http.file_data", S, "Body bytes this segment carries (as sent: not dechunked "
        "or decompressed here), as text", _each(HTTP, lambda h: _body_text(h.body)))
    add("http.request.version", S, "Request HTTP version",
        _each(HTTP, lambda h: h.version if h.kind == "request" else None))
    add("http.response.version", S, "Response HTTP version",
        _each(HTTP, lambda h: h.version if h.kind == "response" else None))
    add("http.response.code", U, "Status code", _each(HTTP, lambda h: h.status))
    add("http.response.phrase", S, "Reason phrase", _each(HTTP, lambda h: h.reason))
    add("http.request.line", S, "A request header line (\"Name: value\\r\\n\")", _lines("request"))
    add("http.response.line", S, "A response header line", _lines("response"))
    add("http.content_length", U, "Content-Length as a number", _many(HTTP, _content_length))
    for name, header in (
        ("http.host", "Host"), ("http.user_agent", "User-Agent"), ("http.accept", "Accept"),
        ("http.accept_encoding", "Accept-Encoding"),
        ("http.accept_language", "Accept-Language"), ("http.referer", "Referer"),
        ("http.cookie", "Cookie"), ("http.connection", "Connection"),
        ("http.content_type", "Content-Type"), ("http.content_length_header", "Content-Length"),
        ("http.content_encoding", "Content-Encoding"),
        ("http.transfer_encoding", "Transfer-Encoding"), ("http.server", "Server"),
        ("http.location", "Location"), ("http.set_cookie", "Set-Cookie"),
        ("http.last_modified", "Last-Modified"), ("http.date", "Date"),
        ("http.cache_control", "Cache-Control"), ("http.authorization", "Authorization"),
    ):
        add(name, S, f"{header} header", _header(header))


    # TLS (the records beginning in this segment; see layerpeek.layers.tls)
    from layerpeek.tls import fingerprints as fp

    protocol("tls", "Transport Layer Security (records beginning in this segment)", TLS)
    add("tls.record.content_type", U, "Record content type (22 handshake, 23 application data)",
        _tls_records(lambda r: r.content_type))
    add("tls.record.version", U, "Record legacy version", _tls_records(lambda r: r.version), 4)
    add("tls.record.length", U, "Record fragment length", _tls_records(lambda r: r.length))
    add("tls.handshake.type", U, "Handshake message type (1 ClientHello, 2 ServerHello, …)",
        _tls_handshakes(lambda m: [m.handshake_type]))
    add("tls.handshake.length", U, "Handshake message body length",
        _tls_handshakes(lambda m: [m.length]))
    add("tls.handshake.version", U, "Hello legacy_version", _tls_hellos(lambda h: [h.version]), 4)
    add("tls.handshake.random", BY, "Hello random", _tls_hellos(lambda h: [h.random]))
    add("tls.handshake.session_id", BY, "Hello session id",
        _tls_hellos(lambda h: [h.session_id] if h.session_id else []))
    add("tls.handshake.ciphersuite", U, "Cipher suite offered (ClientHello) or chosen",
        _tls_hellos(lambda h: h.cipher_suites if isinstance(h, ClientHello)
                    else [h.cipher_suite]), 4)
    add("tls.handshake.extension.type", U, "Hello extension type",
        _tls_hellos(lambda h: [e.type for e in h.extensions]))
    add("tls.handshake.extensions_server_name", S, "Server name (SNI)",
        _tls_extension(TLSServerName, lambda e: e.names))
    add("tls.handshake.extensions_alpn_str", S, "ALPN protocol offered or chosen",
        _tls_extension(TLSALPN, lambda e: e.protocols))
    add("tls.handshake.extensions.supported_version", U, "supported_versions entry",
        _tls_extension(SupportedVersions, lambda e: e.versions), 4)
    add("tls.handshake.extensions_supported_group", U, "supported_groups entry",
        _tls_extension(SupportedGroups, lambda e: e.groups), 4)
    add("tls.handshake.sig_hash_alg", U, "Signature algorithm (signature_algorithms)",
        _tls_extension(SignatureAlgorithms, lambda e: e.schemes), 4)
    add("tls.handshake.certificate", BY, "A certificate of the chain (DER)",
        _tls_handshakes(lambda m: [c.der for c in m.certificates]
                        if isinstance(m, TLSCertificate) else []))
    add("tls.alert_message.level", U, "Alert level (1 warning, 2 fatal)",
        _tls_alerts(lambda a: a.level))
    add("tls.alert_message.desc", U, "Alert description", _tls_alerts(lambda a: a.description))
    add("tls.app_data_len", U, "Application data record length (layerpeek)",
        _tls_records(lambda r: r.length if r.content_type == 23 else None))
    add("tls.handshake.ja3", S, "JA3 hash of the ClientHello",
        _tls_fingerprint(True, fp.ja3, False))
    add("tls.handshake.ja3_full", S, "JA3 string", _tls_fingerprint(True, fp.ja3, True))
    add("tls.handshake.ja3s", S, "JA3S hash of the ServerHello",
        _tls_fingerprint(False, fp.ja3s, False))
    add("tls.handshake.ja3s_full", S, "JA3S string", _tls_fingerprint(False, fp.ja3s, True))
    add("tls.handshake.ja4", S, "JA4 fingerprint of the ClientHello",
        _tls_fingerprint(True, fp.ja4, False))
    add("tls.handshake.ja4_r", S, "JA4 raw (sorted) form", _tls_fingerprint(True, fp.ja4, True))
    add("tls.handshake.ja4s", S, "JA4S fingerprint of the ServerHello (layerpeek)",
        _tls_fingerprint(False, fp.ja4s, False))

    # QUIC (the packets of this datagram; see layerpeek.quic.packets)
    from layerpeek.quic import frames as qf

    protocol("quic", "QUIC IETF (the packets of this datagram)", QUIC)
    add("quic.header_form", U, "Header form (1 long, 0 short)",
        _quic(lambda p: int(p.long_header)))
    add("quic.long.packet_type", U, "Long header type bits as sent (v1: 0 Initial, 1 0-RTT, "
        "2 Handshake, 3 Retry)", _quic(lambda p: p.long_packet_type))
    add("quic.version", U, "Version (0 in Version Negotiation)", _quic(lambda p: p.version), 8)
    add("quic.supported_version", U, "A version offered by Version Negotiation",
        lambda f: [x for layer in f.of(QUIC) for p in layer.packets
                   for x in p.supported_versions], 8)
    add("quic.dcid", BY, "Destination Connection ID (short header: once its connection is known)",
        _quic(lambda p: p.dcid if p.dcid else None))
    add("quic.scid", BY, "Source Connection ID", _quic(lambda p: p.scid if p.scid else None))
    add("quic.dcil", U, "Destination Connection ID length (long header)",
        _quic(lambda p: len(p.dcid) if p.long_header and p.dcid is not None else None))
    add("quic.scil", U, "Source Connection ID length",
        _quic(lambda p: len(p.scid) if p.scid is not None else None))
    add("quic.token_length", U, "Initial token length",
        _quic(lambda p: len(p.token) if p.kind == "Initial" else None))
    add("quic.length", U, "Length field (packet number and payload)", _quic(lambda p: p.length))
    add("quic.packet_number", U, "Packet number (once header protection is removed)",
        _quic(lambda p: p.packet_number))
    add("quic.key_phase", B, "Key phase (short header, once unprotected)",
        _quic(lambda p: None if p.key_phase is None else bool(p.key_phase)))
    add("quic.retry_integrity_tag", BY, "Retry integrity tag",
        _quic(lambda p: p.retry_tag or None))
    add("quic.frame_type", U, "Frame type (decrypted packets)",
        lambda f: [fr.frame_type for layer in f.of(QUIC) for fr in layer.frames()
                   if fr.frame_type is not None])
    add("quic.ack.largest_acknowledged", U, "ACK: largest acknowledged",
        _quic_frames(qf.Ack, lambda a: a.largest))
    add("quic.ack.ack_range_count", U, "ACK: ranges after the first",
        _quic_frames(qf.Ack, lambda a: len(a.gaps)))
    add("quic.ack.first_ack_range", U, "ACK: first range",
        _quic_frames(qf.Ack, lambda a: a.first_range))
    add("quic.crypto.offset", U, "CRYPTO: offset", _quic_frames(qf.Crypto, lambda c: c.offset))
    add("quic.crypto.length", U, "CRYPTO: length", _quic_frames(qf.Crypto, lambda c: len(c.data)))
    add("quic.stream.stream_id", U, "STREAM: stream id",
        _quic_frames(qf.Stream, lambda s: s.stream_id))
    add("quic.stream.offset", U, "STREAM: offset (when the frame carries one)",
        _quic_frames(qf.Stream, lambda s: s.offset if s.frame_type & 0x04 else None))
    add("quic.stream.length", U, "STREAM: length", _quic_frames(qf.Stream, lambda s: len(s.data)))
    add("quic.stream.fin", B, "STREAM: FIN", _quic_frames(qf.Stream, lambda s: s.fin))
    add("quic.nci.connection_id", BY, "NEW_CONNECTION_ID: the connection id",
        _quic_frames(qf.NewConnectionId, lambda n: n.connection_id))
    add("quic.cc.error_code", U, "CONNECTION_CLOSE: transport error code",
        _quic_frames(qf.ConnectionClose, lambda c: None if c.application else c.error_code))
    add("quic.cc.error_code.app", U, "CONNECTION_CLOSE: application error code",
        _quic_frames(qf.ConnectionClose, lambda c: c.error_code if c.application else None))
    add("quic.cc.reason_phrase", S, "CONNECTION_CLOSE: reason",
        _quic_frames(qf.ConnectionClose, lambda c: c.reason))

    add("http3", P, "HTTP/3 (a QUIC packet that completed HTTP/3 frames; needs the QUIC stage "
        "and a key log)",
        lambda f: [p.http3_frames and b"" for layer in f.of(QUIC) for p in layer.packets
                   if p.http3_frames][:1],
        present=lambda f: any(p.http3_frames for layer in f.of(QUIC) for p in layer.packets))
    add("http3.frame_type", U, "HTTP/3 frame type completed by this packet (0 DATA, "
        "1 HEADERS, 4 SETTINGS, …; needs the QUIC stage and a key log)",
        lambda f: [t for layer in f.of(QUIC) for p in layer.packets for t in p.http3_frames])

    # HTTP/2 (the frames this segment completed, read from the reassembled stream)
    protocol("http2", "HyperText Transfer Protocol 2 (frames completed by this segment)", HTTP2)
    add("http2.magic", S, "The client connection preface",
        _each(HTTP2, lambda h: PREFACE.decode("latin-1") if h.magic else None))
    add("http2.length", U, "Frame payload length", _h2(lambda fr: fr.length))
    add("http2.type", U, "Frame type (0 DATA, 1 HEADERS, … 9 CONTINUATION)",
        _h2(lambda fr: fr.type))
    add("http2.flags", U, "Frame flags", _h2(lambda fr: fr.flags), 2)
    add("http2.streamid", U, "Stream identifier (0: the connection)",
        _h2(lambda fr: fr.stream_id))
    add("http2.flags.end_stream", B, "End Stream (DATA, HEADERS)",
        _h2_flag(FrameFlags.END_STREAM, (FrameType.DATA, FrameType.HEADERS)))
    add("http2.flags.eh", B, "End Headers (HEADERS, PUSH_PROMISE, CONTINUATION)",
        _h2_flag(FrameFlags.END_HEADERS,
                 (FrameType.HEADERS, FrameType.PUSH_PROMISE, FrameType.CONTINUATION)))
    add("http2.flags.padded", B, "Padded (DATA, HEADERS, PUSH_PROMISE)",
        _h2_flag(FrameFlags.PADDED, (FrameType.DATA, FrameType.HEADERS, FrameType.PUSH_PROMISE)))
    add("http2.flags.priority", B, "Priority (HEADERS)",
        _h2_flag(FrameFlags.PRIORITY, (FrameType.HEADERS,)))
    add("http2.flags.ack.settings", B, "ACK (SETTINGS)", _h2_flag(1, (FrameType.SETTINGS,)))
    add("http2.flags.ack.ping", B, "ACK (PING)", _h2_flag(1, (FrameType.PING,)))
    add("http2.pad_length", U, "Pad Length (PADDED frames)",
        _h2(lambda fr: getattr(fr, "pad_length", 0) if fr.flags & FrameFlags.PADDED
            and fr.type in (FrameType.DATA, FrameType.HEADERS, FrameType.PUSH_PROMISE)
            else None))
    add("http2.data.data", BY, "DATA payload (padding removed)",
        _h2(lambda fr: fr.data if isinstance(fr, DataFrame) else None))
    add("http2.header.name", S, "Header field name (decoded with the connection's HPACK state)",
        _h2_headers(lambda n, v: n))
    add("http2.header.value", S, "Header field value", _h2_headers(lambda n, v: v))
    add("http2.headers.method", S, ":method", _h2_pseudo(":method"))
    add("http2.headers.path", S, ":path", _h2_pseudo(":path"))
    add("http2.headers.authority", S, ":authority", _h2_pseudo(":authority"))
    add("http2.headers.scheme", S, ":scheme", _h2_pseudo(":scheme"))
    add("http2.headers.status", U, ":status", _h2_pseudo(":status", int))
    add("http2.rst_stream.error", U, "RST_STREAM error code",
        _h2(lambda fr: fr.error_code if isinstance(fr, RstStreamFrame) else None))
    add("http2.settings.id", U, "SETTINGS parameter identifier",
        _h2_settings(lambda st: st.id))
    add("http2.push_promise.promised_stream_id", U, "PUSH_PROMISE promised stream",
        _h2(lambda fr: fr.promised_stream_id if isinstance(fr, PushPromiseFrame) else None))
    add("http2.ping", BY, "PING opaque data",
        _h2(lambda fr: fr.opaque if isinstance(fr, PingFrame) else None))
    add("http2.goaway.last_stream_id", U, "GOAWAY last stream processed",
        _h2(lambda fr: fr.last_stream_id if isinstance(fr, GoAwayFrame) else None))
    add("http2.goaway.error", U, "GOAWAY error code",
        _h2(lambda fr: fr.error_code if isinstance(fr, GoAwayFrame) else None))
    add("http2.window_update.window_size_increment", U, "WINDOW_UPDATE increment",
        _h2(lambda fr: fr.increment if isinstance(fr, WindowUpdateFrame) else None))

    # bytes no decoder claimed
    protocol("data", "Bytes no decoder claimed", Payload)
    add("data.data", BY, "The undecoded bytes", _each(Payload, lambda d: d.data or None))
    add("data.len", U, "Length of the undecoded bytes", _each(Payload, lambda d: len(d.data)))

    # layerpeek aliases for names people guess
    by_name = {f.name: f for f in fields}
    for alias, target in (("tcp.flags.rst", "tcp.flags.reset"), ("tcp.flags.psh", "tcp.flags.push"),
                          ("tcp.flags.ns", "tcp.flags.ae"), ("ipv4", "ip")):
        t = by_name[target]
        fields.append(Field(alias, t.type, f"Alias of {target}: {t.description}", t.extract,
                             t.hex_digits, target, t.present))
    return fields


#: Every field, in listing order.
FIELD_LIST: tuple[Field, ...] = tuple(_build())
#: Field name → field.
FIELDS: dict[str, Field] = {f.name: f for f in FIELD_LIST}


# --------------------------------------------------------------------------- output


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def absolute_time(ts_ns: int) -> str:
    """``frame.time`` as tshark prints it: ``Nov 25, 2026 08:44:05.130493000 UTC``
    (local time, nanoseconds, the zone's abbreviation)."""
    import time as _time

    sec, ns = divmod(ts_ns, 1_000_000_000)
    try:
        t = _time.localtime(sec)
    except (OverflowError, OSError, ValueError):
        return f"{sec}.{ns:09d}"
    return (f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d}, {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ns:09d} {t.tm_zone}")


def format_value(field: Field, value: Any) -> str:
    """One value as tshark's ``-T fields`` prints it."""
    ftype = field.type
    if ftype is FieldType.UINT or ftype is FieldType.INT:
        if field.hex_digits:
            return f"0x{value:0{field.hex_digits}x}"
        return str(value)
    if ftype is FieldType.BOOL:
        return "1" if value else "0"
    if ftype is FieldType.IPV4:
        return str(ipaddress.IPv4Address(value))
    if ftype is FieldType.IPV6:
        return str(ipaddress.IPv6Address(value))
    if ftype is FieldType.ETHER:
        return ":".join(f"{b:02x}" for b in value)
    if ftype is FieldType.BYTES:
        return bytes(value).hex()
    if ftype is FieldType.TIME:
        sign = "-" if value < 0 else ""
        secs, ns = divmod(abs(value), 1_000_000_000)
        return f"{sign}{secs}.{ns:09d}"
    if ftype is FieldType.STRING:
        return str(value)
    if ftype is FieldType.NONE:
        return "1"  # tshark's text for a present label
    if ftype is FieldType.ABSTIME:
        return absolute_time(value)
    return field.name  # a protocol: its name (tshark prints its summary line)
