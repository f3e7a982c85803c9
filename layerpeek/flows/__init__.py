"""TCP and UDP conversations, TCP reassembly and IP defragmentation (sans-IO stages).

The stages take decoded :class:`~layerpeek.packet.Packet` objects and return
events or summaries; none of them reads files or clocks.  Start with
:func:`conversations` (a capture → its conversations) or :func:`annotate`
(packets → packets with per-packet flow facts).  Submodules are imported on
first use so ``import layerpeek.flows`` stays cheap.

>>> from layerpeek import flows
>>> [conv] = flows.conversations("captures/tcp_3040_greeting.pcap")
>>> conv.handshake.client_isn, conv.close.kind, conv.close.initiator
(1110334683, 'four-way', 'client')
>>> conv.client_state.value, conv.server_state.value
('TIME_WAIT', 'CLOSED')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerpeek._lazy import lazy_getattr

if TYPE_CHECKING:
    from layerpeek.flows.defrag import Defragmenter, FragmentInfo
    from layerpeek.flows.events import (
        ConnectionClosed,
        ConnectionOpened,
        Event,
        StateChanged,
        StreamData,
        StreamGap,
        StreamInconsistency,
        UnexpectedSegment,
    )
    from layerpeek.flows.pipeline import FlowPipeline, annotate, conversations
    from layerpeek.flows.records import Handshake, PacketFlowInfo, TCPConversation, Teardown
    from layerpeek.flows.tcp_state import TRANSITIONS, Segment, TCPState
    from layerpeek.flows.tracker import TCPTracker
    from layerpeek.flows.udp import UDPConversation, UDPTracker

_WHERE = {
    "FlowPipeline": "pipeline",
    "annotate": "pipeline",
    "conversations": "pipeline",
    "Defragmenter": "defrag",
    "FragmentInfo": "defrag",
    "ConnectionClosed": "events",
    "ConnectionOpened": "events",
    "Event": "events",
    "StateChanged": "events",
    "StreamData": "events",
    "StreamGap": "events",
    "StreamInconsistency": "events",
    "UnexpectedSegment": "events",
    "TRANSITIONS": "tcp_state",
    "Segment": "tcp_state",
    "TCPState": "tcp_state",
    "Handshake": "records",
    "PacketFlowInfo": "records",
    "TCPConversation": "records",
    "TCPTracker": "tracker",
    "Teardown": "records",
    "UDPConversation": "udp",
    "UDPTracker": "udp",
}

__all__ = [
    "TRANSITIONS",
    "ConnectionClosed",
    "ConnectionOpened",
    "Defragmenter",
    "Event",
    "FlowPipeline",
    "FragmentInfo",
    "Handshake",
    "PacketFlowInfo",
    "Segment",
    "StateChanged",
    "StreamData",
    "StreamGap",
    "StreamInconsistency",
    "TCPConversation",
    "TCPState",
    "TCPTracker",
    "Teardown",
    "UDPConversation",
    "UDPTracker",
    "UnexpectedSegment",
    "annotate",
    "conversations",
]


__getattr__ = lazy_getattr(__name__, _WHERE, globals())
