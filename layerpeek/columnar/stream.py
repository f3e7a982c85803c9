"""A capture that cannot be mapped into memory (a pipe, stdin, gzip), indexed piece by piece.

A capture file on disk is mapped and indexed whole (:mod:`.build`): the
operating system pages it in and out, so its size costs no memory.  A
stream has no size and cannot be mapped, and a gzip file would have to be
inflated whole first: a 10 MB gzip file of zeros inflates to 10 GiB.  Here
the capture's bytes are read a piece at a time (:data:`PIECE_BYTES`), the
whole records of each piece indexed as a capture of their own (the pcap file
header or the pcapng sections and interfaces carried over from the pieces
before), and the record that the piece's end cut is carried into the next
piece.  What is held at once is one piece and at most one record more (a
record's length is bounded by ``MAX_RECORD``/``MAX_BLOCK``), however long
the stream; frame numbers, interface numbers and the problems' byte offsets
(in the inflated stream) are those of the whole capture, as the per-packet
reader gives them.  Damage that ends the index (an impossible length)
ends the reading too: nothing after it could be read, so the rest of a pipe
is not waited for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from layerpeek.capture.gunzip import GzipDamage, GzipStream
from layerpeek.capture.pcap import PcapParser
from layerpeek.capture.pcapng import PcapngParser
from layerpeek.columnar.records import Records, index_records, pcap_header, time_problem
from layerpeek.errors import CaptureFormatError

#: Bytes of capture read and indexed at a time from a stream: large enough
#: that the per-piece costs (a table, its Arrow arrays) vanish, small
#: enough to keep memory flat.  Read at call time (a test may change it).
PIECE_BYTES = 8 * 1024 * 1024

#: What a capture's bytes may start with when they are gzip-compressed.
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class Piece:
    """Whole records of a capture read in pieces, indexed in ``buf``."""

    buf: bytes
    records: Records
    frames_before: int  #: frames of the capture before this piece's first


class _Bytes:
    """The capture's bytes from a stream, inflated on the fly when it is gzip.

    ``read(n)`` returns ``n`` bytes, fewer only at the end (then ``ended``).
    Damage in a gzip stream after some data ends the bytes and is a problem
    of the capture (everything before it is read), as the per-packet reader
    says it; damage before any data, or an OSError, is a
    :class:`CaptureFormatError`.
    """

    def __init__(self, stream: BinaryIO, name: str, problems: list[str]) -> None:
        self._name = name
        self._problems = problems
        self.ended = False
        self._delivered = 0
        self._stream: BinaryIO | GzipStream = stream
        self._head = self._read(len(_GZIP_MAGIC))
        if self._head == _GZIP_MAGIC:
            self._stream = GzipStream(cast(BinaryIO, _Prefixed(self._head, stream)))
            self._head = b""
            self.ended = False

    def _read(self, n: int) -> bytes:
        parts: list[bytes] = []
        while n > 0 and not self.ended:
            try:
                data = self._stream.read(n)
            except GzipDamage as e:
                if not parts and not self._delivered:
                    raise CaptureFormatError(f"{self._name}: {e}") from None
                self._problems.append(str(e))
                data = b""
            except OSError as e:
                raise CaptureFormatError(f"{self._name}: {e.strerror or e}") from None
            if not data:
                self.ended = True
            parts.append(data)
            n -= len(data)
        return b"".join(parts)

    def discard(self, n: int) -> int:
        """Pass over ``n`` bytes unread (a megabyte at a time); returns how many there were."""
        passed = 0
        while passed < n and not self.ended:
            passed += len(self.read(min(n - passed, 1 << 20)))
        if passed < n:
            self._problems.append(
                f"{self._name}: the skipped packet block was cut by end of file "
                f"({n - passed} bytes missing)"
            )
        return passed

    def read(self, n: int) -> bytes:
        head, self._head = self._head[:n], self._head[n:]
        data = head + self._read(n - len(head)) if n > len(head) else head
        self._delivered += len(data)
        return data


class _Prefixed:
    """A stream that first returns bytes already read from it (the sniffed magic)."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        if not self._prefix:
            return self._stream.read(n)
        if n < 0:
            data, self._prefix = self._prefix + self._stream.read(), b""
            return data
        data, self._prefix = self._prefix[:n], self._prefix[n:]
        return data + (self._stream.read(n - len(data)) if len(data) < n else b"")

    def close(self) -> None:
        self._stream.close()


def pieces(
    stream: BinaryIO,
    *,
    name: str = "<stream>",
    problems: list[str] | None = None,
    piece_bytes: int | None = None,
) -> Iterator[Piece]:
    """The capture in ``stream`` as pieces of whole records, each indexed.

    Yields at least one piece (perhaps without records).  Problems (a cut
    last record, gzip damage, frames whose time does not fit in int64
    nanoseconds) are appended to ``problems``; ``stream`` is not closed.
    Raises :class:`CaptureFormatError` when the stream is not a capture.
    """
    step = max(piece_bytes or PIECE_BYTES, 64)
    said = problems if problems is not None else []
    source = _Bytes(stream, name, said)
    buf = source.read(step)
    shift = 0
    frames = 0
    header: PcapParser | None = None
    sections = PcapngParser()
    bad_times = 0
    first_bad = 0
    first = True
    try:
        while True:
            rec = index_records(
                buf, name=name, final=source.ended, shift=shift, before=frames,
                header=header, sections=sections,
            )
            said.extend(rec.problems)
            if rec.bad_time:
                first_bad = first_bad or frames + rec.bad_time[0] + 1
                bad_times += len(rec.bad_time)
            if len(rec) or first:
                yield Piece(buf, rec, frames)
            first = False
            if header is None and rec.format == "pcap" and len(buf) >= 24:
                header = pcap_header(buf[:24], name)
            frames += len(rec)
            if rec.stopped or source.ended:
                return
            carry = buf[rec.end :]
            shift += rec.end
            if rec.skip:  # an oversize packet block, reported: pass over it unread
                shift += source.discard(rec.skip)
            # A record longer than a piece is read whole in one go (its
            # header says how long: at most MAX_RECORD), not a piece at a time.
            buf = carry + source.read(max(step, rec.need - len(carry)))
    finally:
        if bad_times:
            said.append(time_problem(bad_times, first_bad))
