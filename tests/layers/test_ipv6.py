"""IPv6, RFC 8200: the fixed header and the extension-header chain."""

from __future__ import annotations

import struct

import pytest
from builders import eth, ipv6, tcp, udp

from layerpeek import UDP, IPv6, Malformed, Payload
from layerpeek.layers.ipv4 import IPProto
from layerpeek.layers.ipv6 import (
    AH,
    MAX_EXTENSIONS,
    DestinationOptions,
    Fragment,
    HopByHop,
    IPv6Option,
    Routing,
)
from layerpeek.render.json import layer_to_dict
from layers.test_ethernet import assert_damage_never_raises, assert_every_cut_is_a_prefix, decode

#: linktype_ipv6_syn.pcap (LINKTYPE_IPV6, 229, PcapPlusPlus): one SYN.
SYN = bytes.fromhex(
    "6"  # version 6
    "00"  # traffic class
    "00000"  # flow label
    "0028"  # payload length 40
    "06"  # next header TCP
    "40"  # hop limit 64
    "20010618040000000000000051 99cc70"  # 2001:618:400::5199:cc70
    "20010618000180000000000000 000005"  # 2001:618:1:8000::5
    "8c9b 0050 6ae70736 00000000 a002 1630 299c 0000"  # TCP SYN 35995 → 80
    "0204058c 0402080a 00dd1a39 00000000 01030302"  # TCP options
)

#: ipv6_http_null_loopback.pcap frame 2 (after its 4-byte loopback header): a flow label.
FLOW_LABELLED_ACK = bytes.fromhex(
    "6001 8891 0020 06 40"  # version 6, traffic class 0, flow label 0x18891
    "00000000000000000000000000000001 00000000000000000000000000000001"  # ::1 → ::1
    "1f90 e5af 0a6566ef 0897184a 8010 2302 0028 0000 0101080a05c08cfc05c08cfc"  # TCP ACK
)

#: ipv6_frag_dns.pcap (zeek ipv6-fragmented-dns) frame 6, the first 78 of its
#: 1494 bytes: the first fragment of a DNS response.
FIRST_FRAGMENT = bytes.fromhex(
    "c42c033b6caa d8306248c5b5 86dd"  # Ethernet
    "6000 0000 05a0 2c 35"  # IPv6: payload 1440, next header Fragment, hop limit 53
    "2607f740000b00000000000000000f93 200104701f11081fd1385f5506d41fe2"
    "11"  # Fragment: next header UDP
    "00"  # reserved
    "0001"  # offset 0, M set
    "00000002"  # identification 2
    "0035 ca8b 0ca6 688f"  # UDP 53 → 51851 (only in the first fragment)
    "9f91 8500 0001 0001"  # start of the DNS response
)

#: ipv6_frag_dns.pcap frame 4, the first 70 of its 404 bytes: a last fragment.
LAST_FRAGMENT = bytes.fromhex(
    "c42c033b6caa d8306248c5b5 86dd"
    "6000 0000 015e 2c 35"
    "2607f740000b00000000000000000f93 200104701f11081fd1385f5506d41fe2"
    "11 00 0b50 00000001"  # offset 362 × 8 = 2896, M clear, identification 1
    "5858585858585858"
)


def options_header(next_header: int, options: bytes) -> bytes:
    """A Hop-by-Hop / Destination Options header padded to a multiple of 8 with PadN/Pad1."""
    body = bytes([next_header, 0]) + options
    pad = -len(body) % 8
    if pad == 1:
        body += b"\x00"
    elif pad:
        body += bytes([1, pad - 2]) + bytes(pad - 2)
    return bytes([next_header, len(body) // 8 - 1]) + body[2:]


def routing_header(next_header: int, routing_type: int, segments_left: int,
                   addresses: list[bytes], prefix: bytes = bytes(4)) -> bytes:
    data = prefix + b"".join(addresses)
    return bytes([next_header, (4 + len(data)) // 8 - 1, routing_type, segments_left]) + data


def fragment_header(next_header: int, offset: int, more: bool, ident: int) -> bytes:
    return struct.pack("!BBHI", next_header, 0, offset | more, ident)


def ah_header(next_header: int, spi: int, seq: int, icv: bytes) -> bytes:
    length = (12 + len(icv)) // 4 - 2
    return struct.pack("!BBHII", next_header, length, 0, spi, seq) + icv


UDP_DATAGRAM = udp(b"hello", sport=4000, dport=9)
A = bytes.fromhex("20010db8000000000000000000000001")
B = bytes.fromhex("20010db8000000000000000000000002")


# --------------------------------------------------------------------------- fixed header


def test_every_field_of_a_real_syn() -> None:
    packet = decode(SYN, 229)
    ip = packet[IPv6]
    assert (ip.version, ip.traffic_class, ip.flow_label) == (6, 0, 0)
    assert (ip.payload_len, ip.next_header, ip.hop_limit) == (40, IPProto.TCP, 64)
    assert str(ip.src_ip) == "2001:618:400::5199:cc70"
    assert str(ip.dst_ip) == "2001:618:1:8000::5"
    assert ip.extensions == ()
    assert ip.protocol == 6
    assert packet.protocols == "ipv6:tcp"
    assert packet.spans[0] == (0, 40)


def test_flow_label_and_traffic_class_bits() -> None:
    assert decode(FLOW_LABELLED_ACK, 101)[IPv6].flow_label == 0x18891
    frame = ipv6(UDP_DATAGRAM, next_header=17, traffic_class=0xB8, flow_label=0xFFFFF)
    ip = decode(frame, 229)[IPv6]
    assert (ip.traffic_class, ip.flow_label) == (0xB8, 0xFFFFF)


def test_payload_length_bounds_the_payload() -> None:
    frame = eth(ipv6(UDP_DATAGRAM, next_header=17)) + b"\xee" * 6  # Ethernet padding
    packet = decode(frame)
    assert packet.protocols == "eth:ipv6:udp:data"
    assert packet[Payload].data == b"hello"
    assert packet.spans[3] == (62, 67)


def test_payload_length_zero_uses_the_captured_bytes() -> None:
    # A jumbogram (RFC 2675) or a capture taken before segmentation offload.
    packet = decode(ipv6(UDP_DATAGRAM, next_header=17, payload_len=0), 229)
    assert packet.protocols == "ipv6:udp:data"
    assert packet[Payload].data == b"hello"


def test_no_next_header_ends_the_chain() -> None:
    assert decode(ipv6(b"", next_header=59), 229).protocols == "ipv6"


def test_esp_is_not_looked_into() -> None:
    packet = decode(ipv6(b"\x00\x00\x10\x00" + bytes(20), next_header=50), 229)
    assert packet.protocols == "ipv6:data"


def test_a_wrong_version_is_invalid() -> None:
    marker = decode(eth(b"\x45" + SYN[1:], ethertype=0x86DD)).layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.reason, marker.offset, marker.truncated) == (
        "ipv6", "ipv6: version 4 != 6", 14, False
    )


def test_a_cut_fixed_header_is_truncated() -> None:
    marker = decode(SYN[:39], 229).layers[0]
    assert isinstance(marker, Malformed)
    assert (marker.reason, marker.truncated) == ("ipv6: need 40 bytes, have 39", True)


def test_summary() -> None:
    assert decode(SYN, 229)[IPv6].summary() == "hlim=64 proto=TCP"
    frag = decode(FIRST_FRAGMENT)[IPv6]
    assert frag.summary() == "hlim=53 FRAG id=0x00000002 off=0 MF proto=UDP"


# --------------------------------------------------------------------------- fragments


def test_a_real_first_fragment_is_not_dispatched() -> None:
    packet = decode(FIRST_FRAGMENT)
    ip = packet[IPv6]
    assert ip.next_header == IPProto.FRAGMENT
    assert ip.extensions == (Fragment(44, 17, 0, True, 2),)
    assert ip.fragment == ip.extensions[0]
    assert (ip.is_fragment, ip.protocol) == (True, IPProto.UDP)
    # The UDP header is there, but the datagram is not: only reassembly decodes it.
    assert packet.protocols == "eth:ipv6:data"
    assert packet[Payload].data == FIRST_FRAGMENT[62:]


def test_a_real_last_fragment_has_an_offset_in_bytes() -> None:
    packet = decode(LAST_FRAGMENT)
    assert packet[IPv6].extensions == (Fragment(44, 17, 2896, False, 1),)
    assert packet.protocols == "eth:ipv6:data"


def test_an_atomic_fragment_is_a_whole_datagram() -> None:
    # RFC 6946: offset 0 and M clear; the payload is complete and is decoded.
    frame = ipv6(fragment_header(17, 0, False, 7) + UDP_DATAGRAM, next_header=44)
    packet = decode(frame, 229)
    assert packet.protocols == "ipv6:udp:data"
    assert not packet[IPv6].is_fragment


# --------------------------------------------------------------------------- extension chain


def test_hop_by_hop_router_alert_then_udp() -> None:
    hbh = options_header(17, bytes([5, 2, 0, 0]))  # Router Alert (RFC 2711): MLD
    packet = decode(ipv6(hbh + UDP_DATAGRAM, next_header=0), 229)
    assert packet.protocols == "ipv6:udp:data"
    (ext,) = packet[IPv6].extensions
    assert ext == HopByHop(0, 17, 8, (IPv6Option(5, b"\x00\x00"), IPv6Option(1, b"")))
    assert packet.spans[1] == (48, 56)


def test_pad1_is_a_single_byte_option() -> None:
    hbh = bytes([17, 0]) + bytes([5, 2, 0, 0]) + b"\x00\x00"  # Router Alert, Pad1, Pad1
    ext = decode(ipv6(hbh + UDP_DATAGRAM, next_header=0), 229)[IPv6].extensions[0]
    assert isinstance(ext, HopByHop)
    assert ext.options == (IPv6Option(5, b"\x00\x00"), IPv6Option(0, b""), IPv6Option(0, b""))


def test_routing_headers_list_their_addresses() -> None:
    rh0 = routing_header(43, 0, 2, [A, B])
    srh = routing_header(6, 4, 1, [B, A], prefix=bytes([1, 0, 0, 0]))  # last entry 1
    frame = ipv6(rh0 + srh + tcp(flags="S"), next_header=43)
    packet = decode(frame, 229)
    assert packet.protocols == "ipv6:tcp"
    first, second = packet[IPv6].extensions
    assert first == Routing(43, 43, 40, 0, 2, bytes(4) + A + B, (A, B))
    assert isinstance(second, Routing)
    assert (second.routing_type, second.segments_left, second.addresses) == (4, 1, (B, A))
    assert packet[IPv6].protocol == IPProto.TCP


def test_mobile_ipv6_type_2_and_unknown_types() -> None:
    rh2 = routing_header(17, 2, 1, [A])
    assert decode(ipv6(rh2 + UDP_DATAGRAM, next_header=43), 229)[IPv6].extensions[0] == (
        Routing(43, 17, 24, 2, 1, bytes(4) + A, (A,))
    )
    rh3 = bytes([17, 0, 3, 0, 1, 2, 3, 4])  # RPL source route: kept as data
    ext = decode(ipv6(rh3 + UDP_DATAGRAM, next_header=43), 229)[IPv6].extensions[0]
    assert ext == Routing(43, 17, 8, 3, 0, bytes([1, 2, 3, 4]), ())


def test_destination_options_fragment_and_ah_in_one_chain() -> None:
    chain = (
        options_header(51, bytes([0xC9, 16]) + A)  # Home Address option (RFC 6275)
        + ah_header(44, 0x1000, 5, b"\x11" * 12)
        + fragment_header(17, 0, False, 0xABCD)
        + UDP_DATAGRAM
    )
    packet = decode(ipv6(chain, next_header=60), 229)
    assert packet.protocols == "ipv6:udp:data"
    dst, ah, frag = packet[IPv6].extensions
    assert isinstance(dst, DestinationOptions)
    assert (dst.header_len, dst.options[0]) == (24, IPv6Option(0xC9, A))
    assert ah == AH(51, 44, 24, 0x1000, 5, b"\x11" * 12)
    assert frag == Fragment(44, 17, 0, False, 0xABCD)
    assert packet[UDP].dst_port == 9


def test_extension_summary_lists_the_chain() -> None:
    chain = options_header(43, b"") + routing_header(17, 0, 0, []) + UDP_DATAGRAM
    ip = decode(ipv6(chain, next_header=0), 229)[IPv6]
    assert ip.summary() == "hlim=64 HBH,RH proto=UDP"


def test_json_lists_extensions_as_records() -> None:
    chain = fragment_header(17, 0, False, 9) + UDP_DATAGRAM
    out = layer_to_dict(decode(ipv6(chain, next_header=44, src="::1", dst="::2"), 229)[IPv6])
    assert (out["layer"], out["src"], out["dst"]) == ("ipv6", "::1", "::2")
    assert out["extensions"] == [
        {"kind": 44, "next_header": 17, "fragment_offset": 0, "more_fragments": False, "id": 9}
    ]


# --------------------------------------------------------------------------- damage


def test_the_chain_is_bounded() -> None:
    one = bytes([60, 0, 1, 4, 0, 0, 0, 0])  # Destination Options → Destination Options
    frame = ipv6(one * (MAX_EXTENSIONS + 1) + UDP_DATAGRAM, next_header=60)
    packet = decode(frame, 229)
    assert len(packet[IPv6].extensions) == MAX_EXTENSIONS
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.truncated) == ("ipv6", False)
    assert marker.offset == 40 + 8 * MAX_EXTENSIONS
    assert marker.reason == "ipv6: more than 64 extension headers"


def test_an_extension_longer_than_the_payload_length_is_invalid() -> None:
    hbh = bytes([17, 1]) + bytes(14)  # says 16 bytes …
    frame = ipv6(hbh, next_header=0, payload_len=8) + bytes(8)  # … payload length says 8
    packet = decode(frame, 229)
    assert packet[IPv6].extensions == ()
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.offset, marker.truncated) == (40, False)
    assert marker.reason == (
        "ipv6.extensions[0] (HBH): needs 16 bytes, payload length leaves 8"
    )


def test_an_extension_cut_by_the_capture_is_truncated_and_keeps_the_header() -> None:
    packet = decode(FIRST_FRAGMENT[:14 + 40 + 5])
    assert str(packet[IPv6].src_ip) == "2607:f740:b::f93"
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.offset, marker.truncated) == ("ipv6", 54, True)
    assert marker.reason == "ipv6.extensions[0] (FRAG): need 8 bytes, have 5"
    assert marker.data == FIRST_FRAGMENT[54:59]


def test_an_ah_shorter_than_its_fixed_fields_is_invalid() -> None:
    ah = struct.pack("!BBHI", 17, 0, 0, 1)  # payload length 0: 8 bytes, no room for seq
    marker = decode(ipv6(ah + UDP_DATAGRAM, next_header=51), 229).layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.reason, marker.offset) == ("ipv6.extensions[0].length: AH of 8 bytes < 12", 40)


@pytest.mark.parametrize(
    ("options", "reason", "offset"),
    [
        (bytes([1, 5, 0, 0, 0, 0]),
         "ipv6.extensions[0].options[0].length 5 overflows the header (4 bytes left)", 42),
        (bytes([0, 0, 0, 0, 0, 5]),
         "ipv6.extensions[0].options[5].length: missing, option 5 ends the header", 47),
    ],
)
def test_an_option_running_past_its_header_is_invalid(options: bytes, reason: str,
                                                       offset: int) -> None:
    hbh = bytes([17, 0]) + options
    packet = decode(ipv6(hbh + UDP_DATAGRAM, next_header=0), 229)
    assert packet[IPv6].extensions == ()
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.reason, marker.offset, marker.truncated) == (reason, offset, False)


# --------------------------------------------------------------------------- cuts


def test_every_cut_of_a_real_syn_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(SYN, 229)


def test_every_cut_of_a_real_first_fragment_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(FIRST_FRAGMENT)


def test_every_cut_of_a_long_extension_chain_is_a_prefix() -> None:
    chain = (
        options_header(43, bytes([5, 2, 0, 0]))
        + routing_header(60, 0, 1, [A])
        + options_header(51, b"")
        + ah_header(44, 1, 2, bytes(4))
        + fragment_header(17, 0, False, 3)
        + UDP_DATAGRAM
    )
    assert_every_cut_is_a_prefix(eth(ipv6(chain, next_header=0)))


def test_damaged_extension_chains_never_raise() -> None:
    chain = (
        options_header(43, bytes([5, 2, 0, 0]))
        + routing_header(60, 4, 1, [A, B], prefix=bytes([1, 0, 0, 0]))
        + options_header(51, bytes([0xC9, 16]) + A)
        + ah_header(44, 1, 2, bytes(4))
        + fragment_header(17, 0, False, 3)
        + UDP_DATAGRAM
    )
    assert_damage_never_raises(eth(ipv6(chain, next_header=0)), rounds=800)
