"""A whole capture as one Arrow table: the entry points (:func:`table`, :func:`stream_tables`).

A capture file is mapped into memory (``mmap``), its records indexed
(:mod:`~layerpeek.columnar.records`), their headers decoded vectorised with
a per-row fallback (:mod:`~layerpeek.columnar.decoder`), and the columns
made Arrow (:mod:`~layerpeek.columnar.arrow`).  What cannot be mapped (a
pipe, a file object, a gzip file) is read and decoded piece by piece
(:mod:`~layerpeek.columnar.stream`), in memory bounded by the piece size.
"""

from __future__ import annotations

import io
import mmap
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, Union

import numpy as np
import pyarrow as pa

from layerpeek.columnar import column_arrays
from layerpeek.columnar.arrow import to_arrow
from layerpeek.columnar.chunks import Chunk
from layerpeek.columnar.column_arrays import ColumnArrays
from layerpeek.columnar.decoder import Reader, Windows, decode_vectorised
from layerpeek.columnar.records import (
    Records,
    index_records,
    pcap_header,
    pcap_records_at,
    time_problem,
)
from layerpeek.columnar.stream import pieces
from layerpeek.columnar.vocabulary import check_columns
from layerpeek.errors import CaptureFormatError

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
        if rec.bad_time:
            problems.append(time_problem(len(rec.bad_time), frame_base + rec.bad_time[0] + 1))
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
    buf, name = _mapped(chunk.path)
    try:
        header = pcap_header(bytes(buf[:24]), name)
        starts = np.frombuffer(chunk.index, "<i8").astype(np.int64)
        rec = pcap_records_at(buf, header, starts)
        if problems is not None:
            problems.extend(chunk.problems)
        return decode_records(buf, rec, wanted, chunk.first_frame - 1, chunk.interface_base)
    finally:
        buf.close()


def _mapped(path: str | os.PathLike[str]) -> tuple[mmap.mmap, str]:
    """A capture file mapped into memory, read-only."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise CaptureFormatError(f"{name}: empty file")
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), name
    except OSError as e:
        raise CaptureFormatError(f"{name}: {e.strerror or e}") from None


def stream_tables(
    stream: BinaryIO,
    columns: Iterable[str] | None = None,
    *,
    name: str | None = None,
    problems: list[str] | None = None,
    frame_base: int = 0,
    interface_base: int = 0,
) -> Iterator[pa.Table]:
    """:func:`table` of a capture read from ``stream``, one table per piece read.

    For a pipe, stdin or a gzip-compressed capture: memory stays bounded by
    the piece size (:data:`layerpeek.columnar.stream.PIECE_BYTES`), whatever
    the capture's length, and each table can be written out (a Parquet row
    group) before the next is read.  Concatenated, the tables are
    :func:`table` of the whole capture: frame numbers, interfaces and
    problems (appended to ``problems``) as for the file.  At least one table
    is yielded, perhaps empty.  ``stream`` is not closed.
    """
    wanted = check_columns(columns)
    label = name if name is not None else str(getattr(stream, "name", "<stream>"))
    for piece in pieces(stream, name=label, problems=problems):
        yield decode_records(
            piece.buf, piece.records, wanted, frame_base + piece.frames_before, interface_base
        )


def _streamed(
    stream: BinaryIO,
    columns: Iterable[str] | None,
    name: str,
    problems: list[str] | None,
    frame_base: int = 0,
    interface_base: int = 0,
) -> pa.Table:
    tables = list(
        stream_tables(stream, columns, name=name, problems=problems, frame_base=frame_base,
                      interface_base=interface_base)
    )
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


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
    chunk's place in its file).  A file is mapped into memory; a file object
    and a gzip file are read in pieces (:func:`stream_tables`), so only the
    table grows with the capture.  ``columns`` picks and orders columns from
    :data:`COLUMNS` plus :data:`OPTIONAL_COLUMNS` (``"community_id"``).

    Values are those of the per-packet decoders (``layerpeek.read``): same
    frame numbers, same protocol path, same malformed reasons.  Problems with
    the file itself (a cut last record) do not raise; pass a list as
    ``problems`` to collect them.  Not a capture: :class:`CaptureFormatError`.
    """
    if isinstance(source, Chunk):
        if source.index:
            return _indexed_chunk(source, check_columns(columns), problems)
        if source.compressed:  # a gzip file is one chunk, the whole file, read in pieces
            with _opened(source.path) as f:
                return _streamed(f, columns, source.name, problems, source.first_frame - 1,
                                 source.interface_base)
        # The problems split() found, numbered within the whole file; indexing
        # the chunk's own bytes again would number them within the chunk.
        if problems is not None:
            problems.extend(source.problems)
        return decode_buffer(
            source.read(),
            columns=columns,
            name=source.name,
            frame_base=source.first_frame - 1,
            interface_base=source.interface_base,
        )
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if data[:2] == _GZIP_MAGIC:
            return _streamed(io.BytesIO(data), columns, "<bytes>", problems)
        return decode_buffer(data, columns=columns, name="<bytes>", problems=problems)
    if not isinstance(source, (str, os.PathLike)):
        return _streamed(source, columns, str(getattr(source, "name", "<stream>")), problems)
    buf, name = _mapped(source)
    try:
        if buf[:2] == _GZIP_MAGIC:
            with _opened(name) as f:
                return _streamed(f, columns, name, problems)
        return decode_buffer(buf, columns=columns, name=name, problems=problems)
    finally:
        buf.close()


#: The first bytes of a gzip-compressed capture.
_GZIP_MAGIC = b"\x1f\x8b"


def _opened(path: str) -> BinaryIO:
    """A capture file opened for reading, its error a :class:`CaptureFormatError`."""
    try:
        return open(path, "rb")
    except OSError as e:
        raise CaptureFormatError(f"{path}: {e.strerror or e}") from None
