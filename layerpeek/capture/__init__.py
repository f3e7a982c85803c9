"""Capture input: the only place layerpeek touches files and pipes.

:func:`open_capture` reads the first bytes, chooses pcap or pcapng from the
magic (never from the file name), unwraps gzip on the fly, and feeds fixed-size
chunks to a sans-IO parser.  It never seeks, so ``-`` (stdin) and pipes work,
and memory stays constant whatever the file size.
"""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from types import TracebackType
from typing import BinaryIO, TypeVar, cast

from layerpeek.capture.frame import RawFrame
from layerpeek.capture.gunzip import GzipStream
from layerpeek.capture.pcap import PcapParser, is_pcap_magic
from layerpeek.capture.pcapng import Interface, PcapngParser, is_pcapng_magic
from layerpeek.errors import CaptureFormatError

#: What reading a damaged file can raise.  zlib.error is not an OSError: a
#: corrupt deflate stream inside a .gz capture raises it from gzip's read().
_READ_ERRORS = (OSError, EOFError, zlib.error)

_R = TypeVar("_R")

__all__ = ["CaptureReader", "Interface", "PcapParser", "PcapngParser", "RawFrame", "open_capture"]


class CaptureReader:
    """Iterator of :class:`RawFrame` over a pcap or pcapng stream."""

    def __init__(
        self, stream: BinaryIO, name: str, *, chunk_size: int = 1 << 20, owns: bool = True
    ) -> None:
        self.name = name
        self._stream = stream
        self._owns = owns
        self._chunk_size = chunk_size
        head = self._read_exact(4)
        if head[:2] == b"\x1f\x8b":
            # GzipStream and _Prefixed have the read() and close() the reader uses.
            self._stream = cast(BinaryIO, GzipStream(cast(BinaryIO, _Prefixed(head, stream))))
            head = self._read_exact(4)
        if not head:
            raise CaptureFormatError(f"{name}: empty file")
        self._parser: PcapParser | PcapngParser
        if is_pcap_magic(head):
            self.format = "pcap"
            self._parser = PcapParser()
        elif is_pcapng_magic(head):
            self.format = "pcapng"
            self._parser = PcapngParser()
        else:
            raise CaptureFormatError(
                f"{name}: not a pcap or pcapng file (starts with {head.hex(' ')})"
            )
        self._head = head

    def _read_exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            try:
                chunk = self._stream.read(n - len(out))
            except _READ_ERRORS as e:
                raise CaptureFormatError(f"{self.name}: {e}") from None
            if not chunk:
                break
            out += chunk
        return out

    @property
    def problems(self) -> list[str]:
        """File-level problems met so far, each with its byte offset."""
        return self._parser.problems

    @property
    def interfaces(self) -> list[Interface]:
        if isinstance(self._parser, PcapngParser):
            return self._parser.all_interfaces
        p = self._parser
        tsresol = 9 if p.nanosecond else 6  # what the magic says
        return [Interface(0, p.linktype, p.snaplen, tsresol=tsresol)] if p.header_done else []

    @property
    def linktypes(self) -> list[int]:
        return [i.linktype for i in self.interfaces]

    def __iter__(self) -> Iterator[RawFrame]:
        return chain.from_iterable(self._batches(self._parser.feed))

    def pcap_records(self) -> Iterator[tuple[int, int, bytes, int, int, None]]:
        """pcap input only: RawFrame's fields as plain tuples, not RawFrames.

        The decode fast path of :func:`layerpeek.read` (see
        :meth:`PcapParser.feed_records` for why).  Raises TypeError for pcapng.
        """
        parser = self._parser
        if not isinstance(parser, PcapParser):
            raise TypeError(f"{self.name} is {self.format}, not pcap")
        return chain.from_iterable(self._batches(parser.iter_records))

    def _batches(self, feed: Callable[[bytes], Iterable[_R]]) -> Iterator[Iterable[_R]]:
        """The records of each chunk read, as ``feed`` returns them.

        Batches (a list, or a generator each) rather than single records:
        ``chain.from_iterable`` then flattens them in C.  A batch is used up
        before the next chunk is read.
        """
        parser = self._parser
        read = self._stream.read
        size = self._chunk_size
        try:
            try:
                frames = list(feed(self._head))
            except CaptureFormatError as e:
                raise CaptureFormatError(f"{self.name}: {e}") from None
            yield frames
            while True:
                try:
                    chunk = read(size)
                except _READ_ERRORS as e:
                    parser.problems.append(f"read error after {parser.records} records: {e}")
                    break
                if not chunk:
                    break
                yield feed(chunk)
                if parser.stopped:  # a fatal problem: what follows cannot be framed
                    break  # (stdin may never end: `cat /dev/urandom` after a header)
            parser.finish()
        finally:
            self.close()

    def close(self) -> None:
        if self._owns:
            self._stream.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Prefixed:
    """A read-only stream that first returns bytes already read (for gzip sniffing)."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            if n < 0:
                data, self._prefix = self._prefix + self._stream.read(), b""
                return data
            data, self._prefix = self._prefix[:n], self._prefix[n:]
            if len(data) < n:
                data += self._stream.read(n - len(data))
            return data
        return self._stream.read(n)

    def close(self) -> None:
        self._stream.close()


def open_capture(
    source: str | os.PathLike[str] | BinaryIO, *, chunk_size: int = 1 << 20
) -> CaptureReader:
    """Open a capture by path, ``"-"`` for stdin, or an open binary file object."""
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        if name == "-":
            return CaptureReader(sys.stdin.buffer, "<stdin>", chunk_size=chunk_size, owns=False)
        try:
            stream: BinaryIO = open(name, "rb")  # noqa: SIM115 - closed by the reader
        except OSError as e:
            raise CaptureFormatError(f"{name}: {e.strerror or e}") from None
        try:
            return CaptureReader(stream, name, chunk_size=chunk_size)
        except BaseException:
            stream.close()
            raise
    return CaptureReader(
        source, getattr(source, "name", "<stream>"), chunk_size=chunk_size, owns=False
    )
