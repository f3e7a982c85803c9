"""Tunnels: VXLAN (and GPE), Geneve with its options, GRE with its optional
fields (key, sequence, PPTP's version 1, ERSPAN type I, in UDP), and what
travels inside them decoded as it would be outside.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

from builders import eth, ipv4, ipv4_tcp, ipv4_udp, ipv6, tcp, udp

import layerpeek
from layerpeek import TCP, UDP, Ethernet, IPv4, Malformed, Payload
from layerpeek.decode import registry
from layerpeek.layers.geneve import Geneve, GeneveOption
from layerpeek.layers.gre import GRE
from layerpeek.layers.vxlan import VXLAN
from layers.test_ethernet import assert_damage_never_raises, assert_every_cut_is_a_prefix, decode

Corpus = Callable[[str], Path]

#: An Ethernet frame to carry: TCP with data on a port no decoder claims (so
#: that every cut of it decodes to a prefix of the whole, data staying data).
INNER = eth(ipv4_tcp(tcp(b"hello", sport=40354, dport=9999, flags="PA"),
                     src="192.168.1.1", dst="192.168.1.2"),
            src="0a:00:00:00:00:01", dst="0a:00:00:00:00:02")


def vxlan_frame(inner: bytes = INNER, *, vni: int = 4242, sport: int = 50000) -> bytes:
    header = struct.pack("!II", 0x08 << 24, vni << 8)
    return eth(ipv4_udp(udp(header + inner, sport=sport, dport=4789),
                        src="10.1.0.1", dst="10.1.0.2"))


def geneve(payload: bytes, options: bytes = b"", *, vni: int = 7, protocol: int = 0x6558,
           flags: int = 0) -> bytes:
    assert len(options) % 4 == 0
    return struct.pack("!BBHI", len(options) // 4, flags, protocol, vni << 8) + options + payload


def gre(payload: bytes, *, protocol: int = 0x0800, key: int | None = None,
        sequence: int | None = None, checksum: bool = False) -> bytes:
    flags = (0x8000 if checksum else 0) | (0x2000 if key is not None else 0) | (
        0x1000 if sequence is not None else 0)
    out = struct.pack("!HH", flags, protocol)
    if checksum:
        out += struct.pack("!HH", 0xBEEF, 0)
    if key is not None:
        out += struct.pack("!I", key)
    if sequence is not None:
        out += struct.pack("!I", sequence)
    return out + payload


# --------------------------------------------------------------------------- VXLAN


def test_vxlan_carries_an_ethernet_frame_decoded_down_to_tcp() -> None:
    packet = assert_every_cut_is_a_prefix(vxlan_frame())
    assert packet.protocols == "eth:ipv4:udp:vxlan:eth:ipv4:tcp:data"
    header = packet[VXLAN]
    assert (header.flags, header.gpe, header.next_protocol, header.vni) == (0x08, False, None, 4242)
    inner_eth = [layer for layer in packet.layers if isinstance(layer, Ethernet)][1]
    assert inner_eth.src_mac == "0a:00:00:00:00:01"
    inner_ip = [layer for layer in packet.layers if isinstance(layer, IPv4)][1]
    assert (inner_ip.src_ip.compressed, packet[TCP].dst_port) == ("192.168.1.1", 9999)
    assert header.summary() == "vni=4242"


def test_vxlan_gpe_names_its_payload() -> None:
    inner_ip = ipv4_udp(udp(b"x", sport=1000, dport=2000))
    header = struct.pack("!II", (0x0C << 24) | 1, 99 << 8)  # I and P set, next protocol IPv4
    packet = decode(eth(ipv4_udp(udp(header + inner_ip, sport=5, dport=4790))))
    assert packet.protocols == "eth:ipv4:udp:vxlan:ipv4:udp:data"
    assert (packet[VXLAN].gpe, packet[VXLAN].next_protocol, packet[VXLAN].vni) == (True, 1, 99)

    unknown = struct.pack("!II", (0x0C << 24) | 0x7F, 99 << 8)
    packet = decode(eth(ipv4_udp(udp(unknown + b"abc", sport=5, dport=4790))))
    assert packet.protocols == "eth:ipv4:udp:vxlan:data"
    assert packet.layers[-1] == Payload(b"abc")


def test_vxlan_header_cut_is_a_truncated_marker() -> None:
    frame = vxlan_frame()
    cut = decode(frame[: 14 + 20 + 8 + 5])
    marker = cut.layers[-1]
    assert isinstance(marker, Malformed) and marker.protocol == "vxlan" and marker.truncated


# --------------------------------------------------------------------------- Geneve


def test_geneve_keeps_its_options_and_hands_over_by_protocol_type() -> None:
    options = (struct.pack("!HBB", 0x0102, 0x80, 1) + b"\xde\xad\xbe\xef"  # critical, 4 bytes
               + struct.pack("!HBB", 0xFFFF, 0x05, 0))  # no data
    frame = eth(ipv4_udp(udp(geneve(INNER, options, vni=0xABCDE, flags=0x40), sport=1,
                             dport=6081)))
    packet = assert_every_cut_is_a_prefix(frame)
    assert packet.protocols == "eth:ipv4:udp:geneve:eth:ipv4:tcp:data"
    header = packet[Geneve]
    assert (header.version, header.options_len, header.oam, header.critical) == (0, 12, False, True)
    assert (header.protocol, header.vni) == (0x6558, 0xABCDE)
    assert header.options == (GeneveOption(0x0102, 0x80, b"\xde\xad\xbe\xef"),
                              GeneveOption(0xFFFF, 0x05, b""))
    assert header.options[0].critical and not header.options[1].critical


def test_geneve_carries_ipv6_by_its_ethertype() -> None:
    inner = ipv6(udp(b"hi", sport=7, dport=9), next_header=17)
    packet = decode(eth(ipv4_udp(udp(geneve(inner, protocol=0x86DD), sport=1, dport=6081))))
    assert packet.protocols == "eth:ipv4:udp:geneve:ipv6:udp:data"


def test_geneve_option_overflowing_the_option_area_is_invalid_not_truncated() -> None:
    options = struct.pack("!HBB", 1, 1, 3) + b"\0" * 4  # says 12 bytes of data, area is 8
    packet = decode(eth(ipv4_udp(udp(geneve(INNER, options), sport=1, dport=6081))))
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed) and not marker.truncated
    assert marker.reason.startswith("geneve.options[0].length")
    assert packet[Geneve].options == ()


# --------------------------------------------------------------------------- GRE


def test_gre_with_checksum_key_and_sequence_carrying_ipv4() -> None:
    inner = ipv4(struct.pack("!BBHHH", 8, 0, 0, 1, 1), proto=1, src="172.16.0.1", dst="172.16.0.2")
    frame = eth(ipv4(gre(inner, key=0x01020304, sequence=77, checksum=True), proto=47))
    packet = assert_every_cut_is_a_prefix(frame)
    assert packet.protocols == "eth:ipv4:gre:ipv4:icmp"
    header = packet[GRE]
    assert (header.version, header.protocol, header.checksum, header.key, header.sequence) == (
        0, 0x0800, 0xBEEF, 0x01020304, 77)
    assert header.ack is None and header.routing is None
    assert header.summary() == "IPV4 key=0x1020304 seq=77"


def test_gre_transparent_ethernet_bridging_and_ipv6() -> None:
    packet = decode(eth(ipv4(gre(INNER, protocol=0x6558, key=5), proto=47)))
    assert packet.protocols == "eth:ipv4:gre:eth:ipv4:tcp:data"
    inner6 = ipv6(udp(b"", sport=1, dport=2), next_header=17)
    packet = decode(eth(ipv6(gre(inner6, protocol=0x86DD), next_header=47)))
    assert packet.protocols == "eth:ipv6:gre:ipv6:udp"


def test_pptp_enhanced_gre_keeps_call_id_sequence_and_ack() -> None:
    ppp = b"\xff\x03\x00\x21"
    header = struct.pack("!HHHHII", 0x3081, 0x880B, len(ppp), 6016, 430001, 9)
    packet = decode(eth(ipv4(header + ppp, proto=47)))
    gre_layer = packet[GRE]
    assert (gre_layer.version, gre_layer.call_id, gre_layer.sequence, gre_layer.ack) == (
        1, 6016, 430001, 9)
    assert gre_layer.summary() == "PPP call_id=6016 seq=430001"


def test_erspan_type_1_is_the_mirrored_frame_right_after_gre() -> None:
    packet = decode(eth(ipv4(gre(INNER, protocol=0x88BE), proto=47)))
    assert packet.protocols == "eth:ipv4:gre:eth:ipv4:tcp:data"


def test_gre_in_udp_and_unknown_versions() -> None:
    inner = ipv4_udp(udp(b"q", sport=51714, dport=9999))
    packet = decode(eth(ipv4_udp(udp(gre(inner), sport=50343, dport=4754))))
    assert packet.protocols == "eth:ipv4:udp:gre:ipv4:udp:data"
    bad = decode(eth(ipv4(struct.pack("!HH", 0x0002, 0x0800) + inner, proto=47)))
    marker = bad.layers[-1]
    assert isinstance(marker, Malformed) and marker.reason == "gre version 2 unknown"


def test_damaged_tunnels_never_raise() -> None:
    options = struct.pack("!HBB", 0x0102, 0x80, 1) + b"\xde\xad\xbe\xef"
    for frame in (vxlan_frame(),
                  eth(ipv4_udp(udp(geneve(INNER, options), sport=1, dport=6081))),
                  eth(ipv4(gre(INNER, protocol=0x6558, key=5, sequence=1), proto=47))):
        assert_damage_never_raises(frame)


def test_tunnels_survive_a_registry_cut_after_the_transport_layer() -> None:
    """``flows`` decodes through transport only; the conversations inside must still be seen."""
    reg = registry("transport")
    packet = layerpeek.decode(vxlan_frame(), registry=reg)
    assert packet.protocols == "eth:ipv4:udp:vxlan:eth:ipv4:tcp:data"
    dns_port = layerpeek.decode(eth(ipv4_udp(udp(b"\0" * 12, sport=53, dport=5353))), registry=reg)
    assert dns_port.protocols == "eth:ipv4:udp:data"


# --------------------------------------------------------------------------- corpus traces


def test_zeek_vxlan_http_trace_decodes_every_packet_inside(corpus: Corpus) -> None:
    with layerpeek.read(corpus("zeek/tunnels/vxlan-encapsulated-http.pcap")) as reader:
        packets = list(reader)
    assert len(packets) == 12
    assert all(p.protocols.startswith("eth:ipv4:udp:vxlan:eth:ipv4:tcp") for p in packets)
    assert {p[VXLAN].vni for p in packets} == {1}
    inner = [p.layers[6] for p in packets]
    assert all(isinstance(t, TCP) for t in inner)
    assert packets[3].layers[-1].name == "http"


def test_zeek_gre_traces(corpus: Corpus) -> None:
    with layerpeek.read(corpus("zeek/tunnels/gre-within-gre.pcap")) as reader:
        first = next(iter(reader))
    assert first.protocols == "eth:ipv4:gre:ipv4:gre:ipv4:icmp"
    with layerpeek.read(corpus("zeek/tunnels/gre-over-udp-4754.pcap")) as reader:
        first = next(iter(reader))
    assert first.protocols == "eth:ipv4:udp:gre:ipv4:udp:dns"
    assert first[UDP].dst_port == 4754


def test_zeek_geneve_trace_keeps_options(corpus: Corpus) -> None:
    with layerpeek.read(corpus("zeek/tunnels/geneve-many-options.pcap")) as reader:
        packets = list(reader)
    assert all(Geneve in p for p in packets)
    assert any(p[Geneve].options for p in packets)
    for p in packets:  # inside: Ethernet, then IP or ARP
        inside = p.protocols.split(":geneve:")[1]
        assert inside.startswith(("eth:ipv4", "eth:ipv6", "eth:arp")), inside

