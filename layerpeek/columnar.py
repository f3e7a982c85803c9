"""Columnar packet tables: a whole capture decoded straight into Arrow columns.

``layerpeek.read`` builds a :class:`~layerpeek.packet.Packet` and a chain of
layer objects per frame, which is right for exploring and far too slow for a
10 GB capture that a user wants as a table.  :func:`table` never builds them on
the hot path.

Theory of operation
-------------------

1. **Index.**  The file is mapped into memory (``mmap``; gzip is inflated
   first).  A pcap file is walked record header by record header: each
   record's position depends on the previous one's length, so this one loop
   cannot be vectorised.  It runs in C when the optional extension
   ``layerpeek._speedups`` was built (``setup.py`` builds it where a C
   compiler is present), streaming the file into the CPU's caches a little
   ahead of itself, and in Python otherwise (one ``unpack_from`` per record,
   the floor the benchmark compares against); both give the same records,
   and ``LAYERPEEK_PURE_PYTHON=1`` chooses the Python loops.  Everything else
   about a record (time, lengths) is read afterwards, for all records at
   once.  pcapng is walked block by block; Section and Interface blocks go
   through the same :class:`~layerpeek.capture.pcapng.PcapngParser` that
   ``read`` uses, so link types, interface numbering and ``if_tsresol``
   agree by construction.
2. **Decode, vectorised.**  With every frame's offset in an array, each header
   field is one gather for all frames, :data:`_BATCH` frames at a time so
   that the decoder's arrays stay in the CPU's caches.  The first 144 bytes
   around each frame of a batch are copied into one block first
   (:class:`_Windows`), and the block is seen through strided big-endian
   views with a stride of one byte (:class:`_Reader`), so element ``k`` of
   the 64-bit view is the integer in bytes ``k..k+7``: one gather at
   ``ip_offset`` reads version, lengths, id and fragment field of every frame
   at once.  Link layer (Ethernet, up to two VLAN tags, SLL, SLL2, BSD
   loopback, raw IP) → IPv4 (no options, not a fragment) / IPv6 (no extension
   headers) → TCP (options checked for damage, also vectorised) / UDP → what
   the payload is (the registry's port tables and the HTTP heuristic,
   evaluated on arrays).  A payload another registered decoder claims (DNS)
   is handed to just that decoder.
3. **Fall back, row by row.**  A frame the vectorised path does not model
   exactly (ARP, ICMP, IP options, IPv6 extension headers, fragments,
   anything short or malformed, an unknown link type) is decoded by the
   per-packet decoder, :func:`layerpeek.decode.decode_layers`, and its row is
   filled from the layers.  The vectorised path only takes a frame when it is
   sure to give the per-packet decoder's values; ``tests/test_table.py``
   checks that on every capture the project has, and on mutated frames.
4. **Strings last.**  Addresses are gathered as raw bytes, dictionary-encoded
   (a capture has few distinct addresses), and only the distinct values are
   formatted, then taken back into a string column.

The columns (:data:`COLUMNS`) follow the per-packet objects: the first
Ethernet layer, the first IPv4/IPv6 layer (the outer one in a tunnel), the
first TCP or UDP layer.  ``protocols`` is ``Packet.protocols`` and
``malformed`` the reason of the chain's final Malformed layer.

NumPy and pyarrow are the ``table`` extra (``pip install layerpeek[table]``);
they are imported when this module is, never by ``import layerpeek``.
"""

from __future__ import annotations

import base64
import hashlib
import mmap
import os
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Union

try:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
except ImportError as _missing:  # pragma: no cover - depends on the environment
    raise ImportError(
        "layerpeek.table needs numpy and pyarrow: pip install 'layerpeek[table]'"
    ) from _missing

from layerpeek.capture.gunzip import inflate
from layerpeek.capture.pcap import MAX_RECORD, PcapParser, is_pcap_magic
from layerpeek.capture.pcapng import MAX_BLOCK, PcapngParser, is_pcapng_magic, timestamp_ns
from layerpeek.errors import CaptureFormatError
from layerpeek.wire import ip_str, mac_str

try:  # the optional compiled loops (setup.py builds them when a C compiler is present)
    from layerpeek import _speedups
except ImportError:  # pragma: no cover - depends on the build
    _speedups = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from layerpeek.packet import Layer
    from layerpeek.registry import Dissector
    from layerpeek.split import Chunk

    IntArray = NDArray[np.int64]
    BoolArray = NDArray[np.bool_]

Source = Union[str, "os.PathLike[str]", bytes, "Chunk"]

#: Every column :func:`table` gives by default, in order.
COLUMNS: tuple[str, ...] = (
    "frame",
    "ts_ns",
    "cap_len",
    "wire_len",
    "interface",
    "link_type",
    "eth_src",
    "eth_dst",
    "eth_type",
    "ip_version",
    "ip_src",
    "ip_dst",
    "ip_id",
    "ip_ttl",
    "ip_flags",
    "ip_proto",
    "src_port",
    "dst_port",
    "tcp_seq",
    "tcp_ack",
    "tcp_flags",
    "tcp_window",
    "tcp_len",
    "udp_length",
    "protocols",
    "malformed",
)

#: Columns computed only when asked for (they cost a hash per distinct flow).
OPTIONAL_COLUMNS: tuple[str, ...] = ("community_id",)

#: The Arrow type of every column.  Nullable: a frame without that layer has null.
SCHEMA = pa.schema(
    [
        ("frame", pa.int64()),  # 1-based frame number, as Wireshark numbers frames
        ("ts_ns", pa.int64()),  # nanoseconds since the Unix epoch
        ("cap_len", pa.uint32()),
        ("wire_len", pa.uint32()),
        ("interface", pa.uint32()),  # pcapng interface (global IDB index); 0 for pcap
        ("link_type", pa.uint32()),  # LINKTYPE_* of the frame's interface
        ("eth_src", pa.string()),  # "aa:bb:cc:dd:ee:ff"
        ("eth_dst", pa.string()),
        ("eth_type", pa.uint16()),  # the Ethernet header's type field (0x8100 before a tag)
        ("ip_version", pa.uint8()),  # 4 or 6: the first IP layer
        ("ip_src", pa.string()),  # text as in ``dump --json`` (inet_ntop)
        ("ip_dst", pa.string()),
        ("ip_id", pa.uint16()),  # IPv4 only
        ("ip_ttl", pa.uint8()),  # IPv4 TTL or IPv6 hop limit
        ("ip_flags", pa.uint8()),  # IPv4 only: 0x2 DF, 0x1 MF, 0x4 reserved
        ("ip_proto", pa.uint8()),  # IPv4 protocol / IPv6 final Next Header
        ("src_port", pa.uint16()),  # the first TCP or UDP layer
        ("dst_port", pa.uint16()),
        ("tcp_seq", pa.uint32()),
        ("tcp_ack", pa.uint32()),
        ("tcp_flags", pa.uint16()),  # FIN 0x01 … CWR 0x80, NS 0x100
        ("tcp_window", pa.uint16()),  # raw, unscaled
        ("tcp_len", pa.uint32()),  # TCP payload bytes present in the frame
        ("udp_length", pa.uint16()),  # the UDP length field (header + payload)
        ("protocols", pa.string()),  # "eth:ipv4:tcp:http", as Packet.protocols
        ("malformed", pa.string()),  # why decoding stopped, or null
        ("community_id", pa.string()),  # Community ID v1 flow hash (optional column)
    ]
)

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
_SHB_MAGIC = b"\x0a\x0d\x0d\x0a"
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

#: Link layers of the vectorised path, as they start the protocol path.
_LINK_NAMES = ("eth", "sll", "sll2", "null", "")
_APP_NAMES = ("", "http", "data")
_COMBINATIONS = len(_LINK_NAMES) * 3 * 2 * 2 * len(_APP_NAMES)

#: What the vectorised path can say about a port: nothing claims it, the HTTP
#: decoder claims it, or some other decoder does (that row falls back).
_PORT_NONE, _PORT_HTTP, _PORT_OTHER = 0, 1, 2


# ---------------------------------------------------------------------------
# Community ID v1 (https://github.com/corelight/community-id-spec)
# ---------------------------------------------------------------------------

#: ICMP type → the type of its answer (Zeek's mapping, which the spec adopts):
#: a request and its reply hash to the same flow.
_ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
_ICMP6_PAIRS = {
    128: 129,
    129: 128,
    133: 134,
    134: 133,
    135: 136,
    136: 135,
    130: 131,
    131: 130,
    139: 140,
    140: 139,
    144: 145,
    145: 144,
}


def community_id(
    src: bytes,
    dst: bytes,
    proto: int,
    src_port: int | None = None,
    dst_port: int | None = None,
    *,
    seed: int = 0,
) -> str:
    """The Community ID v1 of a flow: ``"1:"`` + base64(SHA-1 of the ordered 5-tuple).

    ``src``/``dst`` are raw 4- or 16-byte addresses.  Both directions of a flow
    give the same ID because the endpoints are put in order first (the smaller
    address, then the smaller port).  For ICMP (1) and ICMPv6 (58) pass the
    type as ``src_port`` and the code as ``dst_port``: they are mapped to the
    spec's pseudo-ports here, and a message without an answer type ("one-way",
    e.g. destination unreachable) is never reordered.  Protocols without ports
    hash the addresses and the protocol only.
    """
    one_way = False
    if proto in (1, 58) and src_port is not None and dst_port is not None:
        pairs = _ICMP4_PAIRS if proto == 1 else _ICMP6_PAIRS
        answer = pairs.get(src_port)
        if answer is None:
            one_way = True  # ports stay (type, code)
        else:
            dst_port = answer
    if src_port is None or dst_port is None:
        if not one_way and dst < src:
            src, dst = dst, src
        body = struct.pack("!H", seed) + src + dst + bytes((proto, 0))
    else:
        if not one_way and (dst, dst_port) < (src, src_port):
            src, dst, src_port, dst_port = dst, src, dst_port, src_port
        body = (
            struct.pack("!H", seed) + src + dst + bytes((proto, 0))
            + struct.pack("!HH", src_port, dst_port)
        )
    return "1:" + base64.b64encode(hashlib.sha1(body).digest()).decode("ascii")


# ---------------------------------------------------------------------------
# Step 1: the record index
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class Records:
    """Where every frame of a capture buffer is, and what its record header says.

    Arrays are parallel, one entry per frame, in file order.
    """

    format: str  #: "pcap" or "pcapng"
    data_off: IntArray  #: offset of the frame's first byte in the buffer
    cap_len: IntArray
    wire_len: IntArray
    ts_ns: IntArray
    interface: IntArray  #: global interface index within the buffer
    linktype: IntArray
    record_start: IntArray  #: offset of the record header / block holding the frame
    problems: list[str] = field(default_factory=list)
    #: pcapng: ``(start, end, block_type, frames_before)`` of every Section
    #: Header and Interface Description block (what a chunk must carry).
    meta_blocks: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: pcap: the 24-byte file header.
    file_header: bytes = b""
    #: Frames whose time does not fit in int64 nanoseconds (a bogus pcapng
    #: timestamp past the year 2262): their ``ts_ns`` column is null.
    bad_time: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.data_off)

    def rows(self, start: int, stop: int) -> Records:
        """Frames ``start`` to ``stop``: views of these arrays, the file header kept.

        Problems, metadata blocks and times out of range stay with the whole.
        """
        return Records(
            self.format,
            self.data_off[start:stop],
            self.cap_len[start:stop],
            self.wire_len[start:stop],
            self.ts_ns[start:stop],
            self.interface[start:stop],
            self.linktype[start:stop],
            self.record_start[start:stop],
            file_header=self.file_header,
        )


#: The arrays of :class:`Records` with one entry per frame, in field order.
_PER_FRAME = (
    "data_off", "cap_len", "wire_len", "ts_ns", "interface", "linktype", "record_start"
)


def _as_int64(values: Sequence[int]) -> IntArray:
    return np.asarray(values, dtype=np.int64) if len(values) else np.zeros(0, np.int64)


def index_records(buf: bytes | mmap.mmap, *, name: str = "<capture>") -> Records:
    """Index every record of a whole pcap or pcapng capture held in ``buf``.

    Raises :class:`CaptureFormatError` if ``buf`` is not a capture; a damaged
    or cut record ends the index with a message in ``problems``, as
    :class:`~layerpeek.capture.CaptureReader` does.
    """
    if _capture_format(buf, name) == "pcap":
        return _index_pcap(buf, name)
    return _index_pcapng(buf, name)


def _capture_format(buf: bytes | mmap.mmap, name: str) -> str:
    """"pcap" or "pcapng", from the magic number; anything else raises."""
    head = bytes(buf[:4])
    if not head:
        raise CaptureFormatError(f"{name}: empty file")
    if is_pcap_magic(head):
        return "pcap"
    if is_pcapng_magic(head):
        return "pcapng"
    raise CaptureFormatError(f"{name}: not a pcap or pcapng file (starts with {head.hex(' ')})")


def pcap_header(head: bytes, name: str) -> PcapParser:
    """The pcap file header parsed by the streaming parser (byte order, unit, link type)."""
    header = PcapParser()
    header.feed(bytes(head[:24]))
    if not header.header_done:
        raise CaptureFormatError(f"{name}: file ends inside the 24-byte pcap header")
    return header


#: What a pcap walk gives: record starts, their headers if copied, where it stopped.
_Walked = tuple["IntArray", "bytes | bytearray | None", int]


def _walk_python(buf: bytes | mmap.mmap, big_endian: bool) -> _Walked:
    """Where every pcap record whose 16-byte header is whole starts, and where the walk stopped.

    The one sequential loop: a record's position is known only from the one
    before.  It walks the captured-length fields (8 bytes into each record
    header) and stops when one cannot be read: no end test per record,
    which makes the loop a quarter faster.  The last position or two taken
    (past the end, or a header cut short) are dropped after the loop.  It
    walks on past an impossible length; the caller stops at the first one.
    The record headers themselves are left where they are (``None``).
    """
    size = len(buf)
    lengths_at: list[int] = []
    append = lengths_at.append
    unpack_len = struct.Struct(">I" if big_endian else "<I").unpack_from
    at = 24 + 8
    try:
        while True:
            append(at)
            at += 16 + unpack_len(buf, at)[0]
    except struct.error:
        pass
    stop = size  # where the walk stopped: the first position without a whole header
    while lengths_at and lengths_at[-1] > size - 8:
        stop = lengths_at.pop() - 8
    return _as_int64(lengths_at) - 8, None, min(stop, size)


def _walk_compiled(buf: bytes | mmap.mmap, big_endian: bool) -> _Walked:
    """:func:`_walk_python` in C (``layerpeek._speedups``): the same records, their headers
    copied on the way (each is in the CPU's cache at that moment)."""
    assert _speedups is not None
    packed, headers, stop = _speedups.pcap_walk(buf, 24, big_endian, MAX_RECORD)
    return np.frombuffer(packed, np.int64), headers, stop


def _pure_python_wanted() -> bool:
    return os.environ.get("LAYERPEEK_PURE_PYTHON", "") not in ("", "0")


#: Whether the compiled loops are used: the extension was built and
#: ``LAYERPEEK_PURE_PYTHON`` is not set (at import).
_COMPILED = _speedups is not None and not _pure_python_wanted()

#: The pcap walk :func:`index_records` uses.
_walk = _walk_compiled if _COMPILED else _walk_python


def _index_pcap(buf: bytes | mmap.mmap, name: str) -> Records:
    size = len(buf)
    if size < 24:  # a pcap file cut inside its header: no records, as the streaming reader says
        none = np.zeros(0, np.int64)
        return Records(
            "pcap", none, none, none, none, none, none, none,
            [f"file ends inside the 24-byte pcap header ({size} bytes)"],
            file_header=bytes(buf),
        )
    header = pcap_header(bytes(buf[:24]), name)
    starts, headers, pos = _walk(buf, header.byte_order == ">")
    records = pcap_records_at(buf, header, starts, headers)
    incl = records.cap_len
    rec = records.record_start
    keep = len(rec)
    impossible = np.flatnonzero(incl > MAX_RECORD)
    if len(impossible):
        keep = int(impossible[0])
        records.problems.append(
            f"record {keep + 1} at byte {int(rec[keep])}: captured length "
            f"{int(incl[keep])} is impossible; stopped reading"
        )
    elif keep and int(rec[-1] + 16 + incl[-1]) > size:
        keep -= 1
        records.problems.append(
            f"record {keep + 1} at byte {int(rec[keep])} cut by end of file: header says "
            f"{int(incl[keep])} bytes, {size - int(rec[keep]) - 16} present"
        )
    elif 0 < size - pos < 16:
        records.problems.append(
            f"record {keep + 1} at byte {pos} cut by end of file: "
            f"{size - pos} of 16 header bytes present"
        )
    if keep < len(rec):
        for name_ in _PER_FRAME:
            setattr(records, name_, getattr(records, name_)[:keep])
    return records


def pcap_records_at(
    buf: bytes | mmap.mmap,
    header: PcapParser,
    starts: IntArray,
    headers: bytes | bytearray | None = None,
) -> Records:
    """Records whose 16-byte headers start at ``starts``, all read at once.

    ``headers``: those headers already copied one after the other (the
    compiled walk's); without it, one gather over the buffer reads them.
    """
    n = len(starts)
    order = header.byte_order
    # Two 8-byte words per record header (time, then lengths), in the file's
    # byte order; each holds two 32-bit fields.
    if headers is not None:
        words = np.frombuffer(headers, order + "u8").reshape(n, 2)
        time_word = words[:, 0].astype(np.uint64)
        length_word = words[:, 1].astype(np.uint64)
    else:
        view = np.ndarray((len(buf) - 7,), order + "u8", buffer=buf, strides=(1,))
        try:
            time_word = view[starts].astype(np.uint64)
            length_word = view[starts + 8].astype(np.uint64)
        finally:
            del view  # no view of ``buf`` may outlive this call (mmap.close)
    low, high = np.uint64(0xFFFF_FFFF), np.uint64(32)
    if order == "<":  # the first field is the low half
        sec, frac = time_word & low, time_word >> high
        incl, orig = length_word & low, length_word >> high
    else:
        sec, frac = time_word >> high, time_word & low
        incl, orig = length_word >> high, length_word & low
    sec, frac, incl, orig = (a.astype(np.int64) for a in (sec, frac, incl, orig))
    tick = 1 if header.nanosecond else 1000
    return Records(
        "pcap",
        starts + 16,
        incl,
        orig,
        sec * 1_000_000_000 + frac * tick,
        np.zeros(n, np.int64),
        np.full(n, header.linktype, np.int64),
        starts,
        [],
        file_header=bytes(buf[:24]),
    )


def _index_pcapng(buf: bytes | mmap.mmap, name: str) -> Records:
    """Walk pcapng blocks; Enhanced Packet Blocks are read here, the rest by PcapngParser.

    With the compiled loops, runs of well-formed Enhanced Packet Blocks are
    walked in C and read all at once (:func:`_epb_run`); every other block,
    and any block the C walk refuses, takes the per-block path below, which
    says the same things of the same blocks.
    """
    size = len(buf)
    helper = PcapngParser()  # owns sections and interfaces, exactly as `read` sees them
    data_off: list[int] = []
    cap_len: list[int] = []
    wire_len: list[int] = []
    ts_ns: list[int] = []
    interface: list[int] = []
    linktype: list[int] = []
    record_start: list[int] = []
    meta: list[tuple[int, int, int, int]] = []
    problems: list[str] = []
    bad_time: list[int] = []
    # Frames already moved out of the lists above, as arrays in _PER_FRAME order.
    segments: list[tuple[IntArray, ...]] = []
    moved = 0

    def move_lists() -> None:
        nonlocal moved
        if data_off:
            lists = (data_off, cap_len, wire_len, ts_ns, interface, linktype, record_start)
            segments.append(tuple(_as_int64(values) for values in lists))
            moved += len(data_off)
            for values in lists:
                values.clear()

    epb = {"<": struct.Struct("<IIIII"), ">": struct.Struct(">IIIII")}
    u32 = {"<": struct.Struct("<I"), ">": struct.Struct(">I")}
    u32x2 = {"<": struct.Struct("<II"), ">": struct.Struct(">II")}
    pos = 0
    while pos + 12 <= size:
        if _COMPILED and helper.section >= 0:
            assert _speedups is not None
            starts, headers, stop = _speedups.pcapng_walk(
                buf, pos, helper.order == ">", MAX_BLOCK
            )
            if len(starts):
                move_lists()
                run, run_problems, run_bad = _epb_run(
                    helper, np.frombuffer(starts, np.int64), headers, stop, moved
                )
                segments.append(run)
                moved += len(run[0])
                problems.extend(run_problems)
                bad_time.extend(run_bad)
                pos = stop
                continue
        if bytes(buf[pos : pos + 4]) == _SHB_MAGIC:
            bom = bytes(buf[pos + 8 : pos + 12])
            if bom == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                problems.append(
                    f"section header at byte {pos}: bad byte-order magic {bom.hex(' ')}"
                )
                break
            btype = 0x0A0D0D0A
            length = u32[order].unpack_from(buf, pos + 4)[0]
        else:
            if helper.section < 0:
                raise CaptureFormatError(f"{name}: not a pcapng file (no section header block)")
            order = helper.order
            btype, length = u32x2[order].unpack_from(buf, pos)
        if length < 12 or length % 4 or length > MAX_BLOCK:
            problems.append(f"block type 0x{btype:x} at byte {pos}: impossible length {length}")
            break
        end = pos + length
        if end > size:
            problems.append(f"block at byte {pos} cut by end of file ({size - pos} bytes present)")
            break
        trailer = u32[order].unpack_from(buf, end - 4)[0]
        if trailer != length:
            problems.append(
                f"block type 0x{btype:x} at byte {pos}: trailing length {trailer} "
                f"differs from {length}"
            )
            break
        if btype == 6:  # Enhanced Packet Block: the common case, read here
            if length < 32:
                problems.append(f"packet block at byte {pos} too short; skipped")
            else:
                iface_id, high, low, cap, orig = epb[order].unpack_from(buf, pos + 8)
                interfaces = helper.interfaces
                if iface_id >= len(interfaces):
                    problems.append(
                        f"packet block at byte {pos}: undefined interface {iface_id}; skipped"
                    )
                else:
                    room = end - 4 - (pos + 28)
                    if cap > room:
                        problems.append(
                            f"packet block at byte {pos}: captured length {cap} exceeds the "
                            f"block; cut to {room}"
                        )
                        cap = room
                    iface = interfaces[iface_id]
                    when = timestamp_ns(iface.tsresol_ns, iface.tsoffset_s, high, low)
                    if not _INT64_MIN <= when <= _INT64_MAX:
                        bad_time.append(moved + len(data_off))
                        when = 0
                    data_off.append(pos + 28)
                    cap_len.append(cap)
                    wire_len.append(orig)
                    ts_ns.append(when)
                    interface.append(len(helper.all_interfaces) - len(interfaces) + iface_id)
                    linktype.append(iface.linktype)
                    record_start.append(pos)
        else:
            block = bytes(buf[pos:end])
            frames = helper.feed(block)
            if btype in (0x0A0D0D0A, 1):
                meta.append((pos, end, btype, moved + len(data_off)))
            for frame in frames:  # Simple (3) or obsolete Packet (2) blocks
                data_off.append(pos + (12 if btype == 3 else 28))
                cap_len.append(len(frame.data))
                wire_len.append(frame.wire_len)
                if not _INT64_MIN <= frame.ts_ns <= _INT64_MAX:
                    bad_time.append(moved + len(ts_ns))
                    ts_ns.append(0)
                else:
                    ts_ns.append(frame.ts_ns)
                interface.append(frame.interface)
                linktype.append(frame.linktype)
                record_start.append(pos)
            problems.extend(f"block at byte {pos}: {p}" for p in helper.problems)
            helper.problems.clear()
        pos = end
    else:
        if pos < size:
            problems.append(f"block at byte {pos} cut by end of file ({size - pos} bytes present)")
    move_lists()
    whole = (
        tuple(np.concatenate(arrays) for arrays in zip(*segments, strict=True))
        if segments
        else tuple(np.zeros(0, np.int64) for _ in _PER_FRAME)
    )
    offsets, captured, on_wire, times, iface_numbers, linktypes, record_starts = whole
    return Records(
        "pcapng", offsets, captured, on_wire, times, iface_numbers, linktypes, record_starts,
        problems, meta, bad_time=bad_time,
    )


def _epb_run(
    helper: PcapngParser, starts: IntArray, headers: bytes | bytearray, stop: int, before: int
) -> tuple[tuple[IntArray, ...], list[str], list[int]]:
    """A run of Enhanced Packet Blocks from the compiled walk, read all at once.

    Returns the frames' arrays (in :data:`_PER_FRAME` order), the problems
    in block order, and which frames' times are out of range (counted after
    ``before`` earlier frames), saying of every block what the per-block path
    of :func:`_index_pcapng` says.
    """
    order = helper.order
    count = len(starts)
    fields = np.frombuffer(headers, order + "u4").reshape(count, 5).astype(np.int64)
    iface_id, high, low, cap, orig = (fields[:, k] for k in range(5))
    room = np.diff(starts, append=stop) - 32  # the blocks of a run lie end to end
    interfaces = helper.interfaces
    defined = iface_id < len(interfaces)
    cut = defined & (cap > room)
    notes = [
        (i, f"packet block at byte {int(starts[i])}: undefined interface {int(iface_id[i])}; "
            "skipped")
        for i in np.flatnonzero(~defined).tolist()
    ] + [
        (i, f"packet block at byte {int(starts[i])}: captured length {int(cap[i])} exceeds "
            f"the block; cut to {int(room[i])}")
        for i in np.flatnonzero(cut).tolist()
    ]
    keep: slice | IntArray = slice(None) if defined.all() else np.flatnonzero(defined)
    at = starts[keep]
    ids = iface_id[keep]
    when = np.zeros(len(at), np.int64)
    bad = np.zeros(len(at), np.bool_)
    link = np.zeros(len(at), np.int64)
    units = (high[keep].astype(np.uint64) << np.uint64(32)) | low[keep].astype(np.uint64)
    one = len(ids) and int(ids.min()) == int(ids.max())  # the usual: a single interface
    for number in [int(ids[0])] if one else np.unique(ids).tolist():
        mine: slice | BoolArray = slice(None) if one else ids == number
        iface = interfaces[number]
        link[mine] = iface.linktype
        when[mine], bad[mine] = _timestamps_ns(iface.tsresol_ns, iface.tsoffset_s, units[mine])
    run = (
        at + 28,
        np.where(cut, room, cap)[keep],
        orig[keep],
        when,
        len(helper.all_interfaces) - len(interfaces) + ids,
        link,
        at,
    )
    problems = [text for _i, text in sorted(notes)]
    return run, problems, (before + np.flatnonzero(bad)).tolist()


def _timestamps_ns(
    res_ns: float, offset_s: int, units: NDArray[np.uint64]
) -> tuple[IntArray, BoolArray]:
    """:func:`timestamp_ns` of many timestamps of one interface, and which do not fit int64.

    Whole-nanosecond units are computed in int64 where the result is sure to
    fit (up to the year 2116); the rest, and other units, as
    :func:`timestamp_ns` computes them, one by one.
    """
    ns = np.zeros(len(units), np.int64)
    slow = np.ones(len(units), np.bool_)
    if res_ns >= 1.0 and res_ns == int(res_ns) and abs(offset_s) < 1 << 31:
        step = int(res_ns)
        slow = units > np.uint64((1 << 62) // step)
        fast = ~slow
        ns[fast] = units[fast].astype(np.int64) * step + offset_s * 1_000_000_000
    bad = np.zeros(len(units), np.bool_)
    for i in np.flatnonzero(slow).tolist():
        value = int(units[i])
        when = timestamp_ns(res_ns, offset_s, value >> 32, value & 0xFFFF_FFFF)
        if _INT64_MIN <= when <= _INT64_MAX:
            ns[i] = when
        else:
            bad[i] = True
    return ns, bad


# ---------------------------------------------------------------------------
# Step 2 and 3: vectorised decode with a per-row fallback
# ---------------------------------------------------------------------------


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
    ] == ["http"]
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


def _tcp_options_valid(read: _Reader, pos: IntArray, stop: IntArray) -> BoolArray:
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


#: The type each column of :class:`_Columns` is kept in: its Arrow type's
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
    "udp": np.bool_,
    "udp_length": np.uint16,
    "icmp": np.bool_,  # for community_id: ICMP type and code
    "icmp_type": np.uint8,
    "icmp_code": np.uint8,
    "path": np.int32,
    "malformed": np.int32,
}


#: The columns taken from :class:`Records` whole, not decoded.
_FROM_RECORDS = ("ts_ns", "cap_len", "wire_len", "interface", "link_type")

#: The columns :func:`_decode` and :meth:`_Columns.fill` give.
_DECODED = tuple(name for name in _KEPT_AS if name not in _FROM_RECORDS)

#: What a batch's columns need not allocate: the record header's and those
#: :func:`_decode` assigns whole (the rest it writes into, row by row or
#: under masks).
_SET_WHOLE_BY_DECODE = (
    *_FROM_RECORDS,
    "eth", "eth_src", "eth_dst", "eth_type", "ip_version", "ip_id", "ip_ttl", "ip_proto",
    "ip_flags", "ports", "src_port", "dst_port", "tcp", "tcp_seq", "tcp_ack", "tcp_flags",
    "tcp_window", "tcp_len", "udp", "udp_length",
)


class _Columns:
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

    def batch(self, n: int) -> _Columns:
        """Columns for ``n`` rows that number paths and reasons as these do.

        Those :func:`_decode` sets whole are left for it to set.
        """
        part = _Columns(n, _SET_WHOLE_BY_DECODE)
        part.path_names = self.path_names
        part.malformed_names = self.malformed_names
        part.verdicts = self.verdicts
        part.verdict_codes = self.verdict_codes
        return part

    def put(self, start: int, part: _Columns) -> None:
        """Rows ``start`` onwards from ``part`` (from :meth:`batch`), in this table's types."""
        stop = start + part.n
        for name in _DECODED:
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

    def fill(self, i: int, layers: Sequence[Layer]) -> None:
        """Row ``i`` from a per-packet decode (the fallback path)."""
        from layerpeek.layers import ICMP, TCP, UDP, Ethernet, ICMPv6, IPv4, IPv6
        from layerpeek.packet import Malformed

        self.path[i] = self.path_code(":".join(layer.short for layer in layers))
        seen_eth = seen_ip = seen_l4 = seen_icmp = False
        for layer in layers:
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
                self.tcp_len[i] = layer.payload_len
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


#: Frames decoded together (see :func:`decode_records`): a batch's windows
#: (2.4 MB) and the decoder's arrays over it (128 kB each) stay in the CPU's
#: caches.  Measured on the bench capture when batching came in: 4096 → 99 ms
#: a table, 8192 → 92, 16 384 → 84, 32 768 → 88, 65 536 → 94, the whole
#: capture at once → 107.
_BATCH = 16384

#: ``rows`` for a read whose positions are one per frame, every frame.
_EVERY_ROW = slice(None)

#: How many bytes around each frame :class:`_Windows` copies: from 16 bytes
#: before the frame (a pcap record header; the Ethernet destination is read
#: as the low 6 bytes of the 8-byte word 2 bytes before the frame) to 128
#: after it: Ethernet, IPv6 and a TCP header with 40 bytes of options, and
#: the first 8 bytes of the payload.
_BEFORE = 16
_BLOCK = _BEFORE + 128


@dataclass
class _Windows:
    """The first :data:`_BLOCK` bytes around every frame, copied into one block.

    Why: in the capture the frames lie ~800 bytes apart, so reading one
    field of every frame misses the CPU caches once per frame (measured
    6.4 ms per field for 137 000 frames, against 0.1 ms for an arithmetic
    pass over a column of that length).  One copy of rows (in C when the
    extension is built, else a NumPy gather) puts what the decoder reads
    into contiguous memory; every later read is served from there.
    ``base[i]`` is where row ``i`` starts in the capture.  Made for one
    batch of frames at a time (:data:`_BATCH`): 2.4 MB, reused.
    """

    block: NDArray[np.uint8]
    base: IntArray

    @classmethod
    def copy(cls, buf: bytes | mmap.mmap, frames: IntArray) -> _Windows | None:
        size = len(buf)
        if not len(frames) or size < _BLOCK:
            return None
        base = np.maximum(frames - _BEFORE, 0)
        if _COMPILED:
            assert _speedups is not None
            packed = _speedups.copy_windows(buf, np.ascontiguousarray(base, np.int64), _BLOCK)
            rows = np.frombuffer(packed, np.uint8).reshape(len(base), _BLOCK)
            return cls(rows, base)
        inside = base <= size - _BLOCK
        whole = np.ndarray((size,), np.uint8, buffer=buf)
        windows = np.lib.stride_tricks.as_strided(
            whole, (size - _BLOCK + 1, _BLOCK), (1, 1), writeable=False
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


class _Reader:
    """Big-endian integers at arbitrary offsets of a buffer, for many offsets at once.

    Each width is a strided NumPy view with a stride of one byte, so element
    ``k`` of the 16-bit view is the integer in bytes ``k, k+1``: reading a field
    of every frame is one gather.  Offsets past the end are clipped; callers
    mask those rows out by their lengths.

    With :class:`_Windows` given, reads whose ``rows`` are given and which
    fall inside those frames' windows are served from the compact copy;
    anything else (a long option area, a deep VLAN stack) reads the buffer.
    """

    def __init__(self, buf: bytes | mmap.mmap, windows: _Windows | None = None) -> None:
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
        self.rows = np.arange(len(windows.base), dtype=np.int64) * _BLOCK
        flat = windows.block.reshape(-1)
        self.block_views = {
            width: np.ndarray((flat.size - width + 1,), f">u{width}", buffer=flat, strides=(1,))
            for width in (1, 2, 4, 8)
        }

    def _gather(self, width: int, pos: IntArray, rows: slice | IntArray | BoolArray | None) -> Any:
        if rows is None or not self.block_views:
            return self.views[width][np.minimum(pos, self.last[width])]
        if isinstance(rows, np.ndarray) and rows.dtype == np.bool_:
            rows = _EVERY_ROW if rows.all() else np.flatnonzero(rows)
        rel = pos - self.base[rows]
        if len(rel):
            # Mostly one or two offsets into the window (IPv4 and IPv6 put TCP
            # at two): strided columns rather than a gather; for some of the
            # frames, the column's values for those rows.
            low, high = int(rel.min()), int(rel.max())
            if low >= 0 and high <= _BLOCK - width:
                if low == high:
                    return self._column(width, low)[rows]
                at_low = rel == low
                if np.count_nonzero(at_low) + np.count_nonzero(rel == high) == len(rel):
                    return np.where(
                        at_low, self._column(width, low)[rows], self._column(width, high)[rows]
                    )
        inside = (rel >= 0) & (rel <= _BLOCK - width)
        at = self.rows[rows] + rel
        if inside.all():
            return self.block_views[width][at]
        values = self.block_views[width][np.where(inside, at, 0)]
        outside = ~inside
        values[outside] = self.views[width][np.minimum(pos[outside], self.last[width])]
        return values

    def _column(self, width: int, at: int) -> Any:
        """The integer ``at`` bytes into every window: element ``i`` is row ``i``'s."""
        return self.block_views[width][at : at + len(self.rows) * _BLOCK : _BLOCK]

    def __call__(
        self, width: int, pos: IntArray, rows: slice | IntArray | BoolArray | None = None
    ) -> IntArray:
        """Read at ``pos``; ``rows`` are the frames those positions belong to
        (:data:`_EVERY_ROW`, a mask or indices), None: read the capture itself."""
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


def _decode(read: _Reader, buf: bytes | mmap.mmap, rec: Records, cols: _Columns) -> BoolArray:
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
        src_type = read(8, off + 6, _EVERY_ROW)  # Ethernet source MAC and type
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
    w0 = read(8, l3, _EVERY_ROW)
    w1 = read(8, l3 + 8, _EVERY_ROW)
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
    x0 = read(8, l4, _EVERY_ROW)  # ports, then TCP seq / UDP length and checksum
    x1 = read(8, l4 + 8, _EVERY_ROW)  # TCP ack, data offset and flags, window
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
        first8 = read(8, l4 + 20, _EVERY_ROW)
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
    head = read.u64(payload, _EVERY_ROW)
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
    dst_word = read.u64(off - 2, _EVERY_ROW)  # 2 bytes before the frame, then the 6 of dst
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
    cols.tcp_flags = offset_flags & 0x1FF
    cols.tcp_window = x1 & 0xFFFF
    cols.tcp_len = payload_end - payload
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
    cols: _Columns,
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


# ---------------------------------------------------------------------------
# Step 4: Arrow columns
# ---------------------------------------------------------------------------


#: The NumPy type of each Arrow type the table's columns use.
_NUMPY_OF = {
    pa.int64(): np.int64,
    pa.int32(): np.int32,
    pa.uint64(): np.uint64,
    pa.uint32(): np.uint32,
    pa.uint16(): np.uint16,
    pa.uint8(): np.uint8,
}


def _numbers(
    values: NDArray[Any], kind: pa.DataType, valid: BoolArray | None = None,
    bitmap: tuple[pa.Buffer | None, int] | None = None,
) -> pa.Array:
    """An Arrow array over a NumPy column, made from its buffers.

    Not ``pa.array``: its first call in a process imports pandas when pandas
    is installed (a quarter of a second, longer than a whole table of a small
    capture); ``from_buffers`` does not.  ``bitmap``: a validity bitmap and
    null count already made for ``valid``.
    """
    count = len(values)
    data = pa.py_buffer(np.ascontiguousarray(values, _NUMPY_OF[kind]))
    if bitmap is None:
        bitmap = _validity(valid, count)
    return pa.Array.from_buffers(kind, count, [bitmap[0], data], null_count=bitmap[1])


def _validity(valid: BoolArray | None, count: int) -> tuple[pa.Buffer | None, int]:
    """An Arrow validity bitmap and null count for a mask (None: every row valid)."""
    nulls = 0 if valid is None else count - int(np.count_nonzero(valid))
    if not nulls:
        return None, 0
    assert valid is not None
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def _indices(encoded: pa.DictionaryArray) -> NDArray[np.int32]:
    """A dictionary array's int32 indices as NumPy, a view of their buffer.

    Not ``to_numpy()``, which imports pandas too (see :func:`_numbers`);
    for arrays without nulls, which the dictionary encoding of a column
    without nulls gives.
    """
    indices = encoded.indices
    assert indices.type == pa.int32() and indices.null_count == 0
    return np.frombuffer(indices.buffers()[1], np.int32, len(indices), indices.offset * 4)


def _strings(texts: Sequence[str]) -> pa.Array:
    """An Arrow string array of ``texts``, made from its buffers (see :func:`_numbers`)."""
    encoded = [text.encode() for text in texts]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum([len(data) for data in encoded], out=offsets[1:])
    return pa.StringArray.from_buffers(
        len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))
    )


def _format_distinct(
    keys: NDArray[Any], valid: BoolArray, fmt: Callable[[Any], str]
) -> pa.Array:
    """Format each distinct key (one uint64 per row) once, then take the strings back into
    row order."""
    n = len(valid)
    if not valid.any():
        return pa.nulls(n, pa.string())
    encoded = _numbers(keys, pa.uint64(), valid).dictionary_encode()
    texts = _strings([fmt(v) for v in encoded.dictionary.to_pylist()])
    return pc.take(texts, encoded.indices)


def _mac_text(value: int) -> str:
    return mac_str(value.to_bytes(6, "big"))


def _ip_columns(cols: _Columns) -> tuple[pa.Array, pa.Array]:
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
            encoded = _numbers(words[:, 0] >> np.uint64(32), pa.uint64()).dictionary_encode()
            texts = [ip_str(v.to_bytes(4, "big")) for v in encoded.dictionary.to_pylist()]
            index = _indices(encoded)
        else:
            pairs = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(16), n, [None, pa.py_buffer(np.ascontiguousarray(words))]
            )
            encoded = pairs.dictionary_encode()
            index = _indices(encoded)
            kind = np.full(len(encoded.dictionary), 6, np.uint8)
            if with_v4:
                rows_index = index if every_valid else index[valid]
                rows_version = version if every_valid else version[valid]
                kind[rows_index] = rows_version
                if not (kind[rows_index] == rows_version).all():
                    return _ip_columns_by_version(cols)
            texts = []
            for entry, of in zip(encoded.dictionary.to_pylist(), kind.tolist(), strict=True):
                raw = _NETWORK_PAIR.pack(*_NATIVE_PAIR.unpack(entry))
                texts.append(ip_str(raw[:4] if of == 4 else raw))
        indices = _numbers(index, pa.int32(), None if every_valid else valid)
        columns.append(pc.take(_strings(texts), indices))
    return columns[0], columns[1]


def _ip_columns_by_version(cols: _Columns) -> tuple[pa.Array, pa.Array]:
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
            encoded = _numbers(both, pa.uint64()).dictionary_encode()
            raw = [v.to_bytes(4, "big") for v in encoded.dictionary.to_pylist()]
        else:
            pairs = np.concatenate([cols.ip_src[rows], cols.ip_dst[rows]])  # (2k, 2), C order
            array = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(16), len(pairs), [None, pa.py_buffer(pairs)]
            )
            encoded = array.dictionary_encode()
            raw = [
                _NETWORK_PAIR.pack(*_NATIVE_PAIR.unpack(v))
                for v in encoded.dictionary.to_pylist()
            ]
        index = _indices(encoded) + len(texts)
        src_index[rows] = index[: len(rows)]
        dst_index[rows] = index[len(rows) :]
        texts.extend(ip_str(address) for address in raw)
    if not texts:
        return pa.nulls(n, pa.string()), pa.nulls(n, pa.string())
    strings = _strings(texts)
    return (
        pc.take(strings, _numbers(src_index, pa.int32(), src_index >= 0)),
        pc.take(strings, _numbers(dst_index, pa.int32(), dst_index >= 0)),
    )


_NATIVE_PAIR = struct.Struct("=QQ")
_NETWORK_PAIR = struct.Struct(">QQ")


def _flow_keys(cols: _Columns, rows: slice, key: NDArray[np.uint64]) -> BoolArray:
    """Fill ``key`` with the flow key of each of ``rows``; return which rows have a flow.

    A key is five words: IP version, protocol, kind (0 no ports, 1 ports,
    2 ICMP type/code) and the two ports or type/code, then the two
    addresses, both directions of a flow put in the spec's order (not ICMP,
    whose order :func:`community_id` decides), so each flow is one distinct
    key and hashed once.
    """
    version = cols.ip_version[rows]
    ports = cols.ports[rows]
    proto = cols.ip_proto[rows]
    ip = version > 0
    with_ports = ip & ports
    icmp = ip & ~ports & cols.icmp[rows]
    portless = ip & ~ports & ~cols.icmp[rows] & ~np.isin(proto, (1, 58, 6, 17, 132))
    wide = np.uint64
    kind = np.where(with_ports, 1, np.where(icmp, 2, 0)).astype(wide)
    # (A row's ports hold whatever lies under a null unless it has ports.)
    a = np.where(with_ports, cols.src_port[rows], np.where(icmp, cols.icmp_type[rows], 0))
    b = np.where(with_ports, cols.dst_port[rows], np.where(icmp, cols.icmp_code[rows], 0))
    a, b = a.astype(wide), b.astype(wide)
    src, dst = cols.ip_src[rows], cols.ip_dst[rows]
    same_hi = dst[:, 0] == src[:, 0]
    swap = (
        (dst[:, 0] < src[:, 0])
        | (same_hi & (dst[:, 1] < src[:, 1]))
        | (same_hi & (dst[:, 1] == src[:, 1]) & (b < a))
    ) & ~icmp
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    key[:, 0] = version.astype(wide) | (proto.astype(wide) << 8) | (kind << 16) | (a << 24)
    key[:, 0] |= b << 40
    key[:, 1:3] = np.where(swap[:, None], dst, src)
    key[:, 3:5] = np.where(swap[:, None], src, dst)
    valid: BoolArray = with_ports | icmp | portless
    return valid


def _community_column(cols: _Columns) -> pa.Array:
    """Community ID per row, hashing each distinct flow tuple once.

    Rows with an IP layer get one when they carry TCP or UDP ports, ICMP
    type/code, or a protocol without ports; an IP fragment of a TCP, UDP or
    SCTP datagram (no ports to hash) gets null rather than a wrong flow.
    """
    n = cols.n
    key = np.empty((n, 5), np.uint64)
    valid = np.empty(n, np.bool_)
    for start in range(0, n, _BATCH):  # in cache-sized batches, as the decoder works
        rows = slice(start, start + _BATCH)
        valid[rows] = _flow_keys(cols, rows, key[rows])
    if not valid.any():
        return pa.nulls(cols.n, pa.string())
    if not valid.all():
        key[~valid] = 0  # one entry for every row without a flow (what lies under a null)
    # The keys are hashed as they lie in memory (40 bytes a row); only the
    # distinct ones are unpacked and hashed by the spec.
    encoded = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(40), cols.n, [None, pa.py_buffer(key)]
    ).dictionary_encode()

    texts = _strings(_community_texts(encoded.dictionary))
    return pc.take(texts, _numbers(_indices(encoded), pa.int32(), valid))


#: The bytes Community ID v1 hashes for a flow with ports (seed 0): seed,
#: addresses, protocol, a zero, ports; for IPv4 and for IPv6.
_BODY4 = np.dtype([("seed", ">u2"), ("src", ">u4"), ("dst", ">u4"), ("proto", "u1"),
                   ("pad", "u1"), ("a", ">u2"), ("b", ">u2")])
_BODY6 = np.dtype([("seed", ">u2"), ("src", ">u8", 2), ("dst", ">u8", 2), ("proto", "u1"),
                   ("pad", "u1"), ("a", ">u2"), ("b", ">u2")])


def _community_texts(keys: pa.FixedSizeBinaryArray) -> list[str]:
    """The Community ID of each distinct flow key (see :func:`_flow_keys`).

    Flows with ports, the bulk, have their hashed bytes laid out by NumPy, one
    row per flow, so that per flow only SHA-1 and base64 run in Python; ICMP
    and port-less flows go through :func:`community_id`.
    """
    count = len(keys)
    words = np.frombuffer(keys.buffers()[1], np.uint64, count * 5, keys.offset * 40)
    words = words.reshape(count, 5)
    head = words[:, 0]
    version = head & np.uint64(0xFF)
    kind = (head >> np.uint64(16)) & np.uint64(0xFF)
    texts: list[str | None] = [None] * count
    for ip_version, layout in ((4, _BODY4), (6, _BODY6)):
        rows = np.flatnonzero((kind == 1) & (version == ip_version))
        if not len(rows):
            continue
        body = np.zeros(len(rows), layout)
        if ip_version == 4:
            body["src"] = words[rows, 1] >> np.uint64(32)
            body["dst"] = words[rows, 3] >> np.uint64(32)
        else:
            body["src"] = words[rows, 1:3]
            body["dst"] = words[rows, 3:5]
        body["proto"] = (head[rows] >> np.uint64(8)) & np.uint64(0xFF)
        body["a"] = (head[rows] >> np.uint64(24)) & np.uint64(0xFFFF)
        body["b"] = (head[rows] >> np.uint64(40)) & np.uint64(0xFFFF)
        raw = body.tobytes()
        size = layout.itemsize
        sha1, b64 = hashlib.sha1, base64.b64encode
        for i, row in enumerate(rows.tolist()):
            texts[row] = "1:" + b64(sha1(raw[i * size : (i + 1) * size]).digest()).decode()
    for row in np.flatnonzero(kind != 1).tolist():
        head_, src_hi, src_lo, dst_hi, dst_lo = (int(w) for w in words[row])
        size = 4 if head_ & 0xFF == 4 else 16
        proto, a, b = (head_ >> 8) & 0xFF, (head_ >> 24) & 0xFFFF, (head_ >> 40) & 0xFFFF
        src = _NETWORK_PAIR.pack(src_hi, src_lo)[:size]
        dst = _NETWORK_PAIR.pack(dst_hi, dst_lo)[:size]
        if (head_ >> 16) & 0xFF == 0:
            texts[row] = community_id(src, dst, proto)
        else:
            texts[row] = community_id(src, dst, proto, a, b)
    return [text or "" for text in texts]




def _time_column(ts_ns: IntArray, bad_time: list[int]) -> pa.Array:
    if not bad_time:
        return _numbers(ts_ns, pa.int64())
    valid = np.ones(len(ts_ns), np.bool_)
    valid[bad_time] = False
    return _numbers(ts_ns, pa.int64(), valid)


def _names_column(codes: NDArray[np.int32], names: dict[str, int]) -> pa.Array:
    if not names:
        return pa.nulls(len(codes), pa.string())
    return pc.take(_strings(list(names)), _numbers(codes, pa.int32(), codes >= 0))


def _arrow(
    cols: _Columns, bad_time: list[int], wanted: Sequence[str], frame_base: int,
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
            bitmaps[id(valid)] = (valid, _validity(valid, n))
        return _numbers(values, kind, bitmap=bitmaps[id(valid)][1])

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
        "udp_length": lambda: num(cols.udp_length, pa.uint16(), cols.udp),
        "protocols": lambda: _names_column(cols.path, cols.path_names),
        "malformed": lambda: _names_column(cols.malformed, cols.malformed_names),
        "community_id": lambda: _community_column(cols),
    }
    arrays = [build[name]() for name in wanted]
    return pa.Table.from_arrays(arrays, schema=pa.schema([SCHEMA.field(c) for c in wanted]))


# ---------------------------------------------------------------------------
# The public entry points
# ---------------------------------------------------------------------------


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

    Frames are decoded :data:`_BATCH` at a time: the decoder makes ~100
    passes over arrays of its frames, and over the whole capture's arrays
    every pass would come from main memory (a third of the decode's time at
    137 000 frames); a batch's arrays and windows stay in the CPU's caches.
    """
    from layerpeek.decode import decode_layers

    n = len(rec)
    cols = _Columns(n)
    for start in range(0, n, _BATCH):
        part = rec.rows(start, start + _BATCH)
        batch = cols.batch(len(part))
        read = _Reader(buf, _Windows.copy(buf, part.data_off))
        try:
            fast = _decode(read, buf, part, batch)
        finally:
            read.close()
        offsets = part.data_off
        lengths = part.cap_len
        linktypes = part.linktype
        for i in np.flatnonzero(~fast).tolist():
            at = int(offsets[i])
            data = bytes(buf[at : at + int(lengths[i])])
            layers, _spans = decode_layers(data, int(linktypes[i]))
            batch.fill(i, layers)
        cols.put(start, batch)
    cols.ts_ns = rec.ts_ns
    cols.cap_len = rec.cap_len
    cols.wire_len = rec.wire_len
    cols.interface = rec.interface
    cols.link_type = rec.linktype
    return _arrow(cols, rec.bad_time, wanted, frame_base, interface_base)


def _indexed_chunk(chunk: Chunk, wanted: list[str], problems: list[str] | None) -> pa.Table:
    """A pcap chunk whose record offsets :func:`layerpeek.split.split` already found.

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
    :class:`layerpeek.split.Chunk` (frame numbers then continue from the
    chunk's place in its file).  ``columns`` picks and orders columns from
    :data:`COLUMNS` plus :data:`OPTIONAL_COLUMNS` (``"community_id"``).

    Values are those of the per-packet decoders (``layerpeek.read``): same
    frame numbers, same protocol path, same malformed reasons.  Problems with
    the file itself (a cut last record) do not raise; pass a list as
    ``problems`` to collect them.  Not a capture: :class:`CaptureFormatError`.
    """
    from layerpeek.split import Chunk

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

