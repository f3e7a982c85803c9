"""The table being built, as NumPy arrays: one per field, filled batch by batch.

:class:`ColumnArrays` holds what the vectorised decoder
(:mod:`layerpeek.columnar.decoder`) and the per-packet fallback
(:meth:`ColumnArrays.fill`) write; :mod:`layerpeek.columnar.arrow` turns it
into Arrow columns.  Addresses are kept as integers and formatted last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from layerpeek.columnar.vocabulary import tcp_payload_lengths

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from layerpeek.packet import Layer

#: Frames decoded together (see :func:`layerpeek.columnar.build.decode_records`):
#: a batch's windows (2.4 MB) and the decoder's arrays over it (128 kB each)
#: stay in the CPU's caches.  Measured on the bench capture when batching came
#: in: 4096 → 99 ms a table, 8192 → 92, 16 384 → 84, 32 768 → 88, 65 536 → 94,
#: the whole capture at once → 107.  Read at call time (a test may change it).
BATCH = 16384


#: The type each column of :class:`ColumnArrays` is kept in: its Arrow type's
#: (``ip_src``/``ip_dst`` are two uint64 words a row).
_KEPT_AS: dict[str, Any] = {
    "ts_ns": np.int64,  # what the record header says (filled from Records)
    "cap_len": np.uint32,
    "wire_len": np.uint32,
    "interface": np.uint32,
    "link_type": np.uint32,
    "eth": np.bool_,
    "eth_src": np.uint64,
    "eth_dst": np.uint64,
    "eth_type": np.uint16,
    "ip_version": np.uint8,
    "ip_src": np.uint64,
    "ip_dst": np.uint64,
    "ip_id": np.uint16,
    "ip_ttl": np.uint8,
    "ip_proto": np.uint8,
    "ip_flags": np.uint8,
    "ports": np.bool_,
    "src_port": np.uint16,
    "dst_port": np.uint16,
    "tcp": np.bool_,
    "tcp_seq": np.uint32,
    "tcp_ack": np.uint32,
    "tcp_flags": np.uint16,
    "tcp_window": np.uint16,
    "tcp_len": np.uint32,
    "tcp_cap_len": np.uint32,
    "udp": np.bool_,
    "udp_length": np.uint16,
    "icmp": np.bool_,  # for community_id: ICMP type and code
    "icmp_type": np.uint8,
    "icmp_code": np.uint8,
    "path": np.int32,
    "malformed": np.int32,
}


#: The columns taken from :class:`Records` whole, not decoded.
FROM_RECORDS = ("ts_ns", "cap_len", "wire_len", "interface", "link_type")

#: The columns :func:`_decode` and :meth:`ColumnArrays.fill` give.
DECODED = tuple(name for name in _KEPT_AS if name not in FROM_RECORDS)

#: What a batch's columns need not allocate: the record header's and those
#: :func:`_decode` assigns whole (the rest it writes into, row by row or
#: under masks).
_SET_WHOLE_BY_DECODE = (
    *FROM_RECORDS,
    "eth", "eth_src", "eth_dst", "eth_type", "ip_version", "ip_id", "ip_ttl", "ip_proto",
    "ip_flags", "ports", "src_port", "dst_port", "tcp", "tcp_seq", "tcp_ack", "tcp_flags",
    "tcp_window", "tcp_len", "tcp_cap_len", "udp", "udp_length",
)


class ColumnArrays:
    """The table being built: one NumPy array (and validity mask) per field.

    Addresses are kept as integers: a MAC in one uint64, an IP address in two
    (``ip_src_hi``/``ip_src_lo``; IPv4 sits in the top 32 bits of ``hi``).
    """

    ts_ns: NDArray[Any]
    cap_len: NDArray[Any]
    wire_len: NDArray[Any]
    interface: NDArray[Any]
    link_type: NDArray[Any]
    eth: NDArray[Any]
    eth_src: NDArray[Any]
    eth_dst: NDArray[Any]
    eth_type: NDArray[Any]
    ip_version: NDArray[Any]
    ip_src: NDArray[Any]
    ip_dst: NDArray[Any]
    ip_id: NDArray[Any]
    ip_ttl: NDArray[Any]
    ip_proto: NDArray[Any]
    ip_flags: NDArray[Any]
    ports: NDArray[Any]
    src_port: NDArray[Any]
    dst_port: NDArray[Any]
    tcp: NDArray[Any]
    tcp_seq: NDArray[Any]
    tcp_ack: NDArray[Any]
    tcp_flags: NDArray[Any]
    tcp_window: NDArray[Any]
    tcp_len: NDArray[Any]
    tcp_cap_len: NDArray[Any]
    udp: NDArray[Any]
    udp_length: NDArray[Any]
    icmp: NDArray[Any]
    icmp_type: NDArray[Any]
    icmp_code: NDArray[Any]
    path: NDArray[Any]
    malformed: NDArray[Any]

    def __init__(self, n: int, unset: Iterable[str] = ()) -> None:
        """Zeroed columns for ``n`` rows, but for those named in ``unset`` (left unset)."""
        self.n = n
        skip = set(unset)
        for name, dtype in _KEPT_AS.items():
            if name not in skip:
                shape = (n, 2) if name in ("ip_src", "ip_dst") else n
                setattr(self, name, np.zeros(shape, dtype))
        self.malformed = np.full(n, -1, np.int32)
        self.path_names: dict[str, int] = {}
        self.malformed_names: dict[str, int] = {}
        #: What a registered payload decoder said of a message (see _other_payloads).
        self.verdicts: dict[tuple[int, int, bool, bytes], tuple[str, str | None] | None] = {}
        self.verdict_codes: dict[tuple[int, tuple[str, str | None]], tuple[int, int]] = {}

    def batch(self, n: int) -> ColumnArrays:
        """Columns for ``n`` rows that number paths and reasons as these do.

        Those :func:`_decode` sets whole are left for it to set.
        """
        part = ColumnArrays(n, _SET_WHOLE_BY_DECODE)
        part.path_names = self.path_names
        part.malformed_names = self.malformed_names
        part.verdicts = self.verdicts
        part.verdict_codes = self.verdict_codes
        return part

    def put(self, start: int, part: ColumnArrays) -> None:
        """Rows ``start`` onwards from ``part`` (from :meth:`batch`), in this table's types."""
        stop = start + part.n
        for name in DECODED:
            getattr(self, name)[start:stop] = getattr(part, name)

    def path_code(self, path: str) -> int:
        code = self.path_names.get(path)
        if code is None:
            code = self.path_names[path] = len(self.path_names)
        return code

    def malformed_code(self, reason: str) -> int:
        code = self.malformed_names.get(reason)
        if code is None:
            code = self.malformed_names[reason] = len(self.malformed_names)
        return code

    def fill(
        self, i: int, layers: Sequence[Layer], spans: Sequence[tuple[int, int]], cap_len: int
    ) -> None:
        """Row ``i`` from a per-packet decode (the fallback path): its layers and their spans."""
        from layerpeek.layers import ICMP, TCP, UDP, Ethernet, ICMPv6, IPv4, IPv6
        from layerpeek.packet import Malformed

        self.path[i] = self.path_code(":".join(layer.short for layer in layers))
        seen_eth = seen_ip = seen_l4 = seen_icmp = False
        for at, layer in enumerate(layers):
            if isinstance(layer, Ethernet) and not seen_eth:
                seen_eth = True
                self.eth[i] = True
                self.eth_src[i] = int.from_bytes(layer.src, "big")
                self.eth_dst[i] = int.from_bytes(layer.dst, "big")
                self.eth_type[i] = layer.type
            elif isinstance(layer, IPv4) and not seen_ip:
                seen_ip = True
                self.ip_version[i] = 4
                self.ip_src[i] = (int.from_bytes(layer.src, "big") << 32, 0)
                self.ip_dst[i] = (int.from_bytes(layer.dst, "big") << 32, 0)
                self.ip_id[i] = layer.id
                self.ip_flags[i] = layer.flags
                self.ip_ttl[i] = layer.ttl
                self.ip_proto[i] = layer.protocol
            elif isinstance(layer, IPv6) and not seen_ip:
                seen_ip = True
                self.ip_version[i] = 6
                src, dst = layer.src, layer.dst
                self.ip_src[i] = (int.from_bytes(src[:8], "big"), int.from_bytes(src[8:], "big"))
                self.ip_dst[i] = (int.from_bytes(dst[:8], "big"), int.from_bytes(dst[8:], "big"))
                self.ip_ttl[i] = layer.hop_limit
                self.ip_proto[i] = layer.protocol
            elif isinstance(layer, TCP) and not seen_l4:
                seen_l4 = True
                self.ports[i] = True
                self.src_port[i] = layer.src_port
                self.dst_port[i] = layer.dst_port
                self.tcp[i] = True
                self.tcp_seq[i] = layer.seq
                self.tcp_ack[i] = layer.ack
                self.tcp_flags[i] = layer.flags
                self.tcp_window[i] = layer.window
                self.tcp_len[i], self.tcp_cap_len[i] = tcp_payload_lengths(
                    layers, spans, cap_len, at
                )
            elif isinstance(layer, UDP) and not seen_l4:
                seen_l4 = True
                self.ports[i] = True
                self.src_port[i] = layer.src_port
                self.dst_port[i] = layer.dst_port
                self.udp[i] = True
                self.udp_length[i] = layer.length
            elif isinstance(layer, (ICMP, ICMPv6)) and seen_ip and not (seen_l4 or seen_icmp):
                seen_icmp = True
                self.icmp[i] = True
                self.icmp_type[i] = layer.type
                self.icmp_code[i] = layer.code
        if layers and isinstance(layers[-1], Malformed):
            self.malformed[i] = self.malformed_code(layers[-1].reason)
