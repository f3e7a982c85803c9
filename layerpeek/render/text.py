"""Packets as text: ``dump``'s one-line view and the nested layer tree.

One line per packet (:func:`packet_line`)::

    #12 0.003141 eth:ipv4:tcp:http 127.0.0.1:51234 → 127.0.0.1:8080 GET /d03.json

index, time since the first packet, the protocol path, the innermost
endpoints, and the key facts: the ``summary()`` of the innermost layer that
has something to say.  When decoding stopped early the :class:`Malformed`
marker's summary (``[Truncated tcp: …]``) closes the line, the way Wireshark
shows ``[Malformed Packet]`` in its Info column.

The tree (:func:`packet_tree`, ``dump -V`` and ``_repr_pretty_``) is the
explainer's nested diagram in text: each layer is drawn *inside* the one that
carries it, one indent deeper, with every field on its own line.  Code fields
keep their raw value and get the name next to it (``protocol: 6 (TCP)``,
``flags: 0x012 (SYN, ACK)``) when the layer module offers an
``IntEnum``/``IntFlag`` for them; the field → enum table is :data:`FIELD_STYLES`.

Both walk layers generically (dataclass fields, ``summary()``), so a new layer
module is rendered without changes here; the tables only add names.

Text taken from packets (HTTP targets, DNS names) can hold control bytes.  They
are shown as ``\\xNN`` escapes so a capture cannot drive the terminal.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from layerpeek.layers.ethernet import Ethernet
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.tcp import SACK, TCP
from layerpeek.layers.udp import UDP
from layerpeek.packet import Layer, Malformed, Packet, Payload
from layerpeek.render.flows import flow_labels, flow_tree_lines, window_text
from layerpeek.termsafe import terminal_safe
from layerpeek.wire import ip_str, mac_str

if TYPE_CHECKING:
    from layerpeek.flows.tcp_state import TCPState
    from layerpeek.flows.tracker import PacketFlowInfo

# --------------------------------------------------------------------------- names

#: Human titles for the tree, by ``Layer.name`` (the JSON layer id).  A layer
#: class may also carry its own ``title`` class attribute; unknown layers fall
#: back to their class name.
TITLES: dict[str, str] = {
    "ethernet": "Ethernet II",
    "vlan": "802.1Q Virtual LAN",
    "gre": "Generic Routing Encapsulation",
    "vxlan": "Virtual eXtensible Local Area Network",
    "geneve": "Generic Network Virtualization Encapsulation",
    "mpls": "MultiProtocol Label Switching",
    "llc": "Logical-Link Control",
    "ppp": "Point-to-Point Protocol",
    "chdlc": "Cisco HDLC",
    "pppoe": "PPP-over-Ethernet",
    "gtp": "GPRS Tunneling Protocol",
    "teredo": "Teredo IPv6 over UDP tunneling",
    "ayiya": "Anything in Anything Protocol",
    "erspan": "Encapsulated Remote Switch Packet ANalysis",
    "nflog": "Linux Netfilter NFLOG",
    "ipnet": "Solaris IPNET",
    "ipoib": "IP over Infiniband",
    "fddi": "Fiber Distributed Data Interface",
    "fr": "Frame Relay",
    "pktap": "PKTAP packet metadata",
    "unknown_link": "Link type not decoded",
    "radiotap": "Radiotap Header",
    "wlan": "IEEE 802.11 wireless LAN",
    "sll": "Linux cooked capture v1",
    "sll2": "Linux cooked capture v2",
    "null": "Null/Loopback",
    "arp": "Address Resolution Protocol",
    "ipv4": "Internet Protocol v4",
    "ipv6": "Internet Protocol v6",
    "icmp": "Internet Control Message Protocol",
    "icmpv6": "Internet Control Message Protocol v6",
    "tcp": "Transmission Control Protocol",
    "udp": "User Datagram Protocol",
    "dns": "Domain Name System",
    "http": "Hypertext Transfer Protocol",
    "http2": "HyperText Transfer Protocol 2",
    "data": "Data",
    "malformed": "Malformed Packet",
}

#: pcap LINKTYPE_* names for the frame line of the tree.
LINK_TYPES: dict[int, str] = {
    0: "NULL",
    1: "ETHERNET",
    12: "RAW",
    14: "RAW",
    101: "RAW",
    108: "LOOP",
    113: "LINUX_SLL",
    228: "IPV4",
    229: "IPV6",
    276: "LINUX_SLL2",
}


def layer_title(layer: Layer) -> str:
    """``"Transmission Control Protocol"`` for a TCP layer; ``Truncated`` for a cut one."""
    if isinstance(layer, Malformed):
        return "Truncated Packet" if layer.truncated else "Malformed Packet"
    own = getattr(type(layer), "title", None)
    if isinstance(own, str):
        return own
    return TITLES.get(layer.name, type(layer).__name__)


def malformed_summary(layer: Malformed) -> str:
    """``[Truncated tcp: need 20 bytes, have 7 @34]``: why decoding stopped, and where."""
    kind = "Truncated" if layer.truncated else "Malformed"
    reason = layer.reason
    if reason.startswith(layer.protocol + ": "):  # reasons often name the protocol already
        reason = reason[len(layer.protocol) + 2 :]
    return f"[{kind} {layer.protocol}: {reason} @{layer.offset}]"


def layer_summary(layer: Layer) -> str:
    """A layer's key facts for a one-line listing.

    The protocol layers say it themselves (``summary()`` lives with each
    decoder, which knows its fields); the two layers of the packet model, the
    undecoded bytes and the Malformed marker, are said here.
    """
    cls = type(layer)
    if cls is Malformed:
        assert isinstance(layer, Malformed)
        return malformed_summary(layer)
    if cls is Payload:
        assert isinstance(layer, Payload)
        return f"{len(layer.data)} bytes"
    return layer.summary()


# --------------------------------------------------------------------------- escaping

# C0 and C1 controls, DEL, bidi and other format characters → ``\xNN`` /
# ``\uNNNN`` (layerpeek.termsafe); "→" and latin-1 letters print as they are.


def _clean(text: str) -> str:
    """Escape control and bidi characters (:func:`layerpeek.termsafe.terminal_safe`)."""
    return text if text.isprintable() else terminal_safe(text)


# --------------------------------------------------------------------------- colour

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_CYAN = "\x1b[36m"
_RED = "\x1b[31m"
_DIM = "\x1b[2m"
_YELLOW = "\x1b[33m"


def paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


# --------------------------------------------------------------------------- one line


def relative_time(ts_ns: int, t0_ns: int) -> str:
    """Seconds since ``t0_ns`` with 6 decimals, from integers (no float rounding).

    Microseconds are truncated, as tcpdump prints them; a frame older than the
    first one (merged multi-interface files) gets a minus sign.
    """
    d = ts_ns - t0_ns
    if d < 0:
        s, ns = divmod(-d, 1_000_000_000)
        return f"-{s}.{ns // 1000:06d}"
    s, ns = divmod(d, 1_000_000_000)
    return f"{s}.{ns // 1000:06d}"


#: Layer class → its role for the endpoints column.  Looked up by exact type
#: (one dict probe per layer) because this runs for every packet listed.
_NET, _PORTS, _LINK = 1, 2, 3
_ROLES: dict[type, int] = {IPv4: _NET, IPv6: _NET, TCP: _PORTS, UDP: _PORTS, Ethernet: _LINK}

#: Raw address → text.  A capture repeats a handful of addresses, and a dict
#: probe is several times cheaper than ``inet_ntop``; cleared when it grows
#: so a scan over many addresses cannot exhaust memory.
_ADDRESS_TEXT: dict[bytes, str] = {}
_ADDRESS_CACHE_MAX = 4096
#: (source, destination, source port, destination port, IP class) → ``dump``'s
#: endpoints text, cleared the same way.
_ENDPOINTS_TEXT: dict[tuple[bytes, bytes, int, int, type], str] = {}


def _address(raw: bytes) -> str:
    text = _ADDRESS_TEXT.get(raw)
    if text is None:
        if len(_ADDRESS_TEXT) >= _ADDRESS_CACHE_MAX:
            _ADDRESS_TEXT.clear()
        text = _ADDRESS_TEXT[raw] = ip_str(raw) if len(raw) in (4, 16) else mac_str(raw)
    return text


def _endpoints(layers: tuple[Layer, ...]) -> tuple[str, int]:
    net: Layer | None = None
    net_i = -1
    ports: Layer | None = None
    link: Layer | None = None
    link_i = -1
    roles = _ROLES
    for i, layer in enumerate(layers):
        role = roles.get(type(layer))
        if role is None:
            continue
        if role == _PORTS:
            if net is not None:
                ports = layer
        elif role == _NET:
            net, net_i, ports = layer, i, None
        elif link is None:
            link, link_i = layer, i
    if isinstance(net, (IPv4, IPv6)):
        if isinstance(ports, (TCP, UDP)):
            # One text per conversation direction: every packet of a
            # connection repeats it.
            key = (net.src, net.dst, ports.src_port, ports.dst_port, type(net))
            text = _ENDPOINTS_TEXT.get(key)
            if text is None:
                if len(_ENDPOINTS_TEXT) >= _ADDRESS_CACHE_MAX:
                    _ENDPOINTS_TEXT.clear()
                src, dst = _address(net.src), _address(net.dst)
                if isinstance(net, IPv6):
                    text = f"[{src}]:{ports.src_port} → [{dst}]:{ports.dst_port}"
                else:
                    text = f"{src}:{ports.src_port} → {dst}:{ports.dst_port}"
                _ENDPOINTS_TEXT[key] = text
            return text, net_i
        return f"{_address(net.src)} → {_address(net.dst)}", net_i
    if isinstance(link, Ethernet):
        return f"{_address(link.src)} → {_address(link.dst)}", link_i
    return "", -1


def endpoints(packet: Packet) -> tuple[str, int]:
    """The innermost network endpoints, and the index of the layer they came from.

    ``10.0.0.1:40000 → 10.0.0.2:80`` from the innermost IP layer and the
    transport layer it carries; IPv6 addresses are bracketed when a port
    follows (``[::1]:80``).  Frames without IP (ARP, unknown ethertypes) show
    the Ethernet MACs.  The index lets the caller avoid repeating a layer whose
    summary already shows the same addresses.  Returns ``("", -1)`` when
    nothing fits.
    """
    return _endpoints(packet.layers)


def _key_facts(layers: tuple[Layer, ...]) -> tuple[str, int]:
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        cls = type(layer)
        if cls is Payload or cls is Malformed:
            continue
        text = layer.summary()
        if text:
            return text, i
    if layers and type(layers[0]) is Payload:  # nothing decoded at all: say how much there is
        return layer_summary(layers[0]), 0
    return "", -1


def key_facts(packet: Packet) -> tuple[str, int]:
    """The summary of the innermost layer that has one, and that layer's index.

    Payload (undecoded bytes) and the Malformed marker are skipped here: the
    marker is appended separately, and a TCP segment carrying unknown bytes is
    best described by the TCP summary (flags, seq, len).
    """
    return _key_facts(packet.layers)


def _relative_tcp(summary: str, tcp: TCP, flow: PacketFlowInfo) -> str:
    """The TCP summary with the relative numbers in place of the raw ones.

    ``TCP.summary()`` always starts ``[flags] seq=RAW`` (then `` ack=RAW`` when
    ACK is set), so the numbers are swapped by position, not searched for.
    SACK block edges count the same bytes as the acknowledgement number, so
    they are shown relative to the same base (as Wireshark's SLE/SRE are);
    otherwise ``ack=10137 sack=3429496612-3429498060`` would mix two scales.
    """
    head = f"[{tcp.flag_str}] seq={tcp.seq}"
    if not summary.startswith(head) or flow.seq is None:
        return summary
    rest = summary[len(head):]
    ack_raw = f" ack={tcp.ack}"
    if flow.ack is not None and rest.startswith(ack_raw):
        rest = f" ack={flow.ack}{rest[len(ack_raw):]}"
        sack = tcp.option(SACK)
        if sack is not None and sack.blocks:
            base = (tcp.ack - flow.ack) & 0xFFFF_FFFF  # the peer's ISN: relative 0

            def edges(shift: int) -> str:
                return ",".join(
                    f"{(a - shift) & 0xFFFF_FFFF}-{(b - shift) & 0xFFFF_FFFF}"
                    for a, b in sack.blocks
                )

            rest = rest.replace(f" sack={edges(0)}", f" sack={edges(base)}", 1)
    return f"[{tcp.flag_str}] seq={flow.seq}{rest}"


def _numbered(packet: Packet, i: int, flow: PacketFlowInfo | None) -> bool:
    """``packet.layers[i]`` is the segment the conversation stage numbered."""
    if flow is None or flow.proto != "tcp" or flow.seq is None:
        return False
    layers = packet.layers
    # The innermost TCP layer: an outer one of a tunnel is not the flow's.
    return type(layers[i]) is TCP and not any(type(x) is TCP for x in layers[i + 1 :])


def numbered_summary(packet: Packet, i: int, flow: PacketFlowInfo | None) -> str:
    """:func:`layer_summary` of ``packet.layers[i]``, with relative TCP numbers on the
    segment the conversation stage numbered (see :func:`numbered_layer_lines`)."""
    layer = packet.layers[i]
    summary = layer_summary(layer)
    if _numbered(packet, i, flow):
        assert isinstance(layer, TCP) and flow is not None
        return _relative_tcp(summary, layer, flow)
    return summary


def numbered_layer_lines(
    packet: Packet, i: int, flow: PacketFlowInfo | None, indent: str = "", color: bool = False
) -> list[str]:
    """:func:`layer_lines` of ``packet.layers[i]``, with the conversation's numbering on
    the segment it numbered (the innermost TCP layer): the title line shows the
    relative numbers, as the one-line listing does, and the ``seq``/``ack``
    fields, which are the raw ones on the wire, say so and give the relative
    number beside them.  One convention in every view: relative by default,
    raw labelled.
    """
    layer = packet.layers[i]
    lines = layer_lines(layer, indent, color)
    if not _numbered(packet, i, flow):
        return lines
    assert isinstance(layer, TCP) and flow is not None and flow.seq is not None
    summary = _clean(layer_summary(layer))
    if summary:
        lines[0] = lines[0].replace(summary, _relative_tcp(summary, layer, flow), 1)
    labels = {f"seq: {layer.seq}": f" (raw; relative {flow.seq})"}
    if flow.ack is not None:
        labels[f"ack: {layer.ack}"] = f" (raw; relative {flow.ack})"
    inner = indent + "  "
    for n, line in enumerate(lines[1:], 1):
        for raw, note in labels.items():
            if line == f"{inner}{raw}":
                lines[n] = line + note
    return lines


def _scaled_window(summary: str, tcp: TCP, shift: int) -> str:
    """``win=64`` → ``win=65536 (raw 64)``: the window in bytes, as the handshake's
    scale makes it (Wireshark's ``tcp.window_size``), with the field as sent."""
    raw = f" win={tcp.window} "
    return summary.replace(raw, f" win={tcp.window << shift} (raw {tcp.window}) ", 1)


#: (client state, server state) → ``"ESTABLISHED/CLOSE_WAIT"``: a few dozen pairs at most.
_STATES_TEXT: dict[tuple[TCPState, TCPState], str] = {}


def flow_suffix(flow: PacketFlowInfo) -> str:
    """What the conversation stage adds to a line: stream, states, analysis.

    ``[stream 3: ESTABLISHED/CLOSE_WAIT] [TCP Retransmission]`` — the client's
    and the server's state after this packet, then Wireshark's Info labels.
    """
    parts: list[str] = []
    if flow.proto == "tcp":
        client, server = flow.client_state, flow.server_state
        if client is not None and server is not None:
            states = _STATES_TEXT.get((client, server))
            if states is None:  # an enum's .value is a property: slow on every line
                states = _STATES_TEXT[(client, server)] = f"{client.value}/{server.value}"
            parts.append(f"[stream {flow.stream}: {states}]")
        else:
            parts.append(f"[stream {flow.stream}]")
    elif flow.proto == "udp":
        parts.append(f"[stream {flow.stream}]")
    parts.extend(flow_labels(flow))
    return " ".join(parts)


def packet_line(
    packet: Packet,
    t0_ns: int,
    color: bool = False,
    flow: PacketFlowInfo | None = None,
    relative: bool = True,
) -> str:
    """``dump``'s one-line view of a packet (no trailing newline).

    ``t0_ns`` is the first packet's timestamp: the time column is relative to
    it.  ``color`` adds ANSI colours (the caller decides: TTY and no NO_COLOR).
    ``flow`` is what the conversation stage knows about the packet (stream,
    states, analysis flags); with it, TCP sequence numbers are shown relative
    to the ISN as Wireshark does, unless ``relative`` is False.
    This is the hot path of ``layerpeek dump``: a few f-strings, one pass for
    the endpoints, one ``summary()`` call.
    """
    layers = packet.layers
    ends, ends_i = _endpoints(layers)
    facts, facts_i = _key_facts(layers)
    if flow is not None and flow.proto == "tcp" and facts_i >= 0:
        layer = layers[facts_i]
        if type(layer) is TCP:
            if relative:
                facts = _relative_tcp(facts, layer, flow)
            if flow.window_shift:
                facts = _scaled_window(facts, layer, flow.window_shift)
    protocols = ":".join([layer.short for layer in layers]) or "-"  # "-": an empty frame
    if color:
        protocols = f"{_CYAN}{protocols}{_RESET}"
    d = packet.ts_ns - t0_ns
    if d >= 0:
        line = f"#{packet.index} {d // 1_000_000_000}.{d // 1000 % 1_000_000:06d} {protocols}"
    else:
        line = f"#{packet.index} {relative_time(packet.ts_ns, t0_ns)} {protocols}"
    if ends and not (facts_i == ends_i and ends in facts):
        # (skipped when the same layer's summary already shows them, e.g. an
        # Ethernet-only frame whose summary is "src → dst TYPE")
        line = f"{line} {ends}"
    if facts:
        line = f"{line} {facts if facts.isprintable() else terminal_safe(facts)}"
    if flow is not None:
        extra = flow_suffix(flow)
        if extra:
            line = f"{line} {_YELLOW}{extra}{_RESET}" if color and flow.flags else f"{line} {extra}"
    if layers and type(layers[-1]) is Malformed:
        text = _clean(layer_summary(layers[-1]))
        line = f"{line} {_RED}{text}{_RESET}" if color else f"{line} {text}"
    if packet.comment is not None:  # a pcapng packet comment, as Wireshark lists it
        line = f"{line} [comment: {_clean(packet.comment)}]"
    return line


# --------------------------------------------------------------------------- field styles


@dataclasses.dataclass(frozen=True, slots=True)
class FieldStyle:
    """How the tree shows one integer field.

    ``kind``: ``"enum"`` → ``6 (TCP)``; ``"flags"`` → ``0x012 (SYN, ACK)``;
    ``"hex"`` → ``0x0800`` (with the enum name too when ``enum`` is given).
    ``enum`` names the class as ``"module:Class"``; it is imported on first
    use.  A missing enum degrades to the raw number rather than break
    ``dump -V``; ``tests/test_render.py`` checks that every one resolves.
    """

    kind: str
    enum: str | None = None
    width: int = 2  #: hex digits


_L = "layerpeek.layers."
_ETHERTYPE = _L + "ethernet:EtherType"
_IPPROTO = _L + "ipv4:IPProto"
_TLS = "layerpeek.tls.names:"

#: (owner, field name) → style.  The owner is ``"<module>.<Class>"`` with the
#: module's last name (``"ipv4.IPv4"``, ``"tcp.MSS"``), or ``"<module>.*"`` for
#: every class of a module (IPv4 options all carry an IPv4OptionKind ``kind``).
#: Keyed by class, not layer, so nested records (options, extension headers,
#: DNS records, quoted ICMP headers) get names too.
FIELD_STYLES: dict[tuple[str, str], FieldStyle] = {
    ("ethernet.Ethernet", "type"): FieldStyle("hex", _ETHERTYPE, 4),
    ("vlan.VLAN", "type"): FieldStyle("hex", _ETHERTYPE, 4),
    ("vlan.VLAN", "tpid"): FieldStyle("hex", _ETHERTYPE, 4),
    ("linux_sll.*", "protocol"): FieldStyle("hex", _ETHERTYPE, 4),
    ("gre.GRE", "protocol"): FieldStyle("hex", _L + "gre:GREProtocol", 4),
    ("gre.GRE", "flags"): FieldStyle("flags", _L + "gre:GREFlags", 4),
    ("gre.GRE", "key"): FieldStyle("hex", None, 8),
    ("geneve.Geneve", "protocol"): FieldStyle("hex", _L + "gre:GREProtocol", 4),
    ("vxlan.VXLAN", "flags"): FieldStyle("hex"),
    ("ppp.PPP", "protocol"): FieldStyle("hex", _L + "ppp:PPPProtocol", 4),
    ("ppp.CiscoHDLC", "protocol"): FieldStyle("hex", _ETHERTYPE, 4),
    ("pppoe.PPPoE", "code"): FieldStyle("hex", _L + "pppoe:PPPoECode"),
    ("pppoe.PPPoE", "session_id"): FieldStyle("hex", None, 4),
    ("llc.LLC", "dsap"): FieldStyle("hex"),
    ("llc.LLC", "ssap"): FieldStyle("hex"),
    ("llc.LLC", "pid"): FieldStyle("hex", _ETHERTYPE, 4),
    ("gtp.GTP", "teid"): FieldStyle("hex", None, 8),
    ("ayiya.AYIYA", "next_header"): FieldStyle("enum", _IPPROTO),
    ("nflog.NFLOGTLV", "type"): FieldStyle("enum", _L + "nflog:NFLOGType"),
    ("links.IPoIB", "type"): FieldStyle("hex", _ETHERTYPE, 4),
    ("wlan.WLAN", "flags"): FieldStyle("hex"),
    ("wlan.Radiotap", "flags"): FieldStyle("hex"),
    ("vxlan.VXLAN", "next_protocol"): FieldStyle("enum", _L + "vxlan:NextProtocol"),
    ("linux_sll.*", "packet_type"): FieldStyle("enum", _L + "linux_sll:PacketType"),
    ("linux_sll.*", "arphrd_type"): FieldStyle("enum", _L + "linux_sll:ARPHRD"),
    ("null.Null", "family"): FieldStyle("enum", _L + "null:AddressFamily"),
    ("arp.ARP", "hardware_type"): FieldStyle("enum", _L + "arp:HardwareType"),
    ("arp.ARP", "protocol_type"): FieldStyle("hex", _ETHERTYPE, 4),
    ("arp.ARP", "opcode"): FieldStyle("enum", _L + "arp:Opcode"),
    ("ipv4.IPv4", "tos"): FieldStyle("hex"),
    ("ipv4.IPv4", "flags"): FieldStyle("flags", _L + "ipv4:IPv4Flags", 2),
    ("ipv4.IPv4", "id"): FieldStyle("hex", None, 4),
    ("ipv4.IPv4", "protocol"): FieldStyle("enum", _IPPROTO),
    ("ipv4.*", "kind"): FieldStyle("enum", _L + "ipv4:IPv4OptionKind"),
    ("ipv6.IPv6", "traffic_class"): FieldStyle("hex"),
    ("ipv6.IPv6", "flow_label"): FieldStyle("hex", None, 5),
    ("ipv6.*", "next_header"): FieldStyle("enum", _IPPROTO),
    ("ipv6.*", "kind"): FieldStyle("enum", _IPPROTO),  # extension headers are IP protocols
    ("ipv6.Fragment", "id"): FieldStyle("hex", None, 8),
    ("icmp.ICMP", "type"): FieldStyle("enum", _L + "icmp:ICMPType"),
    ("icmpv6.ICMPv6", "type"): FieldStyle("enum", _L + "icmpv6:ICMPv6Type"),
    ("icmpv6.*", "kind"): FieldStyle("enum", _L + "icmpv6:NDPOptionType"),
    ("icmpv6.NeighborAdvertisement", "flags"): FieldStyle("flags", _L + "icmpv6:NAFlags"),
    ("icmpv6.RouterAdvertisement", "flags"): FieldStyle("flags", _L + "icmpv6:RAFlags"),
    ("tcp.TCP", "flags"): FieldStyle("flags", _L + "tcp:TCPFlags", 3),
    ("tcp.*", "kind"): FieldStyle("enum", _L + "tcp:TCPOptionKind"),
    ("dns.DNS", "id"): FieldStyle("hex", None, 4),
    ("dns.DNS", "opcode"): FieldStyle("enum", _L + "dns:Opcode"),
    ("dns.DNS", "rcode"): FieldStyle("enum", _L + "dns:Rcode"),
    ("dns.*", "type"): FieldStyle("enum", _L + "dns:RRType"),
    ("dns.*", "rclass"): FieldStyle("enum", _L + "dns:RRClass"),
    ("tls.TLSRecord", "content_type"): FieldStyle("enum", _TLS + "ContentType"),
    ("tls.TLSRecord", "version"): FieldStyle("hex", _TLS + "TLSVersion", 4),
    ("handshake.*", "handshake_type"): FieldStyle("enum", _TLS + "HandshakeType"),
    ("handshake.*", "version"): FieldStyle("hex", _TLS + "TLSVersion", 4),
    ("handshake.*", "type"): FieldStyle("enum", _TLS + "ExtensionType"),
    ("handshake.*", "cipher_suite"): FieldStyle("hex", _TLS + "CipherSuite", 4),
    ("handshake.*", "cipher_suites"): FieldStyle("hex", _TLS + "CipherSuite", 4),
    ("handshake.*", "groups"): FieldStyle("enum", _TLS + "NamedGroup"),
    ("handshake.*", "group"): FieldStyle("enum", _TLS + "NamedGroup"),
    ("handshake.*", "named_group"): FieldStyle("enum", _TLS + "NamedGroup"),
    ("handshake.*", "schemes"): FieldStyle("hex", _TLS + "SignatureScheme", 4),
    ("handshake.*", "signature_scheme"): FieldStyle("hex", _TLS + "SignatureScheme", 4),
    ("handshake.SupportedVersions", "versions"): FieldStyle("hex", _TLS + "TLSVersion", 4),
    ("records.Alert", "level"): FieldStyle("enum", _TLS + "AlertLevel"),
    ("records.Alert", "description"): FieldStyle("enum", _TLS + "AlertDescription"),
    ("http2.*", "type"): FieldStyle("enum", _L + "http2:FrameType"),
    ("http2.*", "flags"): FieldStyle("flags", _L + "http2:FrameFlags"),
    ("http2.*", "error_code"): FieldStyle("enum", _L + "http2:ErrorCode"),
    ("http2.Setting", "id"): FieldStyle("enum", _L + "http2:SettingId"),
}

#: ICMP codes mean something different for each type: (owner, type) → enum.
CODE_ENUMS: dict[tuple[str, int], str] = {
    ("icmp.ICMP", 3): _L + "icmp:UnreachableCode",
    ("icmp.ICMP", 5): _L + "icmp:RedirectCode",
    ("icmp.ICMP", 11): _L + "icmp:TimeExceededCode",
    ("icmpv6.ICMPv6", 1): _L + "icmpv6:UnreachableCode",
    ("icmpv6.ICMPv6", 3): _L + "icmpv6:TimeExceededCode",
}

_ENUMS: dict[str, type[enum.Enum] | None] = {}
_OWNERS: dict[type, str] = {}


def resolve_enum(ref: str) -> type[enum.Enum] | None:
    """The enum class named ``"module:Class"``, or None when it does not exist."""
    if ref in _ENUMS:
        return _ENUMS[ref]
    module_name, _, attr = ref.partition(":")
    found: type[enum.Enum] | None = None
    try:
        candidate = getattr(importlib.import_module(module_name), attr, None)
    except ImportError:
        candidate = None
    if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
        found = candidate
    _ENUMS[ref] = found
    return found


def _owner(cls: type) -> str:
    """``"ipv4.IPv4"``: the key of ``cls`` in :data:`FIELD_STYLES`."""
    key = _OWNERS.get(cls)
    if key is None:
        key = _OWNERS[cls] = f"{cls.__module__.rpartition('.')[2]}.{cls.__name__}"
    return key


def _style(owner: Any, field_name: str) -> FieldStyle | None:
    key = _owner(type(owner))
    style = FIELD_STYLES.get((key, field_name))
    if style is None:
        style = FIELD_STYLES.get((f"{key.rpartition('.')[0]}.*", field_name))
    return style


#: (enum class, value) → member name or None, and (flag class, value) → names:
#: ``-V`` names a handful of values on every packet, and an enum lookup by
#: value or a walk of a flag class's members costs microseconds each time.
#: Bounded: cleared when it grows (a scan over many distinct values).
_LABELS: dict[tuple[type, int], str | None] = {}
_FLAG_TEXT: dict[tuple[type, int], str] = {}
_LABELS_MAX = 4096


def enum_label(enum_cls: type[enum.Enum], value: int) -> str | None:
    """The member name for ``value``, or None when the enum does not know it."""
    key = (enum_cls, value)
    if key in _LABELS:
        return _LABELS[key]
    try:
        name: str | None = str(enum_cls(value).name)
    except ValueError:
        name = None
    if len(_LABELS) >= _LABELS_MAX:
        _LABELS.clear()
    _LABELS[key] = name
    return name


def flag_names(flag_cls: type[enum.Enum], value: int) -> str:
    """``"SYN, ACK"``: the single-bit members set in ``value``, lowest bit first.

    Walks the class's members (not the value) because iterating a flag value
    only exists from Python 3.11; bits the class does not name are shown in hex.
    """
    key = (flag_cls, value)
    text = _FLAG_TEXT.get(key)
    if text is None:
        if len(_FLAG_TEXT) >= _LABELS_MAX:
            _FLAG_TEXT.clear()
        text = _FLAG_TEXT[key] = _flag_names(flag_cls, value)
    return text


def _flag_names(flag_cls: type[enum.Enum], value: int) -> str:
    names: list[str] = []
    known = 0
    bits = sorted(
        (int(m.value), m.name)
        for m in flag_cls
        if isinstance(m.value, int) and m.value > 0 and m.value & (m.value - 1) == 0
    )
    for bit, name in bits:
        if value & bit:
            names.append(name)
            known |= bit
    if value & ~known:
        names.append(f"0x{value & ~known:x}")
    return ", ".join(names) if names else "none"


def _styled_int(value: int, style: FieldStyle) -> str:
    enum_cls = resolve_enum(style.enum) if style.enum else None
    if style.kind == "flags":
        raw = f"0x{value:0{style.width}x}"
        return f"{raw} ({flag_names(enum_cls, value)})" if enum_cls is not None else raw
    raw = f"0x{value:0{style.width}x}" if style.kind == "hex" else str(value)
    if enum_cls is not None:
        name = enum_label(enum_cls, value)
        if name is not None:
            return f"{raw} ({name})"
    return raw


# --------------------------------------------------------------------------- tree

#: Bytes fields longer than this are shortened in the tree (``-x`` shows all).
BYTES_PREVIEW = 32

#: Nested records with more fields than this get a block of their own lines.
INLINE_FIELDS = 6

_ADDRESS_FORMATS: dict[str, Callable[[bytes], str]] = {
    "mac": mac_str,
    "ipv4": ip_str,
    "ipv6": ip_str,
    "ip": ip_str,
    "latin1": lambda raw: raw.decode("latin-1"),
}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _bytes_text(raw: bytes) -> str:
    if not raw:
        return "(empty)"
    if len(raw) <= BYTES_PREVIEW:
        return f"{raw.hex()} ({_count(len(raw), 'byte')})"
    return f"{raw[:BYTES_PREVIEW].hex()}… ({len(raw)} bytes)"


def _is_record(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _is_flat(value: Any) -> bool:
    """A value that fits on one line: no nested records and no long lists."""
    if _is_record(value):
        return False
    if isinstance(value, (tuple, list)):
        return len(value) <= 8 and all(
            not _is_record(v) and not isinstance(v, (tuple, list)) for v in value
        )
    return True


def _int_text(value: int, owner: Any, field_name: str) -> str:
    style = _style(owner, field_name)
    if style is not None:
        return _styled_int(int(value), style)
    if field_name == "code":
        kind = getattr(owner, "type", None)
        ref = CODE_ENUMS.get((_owner(type(owner)), kind)) if isinstance(kind, int) else None
        enum_cls = resolve_enum(ref) if ref else None
        name = enum_label(enum_cls, value) if enum_cls is not None else None
        return f"{value} ({name})" if name else str(value)
    if isinstance(value, enum.Enum):
        return f"{int(value)} ({value.name})"
    if field_name == "checksum" or field_name.endswith("_checksum"):
        return f"0x{value:04x}"
    return str(value)


def _scalar_text(value: Any, owner: Any, field_name: str, fmt: str | None) -> str:
    """One value as text (no nesting)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if fmt is not None and fmt in _ADDRESS_FORMATS:
            return _ADDRESS_FORMATS[fmt](raw)
        return _bytes_text(raw)
    if isinstance(value, int):
        return _int_text(value, owner, field_name)
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_scalar_text(v, owner, field_name, fmt) for v in value)
        return f"[{inner}]"
    return str(value)


def _record_fields(obj: Any) -> Iterator[tuple[str, str, Any, str | None]]:
    """(field name, label, value, bytes format) for each dataclass field of ``obj``.

    The label is the JSON key (a DNS record's ``rclass`` shows as ``class``),
    so the tree and ``--json`` use the same names.
    """
    cls = type(obj)
    shape = _SHAPES.get(cls)
    if shape is None:
        formats: dict[str, str] = getattr(cls, "json_formats", None) or {}
        names: dict[str, str] = getattr(cls, "json_names", None) or {}
        shape = _SHAPES[cls] = tuple(
            (f.name, names.get(f.name, f.name), formats.get(f.name))
            for f in dataclasses.fields(obj)
        )
    for name, label, fmt in shape:
        yield name, label, getattr(obj, name), fmt


#: Each dataclass's (field name, label, bytes format), read once: ``-V`` walks
#: the fields of every layer of every packet, and ``dataclasses.fields`` builds
#: its tuple afresh on each call.  One entry per class.
_SHAPES: dict[type, tuple[tuple[str, str, str | None], ...]] = {}


def _inline_record(obj: Any) -> str:
    """``MSS  kind 2 (MSS)  mss 1460``: a small nested record on one line."""
    parts = [type(obj).__name__]
    for name, label, value, fmt in _record_fields(obj):
        parts.append(f"{label} {_scalar_text(value, obj, name, fmt)}")
    return "  ".join(parts)


def _is_header_pairs(value: tuple[Any, ...] | list[Any]) -> bool:
    return bool(value) and all(
        isinstance(v, tuple) and len(v) == 2 and all(isinstance(s, str) for s in v) for v in value
    )


def _record_block(obj: Any, head: str, indent: str) -> Iterator[str]:
    """A nested record: on one line when it is small and flat (a TCP option, a
    DNS record), else a header line and one line per field below it (a quoted
    IP header)."""
    fields = list(_record_fields(obj))
    if len(fields) <= INLINE_FIELDS and all(_is_flat(v) for _, _, v, _ in fields):
        yield f"{head}{_inline_record(obj)}"
    else:
        yield f"{head}{type(obj).__name__}"
        yield from _record_lines(obj, indent)


def _value_lines(label: str, value: Any, owner: Any, name: str, fmt: str | None,
                 indent: str) -> Iterator[str]:
    """The line(s) for one field: scalars inline, records and lists nested below."""
    if _is_record(value):
        yield from _record_block(value, f"{indent}{label}: ", indent + "  ")
        return
    if isinstance(value, (tuple, list)):
        if not value:
            yield f"{indent}{label}: (none)"
            return
        if _is_flat(value) and not _is_header_pairs(value):
            yield f"{indent}{label}: {_scalar_text(value, owner, name, fmt)}"
            return
        yield f"{indent}{label}: ({len(value)})"
        sub = indent + "  "
        for item in value:
            if _is_record(item):
                yield from _record_block(item, f"{sub}- ", sub + "    ")
            elif isinstance(item, tuple) and _is_header_pairs((item,)):
                yield f"{sub}{item[0]}: {item[1]}"  # HTTP headers read as they were sent
            else:
                yield f"{sub}- {_scalar_text(item, owner, name, fmt)}"
        return
    yield f"{indent}{label}: {_scalar_text(value, owner, name, fmt)}"


def _record_lines(obj: Any, indent: str) -> Iterator[str]:
    for name, label, value, fmt in _record_fields(obj):
        yield from _value_lines(label, value, obj, name, fmt, indent)


def layer_lines(layer: Layer, indent: str = "", color: bool = False) -> list[str]:
    """A layer's title line and one line per field (fields one indent deeper)."""
    title = paint(layer_title(layer), _RED if isinstance(layer, Malformed) else _BOLD, color)
    summary = _clean(layer_summary(layer))
    lines = [f"{indent}{title}  {summary}" if summary else f"{indent}{title}"]
    if dataclasses.is_dataclass(layer):
        lines.extend(_clean(line) for line in _record_lines(layer, indent + "  "))
    return lines


def utc_time(ts_ns: int) -> str:
    """``2023-11-14 22:13:20.123456789 UTC``; raw nanoseconds if out of range."""
    sec, ns = divmod(ts_ns, 1_000_000_000)
    try:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec))
    except (OverflowError, OSError, ValueError):
        return f"{ts_ns} ns"
    return f"{stamp}.{ns:09d} UTC"


def frame_line(packet: Packet) -> str:
    """The tree's first line: what the capture file says about the frame."""
    link = LINK_TYPES.get(packet.linktype)
    link_text = f"{packet.linktype} ({link})" if link else str(packet.linktype)
    iface = str(packet.interface)
    if packet.interface_name is not None:
        iface = f"{iface} ({_clean(packet.interface_name)})"
    return (
        f"Frame {packet.index}: {_count(packet.wire_len, 'byte')} on wire, "
        f"{_count(len(packet.data), 'byte')} captured, link type {link_text}, "
        f"interface {iface}, {utc_time(packet.ts_ns)}"
    )


def packet_tree(packet: Packet, color: bool = False, flow: PacketFlowInfo | None = None,
                relative: bool = True) -> str:
    """Every layer and field, each layer nested inside the one that carries it.

    ::

        Frame 1: 54 bytes on wire, 54 bytes captured, link type 1 (ETHERNET), …
        Ethernet II  02:00:00:00:00:01 → 02:00:00:00:00:02 IPV4
          dst: 02:00:00:00:00:02
          …
          Internet Protocol v4  …
            protocol: 6 (TCP)
            …
            Transmission Control Protocol  …
              flags: 0x012 (SYN, ACK)
    """
    lines = [paint(frame_line(packet), _DIM, color)]
    if packet.comment is not None:
        lines.extend(paint(f"  [Comment: {_clean(c)}]", _DIM, color)
                     for c in packet.comment.split("\n"))
    flow_lines = [] if flow is None else flow_tree_lines(flow)
    for depth, layer in enumerate(packet.layers):
        if relative:
            lines.extend(numbered_layer_lines(packet, depth, flow, "  " * depth, color))
        else:  # dump -S: the raw numbers, as on the wire
            lines.extend(layer_lines(layer, "  " * depth, color))
        if flow_lines and type(layer) in (TCP, UDP):
            # Wireshark's bracketed "generated" fields: not on the wire, worked out
            # from the conversation (stream, relative numbers, states, analysis,
            # the window in bytes).
            indent = "  " * (depth + 1)
            if type(layer) is TCP and flow is not None and flow.proto == "tcp":
                assert isinstance(layer, TCP)
                flow_lines.insert(2, window_text(flow, layer.window, layer.syn))
            lines.extend(paint(f"{indent}[{text}]", _DIM, color) for text in flow_lines)
            flow_lines = []
    if flow_lines:  # an IP fragment: no TCP/UDP header here, only the defrag facts
        lines.extend(paint(f"  [{text}]", _DIM, color) for text in flow_lines)
    return "\n".join(lines)


__all__ = [
    "FIELD_STYLES",
    "LINK_TYPES",
    "TITLES",
    "endpoints",
    "flow_suffix",
    "frame_line",
    "key_facts",
    "layer_lines",
    "layer_summary",
    "layer_title",
    "malformed_summary",
    "numbered_layer_lines",
    "numbered_summary",
    "packet_line",
    "packet_tree",
    "relative_time",
    "utc_time",
]
