"""The library entry points: conversations from a file, and annotated packets.

Two ways in, both streaming over the capture once:

* :func:`conversations` reads a capture (a path, a file object, or any
  iterable of :class:`~layerpeek.packet.Packet`) and returns every TCP and
  UDP conversation, in order of first packet::

      for conv in layerpeek.flows.conversations("captures/tcp_3040_greeting.pcap"):
          print(conv.id, conv.proto, conv.client, conv.server, conv.conn_state)

* :func:`annotate` yields each packet with what the flow stages know about
  it (:class:`~layerpeek.flows.tracker.PacketFlowInfo`): stream index,
  relative seq/ack, both endpoints' states, analysis flags, and IP
  defragmentation.  ``dump`` uses it; a fragmented datagram's completing
  frame comes out *replaced* by the reassembled packet.

:class:`FlowPipeline` is the sans-IO object under both (defragmenter → TCP
tracker → UDP tracker) for callers that want the events too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO, cast

from layerpeek.flows.defrag import Defragmenter
from layerpeek.flows.events import Event
from layerpeek.flows.tracker import PacketFlowInfo, TCPConversation, TCPTracker
from layerpeek.flows.udp import UDPConversation, UDPTracker
from layerpeek.packet import Packet

Source = str | os.PathLike[str] | BinaryIO | Iterable[Packet]
Conversation = TCPConversation | UDPConversation


class FlowPipeline:
    """Defragmenter, TCP tracker and UDP tracker chained; one packet at a time.

    ``process(packet)`` returns ``(packet, info, events)``: the packet to use
    from now on (the reassembled one when this frame completed an IP
    datagram), its :class:`PacketFlowInfo` (None for packets that are
    neither TCP, UDP nor fragments, and always None with ``infos=False``,
    which saves building one per packet when only summaries or events are
    wanted), and the TCP events it caused.
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
        self.infos = infos
        self.tcp = tcp if tcp is not None else TCPTracker()
        self.udp = udp if udp is not None else UDPTracker()
        self.defragmenter = (
            (defragmenter if defragmenter is not None else Defragmenter()) if defrag else None
        )

    def process(self, packet: Packet) -> tuple[Packet, PacketFlowInfo | None, list[Event]]:
        frag = None
        if self.defragmenter is not None:
            packet, frag = self.defragmenter.process(packet)
        if not self.infos:
            events = self.tcp.feed(packet)
            self.udp.feed(packet)  # returns at once when there is no UDP header
            return packet, None, events
        events, info = self.tcp.process(packet)
        if info is None:
            found = self.udp.feed(packet)
            if found is not None:
                conv, direction = found
                info = PacketFlowInfo("udp", conv.id, direction)
        if frag is not None:
            if info is None:
                info = PacketFlowInfo("")
            info.defrag = frag
        return packet, info, events

    def finish(self) -> list[Event]:
        return self.tcp.finish()

    def conversations(self) -> list[Conversation]:
        """Every conversation so far, TCP and UDP, in order of first frame."""
        both: list[Conversation] = [*self.tcp.conversations.values(),
                                    *self.udp.conversations.values()]
        both.sort(key=lambda c: (c.first_frame, c.proto))
        return both


def _packets(source: Source) -> Iterator[Packet]:
    """Packets from a path or binary file (read and decoded), or from an iterable as is."""
    if isinstance(source, (str, os.PathLike)) or hasattr(source, "read"):
        from layerpeek.reader import read

        # A file object is told apart by its read(), which mypy cannot narrow on.
        with read(cast("str | os.PathLike[str] | BinaryIO", source)) as reader:
            yield from reader
    else:
        yield from source


def annotate(
    packets: Iterable[Packet], *, defrag: bool = True, pipeline: FlowPipeline | None = None
) -> Iterator[tuple[Packet, PacketFlowInfo | None]]:
    """Yield ``(packet, info)`` for every packet, in order.

    ``packet`` is the input packet, or the reassembled one on the frame that
    completed a fragmented IP datagram (``defrag=False`` turns that off).
    Pass a ``pipeline`` to keep access to its trackers (and their
    conversation summaries) afterwards; call ``pipeline.finish()`` at the end
    if you need the final events.
    """
    pipe = pipeline if pipeline is not None else FlowPipeline(defrag=defrag)
    for packet in packets:
        new, info, _ = pipe.process(packet)
        yield new, info


def conversations(
    source: Source,
    *,
    defrag: bool = True,
    keep_frames: bool = False,
    keep_data: bool = False,
) -> list[Conversation]:
    """All TCP and UDP conversations of a capture, in order of first packet.

    ``source`` is a path, ``"-"``-less file object, or an iterable of
    packets.  ``keep_frames`` records each conversation's frame numbers;
    ``keep_data`` keeps each TCP direction's reassembled bytes and gaps
    (``conv.client_stream.data``): convenient in a notebook, but it holds the
    whole capture's payload in memory.
    """
    pipe = FlowPipeline(
        defrag=defrag,
        tcp=TCPTracker(keep_frames=keep_frames, keep_data=keep_data),
        udp=UDPTracker(keep_frames=keep_frames),
        infos=False,
    )
    for packet in _packets(source):
        pipe.process(packet)
    pipe.finish()
    return pipe.conversations()
