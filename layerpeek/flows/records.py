"""The public records of a TCP conversation: what the tracker tells, kept after it forgets.

:class:`TCPConversation` (with its :class:`Handshake`, :class:`Teardown` and
optional :class:`StreamContent`) is the summary of one connection, and
:class:`PacketFlowInfo` what the flow stages know about one packet.  They are
plain data: the tracker (:mod:`layerpeek.flows.tracker`, which re-exports
them) fills them in, consumers read them.  Nothing here knows how they are
computed, so a consumer can build or load them without a tracker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from layerpeek.flows.analysis import Verdict
from layerpeek.flows.events import CloseKind, Direction, StateChanged, UnexpectedSegment
from layerpeek.flows.key import Endpoint, Tunnel
from layerpeek.flows.tcp_state import Segment, TCPState
from layerpeek.flows.zeek import ZeekTracker

__all__ = [
    "JOINED_MIDSTREAM",
    "Handshake",
    "PacketFlowInfo",
    "StreamContent",
    "SynOptions",
    "TCPConversation",
    "Teardown",
    "initial_states",
]



@dataclass(slots=True)
class SynOptions:
    """What one side announced in its SYN or SYN-ACK."""

    mss: int | None = None
    window_scale: int | None = None  #: the shift count, None if the option was absent
    sack_permitted: bool = False
    timestamps: bool = False

    def to_dict(self) -> dict[str, Any]:
        from layerpeek.render.flows import syn_options_to_dict

        return syn_options_to_dict(self)


@dataclass(slots=True)
class Handshake:
    """The three-way handshake as captured (any part may be missing).

    Times are the capture's: ``rtt_server_ns`` is SYN → SYN-ACK (the round
    trip from the capture point to the server and back), ``rtt_client_ns``
    SYN-ACK → ACK (to the client and back), and ``rtt_ns`` their sum, SYN →
    ACK, which is Wireshark's ``tcp.analysis.initial_rtt``.  When the SYN was
    retransmitted, the last copy counts (as in Wireshark).
    """

    client_isn: int | None = None
    server_isn: int | None = None
    syn_frame: int | None = None  #: the first SYN
    synack_frame: int | None = None
    ack_frame: int | None = None  #: the client's ACK completing the handshake
    syn_ts_ns: int | None = None  #: the most recent SYN's time
    synack_ts_ns: int | None = None
    ack_ts_ns: int | None = None
    syn_count: int = 0  #: SYNs sent (more than 1: retransmitted)
    synack_count: int = 0
    client_options: SynOptions | None = None
    server_options: SynOptions | None = None

    @property
    def complete(self) -> bool:
        """SYN, SYN-ACK and the final ACK were all captured."""
        return self.ack_frame is not None and self.synack_frame is not None

    @property
    def rtt_server_ns(self) -> int | None:
        if self.syn_ts_ns is None or self.synack_ts_ns is None:
            return None
        return self.synack_ts_ns - self.syn_ts_ns

    @property
    def rtt_client_ns(self) -> int | None:
        if self.synack_ts_ns is None or self.ack_ts_ns is None:
            return None
        return self.ack_ts_ns - self.synack_ts_ns

    @property
    def rtt_ns(self) -> int | None:
        if self.syn_ts_ns is None or self.ack_ts_ns is None or self.synack_ts_ns is None:
            return None
        return self.ack_ts_ns - self.syn_ts_ns

    @property
    def window_scaling(self) -> bool:
        """Both SYNs carried the window scale option, so scaling is in use (RFC 7323)."""
        c, s = self.client_options, self.server_options
        return bool(c and s and c.window_scale is not None and s.window_scale is not None)

    @property
    def sack(self) -> bool:
        c, s = self.client_options, self.server_options
        return bool(c and s and c.sack_permitted and s.sack_permitted)

    @property
    def timestamps(self) -> bool:
        c, s = self.client_options, self.server_options
        return bool(c and s and c.timestamps and s.timestamps)

    def options_text(self) -> list[str]:
        """What the two SYNs agreed, for listings: ``["MSS 1460/1460", "SACK", ...]``."""
        from layerpeek.render.flows import handshake_options

        return handshake_options(self)

    def to_dict(self) -> dict[str, Any]:
        from layerpeek.render.flows import handshake_to_dict

        return handshake_to_dict(self)


@dataclass(slots=True)
class Teardown:
    """How the conversation ended, in the explainer's words.

    ``kind``:

    * ``"four-way"``: one side sent FIN, the other acknowledged it and later
      sent its own FIN (the ACK and the second FIN may share a segment);
    * ``"simultaneous"``: both FINs were sent before either was received
      (an endpoint went through CLOSING);
    * ``"half-close"``: after one side's FIN the other side still sent data
      (the ``shutdown(SHUT_WR)`` pattern); ended with both FINs or still open;
    * ``"rst"``: aborted by a RST (``initiator`` says who sent it);
    * ``"refused"``: the SYN was answered by a RST;
    * ``"open"``: the capture ended first (``fins`` says how many FINs were seen);
    * ``"evicted"``: still open when the connection table was full and it was
      the least recently seen (see ``TCPTracker(max_connections=...)``).
    """

    kind: CloseKind = "open"
    initiator: Direction | None = None  #: who sent the first FIN or the RST
    client_fin_frame: int | None = None
    server_fin_frame: int | None = None
    rst_frame: int | None = None
    rst_by: Direction | None = None
    half_closed: bool = False  #: data flowed toward a side after it sent FIN
    fins: int = 0
    ts_ns: int | None = None  #: when it closed (the packet that completed the close)

    def describe(self) -> str:
        """One sentence for the ``flows`` table and the ladder diagram."""
        from layerpeek.render.flows import teardown_text

        return teardown_text(self)

    def to_dict(self) -> dict[str, Any]:
        from layerpeek.render.flows import teardown_to_dict

        return teardown_to_dict(self)


@dataclass(slots=True)
class StreamContent:
    """One direction's reassembled bytes and the holes in it (when ``keep_data``)."""

    chunks: list[tuple[int, bytes]] = field(default_factory=list)  #: (offset, bytes)
    gaps: list[tuple[int, int, str]] = field(default_factory=list)  #: (offset, length, reason)

    @property
    def data(self) -> bytes:
        """The bytes that were captured, in order (holes are *not* filled)."""
        return b"".join(c for _, c in self.chunks)


@dataclass(slots=True, eq=False)
class TCPConversation:
    """One TCP connection: its endpoints, handshake, states, teardown and counters."""

    id: int
    client: Endpoint
    server: Endpoint
    client_by: str  #: how the client was chosen: "syn", "synack", "port" or "first packet"
    first_frame: int
    first_ts_ns: int
    last_frame: int = 0
    last_ts_ns: int = 0
    packets_client: int = 0
    packets_server: int = 0
    bytes_client: int = 0  #: TCP payload bytes the client sent, retransmissions included
    bytes_server: int = 0
    handshake: Handshake = field(default_factory=Handshake)
    close: Teardown = field(default_factory=Teardown)
    client_state: TCPState = TCPState.CLOSED
    server_state: TCPState = TCPState.CLOSED
    transitions: list[StateChanged] = field(default_factory=list)
    anomalies: list[UnexpectedSegment] = field(default_factory=list)
    anomaly_count: int = 0
    inconsistencies: int = 0  #: overlaps that carried different bytes
    analysis: dict[str, int] = field(default_factory=dict)  #: tcp.analysis.* name → count
    stream_bytes_client: int = 0  #: unique bytes delivered by reassembly
    stream_bytes_server: int = 0
    missed_bytes_client: int = 0  #: bytes reported as gaps
    missed_bytes_server: int = 0
    frames: list[int] | None = None  #: every frame of it, when ``keep_frames``
    client_stream: StreamContent | None = None  #: when ``keep_data``
    server_stream: StreamContent | None = None
    zeek: ZeekTracker = field(default_factory=ZeekTracker, repr=False)
    vlans: tuple[int, ...] = ()  #: the VLAN tags it travels in, outermost first (part of its key)
    #: the tunnels it travelled in (as Zeek's ``tunnel_parents``), each as first seen
    tunnels: list[Tunnel] = field(default_factory=list)

    proto = "tcp"

    @property
    def packets(self) -> int:
        return self.packets_client + self.packets_server

    @property
    def duration_ns(self) -> int:
        return self.last_ts_ns - self.first_ts_ns

    @property
    def conn_state(self) -> str:
        """Zeek's ``conn_state`` (S0, S1, SF, REJ, …)."""
        return self.zeek.conn_state()

    @property
    def history(self) -> str:
        """Zeek's ``history`` letters."""
        return self.zeek.history_string

    def _repr_html_(self) -> str:
        """Jupyter's view: the facts and the SVG ladder (:mod:`layerpeek.render.ladder`)."""
        from layerpeek.render.ladder import conversation_html

        return conversation_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from layerpeek.render.ladder import conversation_text

        p.text(conversation_text(self))

    def to_dict(self) -> dict[str, Any]:
        """The documented ``flows --json`` record (see ``layerpeek/commands/flows.py``)."""
        from layerpeek.render.flows import conversation_to_dict

        return conversation_to_dict(self)


@dataclass(slots=True)
class PacketFlowInfo:
    """What the flow stages know about one packet (``dump`` shows it).

    For TCP: the stream index, who sent it, Wireshark-style relative
    numbers next to the raw ones, each endpoint's state *after* the packet,
    and the analysis verdict.  For UDP only the stream and direction.
    ``defrag`` is set on IP fragments and on the frame that completed a
    datagram.
    """

    proto: str  #: "tcp", "udp" or "" (not a TCP/UDP packet; defrag info only)
    stream: int = -1
    direction: Direction | Literal[""] = ""  #: the sender; "" when not TCP/UDP
    seq: int | None = None  #: relative sequence number (tcp.seq)
    ack: int | None = None  #: relative acknowledgement number, None without ACK (tcp.ack)
    next_seq: int | None = None  #: relative seq + length (+1 for SYN/FIN) (tcp.nxtseq)
    seglen: int = 0  #: payload length on the wire (tcp.len)
    client_state: TCPState | None = None
    server_state: TCPState | None = None
    analysis: Verdict | None = None
    defrag: Any = None  #: a :class:`~layerpeek.flows.defrag.FragmentInfo` or None
    #: The frame of the first copy, when this segment re-sent bytes *differently*
    #: (the first copy is what the stream holds: a possible evasion).
    conflict_with: int | None = None
    #: The sender's window scale shift for this segment, from the handshake
    #: (RFC 7323): 0 when scaling is not in use or on a SYN (whose window is
    #: never scaled), None when the handshake was not captured (unknown).
    window_shift: int | None = None
    #: TCP: nanoseconds since this conversation's previous frame (``tcp.time_delta``)
    #: and since its first (``tcp.time_relative``); None for UDP
    time_delta_ns: int | None = None
    time_relative_ns: int | None = None

    @property
    def flags(self) -> int:
        """The analysis flags (``Flag`` bits), 0 if none."""
        return 0 if self.analysis is None else self.analysis.flags

    def window_size(self, raw: int) -> int:
        """The window in bytes (Wireshark's ``tcp.window_size``): ``raw`` shifted by
        the scale the handshake agreed, or ``raw`` itself when that is unknown."""
        shift = self.window_shift
        return raw << shift if shift else raw

    def summary(self) -> str:
        """``dump``'s words: ``[stream 3: ESTABLISHED/CLOSE_WAIT] [TCP Retransmission]``."""
        from layerpeek.render.text import flow_suffix

        return flow_suffix(self)

    def labels(self) -> list[str]:
        """The bracketed notes after the stream: ``[TCP Dup ACK 17#2]``, the defrag note."""
        from layerpeek.render.flows import flow_labels

        return flow_labels(self)

    def tree_lines(self) -> list[str]:
        """Indented detail lines for ``dump -V`` (after the TCP/UDP layer)."""
        from layerpeek.render.flows import flow_tree_lines

        return flow_tree_lines(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: a ``"flow"`` object beside the packet's layers."""
        from layerpeek.render.flows import flow_to_dict

        return flow_to_dict(self)


#: How a side's start is shown when the capture joined its connection mid-stream.
JOINED_MIDSTREAM = Segment.MIDSTREAM.value


def initial_states(conv: TCPConversation) -> tuple[str, str]:
    """What the client and the server were before the conversation's first packet, as
    every view shows it: a state name (``LISTEN`` for a responder that answered,
    ``CLOSED`` for one that refused), ``?`` when the capture never told, or
    ``joined mid-stream``."""
    first: dict[str, StateChanged] = {}
    for t in conv.transitions:
        first.setdefault(t.endpoint, t)
        if len(first) == 2:
            break
    out: list[str] = []
    for side, final in (("client", conv.client_state), ("server", conv.server_state)):
        change = first.get(side)
        if change is None:
            out.append(final.value)
        elif change.why == JOINED_MIDSTREAM:
            out.append(JOINED_MIDSTREAM)
        else:
            out.append(change.old.value)
    return out[0], out[1]
