"""The column vocabulary of layerpeek's packet tables: one name, one type, one meaning.

:func:`layerpeek.table` (Arrow, Parquet, Dask) takes its columns from here.
Each :class:`Column` says its Arrow type (as pyarrow spells it:
``pa.type_for_alias(column.type)``) and what it means; every column is
nullable, null where the frame has no such layer.  This module imports
neither NumPy nor pyarrow, so anything may read the vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Column:
    """One column name of the vocabulary."""

    name: str
    type: str  #: the Arrow type's alias: "int64", "uint16", "string", ...
    meaning: str


_TABLE = (
    Column("frame", "int64", "1-based frame number, as Wireshark numbers frames"),
    Column("ts_ns", "int64", "capture time, nanoseconds since the Unix epoch"),
    Column("cap_len", "uint32", "bytes of the frame captured"),
    Column("wire_len", "uint32", "length of the frame on the wire"),
    Column("interface", "uint32", "pcapng interface (global IDB index); 0 for pcap"),
    Column("link_type", "uint32", "LINKTYPE_* of the frame's interface"),
    Column("eth_src", "string", 'Ethernet source, "aa:bb:cc:dd:ee:ff"'),
    Column("eth_dst", "string", "Ethernet destination"),
    Column("eth_type", "uint16", "the Ethernet header's type field (0x8100 before a tag)"),
    Column("ip_version", "uint8", "4 or 6: the first IP layer (the outer one in a tunnel)"),
    Column("ip_src", "string", "the first IP layer's source, as text (inet_ntop)"),
    Column("ip_dst", "string", "the first IP layer's destination"),
    Column("ip_id", "uint16", "IPv4 identification (IPv4 only)"),
    Column("ip_ttl", "uint8", "IPv4 TTL or IPv6 hop limit of the first IP layer"),
    Column("ip_flags", "uint8", "IPv4 only: 0x2 DF, 0x1 MF, 0x4 reserved"),
    Column("ip_proto", "uint8", "IPv4 protocol / IPv6 final Next Header"),
    Column("src_port", "uint16", "source port of the first TCP or UDP layer"),
    Column("dst_port", "uint16", "destination port of the first TCP or UDP layer"),
    Column("tcp_seq", "uint32", "raw TCP sequence number"),
    Column("tcp_ack", "uint32", "raw TCP acknowledgement number"),
    Column("tcp_flags", "uint16", "TCP flag bits: FIN 0x01 … CWR 0x80, NS 0x100"),
    Column("tcp_window", "uint16", "TCP window field as sent, unscaled"),
    Column("tcp_len", "uint32", "TCP payload bytes present in the frame"),
    Column("udp_length", "uint16", "the UDP length field (header + payload)"),
    Column("protocols", "string", 'protocol path, "eth:ipv4:tcp:http" (Packet.protocols)'),
    Column("malformed", "string", "why decoding stopped (the Malformed layer's reason), or null"),
    Column("community_id", "string", "Community ID v1 flow hash (a column on request)"),
)

#: Every column name, with its type and meaning.
VOCABULARY: dict[str, Column] = {column.name: column for column in _TABLE}

#: Every column :func:`layerpeek.table` gives by default, in order.
COLUMNS: tuple[str, ...] = tuple(c.name for c in _TABLE if c.name != "community_id")

#: Columns computed only when asked for (they cost a hash per distinct flow).
OPTIONAL_COLUMNS: tuple[str, ...] = ("community_id",)

#: The Arrow type alias of each column :func:`layerpeek.table` can give.
COLUMN_TYPES: dict[str, str] = {
    name: VOCABULARY[name].type for name in (*COLUMNS, *OPTIONAL_COLUMNS)
}


def check_columns(columns: Iterable[str] | None) -> list[str]:
    """The requested column names, validated (``None``: :data:`COLUMNS`)."""
    if columns is None:
        return list(COLUMNS)
    if isinstance(columns, str):
        columns = [columns]
    wanted = list(columns)
    known = set(COLUMNS) | set(OPTIONAL_COLUMNS)
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise ValueError(
            f"unknown column(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(COLUMNS + OPTIONAL_COLUMNS)}"
        )
    return wanted
