"""Steps 2 and 3 of a table: decode every frame's headers vectorised, with a per-row fallback.

With every frame's offset in an array, each header field is one gather for
all frames, a batch (:data:`~layerpeek.columnar.column_arrays.BATCH`) at a
time so that the decoder's arrays stay in the CPU's caches.  The first 144
bytes around each frame of a batch are copied into one block first
(:class:`Windows`), and the block is seen through strided big-endian views
with a stride of one byte (:class:`Reader`), so element ``k`` of the 64-bit
view is the integer in bytes ``k..k+7``: one gather at ``ip_offset`` reads
version, lengths, id and fragment field of every frame at once.  Link layer
(Ethernet, up to two VLAN tags, SLL, SLL2, BSD loopback, raw IP) → IPv4 (no
options, not a fragment) / IPv6 (no extension headers) → TCP (options checked
for damage, also vectorised) / UDP → what the payload is (the registry's port
tables and the HTTP heuristic, evaluated on arrays).  A payload another
registered decoder claims (DNS) is handed to just that decoder.

A frame the vectorised path does not model exactly (ARP, ICMP, IP options,
IPv6 extension headers, fragments, anything short or malformed, an unknown
link type) is left for the per-packet decoder
(:func:`layerpeek.decode.decode_layers`, run by
:func:`layerpeek.columnar.build.decode_records`): the vectorised path only
takes a frame when it is sure to give the per-packet decoder's values;
``tests/test_table.py`` checks that on every capture the project has, and on
mutated frames.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from layerpeek.columnar import _compiled

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from layerpeek.columnar.column_arrays import ColumnArrays
    from layerpeek.columnar.records import Records
    from layerpeek.dissect import Dissector

    IntArray = NDArray[np.int64]
    BoolArray = NDArray[np.bool_]

_TPIDS = (0x8100, 0x88A8, 0x9100)
_IPV6_EXTENSIONS = (0, 43, 44, 51, 60)
# Lookup tables: one gather instead of a comparison per value.  The TPID
# table's last entry answers for -1, the decoder's "no type".
_IS_TPID = np.zeros(0x10000 + 1, np.bool_)
_IS_TPID[list(_TPIDS)] = True
_IS_IPV6_EXTENSION = np.zeros(256, np.bool_)
_IS_IPV6_EXTENSION[list(_IPV6_EXTENSIONS)] = True
_RAW_EITHER = (101, 12, 14)
_NULL_LINKTYPES = (0, 108)
_NULL_INET6 = (10, 24, 28, 30)

#: Link layers of the vectorised path, as they start the protocol path.
_LINK_NAMES = ("eth", "sll", "sll2", "null", "")
_APP_NAMES = ("", "http", "data")
_COMBINATIONS = len(_LINK_NAMES) * 3 * 2 * 2 * len(_APP_NAMES)

#: What the vectorised path can say about a port: nothing claims it, the HTTP
#: decoder claims it, or some other decoder does (that row falls back).
_PORT_NONE, _PORT_HTTP, _PORT_OTHER = 0, 1, 2
#: Largest TLS record fragment (layerpeek.tls.records.MAX_FRAGMENT), for the TLS heuristic.
_TLS_MAX_FRAGMENT = (1 << 14) + 2048




def _port_tables() -> tuple[list[dict[int, Dissector]], NDArray[np.int8], NDArray[np.int8], bool]:
    """The registry's port tables, as dicts and as code arrays, and whether its
    heuristics are the ones the vectorised path models.

    Read from :func:`layerpeek.decode.registry` at call time, so a decoder
    added there later is honoured (its rows go through it) rather than
    silently mislabelled.
    """
    from layerpeek.decode import registry

    reg = registry()
    dicts: list[dict[int, Dissector]] = []
    codes: list[NDArray[np.int8]] = []
    for name in ("tcp_port", "udp_port"):
        table = reg.tables[name]
        code = np.zeros(65536, np.int8)
        for port, dissector in table.items():
            if 0 <= port < 65536:
                code[port] = _PORT_HTTP if dissector.protocol == "http" else _PORT_OTHER
        dicts.append(table)
        codes.append(code)
    heuristics_ok = not reg.heuristics["udp_port"] and [
        d.protocol for d in reg.heuristics["tcp_port"]
    ] in (["http"], ["http", "tls"])
    return dicts, codes[0], codes[1], heuristics_ok


def _http_starts() -> list[tuple[int, int]]:
    """(length, big-endian value) of each prefix the HTTP heuristic looks for."""
    from layerpeek.layers.http import STARTS

    return [(len(p), int.from_bytes(p, "big")) for p in STARTS if len(p) <= 8]


def _tcp_options_ok(buf: bytes | mmap.mmap, pos: int, end: int) -> bool:
    """Would :mod:`layerpeek.layers.tcp` parse these options without a Malformed marker?

    The same length rules, without building option objects.
    """
    while pos < end:
        kind = buf[pos]
        if kind == 1:
            pos += 1
            continue
        if kind == 0:
            return True
        if pos + 1 >= end:
            return False
        length = buf[pos + 1]
        if length < 2 or pos + length > end:
            return False
        pos += length
    return True


def _tcp_options_valid(read: Reader, pos: IntArray, stop: IntArray) -> BoolArray:
    """:func:`_tcp_options_ok` for many option areas at once, one option per step."""
    ok = np.ones(len(pos), np.bool_)
    active = np.flatnonzero(pos < stop)
    while len(active):
        p = pos[active]
        s = stop[active]
        kind = read(1, p)
        length = np.where(kind == 1, 1, read(1, p + 1))
        bad = (kind > 1) & ((p + 1 >= s) | (length < 2) | (p + length > s))
        ok[active[bad]] = False
        pos[active] = p + length
        keep = (kind != 0) & ~bad & (p + length < s)
        active = active[keep]
    return ok

#: ``rows`` for a read whose positions are one per frame, every frame.
EVERY_ROW = slice(None)

#: How many bytes around each frame :class:`Windows` copies: from 16 bytes
#: before the frame (a pcap record header; the Ethernet destination is read
#: as the low 6 bytes of the 8-byte word 2 bytes before the frame) to 128
#: after it: Ethernet, IPv6 and a TCP header with 40 bytes of options, and
#: the first 8 bytes of the payload.
BEFORE = 16
BLOCK = BEFORE + 128


@dataclass
class Windows:
    """The first :data:`BLOCK` bytes around every frame, copied into one block.

    Why: in the capture the frames lie ~800 bytes apart, so reading one
    field of every frame misses the CPU caches once per frame (measured
    6.4 ms per field for 137 000 frames, against 0.1 ms for an arithmetic
    pass over a column of that length).  One copy of rows (in C when the
    extension is built, else a NumPy gather) puts what the decoder reads
    into contiguous memory; every later read is served from there.
    ``base[i]`` is where row ``i`` starts in the capture.  Made for one
    batch of frames at a time (:data:`~layerpeek.columnar.column_arrays.BATCH`): 2.4 MB, reused.
    """

    block: NDArray[np.uint8]
    base: IntArray

    @classmethod
    def copy(cls, buf: bytes | mmap.mmap, frames: IntArray) -> Windows | None:
        size = len(buf)
        if not len(frames) or size < BLOCK:
            return None
        base = np.maximum(frames - BEFORE, 0)
        if _compiled.ENABLED:
            speedups = _compiled.speedups
            assert speedups is not None
            packed = speedups.copy_windows(buf, np.ascontiguousarray(base, np.int64), BLOCK)
            rows = np.frombuffer(packed, np.uint8).reshape(len(base), BLOCK)
            return cls(rows, base)
        inside = base <= size - BLOCK
        whole = np.ndarray((size,), np.uint8, buffer=buf)
        windows = np.lib.stride_tricks.as_strided(
            whole, (size - BLOCK + 1, BLOCK), (1, 1), writeable=False
        )
        try:
            block = windows[np.where(inside, base, 0)]
            # The last few frames' windows run past the end of the buffer:
            # what is there, then zeros (a read past the end is masked out
            # by the caller's length checks, as with the buffer itself).
            for row in np.flatnonzero(~inside).tolist():
                start = int(base[row])
                block[row, : size - start] = whole[start:]
                block[row, size - start :] = 0
        finally:
            del windows, whole  # no view of ``buf`` may outlive this call (mmap.close)
        return cls(block, base)


class Reader:
    """Big-endian integers at arbitrary offsets of a buffer, for many offsets at once.

    Each width is a strided NumPy view with a stride of one byte, so element
    ``k`` of the 16-bit view is the integer in bytes ``k, k+1``: reading a field
    of every frame is one gather.  Offsets past the end are clipped; callers
    mask those rows out by their lengths.

    With :class:`Windows` given, reads whose ``rows`` are given and which
    fall inside those frames' windows are served from the compact copy;
    anything else (a long option area, a deep VLAN stack) reads the buffer.
    """

    def __init__(self, buf: bytes | mmap.mmap, windows: Windows | None = None) -> None:
        size = len(buf)
        self.views = {
            width: np.ndarray((size - width + 1,), f">u{width}", buffer=buf, strides=(1,))
            for width in (1, 2, 4, 8)
        }
        self.last = {width: size - width for width in (1, 2, 4, 8)}
        self.block_views: dict[int, NDArray[Any]] = {}
        if windows is None:
            return
        self.base = windows.base
        self.rows = np.arange(len(windows.base), dtype=np.int64) * BLOCK
        flat = windows.block.reshape(-1)
        self.block_views = {
            width: np.ndarray((flat.size - width + 1,), f">u{width}", buffer=flat, strides=(1,))
            for width in (1, 2, 4, 8)
        }

    def _gather(self, width: int, pos: IntArray, rows: slice | IntArray | BoolArray | None) -> Any:
        if rows is None or not self.block_views:
            return self.views[width][np.minimum(pos, self.last[width])]
        if isinstance(rows, np.ndarray) and rows.dtype == np.bool_:
            rows = EVERY_ROW if rows.all() else np.flatnonzero(rows)
        rel = pos - self.base[rows]
        if len(rel):
            # Mostly one or two offsets into the window (IPv4 and IPv6 put TCP
            # at two): strided columns rather than a gather; for some of the
            # frames, the column's values for those rows.
            low, high = int(rel.min()), int(rel.max())
            if low >= 0 and high <= BLOCK - width:
                if low == high:
                    return self._column(width, low)[rows]
                at_low = rel == low
                if np.count_nonzero(at_low) + np.count_nonzero(rel == high) == len(rel):
                    return np.where(
                        at_low, self._column(width, low)[rows], self._column(width, high)[rows]
                    )
        inside = (rel >= 0) & (rel <= BLOCK - width)
        at = self.rows[rows] + rel
        if inside.all():
            return self.block_views[width][at]
        values = self.block_views[width][np.where(inside, at, 0)]
        outside = ~inside
        values[outside] = self.views[width][np.minimum(pos[outside], self.last[width])]
        return values

    def _column(self, width: int, at: int) -> Any:
        """The integer ``at`` bytes into every window: element ``i`` is row ``i``'s."""
        return self.block_views[width][at : at + len(self.rows) * BLOCK : BLOCK]

    def __call__(
        self, width: int, pos: IntArray, rows: slice | IntArray | BoolArray | None = None
    ) -> IntArray:
        """Read at ``pos``; ``rows`` are the frames those positions belong to
        (:data:`EVERY_ROW`, a mask or indices), None: read the capture itself."""
        values: IntArray = self._gather(width, pos, rows).astype(np.int64)
        return values

    def u64(
        self, pos: IntArray, rows: slice | IntArray | BoolArray | None = None
    ) -> NDArray[np.uint64]:
        values: NDArray[np.uint64] = self._gather(8, pos, rows).astype(np.uint64)
        return values

    def close(self) -> None:
        self.views.clear()
        self.block_views.clear()


def decode_vectorised(
    read: Reader, buf: bytes | mmap.mmap, rec: Records, cols: ColumnArrays
) -> BoolArray:
    """Fill ``cols`` for every frame the vectorised path takes; return that mask."""
    n = len(rec)
    off = rec.data_off
    cap = rec.cap_len
    end = off + cap
    lt = rec.linktype

    # -- link layer ----------------------------------------------------------
    m = (lt == 1) & (cap >= 14)
    if m.all():  # the usual capture: every frame Ethernet; whole columns, no masks
        link = np.zeros(n, np.int64)
        l3 = off + 14
        src_type = read(8, off + 6, EVERY_ROW)  # Ethernet source MAC and type
        et = src_type & 0xFFFF
    else:
        link = np.full(n, -1, np.int64)
        l3 = off.copy()
        et = np.full(n, -1, np.int64)
        link[m] = 0
        l3[m] = off[m] + 14
        src_type = np.zeros(n, np.int64)  # Ethernet source MAC and type: one 8-byte read
        src_type[m] = read(8, off[m] + 6, m)
        et[m] = src_type[m] & 0xFFFF
    if (lt != 1).any():
        m = (lt == 113) & (cap >= 16)
        link[m] = 1
        l3[m] = off[m] + 16
        et[m] = np.where(read(2, off[m] + 2, m) == 824, -1, read(2, off[m] + 14, m))  # netlink
        m = (lt == 276) & (cap >= 20)
        link[m] = 2
        l3[m] = off[m] + 20
        et[m] = np.where(read(2, off[m] + 8, m) == 824, -1, read(2, off[m], m))
        m = np.isin(lt, _NULL_LINKTYPES) & (cap >= 4)
        if m.any():
            be = read(4, off[m], m)
            le = be.byteswap()
            le = ((be & 0xFF) << 24) | ((be & 0xFF00) << 8) | ((be >> 8) & 0xFF00) | (be >> 24)
            family = np.where((le & 0xFFFF) == 0, be, le)  # the byte order test of null.py
            link[m] = 3
            l3[m] = off[m] + 4
            et[m] = np.where(
                family == 2, 0x0800, np.where(np.isin(family, _NULL_INET6), 0x86DD, -1)
            )
        m = np.isin(lt, _RAW_EITHER) & (cap >= 1)
        if m.any():
            nibble = read(1, off[m], m) >> 4
            link[m] = 4
            et[m] = np.where(nibble == 4, 0x0800, np.where(nibble == 6, 0x86DD, -1))
        m = (lt == 228) & (cap >= 1)
        link[m] = 4
        et[m] = 0x0800
        m = (lt == 229) & (cap >= 1)
        link[m] = 4
        et[m] = 0x86DD
    eth = link == 0
    eth_type = et.copy()
    vlans = np.zeros(n, np.int64)
    for _ in range(2):  # 802.1Q / QinQ tags; a third tag falls back
        tag = _IS_TPID[et] & (link >= 0)  # et is -1 (no type) or 16 bits
        if not tag.any():
            break
        short = tag & (l3 + 4 > end)
        et[short] = -1
        tag &= ~short
        et[tag] = read(2, l3[tag] + 2, tag)
        l3[tag] += 4
        vlans[tag] += 1

    # -- IPv4 (no options, not a fragment) / IPv6 (no extension headers) -------
    # Two 8-byte reads hold every field used: IPv4 version/IHL, TOS, total
    # length, id, flags/offset | TTL, protocol, checksum, source; IPv6
    # version/class/flow, payload length, next header, hop limit.
    w0 = read(8, l3, EVERY_ROW)
    w1 = read(8, l3 + 8, EVERY_ROW)
    v4 = (et == 0x0800) & (end - l3 >= 20) & (((w0 >> 56) & 0xFF) == 0x45)
    total = (w0 >> 32) & 0xFFFF
    frag = w0 & 0xFFFF
    v4 &= (total >= 20) & ((frag & 0x3FFF) == 0)
    v6 = (et == 0x86DD) & (end - l3 >= 40) & (((w0 >> 60) & 0xF) == 6)
    next6 = (w0 >> 8) & 0xFF
    v6 &= ~_IS_IPV6_EXTENSION[next6]
    proto = np.where(v4, (w1 >> 48) & 0xFF, next6)
    plen6 = (w0 >> 16) & 0xFFFF
    pend = np.where(
        v4,
        np.minimum(l3 + total, end),
        np.where(plen6 > 0, np.minimum(l3 + 40 + plen6, end), end),
    )
    l4 = np.where(v4, l3 + 20, l3 + 40)
    ip = (v4 | v6) & (l4 < pend) & ((proto == 6) | (proto == 17))

    # -- TCP and UDP -------------------------------------------------------------
    x0 = read(8, l4, EVERY_ROW)  # ports, then TCP seq / UDP length and checksum
    x1 = read(8, l4 + 8, EVERY_ROW)  # TCP ack, data offset and flags, window
    sport = (x0 >> 48) & 0xFFFF
    dport = (x0 >> 32) & 0xFFFF
    tcp = ip & (proto == 6) & (pend - l4 >= 20)
    offset_flags = (x1 >> 16) & 0xFFFF
    header_len = (offset_flags >> 10) & 0x3C
    tcp &= (header_len >= 20) & (l4 + header_len <= pend)
    with_options = tcp & (header_len > 20)
    if with_options.any():
        # What Linux sends on every SYN and SYN-ACK (MSS, SACK permitted,
        # Timestamps, NOP, window scale: 40 bytes) is well-formed by sight.
        # Two layouts cover nearly every segment and are well-formed by sight:
        # NOP, NOP, Timestamps (12 bytes: Linux once timestamps are agreed) and
        # what Linux puts on SYN and SYN-ACK (MSS, SACK permitted, Timestamps,
        # NOP, window scale: 20 bytes).  Only other layouts are walked.
        # Whole columns (nearly every segment has options): no gathers of rows.
        first8 = read(8, l4 + 20, EVERY_ROW)
        timestamps = (header_len == 32) & (((first8 >> 32) & 0xFFFF_FFFF) == 0x0101_080A)
        linux_syn = (
            with_options
            & (header_len == 40)
            & (((first8 >> 48) & 0xFFFF) == 0x0204)  # MSS, any value
            & ((first8 & 0xFFFF_FFFF) == 0x0402_080A)  # SACK permitted, Timestamps
        )
        syn_rows = np.flatnonzero(linux_syn)
        nop_ws = read(4, l4[syn_rows] + 36, syn_rows) >> 8
        linux_syn[syn_rows] = nop_ws == 0x01_0303  # NOP, window scale
        rows = np.flatnonzero(with_options & ~(timestamps | linux_syn))
        tcp[rows[~_tcp_options_valid(read, l4[rows] + 20, l4[rows] + header_len[rows])]] = False
    udp = ip & (proto == 17) & (pend - l4 >= 8)
    udp_length = (x0 >> 16) & 0xFFFF
    udp &= (udp_length == 0) | (udp_length >= 8)
    payload = np.where(tcp, l4 + header_len, l4 + 8)
    payload_end = np.where(
        tcp | (udp_length == 0), pend, np.minimum(pend, l4 + udp_length)
    )

    # -- what the payload is ---------------------------------------------------
    dicts, tcp_codes, udp_codes, heuristics_ok = _port_tables()
    lo = np.minimum(sport, dport)
    hi = np.maximum(sport, dport)
    has_payload = (tcp | udp) & (payload < payload_end)
    found = np.where(tcp, tcp_codes[lo], udp_codes[lo]).astype(np.int64)
    found = np.where(found != _PORT_NONE, found, np.where(tcp, tcp_codes[hi], udp_codes[hi]))
    fast: BoolArray = tcp | udp
    if not heuristics_ok:
        fast &= ~has_payload
    other = fast & has_payload & (found == _PORT_OTHER)  # e.g. DNS: its decoder runs below
    avail = payload_end - payload
    head = read.u64(payload, EVERY_ROW)
    # The TLS heuristic (a record header on a port no table claims): such rows
    # take the per-row path, where the TLS decoder runs.  Its test is the one
    # of layerpeek.tls.records.plausible_header, on the first five bytes.
    tls_first = head >> np.uint64(56)
    record_len = (head >> np.uint64(24)) & np.uint64(0xFFFF)
    fast &= ~(
        tcp & has_payload & (found == _PORT_NONE) & (avail >= 5)
        & (tls_first >= 20) & (tls_first <= 24)
        & (((head >> np.uint64(48)) & np.uint64(0xFF)) == 3)
        & (((head >> np.uint64(40)) & np.uint64(0xFF)) <= 4)
        & (record_len > 0) & (record_len <= _TLS_MAX_FRAGMENT)
    )
    # Only payloads whose first byte starts some prefix are compared with
    # each prefix: in bulk data that is a few in a hundred.
    starts = _http_starts()
    first_bytes = np.zeros(256, np.bool_)
    first_bytes[[value >> (8 * length - 8) for length, value in starts]] = True
    maybe = np.flatnonzero(first_bytes[head >> np.uint64(56)] & tcp & has_payload)
    head = head[maybe]
    avail_head = avail[maybe]
    is_http = np.zeros(len(maybe), np.bool_)
    for length, value in starts:
        shift = np.uint64(64 - 8 * length)
        is_http |= (avail_head >= length) & ((head >> shift) == np.uint64(value))
    http = np.zeros(n, np.bool_)
    http[maybe] = is_http
    app = np.where(has_payload & ~other, np.where(http, 1, 2), 0)

    # -- store what the vectorised path decided --------------------------------
    # Whole columns, not masked: a row's value only counts where the column's
    # validity (eth, ip_version, ports, tcp, udp) says the layer is there;
    # what lies under a null is never read.
    idx = np.flatnonzero(fast)
    every: slice | IntArray = slice(None) if len(idx) == n else idx  # a view, not a gather
    fe = fast & eth
    cols.eth = fe
    dst_word = read.u64(off - 2, EVERY_ROW)  # 2 bytes before the frame, then the 6 of dst
    cols.eth_dst = dst_word & np.uint64(0xFFFF_FFFF_FFFF)
    cols.eth_src = (src_type >> 16) & 0xFFFF_FFFF_FFFF
    cols.eth_type = eth_type
    f4m = fast & v4
    f6m = fast & v6
    cols.ip_version = np.where(f4m, 4, np.where(f6m, 6, 0))
    f4 = np.flatnonzero(f4m)
    f6 = np.flatnonzero(f6m)
    addresses = read.u64(l3[f4] + 12, f4)  # source and destination
    cols.ip_src[f4, 0] = addresses & np.uint64(0xFFFF_FFFF_0000_0000)
    cols.ip_dst[f4, 0] = addresses << np.uint64(32)
    cols.ip_src[f6, 0] = read.u64(l3[f6] + 8, f6)
    cols.ip_src[f6, 1] = read.u64(l3[f6] + 16, f6)
    cols.ip_dst[f6, 0] = read.u64(l3[f6] + 24, f6)
    cols.ip_dst[f6, 1] = read.u64(l3[f6] + 32, f6)
    cols.ip_id = (w0 >> 16) & 0xFFFF
    cols.ip_flags = frag >> 13
    cols.ip_ttl = np.where(v4, (w1 >> 56) & 0xFF, w0 & 0xFF)
    cols.ip_proto = proto
    cols.ports = fast.copy()
    cols.src_port = sport
    cols.dst_port = dport
    ft = fast & tcp
    cols.tcp = ft
    cols.tcp_seq = x0 & 0xFFFF_FFFF
    cols.tcp_ack = (x1 >> 32) & 0xFFFF_FFFF
    cols.tcp_flags = offset_flags & 0xFFF
    cols.tcp_window = x1 & 0xFFFF
    # On the wire: what the IP header declares (an IPv6 payload length of 0
    # declares nothing: the captured end stands in, as the per-packet path says).
    wire_end = np.where(v4, l3 + total, np.where(plen6 > 0, l3 + 40 + plen6, end))
    cols.tcp_len = wire_end - payload
    cols.tcp_cap_len = payload_end - payload
    fu = fast & udp & ~tcp
    cols.udp = fu
    cols.udp_length = udp_length
    # Protocol path: one code per (link, vlans, ip version, transport, payload).
    # Few combinations exist (5 links × 3 tag counts × 2 × 2 × 3), so a lookup table
    # indexed by the combination replaces sorting.
    combo = (
        (((link[every] * 3 + vlans[every]) * 2 + v6[every]) * 2 + ~tcp[every]) * 3 + app[every]
    )
    lookup = np.zeros(_COMBINATIONS, np.int32)
    for value in np.flatnonzero(np.bincount(combo, minlength=_COMBINATIONS)).tolist():
        lookup[value] = cols.path_code(_combo_path(value))
    cols.path[every] = lookup[combo]
    # Payloads another decoder claims (DNS): run just that decoder on them.
    _other_payloads(
        buf, np.flatnonzero(other), off, end, payload, payload_end, lo, hi,
        udp & ~tcp, dicts, cols, fast,
    )
    return fast


def _combo_path(value: int) -> str:
    value, app_code = divmod(value, 3)
    value, is_udp = divmod(value, 2)
    value, is_v6 = divmod(value, 2)
    link_code, vlan_count = divmod(value, 3)
    parts = [_LINK_NAMES[link_code], *(["vlan"] * vlan_count)]
    parts += ["ipv6" if is_v6 else "ipv4", "udp" if is_udp else "tcp", _APP_NAMES[app_code]]
    return ":".join(p for p in parts if p)


def _other_payloads(
    buf: bytes | mmap.mmap,
    rows: IntArray,
    off: IntArray,
    end: IntArray,
    payload: IntArray,
    payload_end: IntArray,
    lo: IntArray,
    hi: IntArray,
    is_udp: BoolArray,
    dicts: list[dict[int, Dissector]],
    cols: ColumnArrays,
    fast: BoolArray,
) -> None:
    """Finish the path of rows whose payload a registered decoder claims.

    The headers below are already in the columns; only that one decoder
    runs, on the frame's bytes, and its verdict (its layer's name, and a
    Malformed marker with its reason) completes the path as the driver loop
    would.  A decoder that hands over further sends the row to the full
    fallback.

    DNS over UDP repeats itself (the same questions and answers, a new ID
    each time), and the DNS decoder never looks at the ID: its verdict is
    cached on the message without its first two bytes, the message's place
    in the frame and whether the frame ends with it.
    """
    from layerpeek.errors import DecodeError
    from layerpeek.packet import Malformed

    if not len(rows):
        return
    cache = cols.verdicts  # shared by the batches of one table
    names = {code: name for name, code in cols.path_names.items()}
    finished = cols.verdict_codes
    columns = zip(
        rows.tolist(), off[rows].tolist(), end[rows].tolist(), payload[rows].tolist(),
        payload_end[rows].tolist(), lo[rows].tolist(), hi[rows].tolist(),
        is_udp[rows].tolist(), cols.path[rows].tolist(), strict=True,
    )
    done_rows: list[int] = []
    done_paths: list[int] = []
    done_reasons: list[int] = []
    for i, base, stop_at, first, last, low, high, udp, path in columns:
        table = dicts[1] if udp else dicts[0]
        dissector = table.get(low) or table.get(high)
        if dissector is None:  # cannot happen: the code arrays come from these tables
            fast[i] = False
            continue
        key = None
        verdict: tuple[str, str | None] | None
        if udp and dissector.protocol == "dns":
            # Only the message is copied to look the verdict up; the frame
            # only when the decoder has to run.
            key = (id(dissector), first - base, last >= stop_at, bytes(buf[first + 2 : last]))
        if key is not None and key in cache:
            verdict = cache[key]
        else:
            frame = bytes(buf[base:stop_at])
            try:
                layer, after = dissector.decode(frame, first - base, last - base)
            except DecodeError as e:
                verdict = ("malformed", e.reason)
            else:
                if after is None:
                    verdict = (layer.short, None)
                elif isinstance(after, Malformed):
                    verdict = (f"{layer.short}:malformed", after.reason)
                else:
                    verdict = None  # hands over again: the full decode handles that
            if key is not None:
                cache[key] = verdict
        if verdict is None:
            fast[i] = False
            continue
        done = (path, verdict)
        codes = finished.get(done)
        if codes is None:
            suffix, reason = verdict
            codes = finished[done] = (
                cols.path_code(f"{names[path]}:{suffix}"),
                -1 if reason is None else cols.malformed_code(reason),
            )
        done_rows.append(i)
        done_paths.append(codes[0])
        done_reasons.append(codes[1])
    cols.path[done_rows] = done_paths
    cols.malformed[done_rows] = done_reasons
