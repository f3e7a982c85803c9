"""Many captures, or one large one, as a Dask DataFrame (the ``dask`` extra).

layerpeek does not bring a cluster engine of its own: it plugs into Dask,
which notebook users already have, and runs unchanged on its local
schedulers or on a ``dask.distributed`` cluster.

* :func:`read_captures` lists the files, cuts each into chunks on record
  boundaries (:func:`layerpeek.columnar.split`) and makes **one partition per
  chunk**.  A partition is :func:`layerpeek.table` of its chunk, so
  frame numbers are those of the whole file, plus a ``capture`` column naming
  the file and, by default, the ``community_id`` flow hash.
* :func:`conversations` groups packets on the Community ID.  The key depends
  only on the flow's addresses, ports and protocol, not on which chunk or
  worker saw a packet, so a TCP connection cut across chunks (or files) is
  put back together by the group-by: its counts, times and flags summary are
  the same as in a single-process run.  :func:`conversation_table` is the
  same computation on an in-memory pandas frame.

Dask is imported inside the functions: ``import layerpeek.columnar.dask``
stays cheap and works without Dask installed until a function is called.
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from layerpeek.errors import CaptureProblemWarning

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow as pa

    from layerpeek.columnar.chunks import Chunk

PathsOrGlob = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


def _require_dask() -> Any:
    try:
        import dask.dataframe
    except ImportError:
        raise ImportError(
            "layerpeek.columnar.dask needs Dask: pip install 'layerpeek[dask]'"
        ) from None
    return dask.dataframe


def expand_paths(paths_or_glob: PathsOrGlob) -> list[str]:
    """File names from a path, a glob pattern, or a list of either, in a stable order.

    A pattern that matches nothing, or a named file that does not exist, is an
    error (``FileNotFoundError``) rather than an empty result: an empty table
    from a typo would be a silent wrong answer.
    """
    items = [paths_or_glob] if isinstance(paths_or_glob, (str, os.PathLike)) else paths_or_glob
    out: list[str] = []
    for item in items:
        name = os.fspath(item)
        if glob.has_magic(name):
            found = sorted(glob.glob(name))
            if not found:
                raise FileNotFoundError(f"no capture matches {name!r}")
            out.extend(found)
        elif not os.path.exists(name):
            raise FileNotFoundError(f"{name}: no such file")
        else:
            out.append(name)
    if not out:
        raise FileNotFoundError("no capture files given")
    return out


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """An Arrow packet table as pandas, with nullable integer and string dtypes."""
    from layerpeek.columnar.vocabulary import pandas_types

    return table.to_pandas(types_mapper=pandas_types().get)


def _columns(columns: Sequence[str] | None) -> list[str]:
    from layerpeek.columnar.vocabulary import COLUMNS, check_columns

    if columns is None:
        return [*COLUMNS, "community_id"]
    return check_columns(columns)


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    import pyarrow as pa

    from layerpeek.columnar.arrow import SCHEMA

    schema = pa.schema([SCHEMA.field(c) for c in columns])
    frame = to_pandas(schema.empty_table())
    return _with_capture(frame, "")


def _with_capture(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    import pandas as pd

    frame.insert(0, "capture", pd.Series([path] * len(frame), dtype=pd.StringDtype("pyarrow")))
    return frame


def load_chunk(chunk: Chunk, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """One partition: the chunk's packet table as pandas.

    ``columns`` may name ``"capture"`` (the chunk's file) besides the packet
    columns; Dask passes the columns a computation needs (column projection),
    so unused columns, such as formatted addresses, are never built.
    """
    from layerpeek.columnar.build import table

    wanted = list(columns) if columns is not None else ["capture", *_columns(None)]
    frame = to_pandas(table(chunk, [c for c in wanted if c != "capture"]))
    if "capture" in wanted:
        _with_capture(frame, chunk.path)
    return frame[wanted]


def read_captures(
    paths_or_glob: PathsOrGlob,
    *,
    columns: Sequence[str] | None = None,
    chunk_bytes: int | None = None,
    parts: int | None = None,
) -> dd.DataFrame:
    """A Dask DataFrame of the packets of every capture, one partition per chunk.

    ``paths_or_glob``: a path, a glob (``"captures/*.pcap"``) or a list of
    either.  Each file is split with :func:`layerpeek.columnar.split` into
    ``parts`` chunks, or chunks of about ``chunk_bytes`` (default 64 MiB).
    ``columns`` picks packet columns (default: all of
    :data:`layerpeek.columnar.COLUMNS` plus ``community_id``); a ``capture``
    column with the file's path always comes first.

    Splitting reads each file's record headers once, here; decoding happens
    when the frame is computed, chunk by chunk, on whatever scheduler is in
    use.  A damaged file (a record cut by the end of the file) is read as far
    as it goes, and each problem is issued here as a
    :class:`~layerpeek.errors.CaptureProblemWarning`.
    """
    dataframe = _require_dask()
    from layerpeek.columnar.chunks import split

    wanted = _columns(columns)
    chunks = [
        chunk
        for path in expand_paths(paths_or_glob)
        for chunk in split(path, parts, chunk_bytes=chunk_bytes)
    ]
    for chunk in chunks:
        for problem in chunk.problems:
            warnings.warn(f"{chunk.path}: {problem}", CaptureProblemWarning, stacklevel=2)
    packets: dd.DataFrame = dataframe.from_map(
        load_chunk,
        chunks,
        columns=["capture", *wanted],
        meta=_empty(wanted),
        label="layerpeek-packets",
        enforce_metadata=False,
    )
    return packets


#: The conversation table's columns, in order (see :func:`conversation_table`).
CONVERSATION_COLUMNS = (
    "community_id",
    "ip_proto",
    "src",
    "dst",
    "first_ts_ns",
    "last_ts_ns",
    "packets",
    "bytes",
    "payload_bytes",
    "syn",
    "synack",
    "fin",
    "rst",
    "state",
)


def _prepared(frame: Any) -> Any:
    """Per-packet helper columns for the aggregation (pandas or Dask alike)."""
    flags = frame["tcp_flags"].fillna(0).astype("int64")
    is_tcp = frame["tcp_flags"].notnull()
    udp_payload = (frame["udp_length"].fillna(8).astype("int64") - 8).clip(lower=0)
    return frame.assign(
        _src=frame["ip_src"] + "|" + frame["src_port"].astype("string").fillna(""),
        _dst=frame["ip_dst"] + "|" + frame["dst_port"].astype("string").fillna(""),
        _payload=frame["tcp_len"].fillna(0).astype("int64") + udp_payload,
        _syn=(is_tcp & ((flags & 0x12) == 0x02)).astype("int64"),
        _synack=(is_tcp & ((flags & 0x12) == 0x12)).astype("int64"),
        _fin=(is_tcp & ((flags & 0x01) != 0)).astype("int64"),
        _rst=(is_tcp & ((flags & 0x04) != 0)).astype("int64"),
        _wire=frame["wire_len"].astype("int64"),
        _ts=frame["ts_ns"],
        _proto=frame["ip_proto"].astype("int64"),
    )


def _aggregate(grouped: Any) -> Any:
    return grouped.agg(
        ip_proto=("_proto", "first"),
        src=("_src", "first"),
        dst=("_dst", "first"),
        first_ts_ns=("_ts", "min"),
        last_ts_ns=("_ts", "max"),
        packets=("_wire", "count"),
        bytes=("_wire", "sum"),
        payload_bytes=("_payload", "sum"),
        syn=("_syn", "sum"),
        synack=("_synack", "sum"),
        fin=("_fin", "sum"),
        rst=("_rst", "sum"),
    )


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    """State from the flag counts, and a stable row order."""
    import numpy as np
    import pandas as pd

    frame = frame.reset_index()
    tcp = frame["ip_proto"] == 6
    state = np.select(
        [
            ~tcp,
            frame["rst"] > 0,
            frame["fin"] >= 2,
            frame["synack"] > 0,
            frame["syn"] > 0,
        ],
        ["", "reset", "closed", "established", "attempt"],
        default="midstream",
    )
    frame["state"] = pd.Series(state, index=frame.index, dtype=pd.StringDtype("pyarrow")).mask(~tcp)
    frame = frame.sort_values(["first_ts_ns", "community_id"], kind="stable")
    return frame[list(CONVERSATION_COLUMNS)].reset_index(drop=True)


def conversation_table(packets: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """Conversations of an in-memory packet table, grouped on ``community_id``.

    One row per flow: protocol, the first packet's source and destination
    (``"addr|port"``; the first packet seen is usually the client), first and
    last time, packets, wire bytes, TCP/UDP payload bytes on the wire, counts of SYN,
    SYN-ACK, FIN and RST segments, and a TCP ``state`` derived from them
    (``reset``, ``closed``, ``established``, ``attempt``, ``midstream``;
    null for other protocols).  Packets without a Community ID (non-IP, IP
    fragments) are left out.
    """
    import pyarrow as pa

    frame = to_pandas(packets) if isinstance(packets, pa.Table) else packets
    frame = frame[frame["community_id"].notnull()]
    grouped = _prepared(frame).groupby("community_id", sort=False)
    return _finish(_aggregate(grouped))


def conversations(packets: dd.DataFrame) -> pd.DataFrame:
    """:func:`conversation_table` over a Dask DataFrame from :func:`read_captures`.

    The group-by runs on the scheduler in use (partial aggregates per
    partition, then combined per Community ID), so a connection whose
    packets fall in several chunks or files comes out as one row.
    ``first`` values (protocol, source, destination) are taken in partition
    order, which is file order.  Returns pandas (one row per flow is small).
    """
    _require_dask()
    frame = packets[packets["community_id"].notnull()]
    grouped = _prepared(frame).groupby("community_id", sort=False)
    return _finish(_aggregate(grouped).compute())
