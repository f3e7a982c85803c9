"""Split one capture into chunks on record boundaries, to process it in parallel.

A chunk is a byte range of the original file plus the few bytes that make it
a capture on its own:

* **pcap**: the 24-byte file header (link type, timestamp unit, byte order)
  goes in front of every chunk; the cut points come from an index pass over
  the record headers (:func:`layerpeek.columnar.records.index_records`).
* **pcapng**: the Section Header Block and the Interface Description Blocks
  in force where the chunk starts go in front, so a frame's link type,
  ``if_tsresol`` and interface id mean the same as in the whole file.  A
  chunk may cross into later sections: their blocks are inside its range.

Each :class:`Chunk` also records where it sits: :attr:`Chunk.first_frame`
(frame numbers continue from the whole file's, as Wireshark numbers them) and
:attr:`Chunk.interface_base` (pcapng interface ids count the interfaces of
earlier sections, which the chunk does not carry).  Decoding the chunks one
by one and concatenating gives exactly what decoding the file gives; that is
what ``tests/test_split.py`` checks.

Chunks are plain picklable values (a path and offsets), so they travel to
worker processes or Dask tasks without carrying the data.

Gzip-compressed captures cannot be cut without inflating them first; they
come back as a single chunk covering the whole file, which
:func:`layerpeek.table` reads in pieces (bounded memory) like a stream.
"""

from __future__ import annotations

import io
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from layerpeek.capture.gunzip import GzipDamage, GzipStream, inflate
from layerpeek.columnar.records import index_records, time_problem
from layerpeek.columnar.stream import pieces
from layerpeek.errors import CaptureFormatError

if TYPE_CHECKING:
    from layerpeek.packet import Packet

#: Default target size of one chunk: large enough that the per-chunk costs
#: (a task, a header, an index pass) vanish, small enough to spread a 1 GB file
#: over a few cores.
DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of whole records of a capture file that reads as a capture by itself."""

    path: str
    format: str  #: "pcap" or "pcapng"
    header: bytes  #: written before the range: pcap file header or pcapng SHB + IDBs
    start: int  #: byte offset in the file where the range starts
    end: int  #: byte offset where it ends (exclusive)
    first_frame: int  #: frame number (1-based, whole file) of the chunk's first frame
    frames: int  #: frames in the chunk
    interface_base: int = 0  #: pcapng: interfaces of the sections before this one
    compressed: bool = False  #: a gzip file, kept whole: ``read`` inflates it
    #: pcap: file offsets of the chunk's record headers (little-endian int64),
    #: so that decoding the chunk skips the walk the split already did
    index: bytes = field(default=b"", repr=False)
    #: file-level problems the split met that belong to this chunk (the last one)
    problems: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """For messages: ``path[frames 101-200]``."""
        last = self.first_frame + self.frames - 1
        return f"{self.path}[frames {self.first_frame}-{last}]"

    @property
    def size(self) -> int:
        return self.end - self.start

    def read(self) -> bytes:
        """The chunk as a self-contained capture file's bytes (a gzip file's inflated whole:
        :meth:`write` and :meth:`packets` read it in pieces)."""
        try:
            with open(self.path, "rb") as f:
                if self.compressed:
                    # Damage after some data was recorded in ``problems`` by split().
                    data, problem = inflate(f.read())
                    if problem is not None and not data:
                        raise CaptureFormatError(f"{self.path}: {problem}")
                    return data
                f.seek(self.start)
                return self.header + f.read(self.end - self.start)
        except OSError as e:
            raise CaptureFormatError(f"{self.path}: {e.strerror or e}") from None

    def write(self, dest: str | os.PathLike[str]) -> None:
        """Save the chunk as a capture file of its own (frame numbers restart at 1 there)."""
        with open(dest, "wb") as f:
            if not self.compressed:
                f.write(self.read())
                return
            try:
                source = open(self.path, "rb")  # noqa: SIM115 - closed below
            except OSError as e:
                raise CaptureFormatError(f"{self.path}: {e.strerror or e}") from None
            with source:
                inflated, wrote = GzipStream(source), 0
                while True:
                    try:
                        piece = inflated.read(1 << 20)
                    except GzipDamage as e:
                        if not wrote:
                            raise CaptureFormatError(f"{self.path}: {e}") from None
                        break  # split() reported it; what inflated cleanly is kept
                    if not piece:
                        break
                    f.write(piece)
                    wrote += len(piece)

    def packets(self) -> Iterator[Packet]:
        """The chunk's frames decoded per packet, numbered as in the whole file."""
        from layerpeek.reader import read

        shift = self.first_frame - 1
        for packet in read(self.path if self.compressed else io.BytesIO(self.read())):
            packet.index += shift
            packet.interface += self.interface_base
            yield packet


def split(
    path: str | os.PathLike[str],
    parts: int | None = None,
    *,
    chunk_bytes: int | None = None,
) -> list[Chunk]:
    """Cut the capture at ``path`` into chunks of whole records.

    Give either ``parts`` (about that many chunks of similar size) or
    ``chunk_bytes`` (chunks of about that size; default
    :data:`DEFAULT_CHUNK_BYTES`).  A file with fewer records than ``parts``
    gives fewer chunks; an empty capture gives one chunk with no frames.
    Raises :class:`CaptureFormatError` when ``path`` is not a capture.
    """
    if parts is not None and parts < 1:
        raise ValueError(f"parts must be at least 1, not {parts}")
    if chunk_bytes is not None and chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be at least 1, not {chunk_bytes}")
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise CaptureFormatError(f"{name}: empty file")
            if f.read(2) == b"\x1f\x8b":
                return [_whole_gzip(name)]
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise CaptureFormatError(f"{name}: {e.strerror or e}") from None
    try:
        rec = index_records(mapped, name=name)
    finally:
        mapped.close()
    n = len(rec)
    file_problems = tuple(rec.problems)
    if rec.bad_time:
        file_problems += (time_problem(len(rec.bad_time), rec.bad_time[0] + 1),)
    if n == 0:
        return [Chunk(name, rec.format, b"", 0, size, 1, 0, problems=file_problems)]
    if parts is None:
        parts = max(1, -(-size // (chunk_bytes or DEFAULT_CHUNK_BYTES)))
    starts = rec.record_start
    # Cut before the first record at or past each multiple of size/parts.
    targets = [size * k // parts for k in range(1, parts)]
    cuts = sorted({int(i) for i in np.searchsorted(starts, targets) if 0 < i < n})
    firsts = [0, *cuts]
    chunks: list[Chunk] = []
    with open(name, "rb") as f:
        for k, first in enumerate(firsts):
            stop = firsts[k + 1] if k + 1 < len(firsts) else n
            begin = 0 if first == 0 else int(starts[first])
            end = int(starts[stop]) if stop < n else size
            header, interface_base = (b"", 0)
            if first:
                header, interface_base = _carried(f, rec.format, rec.file_header,
                                                  rec.meta_blocks, begin)
            index = b""
            if rec.format == "pcap":
                index = starts[first:stop].astype("<i8").tobytes()
            chunks.append(
                Chunk(name, rec.format, header, begin, end, first + 1, stop - first,
                      interface_base, False, index,
                      file_problems if stop == n else ())
            )
    return chunks


def _carried(
    f: io.BufferedReader,
    fmt: str,
    file_header: bytes,
    meta: list[tuple[int, int, int, int]],
    at: int,
) -> tuple[bytes, int]:
    """The header a chunk starting at byte ``at`` needs, and its interface base."""
    if fmt == "pcap":
        return file_header, 0
    section_start = -1
    interfaces_before = 0
    idbs: list[tuple[int, int]] = []
    shb = (0, 0)
    for start, end, btype, _frames in meta:
        if start >= at:
            break
        if btype == 1:
            idbs.append((start, end))
        else:  # a new section: its interfaces are numbered after all earlier ones
            interfaces_before += len(idbs) if section_start >= 0 else 0
            section_start = start
            shb = (start, end)
            idbs = []
    parts = []
    for start, end in [shb, *idbs]:
        f.seek(start)
        parts.append(f.read(end - start))
    return b"".join(parts), interfaces_before


def _whole_gzip(name: str) -> Chunk:
    """A gzip file as one chunk: its frames counted and its problems found piece by piece."""
    problems: list[str] = []
    frames = 0
    fmt = "pcap"
    with open(name, "rb") as f:
        for piece in pieces(f, name=name, problems=problems):
            frames += len(piece.records)
            fmt = piece.records.format
    return Chunk(name, fmt, b"", 0, os.path.getsize(name), 1, frames, 0, True,
                 problems=tuple(problems))
