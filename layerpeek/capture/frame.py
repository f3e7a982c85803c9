"""The record every capture reader yields, before any decoding."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(slots=True)
class RawFrame:
    """One captured record: bytes plus the facts the file format gives about them."""

    ts_ns: int  #: capture time, integer nanoseconds since the Unix epoch
    wire_len: int  #: original length on the wire (may exceed ``len(data)``: snaplen)
    data: bytes = field(repr=False)
    linktype: int  #: LINKTYPE_* of the interface the frame was captured on
    interface: int = 0  #: interface id (pcapng IDB index within the file; 0 for pcap)
    interface_name: str | None = None  #: pcapng ``if_name``, when the file gives one
    #: pcapng packet comments (``opt_comment``), joined with newlines when several
    comment: str | None = None


def as_records(
    frames: Iterable[RawFrame],
) -> Iterator[tuple[int, int, bytes, int, int, str | None]]:
    """Each frame's fields as a plain tuple, in field order: what the decode loop takes.

    pcap input gets these tuples straight from its parser
    (:meth:`~layerpeek.capture.CaptureReader.pcap_records`); pcapng and live
    frames come through here.
    """
    for f in frames:
        yield (f.ts_ns, f.wire_len, f.data, f.linktype, f.interface, f.interface_name)


#: Consumed bytes a parser's buffer may hold before they are dropped anyway.
_COMPACT_AT = 1 << 20


def append_chunk(buf: bytes, pos: int, chunk: bytes) -> tuple[bytes, int]:
    """A sans-IO parser's buffer with ``chunk`` appended: ``(buffer, bytes dropped)``.

    ``buf[pos:]`` is what the parser has not consumed yet.  The consumed
    bytes are dropped once there is a megabyte of them, or once there are
    more of them than the chunk brings and they are most of the buffer: fed
    small chunks (a pipe), a parser that waited for the megabyte copied the
    whole buffer for every chunk (4 KiB chunks took 4.6 times as long as
    1 MiB ones; now about the same).  Fed big chunks, it keeps waiting, which
    measured a little faster.
    """
    if pos >= _COMPACT_AT or (len(chunk) < pos and 2 * pos >= len(buf)):
        return buf[pos:] + chunk, pos
    if chunk:
        return (buf + chunk if buf else chunk), 0
    return buf, 0
