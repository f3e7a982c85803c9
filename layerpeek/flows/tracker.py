"""The TCP conversation tracker: packets in, conversation events out (sans-IO).

This module is the coordinator: it finds the conversation a packet belongs
to and hands the packet to the parts that each keep one concern (the state
machine in :mod:`~layerpeek.flows.tcp_state`, the sequence analysis, Zeek's
history, reassembly); what it learns is written into the public records of
:mod:`~layerpeek.flows.records` (re-exported here).

Theory of operation
===================

``TCPTracker.feed(packet)`` looks at the innermost TCP header of a decoded
packet and the IP header right before it, and returns what happened as
:mod:`~layerpeek.flows.events`.  It never reads a clock (time is the
packet's ``ts_ns``) and never does I/O; ``finish()`` flushes what is still
open when the capture ends.  ``process(packet)`` returns the same events
plus a :class:`PacketFlowInfo` for the packet (stream index, relative
numbers, states, analysis), which is what ``dump`` shows.

Conversations
-------------
Packets are grouped by the 5-tuple, both directions together
(:func:`~layerpeek.flows.key.flow_key`), and numbered from 0 in order of
their first packet, as tshark numbers ``tcp.stream``.  The *client* is the
sender of the SYN; a conversation whose first packet is a SYN-ACK has the
receiver as client; one picked up mid-stream has the higher port as client
(clients use ephemeral ports), or the first sender when the ports are equal.

A SYN (without ACK) whose sequence number differs from the one its sender
used before on the same 5-tuple starts a new conversation (port reuse);
Wireshark does the same and flags the SYN ``tcp.analysis.reused_ports``.
The same SYN again is a retransmission, not a new connection.

Per packet, in this order
-------------------------
1. relative sequence and acknowledgement numbers, with Wireshark's
   semantics (relative to the ISN, the SYN counting one; without a SYN the
   first segment seen is number 1);
2. the handshake facts (ISNs, options, SYN → SYN-ACK → ACK times);
3. the sequence analysis (:mod:`~layerpeek.flows.analysis`);
4. each endpoint's state (:mod:`~layerpeek.flows.tcp_state`), recording
   every transition as a :class:`~layerpeek.flows.events.StateChanged`;
5. Zeek's endpoint states and history letters (:mod:`~layerpeek.flows.zeek`);
6. reassembly of the sender's bytes, and the receiver's acknowledgement
   (which turns holes the receiver acknowledged into reported gaps);
7. the close: both directions delivered up to their FIN, or a RST.

Memory
------
Out-of-order bytes are capped per direction and in total (see
:mod:`~layerpeek.flows.reassembly`).  When a conversation closes its buffers
are released; only the :class:`TCPConversation` summary stays (a few
hundred bytes), so memory stays flat however long the capture is, unless
``keep_frames`` or ``keep_data`` ask to keep more.

The connection table itself (open connections, and closed ones remembered
so that late packets and port reuse are recognised) holds at most
``max_connections`` 5-tuples (:data:`DEFAULT_MAX_CONNECTIONS`).  A flood of
SYNs to distinct ports would otherwise grow it by a few kilobytes per SYN
without end.  When a new 5-tuple arrives at a full table, the entry seen
least recently is evicted: a closed one is simply forgotten; an open one is
flushed (its holes reported as gaps, reason ``"evicted"``), closed with
``ConnectionClosed(how="evicted")`` and ``close.kind == "evicted"``, and
counted in :attr:`TCPTracker.evicted`.  A later packet of an evicted
connection starts a new, mid-stream conversation.

With ``keep_conversations=False`` a conversation's summary is also dropped
from :attr:`TCPTracker.conversations` once its 5-tuple leaves the table, for
consumers that use only the events and per-packet facts (``dump``): memory
then stays bounded by the table whatever the length of the capture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from layerpeek.flows.analysis import (
    SCALE_NONE,
    Flag,
    SeqState,
    Verdict,
    analyze,
    handshake_scaling,
)
from layerpeek.flows.events import (
    CloseHow,
    CloseKind,
    ConnectionClosed,
    ConnectionOpened,
    ConversationSummary,
    Direction,
    Event,
    OpenedHow,
    StateChanged,
    StreamData,
    StreamGap,
    StreamInconsistency,
    UnexpectedSegment,
)
from layerpeek.flows.key import (
    Endpoint,
    FlowKey,
    context_of,
    flow_key,
    innermost_transport,
    note_tunnels,
    vlans_of,
)
from layerpeek.flows.reassembly import (
    DEFAULT_CAP,
    DEFAULT_COMPARE_WINDOW,
    DEFAULT_TOTAL_CAP,
    Budget,
    StreamReassembler,
)
from layerpeek.flows.records import (
    Handshake,
    PacketFlowInfo,
    StreamContent,
    SynOptions,
    TCPConversation,
    Teardown,
)
from layerpeek.flows.tcp_state import Move, Segment, TCPEndpoint, TCPState, apply, on_segment
from layerpeek.flows.zeek import ZeekTracker
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.tcp import MSS, TCP, SACKPermitted, Timestamps, WindowScale
from layerpeek.packet import Packet

if TYPE_CHECKING:
    from layerpeek.analysis import Step

#: The records moved to :mod:`layerpeek.flows.records`; they are still importable from here.
__all__ = [
    "DEFAULT_CLOSED_LINGER_NS",
    "DEFAULT_MAX_CONNECTIONS",
    "MAX_ANOMALIES",
    "Handshake",
    "PacketFlowInfo",
    "StreamContent",
    "SynOptions",
    "TCPConversation",
    "TCPTracker",
    "Teardown",
]

_MASK = 0xFFFFFFFF
_FIN, _SYN, _RST, _PSH, _ACK = 0x01, 0x02, 0x04, 0x08, 0x10

_CLOSING = TCPState.CLOSING
#: Each segment's plain-language "why" (``Enum.value`` is a descriptor call).
_WHY: dict[Segment, str] = {segment: segment.value for segment in Segment}

#: Unexpected segments kept per conversation (the count is always exact).
MAX_ANOMALIES = 64

#: Default bound on the connection table (5-tuples tracked at once).  About
#: 3 kB each while open: the worst case, a SYN flood, stays near 150 MB, and
#: real captures rarely hold this many connections open at the same time.
#: A closed connection is forgotten this long (capture time) after its last packet.
DEFAULT_CLOSED_LINGER_NS = 120 * 1_000_000_000
DEFAULT_MAX_CONNECTIONS = 50_000

#: Verdicts meaning "not new data": such a segment after the peer's FIN is no half-close.
_NOT_NEW = (
    Flag.RETRANSMISSION
    | Flag.FAST_RETRANSMISSION
    | Flag.SPURIOUS_RETRANSMISSION
    | Flag.OUT_OF_ORDER
    | Flag.KEEP_ALIVE
    | Flag.ZERO_WINDOW_PROBE
)


# ---------------------------------------------------------------------------
# Runtime state
# ---------------------------------------------------------------------------


class _Side(TCPEndpoint):
    """One endpoint's runtime state inside a conversation: the state machine's
    :class:`~layerpeek.flows.tcp_state.TCPEndpoint` plus numbering, analysis and reassembly."""

    __slots__ = (
        "addr",
        "base",
        "closed_data",
        "content",
        "last_ack",
        "port",
        "reasm",
        "seq",
    )

    def __init__(self, name: Direction, addr: bytes, port: int, reasm: StreamReassembler) -> None:
        TCPEndpoint.__init__(self, name)
        self.addr = addr
        self.port = port
        self.seq = SeqState()
        self.base: int | None = None  # Wireshark's base_seq (raw) for relative numbers
        self.last_ack: int | None = None  # the last acknowledgement number it sent
        self.reasm = reasm
        self.closed_data = False  # it sent data after the peer's FIN (half-close)
        self.content: StreamContent | None = None


class _Conn:
    """A conversation's runtime state (the public summary is ``conv``)."""

    __slots__ = ("closed", "conv", "irtt_ns", "key", "mru_syn_ts", "sides", "simultaneous")

    def __init__(self, conv: TCPConversation, key: FlowKey, client: _Side, server: _Side) -> None:
        self.conv = conv
        self.key = key
        self.sides = (client, server)
        self.closed = False
        self.irtt_ns: int | None = None
        self.mru_syn_ts: int | None = None
        self.simultaneous = False


def _syn_options(tcp: TCP) -> SynOptions:
    out = SynOptions()
    for opt in tcp.options:
        if isinstance(opt, MSS):
            out.mss = opt.value
        elif isinstance(opt, WindowScale):
            out.window_scale = opt.shift
        elif isinstance(opt, SACKPermitted):
            out.sack_permitted = True
        elif isinstance(opt, Timestamps):
            out.timestamps = True
    return out


class TCPTracker:
    """Group TCP packets into conversations; report states, analysis and stream bytes.

    Options (keyword-only):

    * ``cap``: out-of-order bytes waiting per direction before skipping ahead;
    * ``total_cap``: the same across all conversations;
    * ``compare_window``: delivered bytes kept per direction to check
      retransmissions for different content;
    * ``reassemble``: set False to skip reassembly (no StreamData/StreamGap);
    * ``keep_frames``: record every frame number in ``TCPConversation.frames``;
    * ``keep_data``: keep each direction's bytes and gaps on the conversation
      (``client_stream``/``server_stream``): for notebooks, not for big files;
    * ``max_connections``: 5-tuples tracked at once; past it the least recently
      seen is evicted (see "Memory" above).  :attr:`evicted` counts the open
      connections that were;
    * ``keep_conversations``: set False to forget a conversation's summary
      when it leaves the table (bounded memory for event-only consumers);
    * ``closed_linger_ns``: how long (capture time) a closed connection stays
      in the table after its last packet, to recognise late retransmissions
      and port reuse; then it is forgotten (default two minutes, the longest
      common TIME_WAIT).  None keeps closed connections until evicted.
    * ``flow_info``: as a stage of :class:`~layerpeek.analysis.Analysis`,
      whether to set each packet's :class:`PacketFlowInfo` (``step.flow``).

    Each conversation's summary is also raised once as a
    :class:`~layerpeek.flows.events.ConversationSummary` event when it can no
    longer change (see that event).
    """

    stage_name: ClassVar[str] = "tcp"
    requires: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __init__(
        self,
        *,
        cap: int = DEFAULT_CAP,
        total_cap: int = DEFAULT_TOTAL_CAP,
        compare_window: int = DEFAULT_COMPARE_WINDOW,
        reassemble: bool = True,
        keep_frames: bool = False,
        keep_data: bool = False,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        keep_conversations: bool = True,
        closed_linger_ns: int | None = DEFAULT_CLOSED_LINGER_NS,
        flow_info: bool = True,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.flow_info = flow_info
        self.conversations: dict[int, TCPConversation] = {}
        #: summaries not yet raised as ConversationSummary
        self._unfinished: dict[int, TCPConversation] = {}
        self._table: dict[FlowKey, _Conn] = {}
        self._open: dict[int, _Conn] = {}
        self._budget = Budget(total_cap)
        self._cap = cap
        self._compare_window = compare_window
        self._reassemble = reassemble
        self._keep_frames = keep_frames
        self._keep_data = keep_data
        self._next_id = 0
        self._max_connections = max_connections
        self.evicted = 0  #: open connections evicted because the table was full
        self._keep_conversations = keep_conversations
        self._linger = closed_linger_ns
        #: called with each conversation summary dropped (``keep_conversations=False``),
        #: when it can no longer change: a listing can take it then and not keep it
        self.on_forget: Callable[[TCPConversation], None] | None = None
        #: closed connections still in the table, least recently seen first
        self._closed: dict[FlowKey, _Conn] = {}

    # -- public API ----------------------------------------------------------

    def feed(self, packet: Packet) -> list[Event]:
        """Process one packet; return the events it caused (often none)."""
        return self._process(packet, False)[0]

    def finish(self) -> list[Event]:
        """The capture ended: flush every open conversation (gaps, then ConnectionClosed),
        then raise the summary of every conversation not yet raised."""
        out: list[Event] = []
        for conn in list(self._open.values()):
            ts = conn.conv.last_ts_ns
            for side in conn.sides:
                self._flush(conn, side, "end of capture", ts, out)
            client, server = conn.sides
            if client.fin_seq is not None and server.fin_seq is not None:
                conn.conv.close.kind = self._fin_kind(conn)
                self._close(conn, "fin", ts, out)
            else:
                self._close(conn, "eof", ts, out)
        out.extend(ConversationSummary(conv) for conv in self._unfinished.values())
        self._unfinished.clear()
        return out

    # -- as a stage of layerpeek.analysis.Analysis -----------------------------

    def on_packet(self, step: Step) -> list[Event]:
        """The packet's events; ``step.flow`` becomes its :class:`PacketFlowInfo` (TCP only)."""
        events, info = self._process(step.packet, self.flow_info)
        if info is not None:
            if step.flow is not None:  # the defragmenter's note on the frame
                info.defrag = step.flow.defrag
            step.flow = info
        return events

    def on_finish(self, events: Sequence[object]) -> list[Event]:
        return self.finish()

    def process(self, packet: Packet) -> tuple[list[Event], PacketFlowInfo | None]:
        """Like :meth:`feed`, also returning the packet's :class:`PacketFlowInfo`."""
        return self._process(packet, True)

    def _process(
        self, packet: Packet, want_info: bool
    ) -> tuple[list[Event], PacketFlowInfo | None]:
        found = _extract(packet)
        if found is None:
            return [], None
        tcp, src, dst, payload, seglen, inner = found
        out: list[Event] = []
        frame = packet.index
        ts = packet.ts_ns
        flags = tcp.flags & 0xFF
        seq = tcp.seq
        ack = tcp.ack
        sport, dport = tcp.src_port, tcp.dst_port
        context = context_of(packet.layers, inner) if inner > 1 else ()
        key = flow_key(src, sport, dst, dport, context)
        table = self._table
        conn = table.get(key)
        if conn is not None:  # keep the table in least-recently-seen order for eviction
            del table[key]
            table[key] = conn
            if conn.closed:
                closed = self._closed
                closed.pop(key, None)
                closed[key] = conn
        if self._closed and self._linger is not None:
            self._expire_closed(ts - self._linger, out)
        reused = False
        if conn is not None and flags & (_SYN | _ACK) == _SYN:
            first = conn.sides[0]
            mine = first if first.port == sport and first.addr == src else conn.sides[1]
            if mine.base is not None and seq != mine.base:
                reused = True
                if not conn.closed:
                    for side in conn.sides:
                        self._flush(conn, side, "end of capture", ts, out)
                    self._close(conn, "reused", ts, out)
                self._final(conn.conv, out)
                conn = None
        if conn is None:
            conn = self._new_conversation(key, src, sport, dst, dport, flags, frame, ts, out)
        conv = conn.conv
        if context:
            conv.vlans = vlans_of(context)
            note_tunnels(conv.tunnels, packet.layers, inner)
        client, server = conn.sides
        if client.port == sport and client.addr == src:
            snd, rcv = client, server
        else:
            snd, rcv = server, client
        from_client = snd is client
        # -- counters ------------------------------------------------------
        if from_client:
            conv.packets_client += 1
            conv.bytes_client += seglen
        else:
            conv.packets_server += 1
            conv.bytes_server += seglen
        conv.last_frame = frame
        previous_ts = conv.last_ts_ns if conv.packets_client + conv.packets_server > 1 else ts
        conv.last_ts_ns = ts
        if conv.frames is not None:
            conv.frames.append(frame)
        syn, rst, has_ack = flags & _SYN, flags & _RST, flags & _ACK
        # -- 1. relative numbers (Wireshark's base_seq rules) ----------------
        if snd.base is None:
            snd.base = seq if syn else (seq - 1) & _MASK
        if rcv.base is None and has_ack:
            rcv.base = (ack - 1) & _MASK
        rel_seq = (seq - snd.base) & _MASK
        rel_ack = (ack - rcv.base) & _MASK if has_ack and rcv.base is not None else None
        # -- 2. handshake ------------------------------------------------------
        hs = conv.handshake
        if syn:
            shift: int | None = None
            options = _syn_options(tcp)
            shift = options.window_scale
            handshake_scaling(snd.seq, rcv.seq, bool(has_ack), shift)
            if not has_ack:
                conn.mru_syn_ts = ts
                if from_client:
                    hs.syn_count += 1
                    hs.syn_ts_ns = ts
                    if hs.syn_frame is None:
                        hs.syn_frame = frame
                        hs.client_isn = seq
                        hs.client_options = options
            elif not from_client:
                hs.synack_count += 1
                if hs.synack_frame is None:
                    hs.synack_frame = frame
                    hs.synack_ts_ns = ts
                    hs.server_isn = seq
                    hs.server_options = options
        elif has_ack:
            if conn.mru_syn_ts is not None and conn.irtt_ns is None:
                conn.irtt_ns = ts - conn.mru_syn_ts
            if from_client and hs.synack_frame is not None and hs.ack_frame is None:
                hs.ack_frame = frame
                hs.ack_ts_ns = ts
        # -- 3. analysis -------------------------------------------------------
        verdict = analyze(snd.seq, rcv.seq, frame, ts, seq, ack, seglen, flags, tcp.window,
                          conn.irtt_ns)
        if reused:
            if verdict is None:
                verdict = Verdict()
            verdict.flags |= Flag.REUSED_PORTS
        if verdict is not None:
            counts = conv.analysis
            for name, _ in verdict.reasons():
                counts[name] = counts.get(name, 0) + 1
        # -- 4. endpoint states ------------------------------------------------
        # Only SYN, FIN, RST, or the first ACK of a pending SYN or FIN can move one.
        if flags & (_SYN | _FIN | _RST) or (has_ack and rcv.awaits_ack()):
            moves = on_segment(snd, rcv, flags, seq, ack, seglen)
            if snd.fin_crossed:
                conn.simultaneous = True
            if moves:
                self._record(conn, moves, frame, ts, out)
        # -- 5. Zeek -----------------------------------------------------------
        conv.zeek.packet(from_client, flags, seq, seglen, tcp.window)
        if (
            seglen
            and rcv.fin_seq is not None
            and not rst
            and (verdict is None or not verdict.flags & _NOT_NEW)
        ):
            snd.closed_data = True  # new data toward a side that already sent FIN
        # -- 6. reassembly -----------------------------------------------------
        if self._reassemble and not conn.closed:
            self._reassembly(conn, snd, rcv, flags, seq, ack, payload, seglen, frame, ts, out)
        # -- 7. close ----------------------------------------------------------
        if not conn.closed and (rst or client.fin_seq is not None or server.fin_seq is not None):
            self._check_close(conn, snd, rst, frame, ts, out)
        conv.client_state = client.state
        conv.server_state = server.state
        if self._budget.exceeded:
            self._relieve_budget(ts, out)
        if not want_info:
            return out, None
        nxt = (rel_seq + seglen + (1 if flags & (_SYN | _FIN) else 0)) & _MASK
        info = PacketFlowInfo(
            "tcp",
            conv.id,
            snd.name,
            rel_seq,
            rel_ack,
            nxt,
            seglen,
            client.state,
            server.state,
            verdict,
        )
        info.time_delta_ns = ts - previous_ts  # tcp.time_delta: since the stream's last frame
        info.time_relative_ns = ts - conv.first_ts_ns  # tcp.time_relative
        scale = snd.seq.win_scale  # the sender's shift (its own SYN's option)
        if syn:
            info.window_shift = 0  # a SYN's window is never scaled (RFC 7323 §2.2)
        elif scale >= 0:
            info.window_shift = scale
        elif scale == SCALE_NONE:
            info.window_shift = 0
        for e in out:
            if e.__class__ is StreamInconsistency:
                assert isinstance(e, StreamInconsistency)
                info.conflict_with = e.first_frame or None
                break
        return out, info

    # -- conversations -------------------------------------------------------

    def _new_conversation(
        self, key: FlowKey, src: bytes, sport: int, dst: bytes, dport: int, flags: int,
        frame: int, ts: int, out: list[Event],
    ) -> _Conn:
        syn_ack = flags & (_SYN | _ACK)
        how: OpenedHow
        if syn_ack == _SYN:
            client_first, how, by = True, "handshake", "syn"
        elif syn_ack == _SYN | _ACK:
            client_first, how, by = False, "synack", "synack"
        elif sport != dport:
            client_first, how, by = sport > dport, "midstream", "port"
        else:
            client_first, how, by = True, "midstream", "first packet"
        if client_first:
            c_addr, c_port, s_addr, s_port = src, sport, dst, dport
        else:
            c_addr, c_port, s_addr, s_port = dst, dport, src, sport
        cid = self._next_id
        self._next_id += 1
        conv = TCPConversation(
            cid, Endpoint(c_addr, c_port), Endpoint(s_addr, s_port), by, frame, ts,
            zeek=ZeekTracker(flipped=not client_first),
        )
        if self._keep_frames:
            conv.frames = []
        client = _Side("client", c_addr, c_port, self._reassembler(cid, "client"))
        server = _Side("server", s_addr, s_port, self._reassembler(cid, "server"))
        # The responder's state is unknown until it answers, and both ends'
        # of a conversation joined mid-stream (see tcp_state's theory).
        server.state = conv.server_state = TCPState.UNKNOWN
        if how == "midstream":
            client.state = conv.client_state = TCPState.UNKNOWN
        if self._keep_data:
            conv.client_stream = client.content = StreamContent()
            conv.server_stream = server.content = StreamContent()
        conn = _Conn(conv, key, client, server)
        if key not in self._table and len(self._table) >= self._max_connections:
            self._evict_oldest(ts, out)
        self._table[key] = conn
        self._closed.pop(key, None)  # a reused 5-tuple: the closed one it replaces
        self._open[cid] = conn
        self.conversations[cid] = conv
        self._unfinished[cid] = conv
        out.append(ConnectionOpened(cid, how, ts, frame, conv.client, conv.server))
        if how == "midstream":
            moves: list[Move] = []
            apply(client, Segment.MIDSTREAM, moves)
            apply(server, Segment.MIDSTREAM, moves)
            self._record(conn, moves, frame, ts, out)
        return conn

    @property
    def conversation_count(self) -> int:
        """Conversations numbered so far (the next one gets this number)."""
        return self._next_id

    @property
    def tracked_connections(self) -> int:
        """5-tuples in the connection table now (at most ``max_connections``)."""
        return len(self._table)

    def _final(self, conv: TCPConversation, out: list[Event]) -> None:
        """``conv`` left the table: raise its summary (once), forget it if asked to."""
        if self._unfinished.pop(conv.id, None) is not None:
            out.append(ConversationSummary(conv))
        if not self._keep_conversations:
            self.conversations.pop(conv.id, None)
            if self.on_forget is not None:
                self.on_forget(conv)

    def _expire_closed(self, before_ns: int, out: list[Event]) -> None:
        """Forget closed connections whose last packet is older than ``before_ns``.

        ``_closed`` is in least-recently-seen order, so only its head is looked
        at and the loop stops at the first recent entry: O(1) per packet.
        Without this, closed connections would stay until the table filled, and
        memory would grow with every conversation of a long capture up to
        ``max_connections``.
        """
        closed = self._closed
        while closed:
            key = next(iter(closed))
            conn = closed[key]
            if conn.conv.last_ts_ns >= before_ns:
                return
            del closed[key]
            if self._table.get(key) is conn:
                del self._table[key]
            self._final(conn.conv, out)

    def _evict_oldest(self, ts: int, out: list[Event]) -> None:
        """Make room in a full table: drop the least recently seen 5-tuple."""
        _key, conn = next(iter(self._table.items()))
        del self._table[_key]
        if self._closed.get(_key) is conn:
            del self._closed[_key]
        if not conn.closed:
            for side in conn.sides:
                self._flush(conn, side, "evicted", ts, out)
            conn.conv.close.kind = "evicted"
            self._close(conn, "evicted", ts, out)
            self.evicted += 1
        self._final(conn.conv, out)

    def _reassembler(self, cid: int, direction: Direction) -> StreamReassembler:
        return StreamReassembler(
            cid, direction, cap=self._cap, budget=self._budget,
            compare_window=self._compare_window,
        )

    # -- states --------------------------------------------------------------

    def _record(self, conn: _Conn, moves: list[Move], frame: int, ts: int,
                out: list[Event]) -> None:
        """Turn the state machine's moves into events on the conversation."""
        conv = conn.conv
        for endpoint, segment, old, new in moves:
            if new is None:
                event = UnexpectedSegment(conv.id, endpoint.name, frame, ts, old, segment)
                conv.anomaly_count += 1
                if len(conv.anomalies) < MAX_ANOMALIES:
                    conv.anomalies.append(event)
                out.append(event)
                continue
            if new is _CLOSING:
                conn.simultaneous = True
            change = StateChanged(conv.id, endpoint.name, frame, ts, old, new, _WHY[segment])
            conv.transitions.append(change)
            out.append(change)

    # -- reassembly ------------------------------------------------------------

    def _reassembly(
        self, conn: _Conn, snd: _Side, rcv: _Side, flags: int, seq: int, ack: int,
        payload: bytes, seglen: int, frame: int, ts: int, out: list[Event],
    ) -> None:
        syn, fin, rst = flags & _SYN, flags & _FIN, flags & _RST
        reasm = snd.reasm
        first = len(out)
        data_seq = (seq + 1) & _MASK if syn else seq
        if not reasm.started:
            reasm.start(data_seq)
        if rst:
            pass  # data on a RST is a diagnostic, not stream content (RFC 9293 §3.5.3)
        elif seglen or fin:
            # (Zeek's "t" letter is the ZeekTracker's: it counts by the highest
            # sequence number sent, not by what reassembly already had.)
            reasm.segment(data_seq, payload, frame, ts, out, wire_len=seglen, fin=bool(fin))
        if flags & _ACK and not rst and ack != snd.last_ack and rcv.reasm.started:
            snd.last_ack = ack  # a repeated acknowledgement cannot uncover a new hole
            rcv.reasm.acked(rcv.reasm.offset(ack), ts, out)
        if rst:
            for side in conn.sides:
                side.reasm.flush("rst", ts, out)
        if len(out) > first:
            self._account(conn, out, first)

    def _account(self, conn: _Conn, out: list[Event], first: int) -> None:
        """Fold new stream events into the conversation's counters and history."""
        conv = conn.conv
        client, server = conn.sides
        for i in range(first, len(out)):
            e = out[i]
            kind = type(e)
            if kind is StreamData:
                assert isinstance(e, StreamData)
                side = client if e.direction == "client" else server
                if side.content is not None:
                    side.content.chunks.append((e.offset, e.data))
            elif kind is StreamGap:
                assert isinstance(e, StreamGap)
                side = client if e.direction == "client" else server
                if side.content is not None:
                    side.content.gaps.append((e.offset, e.length, e.reason))
                conv.zeek.count_event(e.direction == "client", "g")
            elif kind is StreamInconsistency:
                conv.inconsistencies += 1
        c, s = client.reasm, server.reasm
        conv.stream_bytes_client = c.delivered_bytes
        conv.stream_bytes_server = s.delivered_bytes
        conv.missed_bytes_client = c.gap_bytes
        conv.missed_bytes_server = s.gap_bytes
        conv.zeek.orig.size = c.delivered_bytes + c.gap_bytes
        conv.zeek.resp.size = s.delivered_bytes + s.gap_bytes

    def _flush(self, conn: _Conn, side: _Side, reason: str, ts: int, out: list[Event]) -> None:
        if not self._reassemble or conn.closed:
            return
        first = len(out)
        side.reasm.flush(reason, ts, out)
        if len(out) > first:
            self._account(conn, out, first)

    def _relieve_budget(self, ts: int, out: list[Event]) -> None:
        """Over the total cap: make the direction holding the most waiting bytes skip ahead."""
        while self._budget.exceeded:
            worst: tuple[_Conn, _Side] | None = None
            most = 0
            for conn in self._open.values():
                for side in conn.sides:
                    if side.reasm.buffered > most:
                        most = side.reasm.buffered
                        worst = (conn, side)
            if worst is None:
                return
            conn, side = worst
            first = len(out)
            side.reasm.skip_waiting("buffer cap", ts, out)
            self._account(conn, out, first)

    # -- close -----------------------------------------------------------------

    def _check_close(
        self, conn: _Conn, snd: _Side, rst: int, frame: int, ts: int, out: list[Event]
    ) -> None:
        conv = conn.conv
        client, server = conn.sides
        close = conv.close
        if snd.fin_seq is not None:
            if snd is client and close.client_fin_frame is None:
                close.client_fin_frame = frame
            elif snd is server and close.server_fin_frame is None:
                close.server_fin_frame = frame
            if close.initiator is None:
                close.initiator = snd.name
            close.fins = (client.fin_seq is not None) + (server.fin_seq is not None)
        if client.closed_data or server.closed_data:
            close.half_closed = True
        if rst:
            close.rst_frame = frame
            close.rst_by = snd.name
            refused = (
                snd is server
                and conv.handshake.synack_frame is None
                and conv.handshake.syn_frame is not None
            )
            close.kind = "refused" if refused else "rst"
            if close.initiator is None or refused:
                close.initiator = snd.name
            self._close(conn, "refused" if refused else "rst", ts, out)
            return
        done = client.fin_seq is not None and server.fin_seq is not None
        if done and self._reassemble:
            done = client.reasm.finished and server.reasm.finished
        if done:
            close.kind = self._fin_kind(conn)
            self._close(conn, "fin", ts, out)
        elif close.half_closed:
            close.kind = "half-close"

    @staticmethod
    def _fin_kind(conn: _Conn) -> CloseKind:
        """Both sides sent FIN: which kind of graceful close was it?"""
        if conn.simultaneous:
            return "simultaneous"
        if conn.conv.close.half_closed:
            return "half-close"
        return "four-way"

    def _close(self, conn: _Conn, how: CloseHow, ts: int, out: list[Event]) -> None:
        if conn.closed:
            return
        conn.closed = True
        if self._table.get(conn.key) is conn:
            self._closed[conn.key] = conn
        conn.conv.close.ts_ns = ts
        if how in ("eof", "reused") and conn.conv.close.kind != "half-close":
            conn.conv.close.kind = "open"
        for side in conn.sides:
            side.reasm.release()
        self._open.pop(conn.conv.id, None)
        out.append(ConnectionClosed(conn.conv.id, how, ts))


def _extract(packet: Packet) -> tuple[TCP, bytes, bytes, bytes, int, int] | None:
    """The TCP header, IP addresses, captured payload, wire payload length and the
    IP layer's index (for its context, :func:`~layerpeek.flows.key.context_of`), or None
    (the layers :func:`~layerpeek.flows.key.innermost_transport` finds)."""
    found = innermost_transport(packet, TCP)
    if found is None:
        return None
    t, i = found
    layers = packet.layers
    tcp = layers[t]
    ip = layers[i]
    assert isinstance(tcp, TCP)
    spans = packet.spans
    data = packet.data
    ip_start = spans[i][0]
    if isinstance(ip, IPv4):
        ip_end = ip_start + ip.total_len if ip.total_len else len(data)
    else:
        assert isinstance(ip, IPv6)
        ip_end = ip_start + 40 + ip.payload_len if ip.payload_len else len(data)
    payload_start = spans[t][0] + tcp.header_len
    seglen = ip_end - payload_start
    if seglen < 0:
        seglen = 0
    payload = data[payload_start : min(ip_end, len(data))] if seglen else b""
    return tcp, ip.src, ip.dst, payload, seglen, i
