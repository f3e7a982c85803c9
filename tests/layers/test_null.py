"""BSD loopback: LINKTYPE_NULL (0, host byte order) and LINKTYPE_LOOP (108, network order)."""

from __future__ import annotations

import struct

import pytest
from builders import ipv4_udp, ipv6, udp

from layerpeek import IPv4, IPv6, Malformed, Null, Payload
from layerpeek.layers.null import AddressFamily
from layers.test_ethernet import assert_damage_never_raises, assert_every_cut_is_a_prefix, decode

#: ipv6_http_null_loopback.pcap frame 17 (gopacket test, macOS lo0): a SYN over IPv6.
DARWIN_IPV6_SYN = bytes.fromhex(
    "1e000000"  # family 30 (AF_INET6 on Darwin), little-endian host order
    "6000 0000 002c 06 40"  # IPv6: payload 44 bytes, next header TCP, hop limit 64
    "00000000000000000000000000000001"  # ::1
    "00000000000000000000000000000001"  # ::1
    "e5b6 1f90 67e34c90 00000000 b002 ffff 0034 0000"  # TCP SYN 58806 → 8080
    "02043fc4 01030304 0101080a 05c08de0 00000000 04020000"  # TCP options
)

#: null_loopback_http_post_chunked.pcap frame 1 (suricata-verify): a SYN over IPv4.
IPV4_SYN = bytes.fromhex(
    "02000000"  # family 2 (AF_INET), little-endian
    "4500 0040 0000 4000 4006 0000 7f000001 7f000001"  # IPv4 127.0.0.1 → 127.0.0.1
    "d53c 1f48 d8d4ac40 00000000 b002 ffff fe34 0000"  # TCP SYN 54588 → 8008
    "02043fd8 01030306 0101080a faec2d03 00000000 04020000"  # TCP options
)


def test_darwin_ipv6_family_from_a_real_frame() -> None:
    packet = decode(DARWIN_IPV6_SYN, 0)
    assert packet.protocols == "null:ipv6:tcp"
    assert packet[Null].family == AddressFamily.INET6_DARWIN == 30
    assert packet.spans[0] == (0, 4)
    assert packet[IPv6].src_ip.compressed == "::1"


def test_ipv4_family_from_a_real_frame() -> None:
    packet = decode(IPV4_SYN, 0)
    assert packet.protocols == "null:ipv4:tcp"
    assert packet[Null].family == AddressFamily.INET


@pytest.mark.parametrize("family", [10, 24, 28, 30])
def test_every_systems_af_inet6_hands_over_to_ipv6(family: int) -> None:
    packet = decode(struct.pack("<I", family) + ipv6(udp(b"x", dport=9), next_header=17), 0)
    assert packet.protocols == "null:ipv6:udp:data"
    assert packet[Null].family == family


def test_a_big_endian_capture_host_is_detected_by_the_zero_low_half() -> None:
    # The same file format written on a big-endian machine (SPARC, PowerPC).
    frame = struct.pack(">I", 2) + ipv4_udp(udp(b"x", dport=9))
    packet = decode(frame, 0)
    assert packet[Null].family == 2
    assert packet.protocols == "null:ipv4:udp:data"


def test_linktype_loop_is_network_byte_order() -> None:
    frame = struct.pack(">I", 24) + ipv6(udp(b"x", dport=9), next_header=17)
    packet = decode(frame, 108)
    assert packet[Null].family == AddressFamily.INET6_BSD
    assert packet.protocols == "null:ipv6:udp:data"


def test_other_families_keep_their_payload() -> None:
    packet = decode(struct.pack("<I", 7) + b"\x81\x01\x02", 0)  # AF_ISO: OSI CLNP
    assert packet.protocols == "null:data"
    assert packet[Payload].data == b"\x81\x01\x02"
    assert packet[Null].summary() == "family ISO"


def test_summary_names_the_family() -> None:
    assert decode(DARWIN_IPV6_SYN, 0)[Null].summary() == "family INET6_DARWIN"


def test_three_bytes_are_truncated() -> None:
    marker = decode(IPV4_SYN[:3], 0).layers[0]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.offset, marker.truncated) == ("null", 0, True)


def test_the_address_family_of_a_v4_frame_does_not_decide_the_ip_version() -> None:
    # A lying header: family says IPv6 but the packet is IPv4.  We follow the
    # header (as Wireshark does) and report the mismatch as invalid.
    packet = decode(struct.pack("<I", 30) + IPV4_SYN[4:], 0)
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.truncated, marker.offset) == ("ipv6", False, 4)
    assert IPv4 not in packet


def test_every_cut_of_a_darwin_ipv6_syn_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(DARWIN_IPV6_SYN, 0)


def test_every_cut_of_an_ipv4_syn_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(IPV4_SYN, 0)


def test_every_cut_of_a_loop_frame_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(struct.pack(">I", 2) + ipv4_udp(udp(b"abc", dport=9)), 108)


def test_tcp_over_loop_is_decoded() -> None:
    assert decode(struct.pack(">I", 2) + IPV4_SYN[4:], 108).protocols == "null:ipv4:tcp"


def test_damaged_frames_never_raise() -> None:
    assert_damage_never_raises(DARWIN_IPV6_SYN, 0)
