"""The flow library's entry points: conversations from a capture, annotated packets.

Both stream over the capture once, through :class:`layerpeek.analysis.Analysis`:

* :func:`conversations` reads a capture (a path, a file object, or any
  iterable of :class:`~layerpeek.packet.Packet`) and returns every TCP and
  UDP conversation, in order of first packet::

      for conv in layerpeek.flows.conversations("captures/tcp_3040_greeting.pcap"):
          print(conv.id, conv.proto, conv.client, conv.server, conv.conn_state)

* :func:`annotate` yields each packet with what the flow stages know about
  it (:class:`~layerpeek.flows.tracker.PacketFlowInfo`): stream index,
  relative seq/ack, both endpoints' states, analysis flags, and IP
  defragmentation.  A fragmented datagram's completing frame comes out
  *replaced* by the reassembled packet.

:class:`FlowPipeline` is the earlier name of the analysis with the
defragmenter and the two trackers; it is kept for existing code.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator

from layerpeek.analysis import Analysis, Source, Stage, packets_of
from layerpeek.flows.defrag import Defragmenter
from layerpeek.flows.events import ConversationSummary, Event
from layerpeek.flows.records import PacketFlowInfo, TCPConversation
from layerpeek.flows.tracker import TCPTracker
from layerpeek.flows.udp import UDPConversation, UDPTracker
from layerpeek.packet import Packet

Conversation = TCPConversation | UDPConversation


def _sorted(found: Iterable[object]) -> list[Conversation]:
    convs = [e.summary for e in found if isinstance(e, ConversationSummary)]
    convs.sort(key=lambda c: (c.first_frame, c.proto))
    return convs


class FlowPipeline:
    """Deprecated: use :class:`layerpeek.analysis.Analysis`.

    ``Analysis(["defrag", "tcp", "udp"])`` is what this ran.

    ``process(packet)`` returns ``(packet, info, events)`` as before.
    """

    def __init__(
        self,
        *,
        defrag: bool = True,
        tcp: TCPTracker | None = None,
        udp: UDPTracker | None = None,
        defragmenter: Defragmenter | None = None,
        infos: bool = True,
    ) -> None:
        warnings.warn(
            "FlowPipeline is deprecated; use layerpeek.analysis.Analysis "
            '(e.g. Analysis(["defrag", "tcp", "udp"]))',
            DeprecationWarning,
            stacklevel=2,
        )
        self.tcp = tcp if tcp is not None else TCPTracker()
        self.udp = udp if udp is not None else UDPTracker()
        self.tcp.flow_info = self.udp.flow_info = infos
        self.defragmenter = (
            (defragmenter if defragmenter is not None else Defragmenter()) if defrag else None
        )
        stages: list[Stage] = [self.tcp, self.udp]
        if self.defragmenter is not None:
            stages.insert(0, self.defragmenter)
        self.analysis = Analysis(stages, flow_info=infos)

    def process(self, packet: Packet) -> tuple[Packet, PacketFlowInfo | None, list[Event]]:
        step = self.analysis.feed(packet)
        events = [e for e in step.events if not isinstance(e, ConversationSummary)]
        return step.packet, step.flow, events  # type: ignore[return-value]

    def finish(self) -> list[Event]:
        return [e for e in self.analysis.finish()  # type: ignore[misc]
                if not isinstance(e, ConversationSummary)]

    def conversations(self) -> list[Conversation]:
        """Every conversation so far, TCP and UDP, in order of first frame."""
        both: list[Conversation] = [*self.tcp.conversations.values(),
                                    *self.udp.conversations.values()]
        both.sort(key=lambda c: (c.first_frame, c.proto))
        return both


def annotate(
    packets: Iterable[Packet],
    *,
    defrag: bool = True,
    analysis: Analysis | None = None,
    pipeline: FlowPipeline | None = None,
) -> Iterator[tuple[Packet, PacketFlowInfo | None]]:
    """Yield ``(packet, info)`` for every packet, in order.

    ``packet`` is the input packet, or the reassembled one on the frame that
    completed a fragmented IP datagram (``defrag=False`` turns that off).
    Pass an ``analysis`` to keep access to its stages (and their
    conversation summaries) afterwards; call ``analysis.finish()`` at the
    end if you need the final events.  (``pipeline``, a :class:`FlowPipeline`,
    is the earlier spelling of ``analysis``.)
    """
    if pipeline is not None:
        analysis = pipeline.analysis
    if analysis is None:
        analysis = Analysis(["defrag", "tcp", "udp"] if defrag else ["tcp", "udp"])
    for packet in packets:
        step = analysis.feed(packet)
        yield step.packet, step.flow


def conversations(
    source: Source,
    *,
    defrag: bool = True,
    keep_frames: bool = False,
    keep_data: bool = False,
) -> list[Conversation]:
    """All TCP and UDP conversations of a capture, in order of first packet.

    ``source`` is a path, a binary file object, or an iterable of packets.
    ``keep_frames`` records each conversation's frame numbers; ``keep_data``
    keeps each TCP direction's reassembled bytes and gaps
    (``conv.client_stream.data``): convenient in a notebook, but it holds the
    whole capture's payload in memory.
    """
    analysis = Analysis(
        ["defrag", "tcp", "udp"] if defrag else ["tcp", "udp"],
        settings={
            "tcp": {"keep_frames": keep_frames, "keep_data": keep_data,
                    "keep_conversations": False},
            "udp": {"keep_frames": keep_frames, "keep_conversations": False},
        },
        flow_info=False,
    )
    return _sorted(analysis.events(source))


__all__ = ["Conversation", "FlowPipeline", "annotate", "conversations", "packets_of"]
