"""``layerpeek.read``: capture file → decoded packets, streaming."""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO

from layerpeek.capture import CaptureReader, open_capture
from layerpeek.capture.pcapng import Interface
from layerpeek.decode import decode_layers, decode_packets
from layerpeek.decode import registry as default_for
from layerpeek.packet import Packet
from layerpeek.registry import DEPTHS, Registry

Source = str | os.PathLike[str] | BinaryIO


class PacketReader:
    """Iterates the decoded packets of a capture in file order, in constant memory.

    Problems with the file itself (a record cut by the end of the file, an
    unknown block) do not raise: iteration ends with every whole record read,
    and :attr:`problems` says what was met.
    """

    def __init__(
        self, source: Source, *, registry: Registry | None = None, upto: str = "application"
    ) -> None:
        if upto not in DEPTHS:
            raise ValueError(f"upto must be one of {', '.join(DEPTHS)}, not {upto!r}")
        if registry is None:
            registry = default_for(upto)
        elif upto == "transport":
            registry = registry.through_transport()
        self._frames: CaptureReader = open_capture(source)
        self._registry = registry
        self._source = source
        self._iterated = False

    @property
    def problems(self) -> list[str]:
        """File-level problems met so far (human-readable, with byte offsets)."""
        return self._frames.problems

    @property
    def linktypes(self) -> list[int]:
        """The link types of the file's interfaces so far (one for classic pcap)."""
        return self._frames.linktypes

    @property
    def interfaces(self) -> list[Interface]:
        """The file's interfaces read so far (pcapng IDBs; one for classic pcap).

        ``Packet.interface`` indexes this list.  Each gives the link type,
        snaplen, name and timestamp resolution (``dump -w`` copies them).
        """
        return self._frames.interfaces

    def undecoded_linktypes(self) -> list[int]:
        """The file's link types no dissector of this reader's registry decodes.

        Their frames come out as :class:`~layerpeek.packet.Payload` alone;
        the CLI names each such link type once (``link type 195 (IEEE
        802.15.4 with FCS) is not decoded``) rather than listing data with no word why.
        """
        known = self._registry.tables["linktype"]
        if self._registry.heuristics["linktype"]:
            return []  # a heuristic may claim any link type: nothing to say for sure
        return [lt for lt in dict.fromkeys(self.linktypes) if lt not in known]

    @property
    def format(self) -> str:
        """``"pcap"`` or ``"pcapng"``."""
        return self._frames.format

    @property
    def reusable(self) -> bool:
        """True when iterating again reads the capture again from its start (a path).

        A file object or stdin is a stream: it can be read once, and a second
        ``for`` loop over the reader raises rather than yielding nothing.
        """
        source = self._source
        return isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-"

    def __iter__(self) -> Iterator[Packet]:
        """The packets from the start of the capture, each time for a path.

        A loop left with ``break`` and a new loop starts over, as iterating a
        list would; :attr:`problems` then describes the new pass.
        """
        if self._iterated:
            if not self.reusable:
                raise RuntimeError(
                    "this PacketReader reads a stream (a file object or stdin), which can be "
                    "read once: open the capture again with layerpeek.read(), or give "
                    "read() a path to iterate it as often as you like")
            self._frames.close()
            self._frames = open_capture(self._source)
        self._iterated = True
        frames = self._frames
        if frames.format == "pcap":
            # One link type, no interfaces: plain tuples, no RawFrame per record.
            return decode_packets(frames.pcap_records(), self._registry)
        return _with_comments(frames, self._registry)

    def __len__(self) -> int:
        raise TypeError(
            "a PacketReader streams the capture and does not know how many packets it holds: "
            "count them with sum(1 for _ in reader), or keep them with list(reader) "
            "(all in memory)")

    def __bool__(self) -> bool:
        return True  # a reader is an object, not an empty or full container

    def __getitem__(self, index: object) -> Packet:
        raise TypeError(
            "a PacketReader streams the capture: packets cannot be looked up by position; "
            "keep them with packets = list(reader) and use packets[i] (all in memory), or "
            "pick with next(p for p in reader if p.index == N)")

    def close(self) -> None:
        self._frames.close()

    def __enter__(self) -> PacketReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _with_comments(frames: CaptureReader, registry: Registry) -> Iterator[Packet]:
    """pcapng: the decoded packets, each with its block's comment (``packet.comment``).

    The decode loop takes plain record tuples; the comments ride beside them
    by frame number and are put on the packets as they come out.
    """
    comments: dict[int, str] = {}

    def records() -> Iterator[tuple[int, int, bytes, int, int, str | None]]:
        for n, f in enumerate(frames, 1):
            if f.comment is not None:
                comments[n] = f.comment
            yield (f.ts_ns, f.wire_len, f.data, f.linktype, f.interface, f.interface_name)

    for packet in decode_packets(records(), registry):
        if comments:
            packet.comment = comments.pop(packet.index, None)
        yield packet


__all__ = ["PacketReader", "Source", "decode", "read"]


def read(
    source: Source, *, registry: Registry | None = None, upto: str = "application"
) -> PacketReader:
    """Open a pcap or pcapng capture (path, ``"-"`` for stdin, or a binary file object).

    The format is chosen from the magic bytes; gzip-compressed files are read
    transparently.  Iterate the result for :class:`~layerpeek.packet.Packet`
    objects::

        for packet in layerpeek.read("captures/tcp_3040_greeting.pcap"):
            tcp = packet.get(TCP)
            if tcp is not None and tcp.syn:
                print(packet.index, tcp.seq)

    ``upto="transport"`` stops after TCP/UDP (what they carry stays a
    :class:`~layerpeek.packet.Payload`): for code that only needs addresses,
    ports and flags it skips trying DNS and HTTP on every segment, a fifth of
    the time on the web traffic of ``bench/`` (see its README).  With a
    ``registry`` of one's own, it drops that registry's port tables.  The
    default, ``"application"``, decodes everything; anything else raises
    ValueError.
    """
    return PacketReader(source, registry=registry, upto=upto)


def decode(data: bytes, linktype: int = 1, *, registry: Registry | None = None) -> Packet:
    """Decode a single frame given as bytes (default link type: Ethernet)."""
    layers, spans = decode_layers(data, linktype, registry)
    return Packet(1, 0, len(data), linktype, data, layers, spans)
