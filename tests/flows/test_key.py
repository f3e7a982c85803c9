"""Where a packet's conversation is: the innermost transport layer and its IP layer."""

from __future__ import annotations

import dataclasses
import struct

from builders import checksum16, eth, ipv4, ipv4_tcp, ipv4_udp, tcp, udp

import layerpeek
from layerpeek.flows.key import innermost_transport
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.tcp import TCP
from layerpeek.layers.udp import UDP


def _icmp_error(quoted: bytes) -> bytes:
    """An ICMP destination-unreachable quoting ``quoted`` (an IP header and 8+ bytes)."""
    head = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
    return head[:2] + struct.pack("!H", checksum16(head)) + head[4:]


def test_a_plain_segment_is_found_with_the_ip_layer_before_it() -> None:
    packet = layerpeek.decode(eth(ipv4_tcp(tcp(b"hi"))))
    found = innermost_transport(packet, TCP)
    assert found is not None
    t, i = found
    assert isinstance(packet.layers[t], TCP) and isinstance(packet.layers[i], IPv4)


def test_the_connection_inside_a_tunnel_is_the_one_found() -> None:
    inner = ipv4_tcp(tcp(b"hi", sport=1234), src="192.168.1.1", dst="192.168.1.2")
    packet = layerpeek.decode(eth(ipv4(inner, proto=4)))  # IP in IP
    found = innermost_transport(packet, TCP)
    assert found is not None
    _, i = found
    ip = packet.layers[i]
    assert isinstance(ip, IPv4) and ip.src == bytes([192, 168, 1, 1])
    assert i == max(n for n, x in enumerate(packet.layers) if isinstance(x, IPv4))


def test_a_header_quoted_in_an_icmp_error_belongs_to_no_conversation() -> None:
    # The ICMP decoder keeps a quote inside its own layer today; were a quoted
    # header ever decoded as layers of its own, it must still not count.
    for inner, kind in ((ipv4_tcp(tcp()), TCP), (ipv4_udp(udp(b"q")), UDP)):
        error = layerpeek.decode(eth(ipv4(_icmp_error(inner[:28]), proto=1)))
        quoted = layerpeek.decode(eth(inner))
        packet = dataclasses.replace(error, layers=error.layers + quoted.layers[1:3])
        assert [type(x).__name__ for x in packet.layers][-3:] == ["ICMP", "IPv4", kind.__name__]
        assert innermost_transport(packet, kind) is None


def test_no_transport_layer_is_none() -> None:
    packet = layerpeek.decode(eth(ipv4_udp(udp(b"q"))))
    assert innermost_transport(packet, TCP) is None
    assert innermost_transport(packet, UDP) is not None
