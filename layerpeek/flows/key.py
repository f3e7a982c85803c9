"""Conversation keys: both directions of a 5-tuple under one canonical key.

A conversation is found from either direction's packets, so the key sorts
the two endpoints (address bytes, then port): ``a → b`` and ``b → a`` give
the same key.  Addresses stay raw ``bytes`` (4 or 16) as the IP layers keep
them; text is made only for display (:func:`endpoint_str`).  Keys are plain
tuples because they are built for every packet and hashed once.
"""

from __future__ import annotations

from dataclasses import dataclass

from layerpeek.wire import ip_str

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
