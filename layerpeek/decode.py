"""The decode driver: peel a frame layer by layer, iteratively.

Each step looks the hand-over ``(table, key, start, end)`` up in the
:class:`~layerpeek.registry.Registry`, runs that pure decoder, and appends the
layer and its span.  The loop is iterative and bounded by :data:`MAX_DEPTH` so
that IP-in-IP chains cannot recurse without end.  This is the *one* boundary
where a decoder's :class:`~layerpeek.errors.DecodeError` becomes a
:class:`~layerpeek.packet.Malformed` layer; any other exception is a bug in
layerpeek and propagates (the property tests keep that honest).

Speed: on CPython the cost of a frame is mostly calls, tuples and objects, not
arithmetic.  The generic loop pays, per layer, a decoder call, a hand-over
tuple, its unpacking and a table lookup: about as much again as decoding the
header.  So the commonest chain of all, Ethernet → IPv4/IPv6 (no options, no
extension headers) → TCP (no options, or Linux's NOP-NOP-timestamps) or UDP,
is decoded inline by :func:`decode_layers` itself *when the registry maps those
keys to the stock dissectors* (checked by identity, frame by frame, so a
registry of one's own is always obeyed).  The inline code builds exactly what
the decoders in :mod:`layerpeek.layers` build; anything unusual (options, a
fragment, a header that does not fit) hands over to the generic loop at the
layer where it stops, and that layer's own decoder has the last word.
``tests/test_fast_path.py`` checks the two agree on every frame of every
bundled and public capture, on one frame of each protocol path cut at every
offset, and on generated frames.  ``bench/README.md`` has the figures.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from layerpeek.errors import DecodeError
from layerpeek.layers import ethernet, ipv4, ipv6, tcp, udp
from layerpeek.layers.ethernet import Ethernet
from layerpeek.layers.ipv4 import IPv4, new_ipv4
from layerpeek.layers.ipv6 import IPv6, new_ipv6
from layerpeek.layers.links import UnknownLink
from layerpeek.layers.tcp import TCP, Timestamps, new_tcp, new_timestamps
from layerpeek.layers.udp import UDP, new_udp
from layerpeek.packet import Layer, Malformed, Packet, Payload, new_payload
from layerpeek.registry import DEPTHS, Dissector, Registry, default_registry

#: Deepest chain we follow; the rest is kept as one Malformed remainder.
MAX_DEPTH = 32

_DEFAULT: Registry | None = None
_TRANSPORT: Registry | None = None

# The stock dissectors the inline fast path stands in for, and their header layouts.
_ETHERNET = ethernet.DISSECTOR
_IPV4 = ipv4.DISSECTOR
_IPV6 = ipv6.DISSECTOR
_TCP = tcp.DISSECTOR
_UDP = udp.DISSECTOR
_eth_header = ethernet.HEADER.unpack_from
_ipv4_header = ipv4.HEADER.unpack_from
_ipv6_header = ipv6.HEADER.unpack_from
_tcp_header = tcp.HEADER.unpack_from
_tcp_u32x3 = tcp.NOP_NOP_TIMESTAMPS_AREA.unpack_from
_udp_header = udp.HEADER.unpack_from
_IPV6_EXTENSIONS = ipv6.EXTENSION_HEADERS
_NOP = tcp.NOP_OPTION
_NOP_NOP_TIMESTAMPS = tcp.NOP_NOP_TIMESTAMPS

#: Most entries an Ethernet header cache holds; when full it is emptied, so
#: memory stays flat whatever the capture.
CACHE_LIMIT = 1024

#: One reader's Ethernet headers, by their 14 bytes.  The headers of a link
#: repeat from frame to frame (a few MAC pairs and ethertypes), so the fast
#: path keeps one object per distinct header: a hit costs a slice and a dict
#: lookup instead of an unpack and a dataclass.  Sharing is safe because
#: :class:`~layerpeek.layers.ethernet.Ethernet` is frozen (built only on a
#: miss, so freezing costs nothing per packet), and each reader has a cache
#: of its own (:func:`decode_packets` makes one per call), so no two reads
#: share an object.  The same trick for IPv6 headers and for the TCP
#: timestamps option measured no gain (bench/README.md), so they are not cached.
EthernetCache = dict[bytes, Ethernet]


def _new_ethernet(seen: EthernetCache, head: bytes) -> Ethernet:
    """A cache miss: decode the 14 bytes ``head`` and remember them (emptying a full cache)."""
    if len(seen) >= CACHE_LIMIT:
        seen.clear()
    eth = seen[head] = Ethernet(*_eth_header(head, 0))
    return eth


def registry(upto: str = "application") -> Registry:
    """The shared default registry, built on first use (import stays cheap).

    ``upto="transport"`` gives the same wiring without the application
    dissectors (see :meth:`Registry.through_transport`).
    """
    global _DEFAULT, _TRANSPORT
    if _DEFAULT is None:
        _DEFAULT = default_registry()
    if upto == "application":
        return _DEFAULT
    if upto == "transport":
        if _TRANSPORT is None:
            _TRANSPORT = _DEFAULT.through_transport()
        return _TRANSPORT
    raise ValueError(f"upto must be one of {', '.join(DEPTHS)}, not {upto!r}")


def _resolve(
    reg: Registry, table: str, key: int | tuple[int, int], buf: bytes, start: int, end: int
) -> Dissector | None:
    entries = reg.tables[table]
    if isinstance(key, tuple):
        # Ports: the lower port first, then the higher.  Clients use ephemeral
        # (high) ports, so this finds the server's port in both directions.
        a, b = key
        lo, hi = (a, b) if a <= b else (b, a)
        found = entries.get(lo) or entries.get(hi)
    else:
        found = entries.get(key)
    if found is not None:
        return found
    for heuristic in reg.heuristics[table]:
        if heuristic.sniff is not None and heuristic.sniff(buf, start, end):
            return heuristic
    return None


def decode_layers(
    data: bytes,
    linktype: int,
    reg: Registry | None = None,
    ethernet_seen: EthernetCache | None = None,
) -> tuple[tuple[Layer, ...], tuple[tuple[int, int], ...]]:
    """Decode one frame into its layers (outermost first) and their byte spans.

    Never raises for packet-level damage: the chain then ends in a
    :class:`Malformed` layer that says which protocol stopped, why, and where.
    ``ethernet_seen`` is the caller's :data:`EthernetCache` (a reader passes
    its own); without one, nothing is shared with any other call.

    The inline prefix is the fast path described in the module docstring.
    It keeps its layers in locals and builds the result tuples at once (no
    list appends); where it stops, it leaves ``layers``, ``spans``,
    ``dissector``, ``start`` and ``end`` exactly as the generic loop would
    have them at that point, and the loop carries on from there.
    """
    if reg is None:
        reg = _DEFAULT if _DEFAULT is not None else registry()
    tables = reg.tables
    heuristics = reg.heuristics
    end = len(data)
    dissector = tables["linktype"].get(linktype)

    if dissector is _ETHERNET and end >= 34:
        head = data[:14]
        if ethernet_seen is None:
            eth = Ethernet(*_eth_header(head, 0))
        else:
            eth = ethernet_seen.get(head) or _new_ethernet(ethernet_seen, head)
        ethertype = eth.type if eth.type >= 0x0600 else ethernet.LENGTH  # 802.3: LLC follows
        network = tables["ethertype"].get(ethertype)
        ip: IPv4 | IPv6 | None = None
        if network is _IPV4:
            vihl, tos, total_len, ident, frag, ttl, proto, checksum, src, dst = _ipv4_header(
                data, 14
            )
            if vihl == 0x45 and total_len >= 20:
                ip = new_ipv4(4, 20, tos, total_len, ident, frag >> 13, (frag & 0x1FFF) << 3, ttl,
                              proto, checksum, src, dst, ())
                start = 34
                if 14 + total_len < end:
                    end = 14 + total_len  # Ethernet padding is not IP payload
                if frag & 0x3FFF:  # MF or an offset: a fragment is not decodable alone
                    proto = -1
        elif network is _IPV6 and end >= 54:
            first, payload_len, proto, hop_limit, src, dst = _ipv6_header(data, 14)
            if first >> 28 == 6 and proto not in _IPV6_EXTENSIONS:
                ip = new_ipv6(6, (first >> 20) & 0xFF, first & 0xFFFFF, payload_len, proto,
                              hop_limit, src, dst, ())
                start = 54
                if payload_len and 54 + payload_len < end:
                    end = 54 + payload_len
        if ip is None:
            layers: list[Layer] = [eth]
            spans: list[tuple[int, int]] = [(0, 14)]
            start = 14
            dissector = network
            if dissector is None and heuristics["ethertype"]:
                dissector = _resolve(reg, "ethertype", ethertype, data, start, end)
        elif start >= end:
            return (eth, ip), ((0, 14), (14, start))
        else:
            transport = tables["ip_proto"].get(proto)
            layer: TCP | UDP | None = None
            if transport is _TCP and end - start >= 20:
                sport, dport, seq, ack, off_flags, window, checksum, urgent = _tcp_header(
                    data, start
                )
                header_len = (off_flags >> 10) & 0x3C
                if header_len == 20:
                    layer = new_tcp(sport, dport, seq, ack, 20, off_flags & 0xFFF, window,
                                    checksum, urgent, (), end - start - 20)
                elif header_len == 32 and end - start >= 32:
                    nop_nop_ts, tsval, tsecr = _tcp_u32x3(data, start + 20)
                    if nop_nop_ts == _NOP_NOP_TIMESTAMPS:
                        options = (_NOP, _NOP, new_timestamps(tsval, tsecr))
                        layer = new_tcp(sport, dport, seq, ack, 32, off_flags & 0xFFF, window,
                                        checksum, urgent, options, end - start - 32)
                table = "tcp_port"
            elif transport is _UDP and end - start >= 8:
                sport, dport, length, checksum = _udp_header(data, start)
                if length >= 8:
                    layer = new_udp(sport, dport, length, checksum)
                    header_len = 8
                    if start + length < end:
                        end = start + length
                table = "udp_port"
            if layer is None:
                layers = [eth, ip]
                spans = [(0, 14), (14, start)]
                dissector = transport
                if dissector is None and heuristics["ip_proto"]:
                    dissector = _resolve(reg, "ip_proto", proto, data, start, end)
            else:
                ip_start = start
                start += header_len
                if start >= end:
                    return (eth, ip, layer), ((0, 14), (14, ip_start), (ip_start, end))
                entries = tables[table]
                dissector = None
                if entries:  # the lower port first, then the higher (see _resolve)
                    if dport < sport:
                        sport, dport = dport, sport
                    dissector = entries.get(sport) or entries.get(dport)
                if dissector is None and heuristics[table]:
                    dissector = _resolve(reg, table, (sport, dport), data, start, end)
                if dissector is None:
                    return (eth, ip, layer, new_payload(data[start:end])), (
                        (0, 14), (14, ip_start), (ip_start, start), (start, end)
                    )
                layers = [eth, ip, layer]
                spans = [(0, 14), (14, ip_start), (ip_start, start)]
    else:
        layers = []
        spans = []
        start = 0
        if dissector is None and heuristics["linktype"]:
            dissector = _resolve(reg, "linktype", linktype, data, start, end)
        if dissector is None:  # said so (a layer of no bytes), then the bytes as data
            layers.append(UnknownLink(linktype))
            spans.append((0, 0))

    return _decode_rest(data, layers, spans, dissector, start, end, reg)


def _decode_rest(
    data: bytes,
    layers: list[Layer],
    spans: list[tuple[int, int]],
    dissector: Dissector | None,
    start: int,
    end: int,
    reg: Registry,
) -> tuple[tuple[Layer, ...], tuple[tuple[int, int], ...]]:
    """The generic loop: ``dissector`` decodes ``data[start:end]`` (None: nobody claims it).

    ``layers`` and ``spans`` hold what the caller decoded before (appended to).
    """
    tables = reg.tables
    heuristics = reg.heuristics
    for _ in range(MAX_DEPTH - len(layers)):
        if dissector is None:
            if start < end:
                layers.append(new_payload(data[start:end]))
                spans.append((start, end))
            break
        try:
            layer_, after = dissector.decode(data, start, end)
        except DecodeError as e:
            offset = start if e.offset is None else e.offset
            layers.append(
                Malformed(dissector.protocol, e.reason, offset, e.truncated, data[start:end])
            )
            spans.append((start, end))
            break
        layers.append(layer_)
        if after.__class__ is not tuple:
            if after is None:
                spans.append((start, end))
            else:
                assert isinstance(after, Malformed)
                spans.append((start, after.offset))
                layers.append(after)
                spans.append((after.offset, end))
            break
        table_, key, nstart, end = after
        spans.append((start, nstart))
        start = nstart
        if start >= end and table_ != "linktype":
            break
        if key.__class__ is int:
            dissector = tables[table_].get(key)
        else:
            entries = tables[table_]
            dissector = None
            if entries:
                lo, hi = key  # type: ignore[misc]
                if hi < lo:
                    lo, hi = hi, lo
                dissector = entries.get(lo) or entries.get(hi)
        if dissector is None and heuristics[table_]:
            dissector = _resolve(reg, table_, key, data, start, end)
    else:
        layers.append(
            Malformed("decode", f"more than {MAX_DEPTH} layers", start, False, data[start:end])
        )
        spans.append((start, end))
    return tuple(layers), tuple(spans)


#: One capture record as :func:`decode_packets` takes it: the fields of
#: :class:`~layerpeek.capture.RawFrame`, in its order, as a plain tuple.
Record = tuple[int, int, bytes, int, int, "str | None"]

_new = object.__new__
# The IP header (without the version/IHL byte, and the protocol: both checked
# before), the TCP header, and the three words of Linux's NOP-NOP-timestamps.
_ipv4_tcp_timestamps = struct.Struct("!xBHHHBxH4s4s" "HHIIHHHH" "III").unpack_from
_ipv6_tcp_timestamps = struct.Struct("!IHxB16s16s" "HHIIHHHH" "III").unpack_from


def decode_packets(
    records: Iterable[Record], reg: Registry | None = None, first_index: int = 1
) -> Iterator[Packet]:
    """Decode capture records into :class:`Packet` objects numbered from ``first_index``.

    This is the loop behind :func:`layerpeek.read` and live capture, and the
    second tier of the fast path.  The commonest frame of web traffic from
    Linux hosts (Ethernet, IPv4 without options or IPv6 without extension
    headers, TCP with the NOP-NOP-timestamps option Linux puts on every
    segment) is decoded right here, in the loop, with constant offsets: no
    call to :func:`decode_layers`, no hand-over tuples, and one ``unpack``
    for the IP header, the TCP header and the option together.  Every other
    frame, or one whose registry entries are not the stock dissectors, goes
    to :func:`decode_layers`, whose own inline prefix handles the next most
    common shapes (TCP without options, UDP).

    The objects are built with ``object.__new__`` and one store per field
    rather than by calling the class.  On CPython 3.11 calling a dataclass
    goes through ``type.__call__`` and a C-to-Python ``__init__`` call, which
    costs about as much as the stores themselves, and a data segment has
    five such objects (IPv4, TCP, its Timestamps, the Payload, the Packet;
    ``bench/README.md``, step 5).  Everywhere else these classes are built by
    one function each, next to the class (``ipv4.new_ipv4``, ``tcp.new_tcp``,
    ``packet.new_payload``...); this loop inlines those functions' stores,
    because a call per object measured 0.2 µs a packet.
    ``tests/test_constructor_sites.py`` reads this source and fails if a block
    here misses a field of its class; ``tests/test_fast_path.py`` compares the
    loop with the layer decoders on every frame of every capture and on one
    frame of each protocol path cut at every offset.
    """
    if reg is None:
        reg = _DEFAULT if _DEFAULT is not None else registry()
    tables = reg.tables
    ethernet_links = {key for key, value in tables["linktype"].items() if value is _ETHERNET}
    # The registry is fixed for the whole loop: whether it maps IPv4, IPv6
    # and TCP to the stock dissectors is decided once, not per frame.
    ethertypes = tables["ethertype"]
    stock_ipv4 = ethertypes.get(0x0800) is _IPV4
    stock_ipv6 = ethertypes.get(0x86DD) is _IPV6
    stock_tcp = tables["ip_proto"].get(6) is _TCP
    tcp_ports = tables["tcp_port"]
    tcp_sniffers = reg.heuristics["tcp_port"]
    new = _new
    ethernet_seen: EthernetCache = {}  # this reader's (see EthernetCache)
    index = first_index - 1
    for ts_ns, wire_len, data, linktype, interface, interface_name in records:
        index += 1
        end = len(data)
        if end >= 66 and stock_tcp and linktype in ethernet_links:
            head = data[:14]
            eth = ethernet_seen.get(head) or _new_ethernet(ethernet_seen, head)
            ethertype = eth.type
            # Bytes are looked at before anything is unpacked (the IP version
            # and length, the protocol, the TCP data offset: 8 words is the
            # timestamps option), so another frame costs this path a few
            # subscripts.  Then one unpack reads the IP header, the TCP header
            # and the option.
            ip: IPv4 | IPv6
            start = 0
            if ethertype == 0x0800 and stock_ipv4:
                if data[14] == 0x45 and data[46] >> 4 == 8 and data[23] == 6:
                    (tos, total_len, ident, frag, ttl, ip_checksum, src, dst,
                     sport, dport, seq, ack, off_flags, window, checksum, urgent,
                     nop_nop_ts, tsval, tsecr) = _ipv4_tcp_timestamps(data, 14)  # fmt: skip
                    if total_len >= 52 and not frag & 0x3FFF and nop_nop_ts == _NOP_NOP_TIMESTAMPS:
                        ip = new(IPv4)
                        ip.version = 4
                        ip.header_len = 20
                        ip.tos = tos
                        ip.total_len = total_len
                        ip.id = ident
                        ip.flags = frag >> 13
                        ip.fragment_offset = 0
                        ip.ttl = ttl
                        ip.protocol = 6
                        ip.checksum = ip_checksum
                        ip.src = src
                        ip.dst = dst
                        ip.options = ()
                        start = 34
                        if total_len < end - 14:
                            end = 14 + total_len  # Ethernet padding is not IP payload
            elif (
                ethertype == 0x86DD
                and stock_ipv6
                and end >= 86
                and data[14] >> 4 == 6
                and data[66] >> 4 == 8
                and data[20] == 6
            ):
                (first, payload_len, hop_limit, src, dst,
                 sport, dport, seq, ack, off_flags, window, checksum, urgent,
                 nop_nop_ts, tsval, tsecr) = _ipv6_tcp_timestamps(data, 14)  # fmt: skip
                if payload_len and payload_len < end - 54:
                    end = 54 + payload_len
                if end >= 86 and nop_nop_ts == _NOP_NOP_TIMESTAMPS:
                    ip = new(IPv6)
                    ip.version = 6
                    ip.traffic_class = (first >> 20) & 0xFF
                    ip.flow_label = first & 0xFFFFF
                    ip.payload_len = payload_len
                    ip.next_header = 6
                    ip.hop_limit = hop_limit
                    ip.src = src
                    ip.dst = dst
                    ip.extensions = ()
                    start = 54
            if start:
                timestamps = new(Timestamps)
                timestamps.kind = 8
                timestamps.value = tsval
                timestamps.echo_reply = tsecr
                tcp = new(TCP)
                tcp.src_port = sport
                tcp.dst_port = dport
                tcp.seq = seq
                tcp.ack = ack
                tcp.header_len = 32
                tcp.flags = off_flags & 0xFFF
                tcp.window = window
                tcp.checksum = checksum
                tcp.urgent_pointer = urgent
                tcp.options = (_NOP, _NOP, timestamps)
                header_end = start + 32
                tcp.payload_len = end - header_end
                if header_end == end:
                    layers: tuple[Layer, ...] = (eth, ip, tcp)
                    spans: tuple[tuple[int, int], ...] = ((0, 14), (14, start), (start, end))
                else:
                    dissector = None
                    if tcp_ports or tcp_sniffers:
                        if tcp_ports:  # the lower port first, then the higher (see _resolve)
                            if dport < sport:
                                sport, dport = dport, sport
                            dissector = tcp_ports.get(sport) or tcp_ports.get(dport)
                        if dissector is None and tcp_sniffers:
                            dissector = _resolve(
                                reg, "tcp_port", (sport, dport), data, header_end, end
                            )
                    if dissector is None:
                        payload = new(Payload)
                        payload.data = data[header_end:end]
                        layers = (eth, ip, tcp, payload)
                        spans = ((0, 14), (14, start), (start, header_end), (header_end, end))
                    else:
                        layers, spans = _decode_rest(
                            data,
                            [eth, ip, tcp],
                            [(0, 14), (14, start), (start, header_end)],
                            dissector,
                            header_end,
                            end,
                            reg,
                        )
                packet = new(Packet)
                packet.index = index
                packet.ts_ns = ts_ns
                packet.wire_len = wire_len
                packet.linktype = linktype
                packet.data = data
                packet.layers = layers
                packet.spans = spans
                packet.interface = interface
                packet.interface_name = interface_name
                packet.comment = None
                yield packet
                continue
        layers, spans = decode_layers(data, linktype, reg, ethernet_seen)
        yield Packet(
            index, ts_ns, wire_len, linktype, data, layers, spans, interface, interface_name
        )
