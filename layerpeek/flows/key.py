"""Conversation keys: both directions of a 5-tuple under one canonical key,
in the context it travels in.

A conversation is found from either direction's packets, so the key sorts
the two endpoints (address bytes, then port): ``a → b`` and ``b → a`` give
the same key.  Addresses stay raw ``bytes`` (4 or 16) as the IP layers keep
them; text is made only for display (:func:`endpoint_str`).  Keys are plain
tuples because they are built for every packet and hashed once.

The context
-----------
The same 5-tuple on two VLANs, or inside two tunnels, is two conversations
(two customers' overlays reuse private addresses; a mirror port sees one
VLAN's copy and another's).  So the key ends with the *context*: one hop per
VLAN tag and per tunnel the packet's inner IP header travels in, outermost
first (:func:`context_of`).  A tunnel hop names the tunnel's kind, its two
outer addresses (sorted, direction-free) and the identifier that separates
tunnels between the same two hosts: VXLAN's and Geneve's VNI, a GRE key.
What changes from one direction to the other is left out, or the two halves
of one conversation would get two keys: the outer UDP source port (VTEPs
pick it by hashing the inner flow, each side its own), PPTP's call id (each
peer names the call by its own id).  Those details, per packet, are what
:func:`tunnel_of` describes and ``flows --json`` lists (``tunnels``), as
Zeek lists a connection's ``tunnel_parents``.

A packet with no VLAN and no tunnel (the common case) has the empty context,
found without walking the layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from layerpeek.layers.geneve import Geneve
from layerpeek.layers.gre import GRE
from layerpeek.layers.gtp import GTP
from layerpeek.layers.icmp import ICMP
from layerpeek.layers.icmpv6 import ICMPv6
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.udp import UDP
from layerpeek.layers.vlan import VLAN
from layerpeek.layers.vxlan import VXLAN
from layerpeek.wire import ip_str

if TYPE_CHECKING:
    from layerpeek.packet import Layer, Packet

#: One hop of a context: (kind, outer address a, outer address b, identifier);
#: a VLAN tag is ``("vlan", b"", b"", vid)``; ``-1`` when a tunnel has no identifier.
Hop = tuple[str, bytes, bytes, int]

#: The VLANs and tunnels a conversation travels in, outermost first (empty: none).
Context = tuple[Hop, ...]

#: (address_a, port_a, address_b, port_b, context), with (address_a, port_a) <= (address_b, port_b).
FlowKey = tuple[bytes, int, bytes, int, Context]


def flow_key(src: bytes, sport: int, dst: bytes, dport: int, context: Context = ()) -> FlowKey:
    """The canonical key of a packet ``src:sport → dst:dport`` (direction-free)."""
    if (src, sport) <= (dst, dport):
        return (src, sport, dst, dport, context)
    return (dst, dport, src, sport, context)


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
    if t < 0:
        return None
    ip = carrier_ip(layers, t)
    return None if ip is None else (t, ip)


def carrier_ip(layers: Sequence[Layer], t: int) -> int | None:
    """The index of the IP layer that carries the transport layer ``layers[t]``
    (the nearest before it), or None when there is none or the header is
    quoted in an ICMP error (see :func:`innermost_transport`)."""
    ip = -1
    for i in range(t - 1, -1, -1):
        layer = layers[i]
        if isinstance(layer, (ICMP, ICMPv6)):
            return None  # anything after an ICMP message is what it quotes
        if ip < 0 and isinstance(layer, (IPv4, IPv6)):
            ip = i
    return None if ip < 0 else ip


def _carrier(layers: Sequence[Layer], i: int) -> tuple[str, int, UDP | None]:
    """What the outer IP header ``layers[i]`` carries the inner packet in:
    the tunnel's kind, its identifier (or -1) and its UDP header, if any."""
    nxt = layers[i + 1]
    udp = None
    if isinstance(nxt, UDP) and i + 2 < len(layers):
        udp = nxt
        nxt = layers[i + 2]
    if isinstance(nxt, VXLAN):
        return "vxlan", nxt.vni, udp
    if isinstance(nxt, Geneve):
        return "geneve", nxt.vni, udp
    if isinstance(nxt, GRE):
        key = nxt.key if nxt.key is not None and nxt.version == 0 else -1
        return ("gre-in-udp" if udp is not None else "gre"), key, udp
    if udp is not None:  # GTP, Teredo, AYIYA, MPLS in UDP: the addresses alone
        return ("udp" if isinstance(nxt, (IPv4, IPv6)) else nxt.short), -1, udp
    if isinstance(nxt, (IPv4, IPv6)):
        return "ip-in-ip", -1, None
    return nxt.short, -1, None


def context_of(layers: Sequence[Layer], inner: int) -> Context:
    """The context (see the module docstring) of the IP header ``layers[inner]``."""
    if inner <= 1:  # the link layer alone (or nothing) before the IP header
        return ()
    hops: list[Hop] = []
    for i in range(inner):
        layer = layers[i]
        if isinstance(layer, VLAN):
            hops.append(("vlan", b"", b"", layer.vid))
        elif isinstance(layer, (IPv4, IPv6)):
            kind, ident, _ = _carrier(layers, i)
            a, b = (layer.src, layer.dst) if layer.src <= layer.dst else (layer.dst, layer.src)
            hops.append((kind, a, b, ident))
    return tuple(hops)


@dataclass(frozen=True, slots=True)
class Tunnel:
    """One tunnel a packet travelled in, as seen in that packet (the outer header's direction)."""

    #: ``vxlan``, ``geneve``, ``gre``, ``gre-in-udp``, ``gtp``, ``teredo``, ``ayiya``,
    #: ``mpls`` (in UDP), ``ip-in-ip``, ``udp``
    kind: str
    src: str  #: the outer source, ``addr`` or ``addr:port`` for a tunnel over UDP
    dst: str
    id: int | None  #: VNI or GRE key (PPTP: the call id), None when the tunnel has none

    def to_dict(self) -> dict[str, object]:
        from layerpeek.render.flows import tunnel_to_dict

        return tunnel_to_dict(self)

    def __str__(self) -> str:
        ident = "" if self.id is None else f" id={self.id}"
        return f"{self.kind} {self.src} → {self.dst}{ident}"


def tunnels_of(layers: Sequence[Layer], inner: int) -> tuple[Tunnel, ...]:
    """The tunnels (not the VLANs) around the IP header ``layers[inner]``, outermost first."""
    out = []
    for i in range(inner):
        layer = layers[i]
        if isinstance(layer, (IPv4, IPv6)):
            kind, ident, udp = _carrier(layers, i)
            nxt = layers[i + 2] if udp is not None else layers[i + 1]
            # What names the tunnel one way only is shown, not keyed on.
            if isinstance(nxt, GRE) and nxt.version == 1:
                ident = nxt.key & 0xFFFF if nxt.key is not None else -1  # PPTP's call id
            elif isinstance(nxt, GTP):
                ident = nxt.teid  # the receiver's tunnel endpoint id
            if udp is not None:
                src = endpoint_str(layer.src, udp.src_port)
                dst = endpoint_str(layer.dst, udp.dst_port)
            else:
                src, dst = ip_str(layer.src), ip_str(layer.dst)
            out.append(Tunnel(kind, src, dst, None if ident < 0 else ident))
    return tuple(out)


#: Most distinct tunnels a conversation lists (a VTEP hashing each flow to a new
#: source port would otherwise grow the list with every packet of a flood).
MAX_TUNNELS = 8


def note_tunnels(seen: list[Tunnel], layers: Sequence[Layer], inner: int) -> None:
    """Add to ``seen`` the tunnels around ``layers[inner]`` it does not hold yet (bounded)."""
    for tunnel in tunnels_of(layers, inner):
        if tunnel not in seen and len(seen) < MAX_TUNNELS:
            seen.append(tunnel)


def vlans_of(context: Context) -> tuple[int, ...]:
    """The VLAN ids of a context, outermost first."""
    return tuple(hop[3] for hop in context if hop[0] == "vlan")
