"""Step 4 of a table: the NumPy columns as Arrow columns, strings last.

Addresses were gathered as integers; each address column is
dictionary-encoded (a capture has few distinct addresses) and only the
distinct values are formatted, then taken back into a string column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from layerpeek.columnar.arrays import (
    NATIVE_PAIR,
    NETWORK_PAIR,
    indices,
    numbers,
    strings,
    validity,
)
from layerpeek.columnar.community import community_column
from layerpeek.columnar.vocabulary import COLUMN_TYPES, arrow_type
from layerpeek.wire import ip_str, mac_str

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from layerpeek.columnar.column_arrays import ColumnArrays

    IntArray = NDArray[np.int64]
    BoolArray = NDArray[np.bool_]

#: The Arrow type of every column (:data:`layerpeek.columnar.vocabulary.COLUMN_TYPES`).
#: Nullable: a frame without that layer has null.
SCHEMA = pa.schema([(name, arrow_type(kind)) for name, kind in COLUMN_TYPES.items()])


def _format_distinct(
    keys: NDArray[Any], valid: BoolArray, fmt: Callable[[Any], str]
) -> pa.Array:
    """Format each distinct key (one uint64 per row) once, then take the strings back into
    row order."""
    n = len(valid)
    if not valid.any():
        return pa.nulls(n, pa.string())
    encoded = numbers(keys, pa.uint64(), valid).dictionary_encode()
    texts = strings([fmt(v) for v in encoded.dictionary.to_pylist()])
    return pc.take(texts, encoded.indices)


def _mac_text(value: int) -> str:
    return mac_str(value.to_bytes(6, "big"))


def _ip_columns(cols: ColumnArrays) -> tuple[pa.Array, pa.Array]:
    """Source and destination addresses as text, formatting each distinct one once.

    Each column is dictionary-encoded whole, with no gather of the rows of
    one IP version: as integers when there is no IPv6 row, else as the
    16-byte pairs of words (an IPv4 address is the top half of the first
    word, the rest zeros), in memory order; only the distinct values are put
    in network order and formatted.  An IPv6 address whose pair equals an
    IPv4 one's (``a.b.c.d`` and ``xxxx:xxxx::``) would share its entry: that
    is checked, and such a capture is encoded one version at a time
    (:func:`_ip_columns_by_version`).
    """
    n = cols.n
    version = cols.ip_version
    valid = version > 0
    if not valid.any():
        return pa.nulls(n, pa.string()), pa.nulls(n, pa.string())
    every_valid = bool(valid.all())
    with_v6 = bool((version == 6).any())
    with_v4 = bool((version == 4).any())
    columns = []
    for words in (cols.ip_src, cols.ip_dst):
        if not with_v6:
            encoded = numbers(words[:, 0] >> np.uint64(32), pa.uint64()).dictionary_encode()
            texts = [ip_str(v.to_bytes(4, "big")) for v in encoded.dictionary.to_pylist()]
            index = indices(encoded)
        else:
            pairs = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(16), n, [None, pa.py_buffer(np.ascontiguousarray(words))]
            )
            encoded = pairs.dictionary_encode()
            index = indices(encoded)
            kind = np.full(len(encoded.dictionary), 6, np.uint8)
            if with_v4:
                rows_index = index if every_valid else index[valid]
                rows_version = version if every_valid else version[valid]
                kind[rows_index] = rows_version
                if not (kind[rows_index] == rows_version).all():
                    return _ip_columns_by_version(cols)
            texts = []
            for entry, of in zip(encoded.dictionary.to_pylist(), kind.tolist(), strict=True):
                raw = NETWORK_PAIR.pack(*NATIVE_PAIR.unpack(entry))
                texts.append(ip_str(raw[:4] if of == 4 else raw))
        taken = numbers(index, pa.int32(), None if every_valid else valid)
        columns.append(pc.take(strings(texts), taken))
    return columns[0], columns[1]


def _ip_columns_by_version(cols: ColumnArrays) -> tuple[pa.Array, pa.Array]:
    """:func:`_ip_columns` one IP version at a time (an IPv4 and an IPv6 address alike).

    IPv4 addresses are dictionary-encoded as integers, IPv6 ones as 16-byte
    values (in memory order: only the distinct ones are put in network
    order), sources and destinations together; the two dictionaries are laid
    end to end and taken from once per column.
    """
    n = cols.n
    src_index = np.full(n, -1, np.int32)
    dst_index = np.full(n, -1, np.int32)
    texts: list[str] = []
    for version in (4, 6):
        rows = np.flatnonzero(cols.ip_version == version)
        if not len(rows):
            continue
        if version == 4:
            both = np.concatenate([cols.ip_src[rows, 0], cols.ip_dst[rows, 0]]) >> np.uint64(32)
            encoded = numbers(both, pa.uint64()).dictionary_encode()
            raw = [v.to_bytes(4, "big") for v in encoded.dictionary.to_pylist()]
        else:
            pairs = np.concatenate([cols.ip_src[rows], cols.ip_dst[rows]])  # (2k, 2), C order
            array = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(16), len(pairs), [None, pa.py_buffer(pairs)]
            )
            encoded = array.dictionary_encode()
            raw = [
                NETWORK_PAIR.pack(*NATIVE_PAIR.unpack(v))
                for v in encoded.dictionary.to_pylist()
            ]
        index = indices(encoded) + len(texts)
        src_index[rows] = index[: len(rows)]
        dst_index[rows] = index[len(rows) :]
        texts.extend(ip_str(address) for address in raw)
    if not texts:
        return pa.nulls(n, pa.string()), pa.nulls(n, pa.string())
    distinct = strings(texts)
    return (
        pc.take(distinct, numbers(src_index, pa.int32(), src_index >= 0)),
        pc.take(distinct, numbers(dst_index, pa.int32(), dst_index >= 0)),
    )


def _time_column(ts_ns: IntArray, bad_time: list[int]) -> pa.Array:
    if not bad_time:
        return numbers(ts_ns, pa.int64())
    valid = np.ones(len(ts_ns), np.bool_)
    valid[bad_time] = False
    return numbers(ts_ns, pa.int64(), valid)


def _names_column(codes: NDArray[np.int32], names: dict[str, int]) -> pa.Array:
    if not names:
        return pa.nulls(len(codes), pa.string())
    return pc.take(strings(list(names)), numbers(codes, pa.int32(), codes >= 0))


def to_arrow(
    cols: ColumnArrays, bad_time: list[int], wanted: Sequence[str], frame_base: int,
    interface_base: int,
) -> pa.Table:
    n = cols.n
    ip = cols.ip_version > 0
    v4 = cols.ip_version == 4
    # Validity bitmaps, made once per mask and shared by the columns of a layer;
    # the mask is kept with its bitmap so that its id stays its own.
    bitmaps: dict[int, tuple[BoolArray | None, tuple[pa.Buffer | None, int]]] = {}

    def num(values: IntArray, kind: pa.DataType, valid: BoolArray | None = None) -> pa.Array:
        if id(valid) not in bitmaps:
            bitmaps[id(valid)] = (valid, validity(valid, n))
        return numbers(values, kind, bitmap=bitmaps[id(valid)][1])

    made: list[tuple[pa.Array, pa.Array]] = []

    def addresses() -> tuple[pa.Array, pa.Array]:
        if not made:
            made.append(_ip_columns(cols))
        return made[0]

    build: dict[str, Callable[[], pa.Array]] = {
        "frame": lambda: num(np.arange(frame_base + 1, frame_base + n + 1), pa.int64()),
        "ts_ns": lambda: _time_column(cols.ts_ns, bad_time),
        "cap_len": lambda: num(cols.cap_len, pa.uint32()),
        "wire_len": lambda: num(cols.wire_len, pa.uint32()),
        "interface": lambda: num(cols.interface + np.uint32(interface_base), pa.uint32()),
        "link_type": lambda: num(cols.link_type, pa.uint32()),
        "eth_src": lambda: _format_distinct(cols.eth_src, cols.eth, _mac_text),
        "eth_dst": lambda: _format_distinct(cols.eth_dst, cols.eth, _mac_text),
        "eth_type": lambda: num(cols.eth_type, pa.uint16(), cols.eth),
        "ip_version": lambda: num(cols.ip_version, pa.uint8(), ip),
        "ip_src": lambda: addresses()[0],
        "ip_dst": lambda: addresses()[1],
        "ip_id": lambda: num(cols.ip_id, pa.uint16(), v4),
        "ip_ttl": lambda: num(cols.ip_ttl, pa.uint8(), ip),
        "ip_flags": lambda: num(cols.ip_flags, pa.uint8(), v4),
        "ip_proto": lambda: num(cols.ip_proto, pa.uint8(), ip),
        "src_port": lambda: num(cols.src_port, pa.uint16(), cols.ports),
        "dst_port": lambda: num(cols.dst_port, pa.uint16(), cols.ports),
        "tcp_seq": lambda: num(cols.tcp_seq, pa.uint32(), cols.tcp),
        "tcp_ack": lambda: num(cols.tcp_ack, pa.uint32(), cols.tcp),
        "tcp_flags": lambda: num(cols.tcp_flags, pa.uint16(), cols.tcp),
        "tcp_window": lambda: num(cols.tcp_window, pa.uint16(), cols.tcp),
        "tcp_len": lambda: num(cols.tcp_len, pa.uint32(), cols.tcp),
        "tcp_cap_len": lambda: num(cols.tcp_cap_len, pa.uint32(), cols.tcp),
        "udp_length": lambda: num(cols.udp_length, pa.uint16(), cols.udp),
        "protocols": lambda: _names_column(cols.path, cols.path_names),
        "malformed": lambda: _names_column(cols.malformed, cols.malformed_names),
        "community_id": lambda: community_column(cols),
    }
    arrays = [build[name]() for name in wanted]
    return pa.Table.from_arrays(arrays, schema=pa.schema([SCHEMA.field(c) for c in wanted]))
