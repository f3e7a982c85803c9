"""ICMPv6, RFC 4443, and Neighbor Discovery, RFC 4861."""

from __future__ import annotations

import struct

from builders import eth, ipv6, udp

from layerpeek import ICMPv6, IPv6, Malformed
from layerpeek.layers.icmp import Echo, RawBody
from layerpeek.layers.icmpv6 import (
    ICMPv6Type,
    LinkLayerAddress,
    MTUOption,
    NAFlags,
    NeighborAdvertisement,
    NeighborSolicitation,
    PacketTooBig,
    ParameterProblem,
    PrefixInformation,
    Redirect,
    RouterAdvertisement,
    RouterSolicitation,
    TimeExceeded,
    UnknownNDPOption,
    Unreachable,
)
from layerpeek.render.json import layer_to_dict
from layers.test_ethernet import assert_damage_never_raises, assert_every_cut_is_a_prefix, decode

# Frames of icmpv6_mix.pcap (zeek communityid/icmp6 trace).
ETH_TO_A = "0060970769ea 0000860580da 86dd"  # Ethernet towards 00:60:97:07:69:ea
ETH_TO_B = "0000860580da 0060970769ea 86dd"  # and back
LL_A = "fe80000000000000026097fffe0769ea"  # fe80::260:97ff:fe07:69ea
LL_B = "fe80000000000000020086fffe0580da"  # fe80::200:86ff:fe05:80da
GLOBAL_A = "3ffe050700000001026097fffe0769ea"  # 3ffe:507:0:1:260:97ff:fe07:69ea
GLOBAL_B = "3ffe050700000001020086fffe0580da"  # 3ffe:507:0:1:200:86ff:fe05:80da
FAR = "3ffe05010410000002c0dffffe47033e"  # 3ffe:501:410:0:2c0:dfff:fe47:33e

#: Frame 1: who has fe80::260:97ff:fe07:69ea?
NEIGHBOR_SOLICITATION = bytes.fromhex(
    ETH_TO_A + "6000 0000 0020 3a ff" + LL_B + LL_A  # hop limit 255, as NDP requires
    + "87 00 68bd"  # type 135, code 0, checksum
    + "00000000"  # reserved
    + LL_A  # target address
    + "01 01 0000860580da"  # option: source link-layer address (1 × 8 bytes)
)

#: Frame 37: 3ffe:507:0:1:260:97ff:fe07:69ea is at 00:60:97:07:69:ea.
NEIGHBOR_ADVERTISEMENT = bytes.fromhex(
    ETH_TO_B + "6000 0000 0020 3a ff" + GLOBAL_A + GLOBAL_B
    + "88 00 b8ba"  # type 136
    + "e0000000"  # flags: router, solicited, override
    + GLOBAL_A  # target address
    + "02 01 0060970769ea"  # option: target link-layer address
)

#: Frame 11: a traceroute probe's hop limit ran out; the router quotes it.
TIME_EXCEEDED = bytes.fromhex(
    ETH_TO_B + "6000 0000 0044 3a 40" + GLOBAL_A + GLOBAL_B
    + "03 00 f752"  # type 3 (time exceeded), code 0 (hop limit)
    + "00000000"  # unused
    + "6000 0000 0014 11 01" + GLOBAL_B + FAR  # quoted IPv6, UDP, hop limit 1
    + "a075 829b 0014 828b"  # quoted UDP 41077 → 33435 (traceroute's port range)
    + "01010000f9c8e736f5ed0800"  # quoted UDP data
)

#: Frame 20: the same probe, answered by the destination.
PORT_UNREACHABLE = bytes.fromhex(
    ETH_TO_B + "6000 0000 0044 3a 3d" + FAR + GLOBAL_B
    + "01 04 1352 00000000"  # type 1, code 4 (port unreachable)
    + "6000 0000 0014 11 01" + GLOBAL_B + FAR
    + "a075 82a4 0014 cf47 0a040000f9c8e7369d250b00"
)

#: Frame 23: echo request.
ECHO_REQUEST = bytes.fromhex(
    ETH_TO_A + "6000 0000 0010 3a 40" + GLOBAL_B + "3ffe0501000010010000000000000002"
    + "80 00 a572"  # type 128, checksum
    + "7620 0000"  # identifier 0x7620, sequence 0
    + "01c9e736d3390600"  # data
)

#: Frame 32: router advertisement with three options.
ROUTER_ADVERTISEMENT = bytes.fromhex(
    "333300000001 0060970769ea 86dd" + "6000 0000 0040 3a ff" + LL_A
    + "ff020000000000000000000000000001"  # all-nodes
    + "86 00 4625"  # type 134
    + "40"  # current hop limit 64
    + "00"  # flags: no M, no O
    + "0708"  # router lifetime 1800 s
    + "00007530"  # reachable time 30000 ms
    + "000003e8"  # retransmission timer 1000 ms
    + "01 01 0060970769ea"  # source link-layer address
    + "05 01 0000 000005dc"  # MTU 1500
    + "03 04 40 c0 0036ee80 0036ee80 00000000"  # prefix /64, L+A, lifetimes 3600000 s
    + "3ffe0507000000010000000000000000"  # 3ffe:507:0:1::
)

#: Frame 31: router solicitation without options.
ROUTER_SOLICITATION = bytes.fromhex(
    "333300000002 0000860580da 86dd" + "6000 0000 0008 3a ff" + LL_B
    + "ff020000000000000000000000000002" + "85 00 7557 00000000"
)


def ndp(icmp_type: int, body: bytes, *, src: str = "fe80::1", dst: str = "fe80::2") -> bytes:
    message = struct.pack("!BBH", icmp_type, 0, 0) + body
    return eth(ipv6(message, next_header=58, hop_limit=255, src=src, dst=dst))


def test_real_neighbor_solicitation() -> None:
    packet = decode(NEIGHBOR_SOLICITATION)
    assert packet.protocols == "eth:ipv6:icmpv6"
    msg = packet[ICMPv6]
    assert (msg.type, msg.code, msg.checksum) == (ICMPv6Type.NEIGHBOR_SOLICITATION, 0, 0x68BD)
    assert msg.body == NeighborSolicitation(
        bytes.fromhex(LL_A), (LinkLayerAddress(1, bytes.fromhex("0000860580da")),)
    )
    assert msg.summary() == "neighbor solicitation for fe80::260:97ff:fe07:69ea"


def test_real_neighbor_advertisement() -> None:
    msg = decode(NEIGHBOR_ADVERTISEMENT)[ICMPv6]
    body = msg.body
    assert isinstance(body, NeighborAdvertisement)
    assert body.flags == NAFlags.ROUTER | NAFlags.SOLICITED | NAFlags.OVERRIDE
    assert body.target == bytes.fromhex(GLOBAL_A)
    assert body.options == (LinkLayerAddress(2, bytes.fromhex("0060970769ea")),)
    assert msg.summary() == (
        "neighbor advertisement 3ffe:507:0:1:260:97ff:fe07:69ea is-at 00:60:97:07:69:ea "
        "(router, solicited, override)"
    )


def test_real_time_exceeded_quotes_the_probe() -> None:
    packet = decode(TIME_EXCEEDED)
    assert packet.protocols == "eth:ipv6:icmpv6"
    msg = packet[ICMPv6]
    body = msg.body
    assert isinstance(body, TimeExceeded)
    quoted = body.quoted
    assert isinstance(quoted, IPv6)
    assert (quoted.hop_limit, quoted.next_header, quoted.payload_len) == (1, 17, 20)
    assert str(quoted.dst_ip) == "3ffe:501:410:0:2c0:dfff:fe47:33e"
    assert body.quoted_ports == (41077, 33435)
    assert body.quoted_data == TIME_EXCEEDED[62:]
    assert msg.quoted == quoted
    assert msg.summary() == (
        "time exceeded (hop limit) for udp [3ffe:507:0:1:200:86ff:fe05:80da]:41077 → "
        "[3ffe:501:410:0:2c0:dfff:fe47:33e]:33435"
    )


def test_real_port_unreachable() -> None:
    msg = decode(PORT_UNREACHABLE)[ICMPv6]
    assert isinstance(msg.body, Unreachable)
    assert (msg.code, msg.body.original_len, msg.quoted_ports) == (4, 0, (41077, 33444))
    assert msg.summary().startswith("destination unreachable (port unreachable) for udp ")


def test_real_echo_request() -> None:
    msg = decode(ECHO_REQUEST)[ICMPv6]
    assert msg.body == Echo(0x7620, 0, bytes.fromhex("01c9e736d3390600"))
    assert msg.summary() == "echo request id=30240 seq=0"


def test_real_router_advertisement_and_its_options() -> None:
    msg = decode(ROUTER_ADVERTISEMENT)[ICMPv6]
    assert msg.body == RouterAdvertisement(
        64, 0, 1800, 30000, 1000,
        (
            LinkLayerAddress(1, bytes.fromhex("0060970769ea")),
            MTUOption(5, 1500),
            PrefixInformation(3, 64, 0xC0, 3600000, 3600000,
                              bytes.fromhex("3ffe0507000000010000000000000000")),
        ),
    )
    assert msg.summary() == "router advertisement hlim=64 lifetime=1800"


def test_real_router_solicitation() -> None:
    msg = decode(ROUTER_SOLICITATION)[ICMPv6]
    assert msg.body == RouterSolicitation(())
    assert msg.summary() == "router solicitation"


def test_packet_too_big_and_parameter_problem() -> None:
    offender = ipv6(udp(b"q", sport=5000, dport=53), next_header=17, src="2001:db8::2",
                    dst="2001:db8::1")
    msg = decode(ndp(2, struct.pack("!I", 1280) + offender))[ICMPv6]
    assert isinstance(msg.body, PacketTooBig)
    assert (msg.body.mtu, msg.quoted_ports) == (1280, (5000, 53))
    assert msg.summary() == (
        "packet too big mtu=1280 for udp [2001:db8::2]:5000 → [2001:db8::1]:53"
    )
    msg = decode(ndp(4, struct.pack("!I", 40) + offender))[ICMPv6]
    assert isinstance(msg.body, ParameterProblem)
    assert msg.body.pointer == 40


def test_a_quote_shorter_than_an_ipv6_header_is_kept_raw() -> None:
    body = bytes(4) + PORT_UNREACHABLE[62:62 + 30]
    msg = decode(ndp(1, body))[ICMPv6]
    assert isinstance(msg.body, Unreachable)
    assert (msg.body.quoted, msg.body.quoted_ports) == (None, None)
    assert msg.body.quoted_data == PORT_UNREACHABLE[62:92]


def test_a_quote_with_a_cut_extension_keeps_the_fixed_header() -> None:
    inner = ipv6(bytes([17, 0, 0, 0]), next_header=60)  # a Destination Options header cut short
    msg = decode(ndp(1, bytes(4) + inner))[ICMPv6]
    assert isinstance(msg.body, Unreachable)
    assert msg.body.quoted is not None and msg.body.quoted.next_header == 60
    assert msg.body.quoted_ports is None


def test_redirect() -> None:
    target = bytes.fromhex("fe800000000000000000000000000099")
    destination = bytes.fromhex("20010db8000000000000000000000077")
    msg = decode(ndp(137, bytes(4) + target + destination))[ICMPv6]
    assert msg.body == Redirect(target, destination, ())
    assert msg.summary() == "redirect 2001:db8::77 via fe80::99"


def test_unknown_options_and_types_keep_their_bytes() -> None:
    rdnss = bytes([25, 3, 0, 0, 0, 0, 0x0E, 0x10]) + bytes(16)
    msg = decode(ndp(133, bytes(4) + rdnss))[ICMPv6]
    assert msg.body == RouterSolicitation((UnknownNDPOption(25, rdnss[2:]),))
    query = decode(ndp(130, bytes(20)))[ICMPv6]  # MLD query: not modelled
    assert query.body == RawBody(bytes(4), bytes(16))
    assert query.summary() == "multicast listener query"


def test_an_option_of_length_zero_is_invalid_and_keeps_the_message() -> None:
    frame = ndp(135, bytes(4) + bytes(16) + bytes([1, 0, 0, 0, 0, 0, 0, 0]))
    packet = decode(frame)
    msg = packet[ICMPv6]
    assert isinstance(msg.body, NeighborSolicitation)
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.reason, marker.truncated) == (
        "icmpv6", "icmpv6.options[0].length 0 < 1", False
    )
    assert marker.offset == 14 + 40 + 24  # the option's first byte


def test_a_prefix_option_of_the_wrong_size_is_invalid() -> None:
    frame = ndp(134, bytes(12) + bytes([3, 1]) + bytes(6))
    marker = decode(frame).layers[-1]
    assert isinstance(marker, Malformed)
    assert marker.reason == "icmpv6.options[0].length 1 != 4 (prefix information)"


def test_a_cut_option_is_truncated_and_keeps_the_options_before_it() -> None:
    packet = decode(ROUTER_ADVERTISEMENT[:-3])
    msg = packet[ICMPv6]
    assert isinstance(msg.body, RouterAdvertisement)
    assert len(msg.body.options) == 2
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.truncated, marker.offset) == (True, 14 + 40 + 16 + 16)


def test_a_cut_fixed_part_is_truncated() -> None:
    marker = decode(NEIGHBOR_SOLICITATION[:14 + 40 + 20]).layers[-1]
    assert isinstance(marker, Malformed)
    assert (marker.protocol, marker.offset, marker.truncated) == ("icmpv6", 54, True)
    assert marker.reason == "icmpv6 neighbor solicitation: need 24 bytes, have 20"


def test_json_shows_target_and_link_address_as_text() -> None:
    out = layer_to_dict(decode(NEIGHBOR_ADVERTISEMENT)[ICMPv6])
    assert out["layer"] == "icmpv6"
    assert out["body"]["target"] == "3ffe:507:0:1:260:97ff:fe07:69ea"
    assert out["body"]["options"] == [{"kind": 2, "address": "00:60:97:07:69:ea"}]


def test_every_cut_of_a_real_neighbor_advertisement_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(NEIGHBOR_ADVERTISEMENT)


def test_every_cut_of_a_real_router_advertisement_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(ROUTER_ADVERTISEMENT)


def test_every_cut_of_a_real_time_exceeded_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(TIME_EXCEEDED)


def test_every_cut_of_a_real_echo_is_a_prefix() -> None:
    assert_every_cut_is_a_prefix(ECHO_REQUEST)


def test_damaged_frames_never_raise() -> None:
    assert_damage_never_raises(ROUTER_ADVERTISEMENT)
