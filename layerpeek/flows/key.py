"""Conversation keys: both directions of a 5-tuple under one canonical key.

A conversation is found from either direction's packets, so the key sorts
the two endpoints (address bytes, then port): ``a → b`` and ``b → a`` give
the same key.  Addresses stay raw ``bytes`` (4 or 16) as the IP layers keep
them; text is made only for display (:func:`endpoint_str`).  Keys are plain
tuples because they are built for every packet and hashed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from layerpeek.layers.icmp import ICMP
from layerpeek.layers.icmpv6 import ICMPv6
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.wire import ip_str

if TYPE_CHECKING:
    from layerpeek.packet import Layer, Packet

#: (address_a, port_a, address_b, port_b), with (address_a, port_a) <= (address_b, port_b).
FlowKey = tuple[bytes, int, bytes, int]


def flow_key(src: bytes, sport: int, dst: bytes, dport: int) -> FlowKey:
    """The canonical key of a packet ``src:sport → dst:dport`` (direction-free)."""
    if (src, sport) <= (dst, dport):
        return (src, sport, dst, dport)
    return (dst, dport, src, sport)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of a conversation: raw address bytes and a port."""

    addr: bytes  #: 4 bytes (IPv4) or 16 (IPv6)
    port: int

    @property
    def ip(self) -> str:
        """The address as text (dotted quad or RFC 5952)."""
        return ip_str(self.addr)

    def __str__(self) -> str:
        return endpoint_str(self.addr, self.port)


def endpoint_str(addr: bytes, port: int) -> str:
    """``10.0.0.1:80`` or ``[2001:db8::1]:80`` (brackets keep IPv6 readable)."""
    text = ip_str(addr)
    return f"[{text}]:{port}" if len(addr) == 16 else f"{text}:{port}"


def innermost_transport(packet: Packet, kind: type[Layer]) -> tuple[int, int] | None:
    """Where a packet's conversation is: the indexes of its innermost ``kind`` layer
    (TCP or UDP) and of the IP layer that carries it, or None.

    The innermost one, because tunnels carry the interesting connection
    inside.  A transport header quoted inside an ICMP error is not a packet of
    that conversation (Wireshark skips it too), whatever lies between (a
    quoted IP header); nor is one without an IP layer before it: both give
    None.  The TCP and UDP trackers and the commands that need a packet's
    segment all find it here.
    """
    layers = packet.layers
    t = len(layers) - 1
    while t >= 0 and not isinstance(layers[t], kind):
        t -= 1
    ip = -1
    for i in range(t - 1, -1, -1):
        layer = layers[i]
        if isinstance(layer, (ICMP, ICMPv6)):
            return None  # anything after an ICMP message is what it quotes
        if ip < 0 and isinstance(layer, (IPv4, IPv6)):
            ip = i
    return None if ip < 0 else (t, ip)
