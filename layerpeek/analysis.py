"""One analysis pipeline: the stages a caller chooses, fed one packet at a time.

Theory of operation
===================

The path of one frame, from the file to what is printed::

    capture/     pcap / pcapng records ──► RawFrame (bytes, time, link type)
    decode.py    + layers/ ──► Packet (the layers, outermost first, with spans)
    analysis.py  Analysis: defrag ─► tcp ─► udp ─► tls ─► quic ─► http2_frames ─► http
                 ─► dns ─► story
                 ──► Step (the packet, its flow facts, the events it caused)
    render/      one-liners, the -V tree, JSON, HTML ──► commands/ write them

Everything before the Analysis is stateless per frame; everything in it keeps
state across frames.  Each of those stateful *stages* has one shape, the
"events out" model of h11 and aioquic:

* ``on_packet(step) -> events``: the stage sees the packet as the stages
  before it left it (``step.packet``: the defragmenter may have replaced a
  fragment by the datagram it completed; ``step.flow``: what the trackers
  know of it) and every event they raised for it (``step.events``), and it
  returns its own events, which the stages after it see in turn;
* ``on_finish(events) -> events``: the input ended.  The stage is given the
  events the stages before it raised while finishing (the TCP tracker closes
  the connections still open, ``ConnectionClosed(how="eof")``) and returns
  its last ones.

Events are plain dataclasses: :mod:`layerpeek.flows.events` for the
trackers, :class:`~layerpeek.http.message.HTTPExchange`,
:class:`~layerpeek.dnstx.DNSTransaction`, :class:`~layerpeek.story.Story`.
A stage ignores the events it does not know, so stages compose: the HTTP
pairer reads the TCP tracker's ``StreamData``, the story reads everyone's.

Choosing stages
===============

:data:`STAGES` lists every stage by name, in the order they run.  A caller
names the stages it wants; the ones they need are added (``http`` needs
``tcp``), and each is built from the caller's settings::

    analysis = Analysis(["defrag", "http"], settings={"tcp": {"max_connections": 1000}})
    for step in analysis.run("captures/page_load.pcap"):
        for event in step.events:
            ...
    for event in analysis.finish():
        ...

Adding a stage is one module with a class that has the :class:`Stage` shape,
plus one line in :data:`STAGES` (where it runs relative to the others).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Protocol, TypeVar, cast

from layerpeek.packet import Packet

if TYPE_CHECKING:
    from layerpeek.flows.tracker import PacketFlowInfo

#: What the analysis reads: a path, a binary file object, or packets already decoded.
Source = str | os.PathLike[str] | BinaryIO | Iterable[Packet]

#: Every stage, in the order the stages run: ``(name, "module:Class")``.
STAGES: tuple[tuple[str, str], ...] = (
    ("defrag", "layerpeek.flows.defrag:Defragmenter"),
    ("tcp", "layerpeek.flows.tracker:TCPTracker"),
    ("udp", "layerpeek.flows.udp:UDPTracker"),
    ("tls", "layerpeek.tls.stage:TLSStage"),
    ("quic", "layerpeek.quic.stage:QUICStage"),
    ("http2_frames", "layerpeek.http2.packets:HTTP2PacketStage"),
    ("http", "layerpeek.http.pairing:HTTPPairer"),
    ("dns", "layerpeek.dnstx:DNSTracker"),
    ("story", "layerpeek.story:Storyteller"),
)

#: What :class:`Analysis` runs when no stages are named: the conversation stage of ``dump``.
DEFAULT_STAGES = ("defrag", "tcp", "udp")


@dataclass(slots=True)
class Step:
    """One packet on its way through the stages, and what they made of it."""

    packet: Packet  #: the packet (the reassembled datagram on a frame that completed one)
    flow: PacketFlowInfo | None = None  #: stream, direction, states, analysis; None if none
    events: list[object] = field(default_factory=list)  #: every stage's events, in stage order


class Stage(Protocol):
    """The one shape of a stateful stage (see the module docstring)."""

    #: the stage's name in :data:`STAGES`
    stage_name: ClassVar[str]
    #: stages it needs before it, with the settings it needs them to have
    @property
    def requires(self) -> Mapping[str, Mapping[str, Any]]: ...

    def on_packet(self, step: Step) -> Sequence[object]: ...

    def on_finish(self, events: Sequence[object]) -> Sequence[object]: ...


S = TypeVar("S")


def _stage_class(name: str) -> type[Stage]:
    for known, where in STAGES:
        if known == name:
            module, _, cls = where.partition(":")
            return cast("type[Stage]", getattr(importlib.import_module(module), cls))
    names = ", ".join(n for n, _ in STAGES)
    raise ValueError(f"unknown analysis stage {name!r} (the stages are: {names})")


class Analysis:
    """The chosen stages, chained; one packet at a time (sans-IO), or a whole capture.

    ``stages`` names stages from :data:`STAGES` or gives stage objects built by
    the caller (any object with the :class:`Stage` shape; its ``stage_name``
    places it).  Stages a chosen stage requires are added, except
    ``"defrag"``, which runs only when named (``--no-defrag`` leaves it out).
    ``settings`` maps a stage name to the keyword arguments its class is
    built with.  ``flow_info=False`` spares the trackers building a
    :class:`~layerpeek.flows.tracker.PacketFlowInfo` per packet when no one
    reads ``step.flow`` (stages that read it turn it back on).
    """

    def __init__(
        self,
        stages: Iterable[str | Stage] = DEFAULT_STAGES,
        *,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
        flow_info: bool = True,
    ) -> None:
        given: dict[str, Stage] = {}
        wanted: list[str] = []
        for item in stages:
            if isinstance(item, str):
                _stage_class(item)  # an unknown name fails here, with the list
                wanted.append(item)
            else:
                given[item.stage_name] = item
                wanted.append(item.stage_name)
        merged: dict[str, dict[str, Any]] = {
            name: dict(values) for name, values in (settings or {}).items()
        }
        # Close over requirements: a stage's needs, and their needs in turn.
        todo = list(wanted)
        chosen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in chosen:
                continue
            chosen.add(name)
            requires: Mapping[str, Mapping[str, Any]] = (
                given[name].requires if name in given
                else getattr(_stage_class(name), "requires", {}))
            for needed, needs in requires.items():
                slot = merged.setdefault(needed, {})
                for key, value in needs.items():
                    slot.setdefault(key, value)
                todo.append(needed)
        self.flow_info = flow_info or any(
            getattr(type(given[n]) if n in given else _stage_class(n), "needs_flow_info", False)
            for n in chosen
        )
        self.stages: list[Stage] = []
        for name, _ in STAGES:
            if name not in chosen:
                continue
            if name in given:
                self.stages.append(given[name])
                continue
            options = merged.get(name, {})
            if name in ("tcp", "udp"):
                options = {"flow_info": self.flow_info, **options}
            self.stages.append(_stage_class(name)(**options))
        self._by_name = {stage.stage_name: stage for stage in self.stages}
        self.finished = False

    # -- looking stages up ---------------------------------------------------

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Stage:
        """The stage called ``name`` (KeyError if it is not in this analysis)."""
        return self._by_name[name]

    def get(self, kind: type[S]) -> S | None:
        """The stage of class ``kind``, typed: ``analysis.get(TCPTracker)``; None if absent."""
        for stage in self.stages:
            if isinstance(stage, kind):
                return stage
        return None

    # -- feeding -------------------------------------------------------------

    def feed(self, packet: Packet) -> Step:
        """Run one packet through every stage; the step holds what they made of it."""
        step = Step(packet)
        events = step.events
        for stage in self.stages:
            new = stage.on_packet(step)
            if new:
                events.extend(new)
        return step

    def finish(self) -> list[object]:
        """The input ended: every stage's last events, in stage order (once; later calls: [])."""
        if self.finished:
            return []
        self.finished = True
        events: list[object] = []
        for stage in self.stages:
            events.extend(stage.on_finish(tuple(events)))
        return events

    def run(self, source: Source) -> Iterator[Step]:
        """Each packet of ``source`` as a :class:`Step`; call :meth:`finish` afterwards."""
        for packet in packets_of(source):
            yield self.feed(packet)

    def events(self, source: Source) -> Iterator[object]:
        """Every event of ``source``, the final ones included, in order."""
        for step in self.run(source):
            yield from step.events
        yield from self.finish()


def packets_of(source: Source) -> Iterator[Packet]:
    """Packets from a path or binary file (read and decoded), or from an iterable as is."""
    if isinstance(source, (str, os.PathLike)) or hasattr(source, "read"):
        from layerpeek.reader import read

        # A file object is told apart by its read(), which mypy cannot narrow on.
        with read(cast("str | os.PathLike[str] | BinaryIO", source)) as reader:
            yield from reader
    else:
        yield from source


__all__ = ["DEFAULT_STAGES", "STAGES", "Analysis", "Source", "Stage", "Step", "packets_of"]
