"""Captures as tables: pandas DataFrames and Arrow tables at three levels.

* :func:`packets_frame`: one row per packet, the columns a packet list shows
  (time, protocols, addresses, ports, TCP flags and relative numbers, the
  stream it belongs to, Wireshark's analysis labels);
* :func:`conversations_frame`: one row per TCP or UDP conversation with the
  columns of Zeek's ``conn.log`` (``ts``, ``id.orig_h`` … ``resp_ip_bytes``,
  same names and meanings) plus layerpeek's own (frames, states, the close);
* :func:`http_frame`: one row per HTTP request/response exchange
  (:func:`layerpeek.http.exchanges`, from reassembled streams).

Why Arrow first: each table is built as a ``pyarrow.Table`` with an explicit
schema, so integer columns with gaps stay integers (pandas would turn them
into floats) and the same table feeds polars or DuckDB without pandas
(``*_arrow`` functions).  The DataFrames are that table converted with
nullable pandas dtypes.  pandas and pyarrow are the optional ``notebook``
extra: they are imported when a function here is called, never by
``import layerpeek``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from layerpeek.columnar.vocabulary import (
    PACKET_FRAME_COLUMNS,
    VOCABULARY,
    arrow_type,
    first_transport,
    pandas_types,
    tcp_payload_lengths,
)
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.tcp import TCP, flag_names
from layerpeek.layers.udp import UDP
from layerpeek.notebook._source import Source, iter_packets
from layerpeek.notebook.html import info_text
from layerpeek.wire import ip_str

if TYPE_CHECKING:
    from layerpeek.packet import Packet

#: ``pandas.DataFrame`` and ``pyarrow.Table``: spelled ``Any`` because neither
#: package ships type information that ``mypy --strict`` accepts, and the
#: library must type-check without the optional extra installed.
DataFrame = Any
ArrowTable = Any

INSTALL_HINT = "pip install 'layerpeek[notebook]'"


def _optional(name: str, need: str) -> Any:
    """Import an optional package, or say which extra brings it.

    ``import_module`` rather than an import statement: the module comes back
    untyped, so ``mypy --strict`` passes whether or not the package (and its
    stubs) are installed.
    """
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ImportError(f"{need} need {name}: {INSTALL_HINT}") from e


def _pyarrow() -> Any:
    return _optional("pyarrow", "DataFrames and Arrow tables")


def _pandas() -> Any:
    return _optional("pandas", "DataFrames")


def _table(columns: dict[str, tuple[str, list[Any]]]) -> ArrowTable:
    """An Arrow table from ``name → (type, values)``: a short name below, or a type
    of the column vocabulary (:func:`~layerpeek.columnar.vocabulary.arrow_type`)."""
    pa = _pyarrow()
    types = {
        "int": pa.int64(),
        "float": pa.float64(),
        "str": pa.string(),
        "bool": pa.bool_(),
        "time": pa.timestamp("ns", tz="UTC"),
        "list": pa.list_(pa.string()),
    }
    arrays = [
        pa.array(values, type=types[kind] if kind in types else arrow_type(kind))
        for kind, values in columns.values()
    ]
    table: ArrowTable = pa.Table.from_arrays(arrays, names=list(columns))
    return table


_NS_MIN, _NS_MAX = -(2**63), 2**63 - 1


def _timestamp(ts_ns: int) -> int | None:
    """``ts_ns`` if an Arrow/pandas timestamp can hold it, else None (shown as NaT).

    Capture files can claim any time at all: a pcapng with a bogus
    ``if_tsresol`` or timestamp puts packets tens of thousands of years out,
    beyond the 64-bit nanosecond range, and one such packet must not make the
    whole table fail.
    """
    return ts_ns if _NS_MIN <= ts_ns <= _NS_MAX else None


def _frame(table: ArrowTable) -> DataFrame:
    """Arrow → pandas with nullable integer and boolean columns (no float NaN for gaps)."""
    _pandas()
    text = _pyarrow().string()
    # Integers keep their width with nulls; text stays object (None, not pd.NA).
    mapping = {kind: dtype for kind, dtype in pandas_types().items() if kind != text}
    frame: DataFrame = table.to_pandas(types_mapper=mapping.get)
    return frame


def to_arrow(frame: DataFrame) -> ArrowTable:
    """A DataFrame from this module (or any) as an Arrow table, without its index."""
    pa = _pyarrow()
    table: ArrowTable = pa.Table.from_pandas(frame, preserve_index=False)
    return table


# --------------------------------------------------------------------------- packets

#: Column → (Arrow type, meaning) for :func:`packets_frame`, from the one
#: vocabulary the packet tables share (:mod:`layerpeek.columnar.vocabulary`):
#: a name :func:`layerpeek.table` also gives has the same type and meaning there.
PACKET_COLUMNS: dict[str, tuple[str, str]] = {
    name: (VOCABULARY[name].type, VOCABULARY[name].meaning) for name in PACKET_FRAME_COLUMNS
}



def packets_arrow(source: Source, *, flows: bool = True) -> ArrowTable:
    """:func:`packets_frame` as an Arrow table."""
    from layerpeek.flows.pipeline import annotate

    cols: dict[str, list[Any]] = {name: [] for name in PACKET_COLUMNS}
    t0: int | None = None
    fed: list[Packet] = []

    def remembered(packets: Iterable[Packet]) -> Iterator[Packet]:
        for packet in packets:
            fed[:] = [packet]
            yield packet

    pairs = (
        annotate(remembered(iter_packets(source))) if flows
        else ((p, None) for p in remembered(iter_packets(source)))
    )
    for shown, info in pairs:
        # The flow stage yields the reassembled datagram on the frame that
        # completes one; the row's own columns describe the frame as captured
        # (as layerpeek.table does), ``app`` and ``info`` what dump shows.
        packet = fed[0]
        if t0 is None:
            t0 = packet.ts_ns
        layers = packet.layers
        ip: IPv4 | IPv6 | None = None  # the innermost
        for layer in layers:
            if isinstance(layer, (IPv4, IPv6)):
                ip = layer
        app = None
        for layer in shown.layers:
            if layer.name in ("http", "dns"):
                app = layer.name
        at = first_transport(layers)  # ports and TCP fields: the first TCP or UDP layer
        ports = layers[at] if at is not None else None
        assert ports is None or isinstance(ports, (TCP, UDP))
        tcp = ports if isinstance(ports, TCP) else None
        tcp_lengths = (
            tcp_payload_lengths(layers, packet.spans, len(packet.data), at)
            if tcp is not None and at is not None else (None, None)
        )
        tcp_info = info if info is not None and info.proto == "tcp" else None
        bad = packet.malformed
        add = cols.__getitem__
        add("frame").append(packet.index)
        add("time").append(_timestamp(packet.ts_ns))
        add("rel_time").append((packet.ts_ns - t0) / 1e9)
        add("wire_len").append(packet.wire_len)
        add("cap_len").append(len(packet.data))
        add("protocols").append(packet.protocols)
        add("src").append(ip_str(ip.src) if ip is not None else None)
        add("dst").append(ip_str(ip.dst) if ip is not None else None)
        add("src_port").append(ports.src_port if ports is not None else None)
        add("dst_port").append(ports.dst_port if ports is not None else None)
        add("transport").append(ports.name if ports is not None else None)
        add("ttl").append(
            None if ip is None else ip.ttl if isinstance(ip, IPv4) else ip.hop_limit
        )
        add("tcp_flags").append(tcp.flags if tcp is not None else None)
        add("tcp_flag_names").append(
            None if tcp is None
            else flag_names(tcp.flags)
        )
        add("seq").append(tcp_info.seq if tcp_info is not None else None)
        add("ack").append(tcp_info.ack if tcp_info is not None else None)
        add("tcp_len").append(tcp_lengths[0])
        add("tcp_cap_len").append(tcp_lengths[1])
        add("window").append(tcp.window if tcp is not None else None)
        add("window_size").append(
            None if tcp is None
            else tcp_info.window_size(tcp.window) if tcp_info is not None else tcp.window
        )
        has_stream = info is not None and info.proto in ("tcp", "udp")
        add("stream").append(info.stream if has_stream and info is not None else None)
        add("direction").append(info.direction if has_stream and info is not None else None)
        add("client_state").append(
            tcp_info.client_state.value
            if tcp_info is not None and tcp_info.client_state is not None else None
        )
        add("server_state").append(
            tcp_info.server_state.value
            if tcp_info is not None and tcp_info.server_state is not None else None
        )
        verdict = tcp_info.analysis if tcp_info is not None else None
        add("analysis").append([name for name, _ in verdict.reasons()] if verdict else [])
        add("app").append(app)
        add("malformed").append(bad.reason if bad is not None else None)
        add("truncated").append(packet.truncated)
        add("info").append(info_text(shown, t0, info))
    return _table({name: (PACKET_COLUMNS[name][0], values) for name, values in cols.items()})


def packets_frame(source: Source, *, flows: bool = True) -> DataFrame:
    """One row per packet (columns: :data:`PACKET_COLUMNS`).

    ``source`` is a capture path, a binary file, or packets.  With ``flows``
    the packets go through the conversation stages, which fill ``seq``/``ack``
    (relative, as Wireshark shows them), ``stream``, the states and
    ``analysis``; without it those columns are empty and reading is faster.
    The columns named as in :func:`layerpeek.table` mean what they mean
    there (:mod:`layerpeek.columnar.vocabulary`): the frame as captured, even
    where the flow stage reassembled a datagram on it.
    """
    return _frame(packets_arrow(source, flows=flows))


# --------------------------------------------------------------------------- conversations

#: Zeek ``conn.log`` columns first (same names), then layerpeek's own.
CONVERSATION_COLUMNS: dict[str, tuple[str, str]] = {
    "ts": ("time", "first packet's time"),
    "uid": ("str", "layerpeek's stable id: T<stream> for TCP, U<stream> for UDP"),
    "id.orig_h": ("str", "client (originator) address"),
    "id.orig_p": ("int", "client port"),
    "id.resp_h": ("str", "server (responder) address"),
    "id.resp_p": ("int", "server port"),
    "proto": ("str", "tcp or udp"),
    "service": ("str", "application protocols decoded in it, comma separated"),
    "duration": ("float", "seconds from first to last packet"),
    "orig_bytes": ("int", "payload bytes from the client (sequence space for TCP)"),
    "resp_bytes": ("int", "payload bytes from the server"),
    "conn_state": ("str", "Zeek's conn_state: S0, SF, REJ, RSTO, ..."),
    "missed_bytes": ("int", "bytes in content gaps"),
    "history": ("str", "Zeek's history letters"),
    "orig_pkts": ("int", "packets from the client"),
    "orig_ip_bytes": ("int", "IP bytes from the client, headers included"),
    "resp_pkts": ("int", "packets from the server"),
    "resp_ip_bytes": ("int", "IP bytes from the server"),
    "stream": ("int", "tcp.stream / udp.stream index"),
    "first_frame": ("int", "first frame number"),
    "last_frame": ("int", "last frame number"),
    "client_state": ("str", "client's TCP state at the end"),
    "server_state": ("str", "server's TCP state at the end"),
    "close": ("str", "four-way, simultaneous, half-close, rst, refused, open"),
    "rtt_ms": ("float", "initial RTT, SYN to ACK (tcp.analysis.initial_rtt)"),
    "retransmissions": ("int", "segments flagged as any kind of retransmission"),
    "out_of_order": ("int", "segments flagged out-of-order"),
}


def conversations_arrow(source: Source) -> ArrowTable:
    """:func:`conversations_frame` as an Arrow table."""
    from layerpeek.flows.tracker import TCPConversation
    from layerpeek.notebook.ladder import conversations

    convs = conversations(source)
    cols: dict[str, list[Any]] = {name: [] for name in CONVERSATION_COLUMNS}
    for conv in convs:
        tcp = isinstance(conv, TCPConversation)
        key = (conv.proto, conv.id)
        ip_bytes = convs.ip_bytes.get(key, (0, 0))
        values: dict[str, Any] = {
            "ts": _timestamp(conv.first_ts_ns),
            "uid": f"{'T' if tcp else 'U'}{conv.id}",
            "id.orig_h": conv.client.ip,
            "id.orig_p": conv.client.port,
            "id.resp_h": conv.server.ip,
            "id.resp_p": conv.server.port,
            "proto": conv.proto,
            "service": ",".join(convs.services.get(key, ())) or None,
            "duration": conv.duration_ns / 1e9,
            "orig_bytes": conv.zeek.orig.size if tcp else conv.bytes_client,
            "resp_bytes": conv.zeek.resp.size if tcp else conv.bytes_server,
            "conn_state": conv.conn_state,
            "missed_bytes": conv.missed_bytes_client + conv.missed_bytes_server if tcp else 0,
            "history": conv.history,
            "orig_pkts": conv.packets_client,
            "orig_ip_bytes": ip_bytes[0],
            "resp_pkts": conv.packets_server,
            "resp_ip_bytes": ip_bytes[1],
            "stream": conv.id,
            "first_frame": conv.first_frame,
            "last_frame": conv.last_frame,
            "client_state": conv.client_state.value if tcp else None,
            "server_state": conv.server_state.value if tcp else None,
            "close": conv.close.kind if tcp else None,
            "rtt_ms": None,
            "retransmissions": None,
            "out_of_order": None,
        }
        if tcp:
            rtt = conv.handshake.rtt_ns
            values["rtt_ms"] = None if rtt is None else rtt / 1e6
            a = conv.analysis
            values["retransmissions"] = sum(
                n for name, n in a.items() if name.endswith("retransmission")
            )
            values["out_of_order"] = a.get("tcp.analysis.out_of_order", 0)
        for name in CONVERSATION_COLUMNS:
            cols[name].append(values[name])
    return _table({n: (CONVERSATION_COLUMNS[n][0], v) for n, v in cols.items()})


def conversations_frame(source: Source) -> DataFrame:
    """One row per TCP/UDP conversation, Zeek ``conn.log`` style (:data:`CONVERSATION_COLUMNS`).

    The ``conn_state`` and ``history`` values are Zeek's, derived from the
    wire (see :mod:`layerpeek.flows.zeek`), so a frame built here can be
    compared with a real conn.log column by column.
    """
    return _frame(conversations_arrow(source))


# --------------------------------------------------------------------------- HTTP

#: Column → (Arrow type, meaning) for :func:`http_frame`.
HTTP_COLUMNS: dict[str, tuple[str, str]] = {
    "time": ("time", "the request's first byte (or the response's)"),
    "stream": ("int", "tcp.stream of the connection"),
    "index": ("int", "position of the exchange on its connection, from 0"),
    "http_version": ("str", "HTTP/1.1, HTTP/2, … (an h2c upgrade counts as HTTP/2)"),
    "http2_stream": ("int", "the HTTP/2 stream id (empty for HTTP/1.x)"),
    "client": ("str", "client address:port"),
    "server": ("str", "server address:port"),
    "method": ("str", "request method"),
    "host": ("str", "Host header (or the absolute target's authority)"),
    "target": ("str", "request target as sent"),
    "status": ("int", "response status code"),
    "reason": ("str", "response reason phrase"),
    "content_type": ("str", "response Content-Type"),
    "content_encoding": ("str", "response Content-Encoding"),
    "transfer_encoding": ("str", "response Transfer-Encoding"),
    "request_body_len": ("int", "request body bytes (after de-chunking)"),
    "response_body_len": ("int", "response body bytes (after de-chunking)"),
    "response_body_decoded_len": ("int", "response body bytes after Content-Encoding"),
    "duration": ("float", "request's first byte to response's last, seconds"),
    "first_frame": ("int", "first frame of the exchange"),
    "complete": ("bool", "both messages present and whole"),
    "problem": ("str", "why it is not complete"),
}


def http_arrow(source: Source) -> ArrowTable:
    """:func:`http_frame` as an Arrow table."""
    from layerpeek.notebook.http import exchanges

    cols: dict[str, list[Any]] = {name: [] for name in HTTP_COLUMNS}
    for ex in exchanges(source):
        record = ex.to_dict()
        record["time"] = _timestamp(ex.start_ts_ns)
        record["first_frame"] = ex.first_frame
        for name in HTTP_COLUMNS:
            cols[name].append(record.get(name))
    return _table({n: (HTTP_COLUMNS[n][0], v) for n, v in cols.items()})


def http_frame(source: Source) -> DataFrame:
    """One row per HTTP/1.x or HTTP/2 request/response exchange (:data:`HTTP_COLUMNS`).

    The exchanges come from reassembled TCP streams
    (:func:`layerpeek.http.exchanges`), so bodies spanning many segments,
    chunked bodies and pipelined requests are whole here.
    """
    return _frame(http_arrow(source))


__all__ = [
    "CONVERSATION_COLUMNS",
    "HTTP_COLUMNS",
    "PACKET_COLUMNS",
    "conversations_arrow",
    "conversations_frame",
    "http_arrow",
    "http_frame",
    "packets_arrow",
    "packets_frame",
    "to_arrow",
]
