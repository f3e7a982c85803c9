"""IPv4, RFC 791: every header field, fragments, options, bounds and checksum."""

from __future__ import annotations

import struct

import pytest
from builders import checksum16, eth, ipv4, ipv4_tcp, ipv4_udp, tcp, udp

from layerpeek import IPv4, Malformed, Payload
from layerpeek.layers.ipv4 import (
    EOL,
    NOP,
    IPProto,
    IPv4Flags,
    Route,
    RouterAlert,
    Timestamp,
    UnknownOption,
    header_checksum_ok,
    verify_header_checksum,
)
from layerpeek.render.json import layer_to_dict
from layers.test_ethernet import assert_damage_never_raises, assert_every_cut_is_a_prefix, decode

#: tcp_syn_rst.pcap frame 1 (zeek test trace).
SYN = bytes.fromhex(
    "000000000001 000000000001 0800"  # Ethernet
    "45"  # version 4, IHL 5 (20 bytes)
    "00"  # type of service
    "0028"  # total length 40
    "0001"  # identification
    "0000"  # flags 0, fragment offset 0
    "40"  # TTL 64
    "06"  # protocol TCP
    "76cb"  # header checksum (correct)
    "01010101 01010102"  # 1.1.1.1 → 1.1.1.2
    "334b 7a51 00000000 00000000 5002 2000 de41 0000"  # TCP SYN
)

#: ipv4_frag_http_get.pcap (PcapPlusPlus frag_http_req): the IPv4 headers of
#: fragments 1, 2 and 11 of one HTTP GET (Ethernet header and data elided).
FIRST_FRAGMENT = bytes.fromhex(
    "4500 00a4 425f"  # total length 164, id 0x425f
    "2000"  # flags MF, offset 0
    "80 06 acd3 ac108536 d8892151"  # TTL 128, TCP, checksum; 172.16.133.54 → 216.137.33.81
)
SECOND_FRAGMENT = bytes.fromhex("4500 00a4 425f 2012 8006 acc1 ac108536 d8892151")  # MF, 18×8
LAST_FRAGMENT = bytes.fromhex("4500 003c 425f 00b4 8006 cc87 ac108536 d8892151")  # 180×8


def options_frame(options: bytes, payload: bytes = b"") -> bytes:
    return eth(ipv4(payload, proto=253, options=options))


def test_every_header_field_of_a_real_frame() -> None:
    packet = decode(SYN)
    ip = packet[IPv4]
    assert (ip.version, ip.header_len, ip.tos, ip.total_len, ip.id) == (4, 20, 0, 40, 1)
    assert (ip.flags, ip.fragment_offset, ip.ttl, ip.protocol) == (0, 0, 64, IPProto.TCP)
    assert ip.checksum == 0x76CB
    assert (ip.src, ip.dst) == (bytes([1, 1, 1, 1]), bytes([1, 1, 1, 2]))
    assert (str(ip.src_ip), str(ip.dst_ip)) == ("1.1.1.1", "1.1.1.2")
    assert ip.options == ()
    assert packet.protocols == "eth:ipv4:tcp"
    assert packet.spans[1] == (14, 34)


def test_summary_is_short() -> None:
    assert decode(SYN)[IPv4].summary() == "ttl=64 id=0x0001 proto=TCP"
    frag = decode(eth(SECOND_FRAGMENT + bytes(144)))[IPv4]
    assert frag.summary() == "ttl=128 id=0x425f MF off=144 proto=TCP"
    df = decode(eth(ipv4_udp(udp(b"x", dport=9), ident=0x1C46, flags=2)))[IPv4]
    assert df.summary() == "ttl=64 id=0x1c46 DF proto=UDP"


def test_flag_bits_and_their_properties() -> None:
    ip = decode(eth(ipv4_udp(udp(b"x", dport=9), flags=2)))[IPv4]
    assert ip.flags == IPv4Flags.DF
    assert (ip.dont_fragment, ip.more_fragments, ip.is_fragment) == (True, False, False)
    evil = decode(eth(ipv4_udp(udp(b"x", dport=9), flags=4)))[IPv4]
    assert evil.flags == IPv4Flags.RESERVED


def test_dscp_and_ecn_split_the_tos_octet() -> None:
    ip = decode(eth(ipv4_udp(udp(b"x", dport=9), tos=0xB9)))[IPv4]  # EF (46), ECT(1)
    assert (ip.tos, ip.dscp, ip.ecn) == (0xB9, 46, 1)


@pytest.mark.parametrize(
    ("header", "flags", "offset"),
    [(FIRST_FRAGMENT, 1, 0), (SECOND_FRAGMENT, 1, 144), (LAST_FRAGMENT, 0, 1440)],
)
def test_real_fragments_are_not_dispatched(header: bytes, flags: int, offset: int) -> None:
    total_len = struct.unpack_from("!H", header, 2)[0]
    data = bytes(range(total_len - 20))
    packet = decode(eth(header + data))
    ip = packet[IPv4]
    assert (ip.flags, ip.fragment_offset, ip.id) == (flags, offset, 0x425F)
    assert ip.is_fragment
    # Even the first fragment, whose TCP header is complete, stays a payload:
    # only the reassembled datagram is decoded (layerpeek.flows.defrag).
    assert packet.protocols == "eth:ipv4:data"
    assert packet[Payload].data == data


def test_total_length_bounds_the_payload() -> None:
    frame = eth(ipv4_udp(udp(b"hello", dport=9))) + b"\xee" * 11  # Ethernet padding
    packet = decode(frame)
    assert packet[Payload].data == b"hello"
    assert packet.spans[1] == (14, 34)
    assert packet.spans[2] == (34, 42)


def test_total_length_zero_means_use_the_captured_bytes() -> None:
    # Captured on the sending host with TCP segmentation offload: the NIC
    # fills in the length of each segment it cuts from this super-packet.
    frame = eth(ipv4_udp(udp(b"x" * 100, dport=9), total_len=0))
    packet = decode(frame)
    assert packet[IPv4].total_len == 0
    assert packet.protocols == "eth:ipv4:udp:data"
    assert packet[Payload].data == b"x" * 100


def test_a_total_length_beyond_the_capture_decodes_what_is_there() -> None:
    frame = eth(ipv4_udp(udp(b"y" * 50, dport=9)))[:14 + 20 + 8 + 10]
    packet = decode(frame)
    assert packet[IPv4].total_len == 78
    assert packet[Payload].data == b"y" * 10


def test_total_length_below_the_header_length_is_invalid() -> None:
    packet = decode(eth(ipv4(b"", proto=17, total_len=19)))
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.offset, marker.truncated) == ("ipv4", 16, False)
    assert marker.reason == "ipv4: total length 19 < header length 20"


def test_ihl_below_5_is_invalid_at_the_header() -> None:
    frame = bytearray(SYN)
    frame[14] = 0x44  # IHL 4 words = 16 bytes
    marker = decode(bytes(frame)).layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.offset, marker.truncated) == ("ipv4", 14, False)
    assert marker.reason == "ipv4: header length 16 < 20 (IHL 4)"


def test_a_wrong_version_is_invalid() -> None:
    frame = bytearray(SYN)
    frame[14] = 0x65
    marker = decode(bytes(frame)).layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.reason, marker.offset, marker.truncated) == ("ipv4: version 6 != 4", 14, False)


def test_ip_in_ip_is_followed() -> None:
    inner = ipv4_udp(udp(b"x", dport=9), src="192.168.0.1", dst="192.168.0.2")
    packet = decode(eth(ipv4(inner, proto=4)))
    assert packet.protocols == "eth:ipv4:ipv4:udp:data"
    inner_ip = packet.layers[2]
    assert isinstance(inner_ip, IPv4)
    assert str(inner_ip.src_ip) == "192.168.0.1"


# --------------------------------------------------------------------------- options


def test_record_route_nop_and_eol() -> None:
    rr = bytes([7, 11, 8]) + bytes([192, 0, 2, 1]) + bytes(4)  # one hop recorded, one free
    packet = decode(options_frame(rr + b"\x01\x00"))
    ip = packet[IPv4]
    assert ip.header_len == 36
    assert ip.options == (
        Route(7, 8, (bytes([192, 0, 2, 1]), bytes(4))),
        NOP(),
        EOL(),
    )
    assert packet.protocols == "eth:ipv4"


def test_source_routes_and_router_alert() -> None:
    lsrr = bytes([131, 7, 4]) + bytes([10, 9, 9, 9])
    ra = bytes([148, 4, 0, 0])
    ip = decode(options_frame(lsrr + ra + b"\x01"))[IPv4]
    assert ip.options == (Route(131, 4, (bytes([10, 9, 9, 9]),)), RouterAlert(148, 0), NOP())
    ssrr = bytes([137, 3, 4])
    assert decode(options_frame(ssrr))[IPv4].options[0] == Route(137, 4, ())


def test_timestamp_option_in_both_layouts() -> None:
    only_times = bytes([68, 12, 13, 0x10]) + struct.pack("!II", 1000, 2000)
    ip = decode(options_frame(only_times))[IPv4]
    assert ip.options[0] == Timestamp(68, 13, 1, 0, (1000, 2000), ())
    with_addresses = bytes([68, 12, 13, 0x01, 9, 9, 9, 9]) + struct.pack("!I", 77)
    ip = decode(options_frame(with_addresses))[IPv4]
    assert ip.options[0] == Timestamp(68, 13, 0, 1, (77,), (bytes([9, 9, 9, 9]),))


def test_unknown_options_keep_their_data() -> None:
    stream_id = bytes([136, 4, 0x12, 0x34])
    assert decode(options_frame(stream_id))[IPv4].options == (
        UnknownOption(136, b"\x12\x34"),
    )


def test_options_are_decoded_before_the_payload_is_handed_over() -> None:
    frame = eth(ipv4_udp(udp(b"x", dport=9), options=bytes([148, 4, 0, 0])))
    packet = decode(frame)
    assert packet.protocols == "eth:ipv4:udp:data"
    assert packet.spans[1] == (14, 38)


@pytest.mark.parametrize(
    ("options", "reason", "at"),
    [
        (b"\x01\x07\x01", "ipv4.options[1].length 1 < 2", 1),
        (b"\x01\x07\x09\x04", "ipv4.options[1].length 9 overflows the header (3 bytes left)", 1),
        (b"\x01\x01\x01\x07", "ipv4.options[3].length: missing, option 7 ends the header", 3),
        (bytes([7, 5, 4, 0, 0, 0, 0, 0]),
         "ipv4.options[0].length 5: a route option is 3 + 4n bytes", 0),
        (bytes([68, 6, 5, 1, 0, 0, 0, 0]),
         "ipv4.options[0].length 6: timestamp flag 1 needs 4 + 8n bytes", 0),
        (bytes([148, 3, 0, 0]), "ipv4.options[0].length 3 != 4 (router alert)", 0),
    ],
)
def test_bad_option_lengths_name_the_field(options: bytes, reason: str, at: int) -> None:
    packet = decode(options_frame(options, payload=b"zz"))
    assert IPv4 in packet  # the fixed header is kept, with the options before the bad one
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.reason, marker.truncated) == ("ipv4", reason, False)
    assert marker.offset == 14 + 20 + at  # the damaged option's type byte
    assert marker.data == packet.data[marker.offset :]


def test_options_cut_by_the_capture_are_truncated() -> None:
    frame = options_frame(bytes([148, 4, 0, 0]))[: 14 + 22]
    marker = decode(frame).layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.truncated, marker.offset) == ("ipv4", True, 14)
    assert marker.reason == "ipv4: need 24 bytes (header with options), have 22"


def test_json_shows_addresses_and_typed_options() -> None:
    lsrr = bytes([131, 7, 4]) + bytes([10, 9, 9, 9])
    out = layer_to_dict(decode(options_frame(lsrr))[IPv4])
    assert (out["layer"], out["src"], out["dst"]) == ("ipv4", "10.0.0.1", "10.0.0.2")
    assert out["options"] == [
        {"kind": 131, "pointer": 4, "addresses": ["10.9.9.9"]},
        {"kind": 0},
    ]


# --------------------------------------------------------------------------- checksum


def test_header_checksum_of_real_frames() -> None:
    assert header_checksum_ok(SYN, 14, 20)
    assert header_checksum_ok(FIRST_FRAGMENT, 0, 20)
    assert verify_header_checksum(decode(SYN)) is True


def test_checksum_offload_zero_fails_verification() -> None:
    # rawip_mixed.pcap frame 54 was captured before the NIC filled the checksum in.
    ack = bytes.fromhex("4500002844354000800600000a00000152669813") + bytes(20)
    assert verify_header_checksum(decode(ack, 101)) is False


def test_checksum_covers_options_and_every_ipv4_header_of_a_tunnel() -> None:
    good = eth(ipv4(ipv4_udp(udp(b"x", dport=9)), proto=4, options=b"\x94\x04\x00\x00"))
    assert verify_header_checksum(decode(good)) is True
    inner_bad = eth(ipv4(ipv4_udp(udp(b"x", dport=9), checksum=0x1234), proto=4))
    assert verify_header_checksum(decode(inner_bad)) is False


def test_no_ipv4_means_no_verdict() -> None:
    assert verify_header_checksum(decode(eth(b"\x00" * 28, ethertype=0x0806))) is None


def test_a_header_not_wholly_present_is_not_ok() -> None:
    assert not header_checksum_ok(SYN, 14, 60)
    assert not header_checksum_ok(SYN, 14, 19)


def test_a_changed_header_byte_fails_the_checksum() -> None:
    hdr = bytearray(ipv4(b"", proto=17))
    assert checksum16(bytes(hdr)) == 0 and header_checksum_ok(bytes(hdr), 0, 20)
    hdr[8] -= 1  # a router decremented the TTL without updating the checksum
    assert not header_checksum_ok(bytes(hdr), 0, 20)


# --------------------------------------------------------------------------- cuts


def test_every_cut_of_a_syn_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(SYN)


def test_every_cut_of_a_header_with_options_is_a_prefix() -> None:
    options = bytes([7, 7, 4]) + bytes(4) + bytes([68, 8, 5, 0]) + bytes(4) + b"\x01\x00"
    assert_every_cut_is_a_prefix(eth(ipv4_udp(udp(b"data", dport=9), options=options)))


def test_every_cut_of_a_fragment_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(eth(SECOND_FRAGMENT + bytes(range(144))))


def test_every_cut_of_tcp_in_ip_in_ip_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(eth(ipv4(ipv4_tcp(tcp(flags="S")), proto=4)))


def test_every_cut_of_a_tso_datagram_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(eth(ipv4_udp(udp(b"z" * 30, dport=9), total_len=0)))


def test_damaged_headers_with_options_never_raise() -> None:
    lsrr = bytes([131, 11, 4]) + bytes(8)
    stamps = bytes([68, 12, 5, 1]) + bytes(8)
    options = lsrr + stamps + bytes([148, 4, 0, 0])
    assert_damage_never_raises(eth(ipv4_udp(udp(b"data", dport=9), options=options)), rounds=800)
