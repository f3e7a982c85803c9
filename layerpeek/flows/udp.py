"""UDP conversations: packets and bytes each way, numbered like tshark's ``udp.stream``.

UDP has no connection, so a "conversation" is what Zeek and Wireshark both
mean by it: all datagrams between the same two address/port pairs, either
direction.  The *client* is the sender of the first datagram (Zeek's
originator).  Numbering is separate from TCP's and starts at 0, in order of
first packet, like ``udp.stream``; no timeout splits a conversation, as in
tshark.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from layerpeek.flows.events import ConversationSummary, Direction
from layerpeek.flows.key import (
    Endpoint,
    FlowKey,
    Tunnel,
    carrier_ip,
    context_of,
    flow_key,
    note_tunnels,
    vlans_of,
)
from layerpeek.flows.records import PacketFlowInfo
from layerpeek.flows.tracker import DEFAULT_MAX_CONNECTIONS
from layerpeek.flows.zeek import udp_conn_state
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.udp import UDP
from layerpeek.packet import Packet

if TYPE_CHECKING:
    from layerpeek.analysis import Step


@dataclass(slots=True, eq=False)
class UDPConversation:
    """All datagrams between two endpoints."""

    id: int
    client: Endpoint
    server: Endpoint
    first_frame: int
    first_ts_ns: int
    last_frame: int = 0
    last_ts_ns: int = 0
    packets_client: int = 0
    packets_server: int = 0
    bytes_client: int = 0  #: UDP payload bytes the client sent
    bytes_server: int = 0
    frames: list[int] | None = field(default=None, repr=False)
    vlans: tuple[int, ...] = ()  #: the VLAN tags it travels in, outermost first (part of its key)
    #: the tunnels it travelled in (as Zeek's ``tunnel_parents``), each as first seen
    tunnels: list[Tunnel] = field(default_factory=list)

    proto = "udp"

    @property
    def packets(self) -> int:
        return self.packets_client + self.packets_server

    @property
    def duration_ns(self) -> int:
        return self.last_ts_ns - self.first_ts_ns

    @property
    def conn_state(self) -> str:
        """Zeek's UDP ``conn_state``: SF when both sides sent, S0 when only the client."""
        return udp_conn_state(self.packets_client, self.packets_server)

    @property
    def history(self) -> str:
        """Zeek's UDP history: ``D`` the client sent data, ``d`` the server did."""
        return ("D" if self.packets_client else "") + ("d" if self.packets_server else "")

    def to_dict(self) -> dict[str, Any]:
        from layerpeek.render.flows import udp_conversation_to_dict

        return udp_conversation_to_dict(self)


class UDPTracker:
    """Number UDP conversations and count each direction (sans-IO).

    As a stage of :class:`~layerpeek.analysis.Analysis` it sets a UDP
    packet's ``step.flow`` (stream and direction) and raises a
    :class:`~layerpeek.flows.events.ConversationSummary` when a conversation
    leaves the full table, and for the rest at the end.
    """

    stage_name: ClassVar[str] = "udp"
    requires: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __init__(
        self,
        *,
        keep_frames: bool = False,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        keep_conversations: bool = True,
        flow_info: bool = True,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.flow_info = flow_info
        # Conversations that left the table since the last on_packet (kept only
        # when used as a stage, which raises them as events).
        self._departed: list[UDPConversation] = []
        self._staged = False
        self.conversations: dict[int, UDPConversation] = {}
        self._table: dict[FlowKey, UDPConversation] = {}
        self._keep_frames = keep_frames
        # Bounded like the TCP table (see layerpeek.flows.tracker, "Memory"):
        # UDP has no close, so past max_connections the least recently seen
        # conversation leaves the table (a later datagram starts a new one).
        self._max_connections = max_connections
        self._keep_conversations = keep_conversations
        self._next_id = 0
        self.evicted = 0  #: conversations evicted because the table was full
        #: called with each conversation summary dropped (``keep_conversations=False``)
        self.on_forget: Callable[[UDPConversation], None] | None = None

    @property
    def conversation_count(self) -> int:
        """Conversations numbered so far (the next one gets this number)."""
        return self._next_id

    def feed(self, packet: Packet) -> tuple[UDPConversation, Direction] | None:
        """Count one packet; return its conversation and direction, or None if not UDP.

        The conversation is the innermost UDP datagram's.  A UDP tunnel the
        packet travels in (VXLAN, Geneve, Teredo: any UDP header with an IP
        header after it) is a conversation of its own and is counted too, as
        Zeek logs a tunnel's connection beside the ones inside it.
        """
        found = None
        for u, layer in enumerate(packet.layers):  # the tunnels first: they are numbered first
            if isinstance(layer, UDP):
                found = self._count_at(packet, u)
        return found

    def feed_tunnels(self, packet: Packet, before: int) -> None:
        """Count the UDP tunnels among ``packet.layers[:before]`` (a TCP packet's carriers)."""
        for u, layer in enumerate(packet.layers[:before]):
            if isinstance(layer, UDP):
                self._count_at(packet, u)

    def _count_at(self, packet: Packet, u: int) -> tuple[UDPConversation, Direction] | None:
        found = _extract_at(packet, u)
        if found is None:
            return None
        udp, src, dst, length, inner = found
        context = context_of(packet.layers, inner) if inner > 1 else ()
        key = flow_key(src, udp.src_port, dst, udp.dst_port, context)
        table = self._table
        conv = table.get(key)
        if conv is not None:  # least recently seen first, for eviction
            del table[key]
            table[key] = conv
        else:
            if len(table) >= self._max_connections:
                oldest = table.pop(next(iter(table)))
                self.evicted += 1
                if self._staged:
                    self._departed.append(oldest)
                if not self._keep_conversations:
                    self.conversations.pop(oldest.id, None)
                    if self.on_forget is not None:
                        self.on_forget(oldest)
            conv = UDPConversation(
                self._next_id,
                Endpoint(src, udp.src_port),
                Endpoint(dst, udp.dst_port),
                packet.index,
                packet.ts_ns,
            )
            if context:
                conv.vlans = vlans_of(context)
            if self._keep_frames:
                conv.frames = []
            self._next_id += 1
            table[key] = conv
            self.conversations[conv.id] = conv
        if context:
            note_tunnels(conv.tunnels, packet.layers, inner)
        direction: Direction
        if conv.client.addr == src and conv.client.port == udp.src_port:
            direction = "client"
            conv.packets_client += 1
            conv.bytes_client += length
        else:
            direction = "server"
            conv.packets_server += 1
            conv.bytes_server += length
        conv.last_frame = packet.index
        conv.last_ts_ns = packet.ts_ns
        if conv.frames is not None:
            conv.frames.append(packet.index)
        return conv, direction

    # -- as a stage of layerpeek.analysis.Analysis -----------------------------

    def on_packet(self, step: Step) -> list[ConversationSummary]:
        self._staged = True
        flow = step.flow
        if flow is not None and flow.proto == "tcp":
            self.feed_tunnels(step.packet, len(step.packet.layers))
            found = None
        else:
            found = self.feed(step.packet)
        if found is not None and self.flow_info:
            conv, direction = found
            info = PacketFlowInfo("udp", conv.id, direction)
            if flow is not None:  # the defragmenter's note on the frame
                info.defrag = flow.defrag
            step.flow = info
        if not self._departed:
            return []
        out = [ConversationSummary(conv) for conv in self._departed]
        self._departed.clear()
        return out

    def on_finish(self, events: Sequence[object]) -> list[ConversationSummary]:
        """Every conversation still in the table, in order of first packet."""
        out = [ConversationSummary(conv) for conv in self._departed]
        self._departed.clear()
        out.extend(ConversationSummary(conv) for conv in sorted(
            self._table.values(), key=lambda c: c.id))
        return out


def udp_payload(packet: Packet) -> bytes:
    """The captured payload of the innermost UDP datagram (bounded by its length field).

    Unlike ``packet.payload_after(UDP)``, which is the span of the decoded
    layer after UDP, this is every payload byte even when that decoder (DNS
    on port 53 …) stopped early.
    """
    layers = packet.layers
    for u in range(len(layers) - 1, -1, -1):
        layer = layers[u]
        if isinstance(layer, UDP):
            start = packet.spans[u][0] + 8
            end = start + layer.length - 8 if layer.length >= 8 else len(packet.data)
            return packet.data[start : min(end, len(packet.data))]
    return b""


def _extract_at(packet: Packet, u: int) -> tuple[UDP, bytes, bytes, int, int] | None:
    """The UDP header ``packet.layers[u]``, the IP addresses before it, the
    payload length and the IP layer's index; None when no IP layer carries it
    or it is quoted in an ICMP error (the rules of
    :func:`~layerpeek.flows.key.innermost_transport`)."""
    layers = packet.layers
    udp = layers[u]
    assert isinstance(udp, UDP)
    ip = carrier_ip(layers, u)
    if ip is None:
        return None
    carrier = layers[ip]
    assert isinstance(carrier, (IPv4, IPv6))
    if udp.length >= 8:
        length = udp.length - 8
    else:  # a jumbogram carries 0: count what was captured
        length = max(len(packet.data) - packet.spans[u][0] - 8, 0)
    return udp, carrier.src, carrier.dst, length, ip
