"""The column vocabulary of layerpeek's packet tables: one name, one type, one meaning.

Two producers make one row per packet: :func:`layerpeek.table` (Arrow,
Parquet, Dask; fast, from the file) and
:func:`layerpeek.notebook.packets_frame` (pandas; from the per-packet
objects and the conversation stages).  They share a name only where they
share its meaning and its type, both defined here once:

* lengths are lengths on the wire (``wire_len``; ``tcp_len`` is the TCP
  payload the IP header declares, as tshark's ``tcp.len`` and the one-line
  ``len=``); what the capture holds is the matching ``cap`` column
  (``cap_len``, ``tcp_cap_len``), less where a snap length cut the frame;
* ``tcp_flags`` is the number (FIN 0x01 … CWR 0x80, NS 0x100);
  ``tcp_flag_names`` spells it out;
* ``src_port``, ``dst_port`` and the ``tcp_*`` columns describe the frame's
  first TCP or UDP layer (the only one, short of tunnels);
* ``malformed`` is the reason of the chain's final Malformed layer.

:func:`tcp_payload_lengths` and :func:`first_transport` are those meanings
as code, used by both producers' per-packet paths.  Each :class:`Column`
says its Arrow type (see :func:`arrow_type`); every column is nullable,
null where the frame has no such layer.  This module imports neither NumPy
nor pyarrow at import, so anything may read the vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.tcp import TCP
from layerpeek.layers.udp import UDP

if TYPE_CHECKING:
    from layerpeek.packet import Layer


@dataclass(frozen=True, slots=True)
class Column:
    """One column name of the vocabulary."""

    name: str
    type: str  #: the Arrow type, as :func:`arrow_type` reads it: "int64", "uint16", "string", ...
    meaning: str


_COLUMNS = (
    # -- the table's (layerpeek.table), in its order ---------------------------
    Column("frame", "int64", "frame number, from 1, as Wireshark numbers frames"),
    Column("ts_ns", "int64", "capture time, nanoseconds since the Unix epoch"),
    Column("cap_len", "uint32", "bytes of the frame the capture holds"),
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
    Column("ip_ttl", "uint8", "TTL or hop limit of the first IP layer"),
    Column("ip_flags", "uint8", "IPv4 only: 0x2 DF, 0x1 MF, 0x4 reserved"),
    Column("ip_proto", "uint8", "IPv4 protocol / IPv6 final Next Header"),
    Column("src_port", "uint16", "source port of the first TCP or UDP layer"),
    Column("dst_port", "uint16", "destination port of the first TCP or UDP layer"),
    Column("tcp_seq", "uint32", "raw TCP sequence number"),
    Column("tcp_ack", "uint32", "raw TCP acknowledgement number"),
    Column("tcp_flags", "uint16", "TCP flag bits: FIN 0x01 … CWR 0x80, NS 0x100"),
    Column("tcp_window", "uint16", "TCP window field as sent, unscaled"),
    Column("tcp_len", "uint32", "TCP payload bytes on the wire (from the IP length; tcp.len)"),
    Column("tcp_cap_len", "uint32", "TCP payload bytes the capture holds"),
    Column("udp_length", "uint16", "the UDP length field (header + payload)"),
    Column("protocols", "string", 'protocol path, "eth:ipv4:tcp:http" (Packet.protocols)'),
    Column("malformed", "string", "why decoding stopped (the Malformed layer's reason)"),
    Column("community_id", "string", "Community ID v1 flow hash (a column on request)"),
    # -- the packet DataFrame's own (layerpeek.notebook.packets_frame) ----------
    Column("time", "timestamp[ns, tz=UTC]", "capture time (null past the year 2262)"),
    Column("rel_time", "float64", "seconds since the first packet"),
    Column("src", "string", "the innermost IP layer's source"),
    Column("dst", "string", "the innermost IP layer's destination"),
    Column("transport", "string", "tcp or udp: the first TCP or UDP layer"),
    Column("ttl", "int64", "TTL or hop limit of the innermost IP layer"),
    Column("tcp_flag_names", "string", 'tcp_flags spelled out, "SYN, ACK" (Wireshark\'s names)'),
    Column("seq", "int64", "relative TCP sequence number (the ISN counts as 0)"),
    Column("ack", "int64", "relative TCP acknowledgement number"),
    Column("window", "int64", "TCP window field as sent, unscaled"),
    Column("window_size", "int64", "TCP window in bytes: window shifted by the handshake's "
           "scale (tcp.window_size; as sent when the handshake was not captured)"),
    Column("stream", "int64", "tcp.stream / udp.stream index"),
    Column("direction", "string", "client or server: who sent it"),
    Column("client_state", "string", "client's TCP state after this packet"),
    Column("server_state", "string", "server's TCP state after this packet"),
    Column("analysis", "list<string>", "tcp.analysis.* fields set"),
    Column("app", "string", "application layer: http, dns (of the datagram a frame completes)"),
    Column("truncated", "bool", "the capture or a decoder ran out of bytes"),
    Column("info", "string", "the facts dump prints after the endpoints"),
)

#: Every column name of either producer, with its one type and meaning.
VOCABULARY: dict[str, Column] = {column.name: column for column in _COLUMNS}

#: Every column :func:`layerpeek.table` gives by default, in order.
COLUMNS: tuple[str, ...] = (
    "frame", "ts_ns", "cap_len", "wire_len", "interface", "link_type", "eth_src", "eth_dst",
    "eth_type", "ip_version", "ip_src", "ip_dst", "ip_id", "ip_ttl", "ip_flags", "ip_proto",
    "src_port", "dst_port", "tcp_seq", "tcp_ack", "tcp_flags", "tcp_window", "tcp_len",
    "tcp_cap_len", "udp_length", "protocols", "malformed",
)

#: Columns :func:`layerpeek.table` computes only when asked (a hash per distinct flow).
OPTIONAL_COLUMNS: tuple[str, ...] = ("community_id",)

#: The columns of :func:`layerpeek.notebook.packets_frame`, in order.
PACKET_FRAME_COLUMNS: tuple[str, ...] = (
    "frame", "time", "rel_time", "wire_len", "cap_len", "protocols", "src", "dst", "src_port",
    "dst_port", "transport", "ttl", "tcp_flags", "tcp_flag_names", "seq", "ack", "tcp_len",
    "tcp_cap_len", "window", "window_size", "stream", "direction", "client_state",
    "server_state", "analysis", "app", "malformed", "truncated", "info",
)

#: The Arrow type of each column :func:`layerpeek.table` can give.
COLUMN_TYPES: dict[str, str] = {
    name: VOCABULARY[name].type for name in (*COLUMNS, *OPTIONAL_COLUMNS)
}


def arrow_type(name: str) -> Any:
    """The ``pyarrow.DataType`` of a vocabulary type name (imports pyarrow)."""
    import pyarrow as pa

    special = {
        "timestamp[ns, tz=UTC]": pa.timestamp("ns", tz="UTC"),
        "list<string>": pa.list_(pa.string()),
    }
    return special[name] if name in special else pa.type_for_alias(name)


def pandas_types() -> dict[Any, Any]:
    """Arrow type → pandas dtype for ``to_pandas(types_mapper=...)``: integer columns
    stay integers of their width with nulls (no float64 NaN), strings and booleans
    nullable (imports pyarrow and pandas).  Strings are Arrow-backed whatever the
    pandas version: pandas 2 defaults to Python storage while Dask converts to Arrow,
    so one file read in one process and through Dask would differ in dtype."""
    import pandas as pd
    import pyarrow as pa

    return {
        pa.int64(): pd.Int64Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.string(): pd.StringDtype("pyarrow"),
        pa.bool_(): pd.BooleanDtype(),
    }


def check_columns(columns: Iterable[str] | None) -> list[str]:
    """The requested table column names, validated (``None``: :data:`COLUMNS`)."""
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


# -- the meanings as code, for the per-packet paths --------------------------------


def first_transport(layers: Sequence[Layer]) -> int | None:
    """Where the first TCP or UDP layer is in ``layers`` (whose ports the rows show)."""
    for at, layer in enumerate(layers):
        if isinstance(layer, (TCP, UDP)):
            return at
    return None


def tcp_payload_lengths(
    layers: Sequence[Layer], spans: Sequence[tuple[int, int]], cap_len: int, at: int
) -> tuple[int, int]:
    """The payload bytes of the TCP layer ``layers[at]``: on the wire, and captured.

    On the wire is what the IP layer carrying it declares (IPv4 total length,
    IPv6 payload length) past the TCP header, as tshark's ``tcp.len``; a
    length field of 0 (segmentation offload, a jumbogram) declares nothing,
    and the frame's captured end stands in.  Captured is what the frame
    holds of that payload.
    """
    tcp = layers[at]
    assert isinstance(tcp, TCP)
    end = cap_len
    for i in range(at - 1, -1, -1):
        ip = layers[i]
        if isinstance(ip, IPv4):
            if ip.total_len:
                end = spans[i][0] + ip.total_len
            break
        if isinstance(ip, IPv6):
            if ip.payload_len:
                end = spans[i][0] + 40 + ip.payload_len
            break
    return max(0, end - (spans[at][0] + tcp.header_len)), tcp.payload_len
