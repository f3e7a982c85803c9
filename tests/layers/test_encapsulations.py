"""MPLS label stacks, PPP (link types 9, 50 and in GRE), Cisco HDLC (104),
PPPoE discovery and session, LLC/SNAP over 802.3 lengths, GTP-U, Teredo,
AYIYA and ERSPAN types II and III."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

from builders import eth, ipv4, ipv4_tcp, ipv4_udp, ipv6, tcp, udp

import layerpeek
from layerpeek import TCP, IPv4, IPv6, Malformed, Payload
from layerpeek.layers.ayiya import AYIYA
from layerpeek.layers.erspan import ERSPAN
from layerpeek.layers.gtp import GTP, GTPExtension
from layerpeek.layers.llc import LLC
from layerpeek.layers.mpls import MPLS
from layerpeek.layers.ppp import PPP, CiscoHDLC
from layerpeek.layers.pppoe import PPPoE, PPPoETag
from layerpeek.layers.teredo import Teredo
from layers.test_ethernet import assert_damage_never_raises, assert_every_cut_is_a_prefix, decode

Corpus = Callable[[str], Path]

IP_SEGMENT = ipv4_tcp(tcp(b"hello", sport=40000, dport=9999, flags="PA"))
IP6_DATAGRAM = ipv6(udp(b"hi", sport=7, dport=9), next_header=17)


def label(value: int, *, bottom: bool, ttl: int = 64, tc: int = 0) -> bytes:
    return struct.pack("!I", (value << 12) | (tc << 9) | (0x100 if bottom else 0) | ttl)


# --------------------------------------------------------------------------- MPLS


def test_mpls_stack_is_one_layer_per_entry_and_the_bottom_finds_ip() -> None:
    frame = eth(label(16, bottom=False, tc=5) + label(17, bottom=True, ttl=63) + IP_SEGMENT,
                ethertype=0x8847)
    packet = assert_every_cut_is_a_prefix(frame)
    assert packet.protocols == "eth:mpls:mpls:ipv4:tcp:data"
    outer, inner = (x for x in packet.layers if isinstance(x, MPLS))
    assert (outer.label, outer.tc, outer.bottom, outer.ttl) == (16, 5, False, 64)
    assert (inner.label, inner.bottom, inner.ttl) == (17, True, 63)


def test_mpls_explicit_null_and_ethernet_pseudowire() -> None:
    assert decode(eth(label(2, bottom=True) + IP6_DATAGRAM, ethertype=0x8847)).protocols == (
        "eth:mpls:ipv6:udp:data")
    pseudowire = label(100, bottom=True) + b"\0\0\0\x07" + eth(IP_SEGMENT)
    packet = decode(eth(pseudowire, ethertype=0x8847))
    assert packet.protocols == "eth:mpls:eth:ipv4:tcp:data"
    assert packet[MPLS].control_word == 7
    other = decode(eth(label(100, bottom=True) + b"\x99" * 20, ethertype=0x8847))
    assert other.protocols == "eth:mpls:data"


def test_mpls_in_udp() -> None:
    frame = eth(ipv4_udp(udp(label(30, bottom=True) + IP_SEGMENT, sport=49152, dport=6635)))
    assert decode(frame).protocols == "eth:ipv4:udp:mpls:ipv4:tcp:data"


# --------------------------------------------------------------------------- PPP, HDLC


def test_ppp_link_type_with_and_without_address_and_control() -> None:
    packet = assert_every_cut_is_a_prefix(b"\xff\x03\x00\x21" + IP_SEGMENT, 9)
    assert packet.protocols == "ppp:ipv4:tcp:data"
    assert (packet[PPP].address, packet[PPP].control, packet[PPP].protocol) == (0xFF, 3, 0x21)
    bare = decode(b"\x00\x57" + IP6_DATAGRAM, 9)
    assert bare.protocols == "ppp:ipv6:udp:data"
    assert bare[PPP].address is None
    compressed = decode(b"\x21" + IP_SEGMENT, 9)  # protocol field compression: one byte
    assert (compressed.protocols, compressed[PPP].protocol) == ("ppp:ipv4:tcp:data", 0x21)
    lcp = decode(b"\xff\x03\xc0\x21\x01\x01\x00\x04", 50)
    assert (lcp.protocols, lcp[PPP].summary()) == ("ppp:data", "LCP")


def test_cisco_hdlc_by_link_type_and_by_address_on_link_type_50() -> None:
    for linktype in (104, 50):
        packet = decode(b"\x0f\x00\x08\x00" + IP_SEGMENT, linktype)
        assert packet.protocols == "chdlc:ipv4:tcp:data"
        assert (packet[CiscoHDLC].address, packet[CiscoHDLC].protocol) == (0x0F, 0x0800)


def test_ppp_in_gre_as_pptp_sends_it() -> None:
    ppp = b"\xff\x03\x00\x21" + IP_SEGMENT
    gre = struct.pack("!HHHHI", 0x3001, 0x880B, len(ppp), 7, 1)
    assert decode(eth(ipv4(gre + ppp, proto=47))).protocols == "eth:ipv4:gre:ppp:ipv4:tcp:data"


# --------------------------------------------------------------------------- PPPoE


def test_pppoe_session_carries_ppp_and_its_length_drops_the_padding() -> None:
    ppp = b"\x00\x57" + IP6_DATAGRAM
    header = struct.pack("!BBHH", 0x11, 0, 0x1234, len(ppp))
    packet = decode(eth(header + ppp + b"\0" * 6, ethertype=0x8864))
    assert packet.protocols == "eth:pppoe:ppp:ipv6:udp:data"
    session = packet[PPPoE]
    assert (session.version, session.type, session.code, session.session_id) == (1, 1, 0, 0x1234)
    assert packet.spans[-1][1] == len(packet.data) - 6
    assert_every_cut_is_a_prefix(eth(header + ppp, ethertype=0x8864))


def test_pppoe_discovery_keeps_its_tags() -> None:
    tags = struct.pack("!HH", 0x0101, 0) + struct.pack("!HH", 0x0103, 4) + b"\x01\x02\x03\x04"
    frame = eth(struct.pack("!BBHH", 0x11, 0x09, 0, len(tags)) + tags, ethertype=0x8863)
    packet = assert_every_cut_is_a_prefix(frame)
    assert packet.protocols == "eth:pppoe"
    assert packet[PPPoE].summary() == "PADI session=0x0000"
    assert packet[PPPoE].tags == (PPPoETag(0x0101, b""), PPPoETag(0x0103, b"\x01\x02\x03\x04"))
    bad = struct.pack("!HH", 0x0103, 40) + b"\x01"
    damaged = decode(eth(struct.pack("!BBHH", 0x11, 0x09, 0, len(bad)) + bad, ethertype=0x8863))
    marker = damaged.layers[-1]
    assert isinstance(marker, Malformed) and not marker.truncated
    assert marker.reason.startswith("pppoe.tags[0].length 40 overflows")


# --------------------------------------------------------------------------- LLC


def test_snap_over_an_802_3_length_hands_over_its_ethertype() -> None:
    payload = b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + IP_SEGMENT
    packet = assert_every_cut_is_a_prefix(eth(payload, ethertype=len(payload)))
    assert packet.protocols == "eth:llc:ipv4:tcp:data"
    assert (packet[LLC].oui, packet[LLC].pid) == (b"\0\0\0", 0x0800)


def test_plain_llc_and_other_snap_ouis_stay_data() -> None:
    stp = b"\x42\x42\x03" + b"\0" * 35
    packet = decode(eth(stp, ethertype=len(stp)))
    assert packet.protocols == "eth:llc:data"
    assert (packet[LLC].dsap, packet[LLC].control, packet[LLC].oui) == (0x42, 3, None)
    cdp = b"\xaa\xaa\x03\x00\x00\x0c\x20\x00" + b"\x02\xb4"
    assert decode(eth(cdp, ethertype=len(cdp))).protocols == "eth:llc:data"
    tagged = eth(struct.pack("!HH", 7, len(stp)) + stp, ethertype=0x8100)
    assert decode(tagged).protocols == "eth:vlan:llc:data"


def test_two_byte_llc_control_for_i_frames() -> None:
    frame = b"\xf0\xf0\x00\x02" + b"x" * 40  # NetBIOS, an I frame
    packet = decode(eth(frame, ethertype=len(frame)))
    assert packet[LLC].control == 0x0002
    assert packet.layers[-1] == Payload(b"x" * 40)


# --------------------------------------------------------------------------- GTP-U


def gtp_u(payload: bytes, *, teid: int = 0x1234, sequence: int | None = None,
          extension: bytes | None = None, message_type: int = 0xFF) -> bytes:
    flags = 0x30 | (0x02 if sequence is not None else 0) | (0x04 if extension else 0)
    optional = b""
    if sequence is not None or extension:
        optional = struct.pack("!HBB", sequence or 0, 0, 0x85 if extension else 0)
        if extension:
            optional += bytes([(len(extension) + 2) // 4]) + extension + b"\0"
    body = optional + payload
    return struct.pack("!BBHI", flags, message_type, len(body), teid) + body


def test_gtp_u_g_pdu_with_sequence_and_extension_carries_ip() -> None:
    frame = eth(ipv4_udp(udp(gtp_u(IP_SEGMENT, sequence=9, extension=b"\x00\x01"),
                             sport=2152, dport=2152)))
    packet = assert_every_cut_is_a_prefix(frame)
    assert packet.protocols == "eth:ipv4:udp:gtp:ipv4:tcp:data"
    header = packet[GTP]
    assert (header.version, header.protocol_type, header.message_type, header.teid) == (
        1, 1, 0xFF, 0x1234)
    assert (header.sequence, header.extensions) == (9, (GTPExtension(0x85, b"\x00\x01"),))
    assert header.summary() == "G-PDU teid=0x1234"


def test_gtp_echo_and_ipv6_payloads() -> None:
    echo = decode(eth(ipv4_udp(udp(gtp_u(b"", sequence=1, message_type=1), sport=2152,
                                   dport=2152))))
    assert echo.protocols == "eth:ipv4:udp:gtp"
    v6 = decode(eth(ipv4_udp(udp(gtp_u(IP6_DATAGRAM), sport=2152, dport=2152))))
    assert v6.protocols == "eth:ipv4:udp:gtp:ipv6:udp:data"
    v2 = decode(eth(ipv4_udp(udp(b"\x48\x20\x00\x04" + b"\0" * 8, sport=2152, dport=2152))))
    assert isinstance(v2.layers[-1], Malformed)


# --------------------------------------------------------------------------- Teredo, AYIYA


def test_teredo_with_an_origin_indication() -> None:
    origin = struct.pack("!HH4s", 0, 3797 ^ 0xFFFF, bytes(b ^ 0xFF for b in (192, 0, 2, 1)))
    frame = eth(ipv4_udp(udp(origin + IP6_DATAGRAM, sport=3544, dport=40000)))
    packet = assert_every_cut_is_a_prefix(frame)
    assert packet.protocols == "eth:ipv4:udp:teredo:ipv6:udp:data"
    header = packet[Teredo]
    assert (header.origin_port, header.origin_address) == (3797, bytes((192, 0, 2, 1)))
    assert header.summary() == "origin 192.0.2.1:3797"
    plain = decode(eth(ipv4_udp(udp(IP6_DATAGRAM, sport=3544, dport=40000))))
    assert plain.protocols == "eth:ipv4:udp:teredo:ipv6:udp:data"


def test_teredo_authentication_indicator() -> None:
    auth = b"\x00\x01\x02\x01" + b"id" + b"a" + b"N" * 8 + b"\x00"
    packet = decode(eth(ipv4_udp(udp(auth + IP6_DATAGRAM, sport=40000, dport=3544))))
    header = packet[Teredo]
    assert (header.client_id, header.auth_value, header.nonce) == (b"id", b"a", b"N" * 8)
    assert IPv6 in packet


def test_ayiya_forward_carries_ipv6() -> None:
    header = struct.pack("!BBBBI", 0x41, 0x52, 0x21, 41, 1300000000) + b"I" * 16 + b"S" * 20
    frame = eth(ipv4_udp(udp(header + IP6_DATAGRAM, sport=5072, dport=5072)))
    packet = assert_every_cut_is_a_prefix(frame)
    assert packet.protocols == "eth:ipv4:udp:ayiya:ipv6:udp:data"
    layer = packet[AYIYA]
    assert (layer.opcode, layer.next_header, layer.identity, layer.signature) == (
        1, 41, b"I" * 16, b"S" * 20)


# --------------------------------------------------------------------------- ERSPAN


def test_erspan_type_2_and_3_carry_the_mirrored_frame() -> None:
    mirrored = eth(IP_SEGMENT)
    type2 = struct.pack("!II", (1 << 28) | (10 << 16) | (1 << 11) | 100, 5)
    gre2 = struct.pack("!HHI", 0x1000, 0x88BE, 1) + type2 + mirrored
    packet = assert_every_cut_is_a_prefix(eth(ipv4(gre2, proto=47)))
    assert packet.protocols == "eth:ipv4:gre:erspan:eth:ipv4:tcp:data"
    assert (packet[ERSPAN].version, packet[ERSPAN].vlan, packet[ERSPAN].session_id,
            packet[ERSPAN].index) == (1, 10, 100, 5)
    type3 = struct.pack("!IIHH", (2 << 28) | 7, 123456, 42, 1) + b"P" * 8
    gre3 = struct.pack("!HHI", 0x1000, 0x22EB, 1) + type3 + mirrored
    packet = decode(eth(ipv4(gre3, proto=47)))
    assert packet.protocols == "eth:ipv4:gre:erspan:eth:ipv4:tcp:data"
    header = packet[ERSPAN]
    assert (header.version, header.session_id, header.timestamp, header.sgt,
            header.frame_type, header.platform) == (2, 7, 123456, 42, 0, b"P" * 8)


def test_damaged_encapsulations_never_raise() -> None:
    frames = [
        (eth(label(16, bottom=False) + label(17, bottom=True) + IP_SEGMENT, ethertype=0x8847), 1),
        (b"\xff\x03\x00\x21" + IP_SEGMENT, 9),
        (eth(struct.pack("!BBHH", 0x11, 0, 1, 2 + len(IP_SEGMENT)) + b"\x00\x21" + IP_SEGMENT,
             ethertype=0x8864), 1),
        (eth(ipv4_udp(udp(gtp_u(IP_SEGMENT, sequence=9, extension=b"\x00\x01"), sport=2152,
                          dport=2152))), 1),
        (eth(ipv4_udp(udp(IP6_DATAGRAM, sport=3544, dport=1))), 1),
    ]
    for frame, linktype in frames:
        assert_damage_never_raises(frame, linktype)


# --------------------------------------------------------------------------- corpus traces


def protocols(path: Path) -> list[str]:
    with layerpeek.read(path) as reader:
        return [p.protocols for p in reader]


def test_zeek_encapsulation_traces(corpus: Corpus) -> None:
    assert set(protocols(corpus("zeek/erspanII.pcap"))) == {"eth:ipv4:gre:erspan:eth:ipv4:icmp"}
    assert set(protocols(corpus("zeek/tunnels/gre-erspan3-dot1q.pcap"))) == {
        "eth:ipv4:gre:erspan:eth:vlan:ipv4:icmp"}
    qinq = protocols(corpus("zeek/pppoe-over-qinq.pcap"))
    assert all(p.startswith("eth:vlan:vlan:pppoe:ppp:ipv4:tcp") for p in qinq)
    assert "eth:vlan:mpls:mpls:ipv4:tcp:http" in protocols(corpus("zeek/mpls-in-vlan.pcap"))
    ayiya = protocols(corpus("zeek/tunnels/ayiya3.pcap"))
    assert sum(p.startswith("eth:ipv4:udp:ayiya:ipv6") for p in ayiya) >= 32
    assert set(protocols(corpus("zeek/ppp/quic-interop-retry.pcap"))) <= {
        "ppp:ipv4:udp:quic", "ppp:ipv6:icmpv6"}


def test_zeek_gtp_trace_inner_tcp(corpus: Corpus) -> None:
    with layerpeek.read(corpus("zeek/tunnels/gtp/gtp1_gn_normal_incl_fragmentation.pcap")) as r:
        packets = list(r)
    inner = [p for p in packets if GTP in p]
    assert len(inner) == 32  # most others are IP fragments (the defrag stage decodes those)
    assert all(isinstance(p.layers[4], IPv4) and TCP in p for p in inner)
    assert {p[GTP].message_type for p in inner} == {0xFF}
