"""A whole capture as one Arrow table: the entry points (:func:`table`).

The file is mapped into memory (``mmap``; gzip is inflated first), its
records indexed (:mod:`~layerpeek.columnar.records`), their headers decoded
vectorised with a per-row fallback (:mod:`~layerpeek.columnar.decoder`), and
the columns made Arrow (:mod:`~layerpeek.columnar.arrow`).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, BinaryIO, Union

import numpy as np

from layerpeek.capture.gunzip import inflate
from layerpeek.columnar import column_arrays
from layerpeek.columnar.arrow import to_arrow
from layerpeek.columnar.chunks import Chunk
from layerpeek.columnar.column_arrays import ColumnArrays
from layerpeek.columnar.decoder import Reader, Windows, decode_vectorised
from layerpeek.columnar.records import Records, index_records, pcap_header, pcap_records_at
from layerpeek.columnar.vocabulary import check_columns
from layerpeek.errors import CaptureFormatError

if TYPE_CHECKING:
    import pyarrow as pa

Source = Union[str, "os.PathLike[str]", bytes, Chunk]


def decode_buffer(
    buf: bytes | mmap.mmap,
    *,
    columns: Iterable[str] | None = None,
    name: str = "<capture>",
    frame_base: int = 0,
    interface_base: int = 0,
    problems: list[str] | None = None,
) -> pa.Table:
    """:func:`table` over a whole capture already in memory.

    ``frame_base`` is added to the 1-based frame numbers and
    ``interface_base`` to interface ids (a chunk of a larger file keeps the
    numbers the whole file gives).  File-level problems are appended to
    ``problems`` when given.
    """
    wanted = check_columns(columns)
    rec = index_records(buf, name=name)
    if problems is not None:
        problems.extend(rec.problems)
    return decode_records(buf, rec, wanted, frame_base, interface_base)


def decode_records(
    buf: bytes | mmap.mmap,
    rec: Records,
    wanted: Sequence[str],
    frame_base: int = 0,
    interface_base: int = 0,
) -> pa.Table:
    """Steps 2 to 4 for records already indexed in ``buf``.

    Frames are decoded :data:`~layerpeek.columnar.column_arrays.BATCH` at a
    time: the decoder makes ~100 passes over arrays of its frames, and over
    the whole capture's arrays every pass would come from main memory (a
    third of the decode's time at 137 000 frames); a batch's arrays and
    windows stay in the CPU's caches.
    """
    from layerpeek.decode import decode_layers

    n = len(rec)
    cols = ColumnArrays(n)
    step = column_arrays.BATCH
    for start in range(0, n, step):
        part = rec.rows(start, start + step)
        batch = cols.batch(len(part))
        read = Reader(buf, Windows.copy(buf, part.data_off))
        try:
            fast = decode_vectorised(read, buf, part, batch)
        finally:
            read.close()
        offsets = part.data_off
        lengths = part.cap_len
        linktypes = part.linktype
        for i in np.flatnonzero(~fast).tolist():
            at = int(offsets[i])
            data = bytes(buf[at : at + int(lengths[i])])
            layers, spans = decode_layers(data, int(linktypes[i]))
            batch.fill(i, layers, spans, len(data))
        cols.put(start, batch)
    cols.ts_ns = rec.ts_ns
    cols.cap_len = rec.cap_len
    cols.wire_len = rec.wire_len
    cols.interface = rec.interface
    cols.link_type = rec.linktype
    return to_arrow(cols, rec.bad_time, wanted, frame_base, interface_base)


def _indexed_chunk(chunk: Chunk, wanted: list[str], problems: list[str] | None) -> pa.Table:
    """A pcap chunk whose record offsets :func:`layerpeek.columnar.split` already found.

    The file is mapped and read in place: no second walk, no copy.
    """
    buf, name = _read_source(chunk.path)
    try:
        header = pcap_header(bytes(buf[:24]), name)
        starts = np.frombuffer(chunk.index, "<i8").astype(np.int64)
        rec = pcap_records_at(buf, header, starts)
        if problems is not None:
            problems.extend(chunk.problems)
        return decode_records(buf, rec, wanted, chunk.first_frame - 1, chunk.interface_base)
    finally:
        if isinstance(buf, mmap.mmap):
            buf.close()


def _read_source(
    source: str | os.PathLike[str] | BinaryIO, problems: list[str] | None = None
) -> tuple[bytes | mmap.mmap, str]:
    """Map a capture file into memory (inflating gzip); a file object is read whole."""
    if not isinstance(source, (str, os.PathLike)):
        name = getattr(source, "name", "<stream>")
        try:
            data = source.read()
        except OSError as e:
            raise CaptureFormatError(f"{name}: {e}") from None
        return _maybe_gunzip(data, str(name), problems), str(name)
    name = os.fspath(source)
    try:
        with open(name, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise CaptureFormatError(f"{name}: empty file")
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise CaptureFormatError(f"{name}: {e.strerror or e}") from None
    if mapped[:2] == b"\x1f\x8b":
        data = bytes(mapped)
        mapped.close()
        return _maybe_gunzip(data, name, problems), name
    return mapped, name


def _maybe_gunzip(data: bytes, name: str, problems: list[str] | None) -> bytes:
    """``data`` inflated if it is gzip; damage after some data is a problem, not an error."""
    if data[:2] != b"\x1f\x8b":
        return data
    inflated, problem = inflate(data)
    if problem is not None:
        if not inflated:
            raise CaptureFormatError(f"{name}: {problem}")
        if problems is not None:
            problems.append(problem)
    return inflated


def table(
    source: Source | BinaryIO,
    columns: Iterable[str] | None = None,
    *,
    problems: list[str] | None = None,
) -> pa.Table:
    """Decode a capture into a :class:`pyarrow.Table`, one row per frame.

    ``source`` is a path (pcap or pcapng, optionally gzip-compressed), a
    binary file object, the bytes of a whole capture, or a
    :class:`layerpeek.columnar.Chunk` (frame numbers then continue from the
    chunk's place in its file).  ``columns`` picks and orders columns from
    :data:`COLUMNS` plus :data:`OPTIONAL_COLUMNS` (``"community_id"``).

    Values are those of the per-packet decoders (``layerpeek.read``): same
    frame numbers, same protocol path, same malformed reasons.  Problems with
    the file itself (a cut last record) do not raise; pass a list as
    ``problems`` to collect them.  Not a capture: :class:`CaptureFormatError`.
    """
    if isinstance(source, Chunk):
        if source.index:
            return _indexed_chunk(source, check_columns(columns), problems)
        # The problems split() found, numbered within the whole file; indexing
        # the chunk's own bytes again would number them within the chunk.  A
        # gzip file is one chunk, the whole file, inflated only now: its index
        # problems come from decoding it, after the gzip stream's own.
        if problems is not None:
            problems.extend(source.problems)
        return decode_buffer(
            source.read(),
            columns=columns,
            name=source.name,
            frame_base=source.first_frame - 1,
            interface_base=source.interface_base,
            problems=problems if source.compressed else None,
        )
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_buffer(
            _maybe_gunzip(bytes(source), "<bytes>", problems), columns=columns, problems=problems
        )
    buf, name = _read_source(source, problems)
    try:
        return decode_buffer(buf, columns=columns, name=name, problems=problems)
    finally:
        if isinstance(buf, mmap.mmap):
            buf.close()
