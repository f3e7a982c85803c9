"""Checksum verification on request (RFC 1071): IPv4 headers, TCP/UDP with the IPv4 and
IPv6 pseudo-headers, ICMP and ICMPv6; right, wrong, absent and not captured."""

from __future__ import annotations

import socket
import struct

import pytest
from builders import checksum16, eth, ipv4, ipv4_tcp, ipv4_udp, ipv6, tcp, udp
from hypothesis import given
from hypothesis import strategies as st

import layerpeek
from layerpeek.checksum import internet_checksum, verify_checksums
from layerpeek.reader import decode

#: tcp_syn_rst.pcap frame 1 (zeek traces/tcp/syn-then-rst.pcap): a SYN with good checksums.
SYN = bytes.fromhex(
    "000000000001 000000000001 0800"
    "4500 0028 0001 0000 4006 76cb 01010101 01010102"  # IPv4 checksum 0x76cb
    "334b 7a51 00000000 00000000 50 02 2000 de41 0000"  # TCP checksum 0xde41
)

#: linktype_ipv6_syn.pcap frame 1 (PcapPlusPlus, LINKTYPE_IPV6): TCP over IPv6.
IPV6_SYN = bytes.fromhex(
    "6000000000280640"
    "2001061804000000000000005199cc70 20010618000180000000000000000005"
    "8c9b00506ae7073600000000a0021630 299c 0000"  # TCP checksum 0x299c
    "0204058c0402080a00dd1a3900000000 01030302"
)

#: linktype_ipv4_dns.pcap frames 1 and 2 (LINKTYPE_IPV4): the query was captured on the
#: sending host before checksum offload (IPv4 checksum 0, stale UDP checksum); the response
#: arrived from the network with both right.
OFFLOADED_QUERY = bytes.fromhex(
    "4500003c21cf0000801100000a0000010a00008a"  # IPv4 checksum 0000
    "e3090035002814c4"  # UDP checksum 14c4 (wrong)
    "630501000001000000000000 0377777704796e657402636f02696c00 00010001"
)
RESPONSE = bytes.fromhex(
    "4500009600004000401125cd0a00008a0a000001"
    "0035e30900825455"
    "6305818000010003000000000377777704796e657402636f02696c0000010001c00c0005000100000069"
    "001c0377777704796e657402636f02696c07656467656b6579036e657400c02c00050001000035860016"
    "0665313234373601620a616b616d616965646765c043c0540001000100000012000417dd8f75"
)

#: dns_mixed_a_aaaa_cname_mdns.pcap frame 21 (PcapPlusPlus DnsPackets.pcap): UDP over IPv6.
IPV6_UDP = bytes.fromhex(
    "333300010003 6cf049b2de6e 86dd"
    "60000000001e1101 fe800000000000004dc7f5931f7bdc11 ff020000000000000000000000010003"
    "ca7d 14eb 001e 63f7"  # UDP checksum 0x63f7
    "a7060000000100000000000004777061640000010001"
)

#: icmpv6_mix.pcap frame 2 (zeek traces/communityid/icmp6.pcap): a neighbor advertisement.
NEIGHBOR_ADVERT = bytes.fromhex(
    "0000860580da 0060970769ea 86dd"
    "60000000 0018 3a ff fe80000000000000026097fffe0769ea fe80000000000000020086fffe0580da"
    "88 00 afa5"  # type 136, code 0, checksum 0xafa5
    "c0000000 fe80000000000000026097fffe0769ea"
)


def flip(frame: bytes, offset: int) -> bytes:
    return frame[:offset] + bytes([frame[offset] ^ 0x01]) + frame[offset + 1 :]


def udp6(payload: bytes, *, src: str, dst: str, checksum: int | None = None) -> bytes:
    """A UDP datagram whose checksum covers the IPv6 pseudo-header (RFC 8200 §8.1)."""
    datagram = udp(payload, sport=5000, dport=6000)
    if checksum is None:
        pseudo = (
            socket.inet_pton(socket.AF_INET6, src)
            + socket.inet_pton(socket.AF_INET6, dst)
            + struct.pack("!IxxxB", len(datagram), 17)
        )
        checksum = checksum16(pseudo + datagram) or 0xFFFF
    return datagram[:6] + struct.pack("!H", checksum) + datagram[8:]


class TestRealFrames:
    def test_ipv4_header_and_tcp_are_right(self) -> None:
        assert verify_checksums(decode(SYN)) == {"ipv4": True, "tcp": True}

    def test_tcp_over_ipv6_uses_the_ipv6_pseudo_header(self) -> None:
        assert verify_checksums(decode(IPV6_SYN, linktype=229)) == {"tcp": True}

    def test_udp_over_ipv4(self) -> None:
        assert verify_checksums(decode(RESPONSE, linktype=228)) == {"ipv4": True, "udp": True}

    def test_frame_captured_before_checksum_offload_is_wrong_twice(self) -> None:
        packet = decode(OFFLOADED_QUERY, linktype=228)
        assert verify_checksums(packet) == {"ipv4": False, "udp": False}

    def test_udp_over_ipv6(self) -> None:
        assert verify_checksums(decode(IPV6_UDP)) == {"udp": True}

    def test_icmpv6_uses_the_ipv6_pseudo_header(self) -> None:
        assert verify_checksums(decode(NEIGHBOR_ADVERT)) == {"icmpv6": True}

    def test_every_checksum_of_a_whole_capture(self, public: object) -> None:
        path = public("http_get_fin.pcap")  # type: ignore[operator]
        results = [verify_checksums(p) for p in layerpeek.read(path)]
        assert len(results) == 14
        assert all(r == {"ipv4": True, "tcp": True} for r in results)


class TestWrongChecksums:
    def test_changed_tcp_byte_fails_only_tcp(self) -> None:
        assert verify_checksums(decode(flip(SYN, 14 + 20 + 4))) == {"ipv4": True, "tcp": False}

    def test_changed_ttl_fails_only_the_ip_header(self) -> None:
        """The TTL is not part of the pseudo-header."""
        assert verify_checksums(decode(flip(SYN, 14 + 8))) == {"ipv4": False, "tcp": True}

    def test_changed_ip_address_fails_both(self) -> None:
        assert verify_checksums(decode(flip(SYN, 14 + 15))) == {"ipv4": False, "tcp": False}

    def test_changed_ipv6_address_fails_tcp(self) -> None:
        assert verify_checksums(decode(flip(IPV6_SYN, 8), linktype=229)) == {"tcp": False}

    def test_changed_udp_payload_over_ipv6(self) -> None:
        assert verify_checksums(decode(flip(IPV6_UDP, len(IPV6_UDP) - 1))) == {"udp": False}

    def test_changed_icmpv6_byte(self) -> None:
        packet = decode(flip(NEIGHBOR_ADVERT, len(NEIGHBOR_ADVERT) - 1))
        assert verify_checksums(packet) == {"icmpv6": False}


class TestUDPZero:
    def test_zero_udp_checksum_over_ipv4_means_none_was_computed(self) -> None:
        frame = eth(ipv4(udp(b"no checksum", sport=5000, dport=6000), proto=17))
        assert verify_checksums(decode(frame)) == {"ipv4": True, "udp": True}

    def test_zero_udp_checksum_over_ipv6_is_not_allowed(self) -> None:
        frame = eth(ipv6(udp(b"abc", sport=5000, dport=6000), next_header=17))
        assert verify_checksums(decode(frame)) == {"udp": False}

    def test_computed_zero_is_sent_as_ffff_and_verifies(self) -> None:
        """RFC 768: a sum that comes out as 0 is transmitted as all ones."""
        probe = udp(b"\x00\x00", sport=5000, dport=6000)
        pseudo = socket.inet_aton("10.0.0.1") + socket.inet_aton("10.0.0.2") + b"\x00\x11"
        word = checksum16(pseudo + struct.pack("!H", len(probe)) + probe)
        datagram = udp(struct.pack("!H", word), sport=5000, dport=6000)  # now sums to zero
        frame = eth(ipv4_udp(datagram))
        assert frame[14 + 20 + 6 : 14 + 20 + 8] == b"\xff\xff"
        assert verify_checksums(decode(frame)) == {"ipv4": True, "udp": True}

    def test_good_ipv6_checksum_built_here(self) -> None:
        frame = eth(ipv6(udp6(b"hello", src="2001:db8::1", dst="2001:db8::2"), next_header=17))
        assert verify_checksums(decode(frame)) == {"udp": True}


class TestWhatIsLeftOut:
    def test_segment_cut_by_the_snaplen_is_not_judged(self) -> None:
        frame = eth(ipv4_tcp(tcp(b"x" * 100, flags="PA", dport=9)))
        packet = decode(frame[:-10])
        assert verify_checksums(packet) == {"ipv4": True}

    def test_headers_only_capture_of_a_data_segment(self) -> None:
        frame = eth(ipv4_tcp(tcp(b"y" * 1000, flags="A", dport=9)))
        assert verify_checksums(decode(frame[:54])) == {"ipv4": True}

    def test_ipv4_total_length_zero_leaves_the_segment_length_unknown(self) -> None:
        frame = eth(ipv4(tcp(b"data", dport=9), total_len=0))
        assert verify_checksums(decode(frame)) == {"ipv4": True}

    def test_frame_without_ip_has_nothing_to_check(self) -> None:
        arp = bytes.fromhex("0001080006040001") + bytes(20)
        assert verify_checksums(decode(eth(arp, ethertype=0x0806))) == {}

    def test_tcp_with_damaged_options_is_still_checked(self) -> None:
        segment = tcp(b"payload", options=bytes.fromhex("0200 0101"), dport=9)
        packet = decode(eth(ipv4_tcp(segment)))
        assert packet.malformed is not None
        assert verify_checksums(packet) == {"ipv4": True, "tcp": True}


class TestICMPAndTunnels:
    def test_icmp_echo(self) -> None:
        message = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + b"ping"
        message = message[:2] + struct.pack("!H", checksum16(message)) + message[4:]
        frame = eth(ipv4(message, proto=1))
        assert verify_checksums(decode(frame)) == {"ipv4": True, "icmp": True}
        assert verify_checksums(decode(flip(frame, len(frame) - 1)))["icmp"] is False

    def test_a_tunnel_is_right_only_if_every_header_is(self) -> None:
        inner = ipv4(b"", src="192.168.0.1", dst="192.168.0.2", proto=59, checksum=0xBAD)
        frame = eth(ipv4(inner, proto=4))
        assert verify_checksums(decode(frame)) == {"ipv4": False}
        good_inner = ipv4(b"", src="192.168.0.1", dst="192.168.0.2", proto=59)
        assert verify_checksums(decode(eth(ipv4(good_inner, proto=4)))) == {"ipv4": True}

    def test_tcp_after_a_routing_header_sums_the_final_destination(self) -> None:
        """RFC 8200 §8.1: while segments are left, the pseudo-header carries the last
        address of the Routing header, not the IPv6 destination."""
        src, via, final = "2001:db8::1", "2001:db8::99", "2001:db8::2"
        segment = tcp(b"data", sport=1234, dport=9)
        pseudo = (
            socket.inet_pton(socket.AF_INET6, src)
            + socket.inet_pton(socket.AF_INET6, final)
            + struct.pack("!IxxxB", len(segment), 6)
        )
        segment = segment[:16] + struct.pack("!H", checksum16(pseudo + segment)) + segment[18:]
        routing = struct.pack("!BBBB4x", 6, 2, 2, 1) + socket.inet_pton(socket.AF_INET6, final)
        frame = eth(ipv6(routing + segment, src=src, dst=via, next_header=43))
        assert verify_checksums(decode(frame)) == {"tcp": True}


class TestInternetChecksum:
    @pytest.mark.parametrize(
        "data",
        [b"", b"\x00", b"\x00\x00", b"\xff\xff", b"\x01", b"\xff", b"\xff\xfe\x00\x01", bytes(9)],
    )
    def test_edge_values_match_a_word_by_word_sum(self, data: bytes) -> None:
        assert internet_checksum(data) == checksum16(data)

    @given(st.binary(max_size=3000))
    def test_any_bytes_match_a_word_by_word_sum(self, data: bytes) -> None:
        assert internet_checksum(data) == checksum16(data)

    def test_rfc_1071_example(self) -> None:
        """RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2."""
        assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2
