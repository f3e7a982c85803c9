"""ICMP for IPv4, RFC 792: echo, and errors that quote the offending datagram."""

from __future__ import annotations

import struct

from builders import checksum16, eth, ipv4, ipv4_tcp, ipv4_udp, tcp, udp

from layerpeek import ICMP, IPv4, Malformed
from layerpeek.layers.icmp import (
    Echo,
    ICMPType,
    ParameterProblem,
    RawBody,
    Redirect,
    SourceQuench,
    TimeExceeded,
    Timestamp,
    Unreachable,
    UnreachableCode,
)
from layerpeek.render.json import layer_to_dict
from layers.test_ethernet import assert_damage_never_raises, assert_every_cut_is_a_prefix, decode

#: vlan_ids_icmp_cdp.pcap frame 1 (PcapPlusPlus VlanPackets) without its two
#: VLAN tags: a Cisco ping (echo request) of 72 bytes of data.
ECHO_REQUEST = bytes.fromhex(
    "001bd41ba4d8 0013c3dfae18 0800"  # Ethernet
    "4500 0064 000f 0000 ff01 929b 0a760a01 0a760a02"  # IPv4 10.118.10.1 → .2, ICMP
    "08"  # type 8: echo request
    "00"  # code 0
    "ceb7"  # checksum
    "0003"  # identifier 3
    "0000"  # sequence number 0
    "00000000001faf70"  # data: zeros and a timestamp …
) + bytes.fromhex("abcd") * 32  # … then the 0xabcd filler

#: The datagram an error quotes: 10.0.0.2:5353 → 10.0.0.1:53, TTL 3, 11 bytes of DNS.
OFFENDER = ipv4_udp(udp(b"query-bytes", sport=5353, dport=53), src="10.0.0.2", dst="10.0.0.1",
                    ttl=3)


def icmp(icmp_type: int, code: int, rest: bytes, body: bytes = b"") -> bytes:
    """An ICMP message in IPv4 in Ethernet, with a correct ICMP checksum."""
    message = struct.pack("!BBH", icmp_type, code, 0) + rest + body
    message = message[:2] + struct.pack("!H", checksum16(message)) + message[4:]
    return eth(ipv4(message, proto=1, src="192.0.2.1", dst="10.0.0.2"))


def test_real_echo_request() -> None:
    packet = decode(ECHO_REQUEST)
    assert packet.protocols == "eth:ipv4:icmp"
    msg = packet[ICMP]
    assert (msg.type, msg.code, msg.checksum) == (ICMPType.ECHO_REQUEST, 0, 0xCEB7)
    assert msg.body == Echo(3, 0, ECHO_REQUEST[42:])
    assert len(msg.body.data) == 72
    assert msg.summary() == "echo request id=3 seq=0"
    assert (msg.quoted, msg.quoted_ports) == (None, None)


def test_echo_reply_summary() -> None:
    msg = decode(icmp(0, 0, struct.pack("!HH", 1, 2), b"ping"))[ICMP]
    assert msg.body == Echo(1, 2, b"ping")
    assert msg.summary() == "echo reply id=1 seq=2"


def test_port_unreachable_decodes_the_quoted_header_and_ports() -> None:
    packet = decode(icmp(3, 3, bytes(4), OFFENDER))
    assert packet.protocols == "eth:ipv4:icmp"  # the quote is inside ICMP, not in the chain
    msg = packet[ICMP]
    body = msg.body
    assert isinstance(body, Unreachable)
    assert msg.code == UnreachableCode.PORT
    quoted = body.quoted
    assert isinstance(quoted, IPv4)
    assert (str(quoted.src_ip), str(quoted.dst_ip), quoted.ttl, quoted.protocol) == (
        "10.0.0.2", "10.0.0.1", 3, 17
    )
    assert body.quoted_ports == (5353, 53)
    assert body.quoted_data == OFFENDER
    assert (msg.quoted, msg.quoted_ports) == (quoted, (5353, 53))
    assert msg.summary() == "destination unreachable (port) for udp 10.0.0.2:5353 → 10.0.0.1:53"


def test_fragmentation_needed_carries_the_next_hop_mtu() -> None:
    quote = ipv4_tcp(tcp(sport=4444, dport=80), src="10.0.0.2", dst="10.0.0.9")[:28]
    msg = decode(icmp(3, 4, struct.pack("!HH", 0, 1400), quote))[ICMP]
    assert isinstance(msg.body, Unreachable)
    assert (msg.body.next_hop_mtu, msg.body.quoted_ports) == (1400, (4444, 80))
    assert msg.summary() == (
        "destination unreachable (fragmentation needed) mtu=1400 "
        "for tcp 10.0.0.2:4444 → 10.0.0.9:80"
    )


def test_time_exceeded_with_the_minimum_quote() -> None:
    msg = decode(icmp(11, 0, bytes(4), OFFENDER[:28]))[ICMP]
    assert isinstance(msg.body, TimeExceeded)
    assert msg.body.quoted_ports == (5353, 53)
    assert msg.summary() == "time exceeded (ttl) for udp 10.0.0.2:5353 → 10.0.0.1:53"


def test_a_quote_too_short_for_an_ip_header_is_kept_raw() -> None:
    packet = decode(icmp(3, 1, bytes(4), OFFENDER[:12]))
    assert packet.protocols == "eth:ipv4:icmp"
    msg = packet[ICMP]
    assert isinstance(msg.body, Unreachable)
    assert (msg.body.quoted, msg.body.quoted_ports) == (None, None)
    assert msg.body.quoted_data == OFFENDER[:12]
    assert msg.summary() == "destination unreachable (host)"


def test_a_quote_without_the_port_bytes_has_no_ports() -> None:
    msg = decode(icmp(3, 3, bytes(4), OFFENDER[:23]))[ICMP]
    assert isinstance(msg.body, Unreachable)
    assert msg.body.quoted is not None
    assert msg.body.quoted_ports is None
    assert msg.summary() == "destination unreachable (port) for udp 10.0.0.2 → 10.0.0.1"


def test_an_invalid_quoted_header_is_kept_raw() -> None:
    broken = b"\x42" + OFFENDER[1:]  # IHL 2
    msg = decode(icmp(3, 3, bytes(4), broken))[ICMP]
    assert isinstance(msg.body, Unreachable)
    assert msg.body.quoted is None
    assert msg.body.quoted_data == broken


def test_a_quoted_non_first_fragment_has_no_ports() -> None:
    fragment = ipv4(b"\x12\x34\x56\x78" * 2, proto=17, flags=0, frag_offset=1480)
    msg = decode(icmp(11, 1, bytes(4), fragment))[ICMP]
    assert isinstance(msg.body, TimeExceeded)
    assert msg.body.quoted is not None and msg.body.quoted.fragment_offset == 1480
    assert msg.body.quoted_ports is None


def test_rfc_4884_length_bounds_the_quote() -> None:
    # Length 32 words = 128 bytes of original datagram, then an extension structure.
    original = OFFENDER + bytes(128 - len(OFFENDER))
    extension = bytes.fromhex("20000000 0008 0101 00000001")
    msg = decode(icmp(11, 0, bytes([0, 32, 0, 0]), original + extension))[ICMP]
    assert isinstance(msg.body, TimeExceeded)
    assert msg.body.original_len == 128
    assert msg.body.quoted_data == original


def test_redirect_names_the_gateway() -> None:
    msg = decode(icmp(5, 1, bytes([192, 0, 2, 254]), OFFENDER[:28]))[ICMP]
    assert isinstance(msg.body, Redirect)
    assert msg.body.gateway == bytes([192, 0, 2, 254])
    assert msg.summary() == (
        "redirect (host) to 192.0.2.254 for udp 10.0.0.2:5353 → 10.0.0.1:53"
    )
    assert layer_to_dict(msg)["body"]["gateway"] == "192.0.2.254"


def test_parameter_problem_pointer_and_source_quench() -> None:
    msg = decode(icmp(12, 0, bytes([8, 0, 0, 0]), OFFENDER[:28]))[ICMP]
    assert isinstance(msg.body, ParameterProblem)
    assert msg.body.pointer == 8
    assert msg.summary().startswith("parameter problem pointer=8 for udp")
    quench = decode(icmp(4, 0, bytes(4), OFFENDER[:28]))[ICMP]
    assert isinstance(quench.body, SourceQuench)
    assert quench.quoted_ports == (5353, 53)


def test_timestamp_request() -> None:
    msg = decode(icmp(13, 0, struct.pack("!HH", 7, 9), struct.pack("!III", 100, 200, 300)))[ICMP]
    assert msg.body == Timestamp(7, 9, 100, 200, 300)
    assert msg.summary() == "timestamp request id=7 seq=9"


def test_a_cut_timestamp_is_truncated() -> None:
    frame = icmp(14, 0, struct.pack("!HH", 7, 9), struct.pack("!III", 100, 200, 300))[:-1]
    marker = decode(frame).layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.offset, marker.truncated) == ("icmp", 34, True)
    assert marker.reason == "icmp timestamp: need 20 bytes, have 19"


def test_other_types_keep_their_bytes() -> None:
    msg = decode(icmp(9, 0, bytes([1, 2, 0, 30]), bytes([10, 0, 0, 1, 0, 0, 0, 0])))[ICMP]
    assert msg.body == RawBody(bytes([1, 2, 0, 30]), bytes([10, 0, 0, 1, 0, 0, 0, 0]))
    assert msg.summary() == "type 9"


def test_fewer_than_8_bytes_are_truncated() -> None:
    marker = decode(ECHO_REQUEST[:41]).layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.offset, marker.truncated) == ("icmp", 34, True)
    assert marker.reason == "icmp: need 8 bytes, have 7"


def test_json_nests_the_body_and_the_quoted_header() -> None:
    out = layer_to_dict(decode(icmp(3, 3, bytes(4), OFFENDER[:28]))[ICMP])
    assert (out["layer"], out["type"], out["code"]) == ("icmp", 3, 3)
    assert out["body"]["quoted"]["src"] == "10.0.0.2"
    assert out["body"]["quoted_ports"] == [5353, 53]


def test_every_cut_of_a_real_echo_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(ECHO_REQUEST)


def test_every_cut_of_a_port_unreachable_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(icmp(3, 3, bytes(4), OFFENDER))


def test_every_cut_of_a_quote_with_ip_options_is_a_prefix() -> None:
    quote = ipv4_udp(udp(b"x", sport=1, dport=2), options=bytes([148, 4, 0, 0]))
    assert_every_cut_is_a_prefix(icmp(11, 0, bytes(4), quote))


def test_damaged_frames_never_raise() -> None:
    assert_damage_never_raises(icmp(3, 3, bytes(4), OFFENDER))
