"""Columnar packet tables: whole captures decoded straight into Arrow columns.

``layerpeek.read`` builds a :class:`~layerpeek.packet.Packet` and a chain of
layer objects per frame, which is right for exploring and far too slow for a
10 GB capture that a user wants as a table.  :func:`table` (also
``layerpeek.table``) never builds them on the hot path; :func:`split` cuts a
capture into chunks that decode apart, and :func:`read_captures` makes a
Dask DataFrame of many captures, one partition per chunk.

Theory of operation, one module per step, each importing only the ones
before it (``tests/test_columnar_package.py`` checks that no import cycle
forms):

1. **Index** (:mod:`.records`).  The capture is mapped into memory and
   walked record by record (in C when ``layerpeek._speedups`` was built,
   :mod:`._compiled`), giving each frame's offset, lengths, time, interface
   and link type as arrays.
2. **Decode, vectorised** (:mod:`.decoder`, into :mod:`.column_arrays`).
   Each header field is one gather for a batch of frames.
3. **Fall back, row by row** (:mod:`.build`).  A frame the vectorised path
   does not model exactly goes through the per-packet decoder, so every
   value equals what ``layerpeek.read`` says.
4. **Arrow** (:mod:`.arrow`, :mod:`.arrays`, :mod:`.community`).  Numbers
   become Arrow arrays from their buffers; addresses and the Community ID
   are formatted once per distinct value.

Around them: :mod:`.vocabulary` names every column once (type and meaning),
:mod:`.chunks` splits a file on record boundaries, :mod:`.dask` plugs the
chunks into Dask, and :mod:`.stream` reads what cannot be mapped (a pipe,
stdin, gzip) piece by piece in bounded memory (:func:`stream_tables`).

NumPy and pyarrow are the ``table`` extra (``pip install layerpeek[table]``):
importing this package is free; its names import them on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from layerpeek._lazy import lazy_getattr

if TYPE_CHECKING:
    from layerpeek.columnar.arrow import SCHEMA
    from layerpeek.columnar.build import (
        Source,
        decode_buffer,
        decode_records,
        stream_tables,
        table,
    )
    from layerpeek.columnar.chunks import DEFAULT_CHUNK_BYTES, Chunk, split
    from layerpeek.columnar.community import community_id
    from layerpeek.columnar.dask import (
        CONVERSATION_COLUMNS,
        conversation_table,
        conversations,
        read_captures,
        to_pandas,
    )
    from layerpeek.columnar.records import Records, index_records, pcap_header, pcap_records_at
    from layerpeek.columnar.vocabulary import (
        COLUMN_TYPES,
        COLUMNS,
        OPTIONAL_COLUMNS,
        VOCABULARY,
        Column,
        check_columns,
    )

_WHERE = {
    "SCHEMA": "arrow",
    "Source": "build",
    "decode_buffer": "build",
    "decode_records": "build",
    "stream_tables": "build",
    "table": "build",
    "DEFAULT_CHUNK_BYTES": "chunks",
    "Chunk": "chunks",
    "split": "chunks",
    "community_id": "community",
    "CONVERSATION_COLUMNS": "dask",
    "conversation_table": "dask",
    "conversations": "dask",
    "read_captures": "dask",
    "to_pandas": "dask",
    "Records": "records",
    "index_records": "records",
    "pcap_header": "records",
    "pcap_records_at": "records",
    "COLUMN_TYPES": "vocabulary",
    "COLUMNS": "vocabulary",
    "OPTIONAL_COLUMNS": "vocabulary",
    "VOCABULARY": "vocabulary",
    "Column": "vocabulary",
    "check_columns": "vocabulary",
}

__all__ = [
    "COLUMNS",
    "COLUMN_TYPES",
    "CONVERSATION_COLUMNS",
    "DEFAULT_CHUNK_BYTES",
    "OPTIONAL_COLUMNS",
    "SCHEMA",
    "VOCABULARY",
    "Chunk",
    "Column",
    "Records",
    "Source",
    "check_columns",
    "community_id",
    "conversation_table",
    "conversations",
    "decode_buffer",
    "decode_records",
    "index_records",
    "pcap_header",
    "pcap_records_at",
    "read_captures",
    "split",
    "stream_tables",
    "table",
    "to_pandas",
]

_serve = lazy_getattr(__name__, _WHERE, globals())


def __getattr__(name: str) -> Any:
    """A public name, imported on first use; a missing extra is named in the error."""
    try:
        return _serve(name)
    except ModuleNotFoundError as e:
        if e.name in ("numpy", "pyarrow"):
            raise ImportError(
                "layerpeek.table needs numpy and pyarrow: pip install 'layerpeek[table]'"
            ) from e
        raise
