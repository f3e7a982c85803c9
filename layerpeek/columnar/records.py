"""Step 1 of a table: where every frame of a capture buffer is (the record index).

A pcap file is walked record header by record header: each record's position
depends on the previous one's length, so this one loop cannot be vectorised.
It runs in C when the optional extension ``layerpeek._speedups`` was built,
streaming the file into the CPU's caches a little ahead of itself, and in
Python otherwise (one ``unpack_from`` per record, the floor the benchmark
compares against); both give the same records.  Everything else about a
record (time, lengths) is read afterwards, for all records at once.  pcapng is
walked block by block; Section and Interface blocks go through the same
:class:`~layerpeek.capture.pcapng.PcapngParser` that ``read`` uses, so link
types, interface numbering and ``if_tsresol`` agree by construction.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from layerpeek.capture.pcap import (
    MAX_RECORD,
    PcapParser,
    is_pcap_magic,
    max_record,
    record_problem,
)
from layerpeek.capture.pcapng import (
    MAX_BLOCK,
    PACKET_BLOCK_SLACK,
    PcapngParser,
    is_pcapng_magic,
    timestamp_ns,
    unit_ns,
)
from layerpeek.columnar import _compiled
from layerpeek.errors import CaptureFormatError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    IntArray = NDArray[np.int64]
    BoolArray = NDArray[np.bool_]

_SHB_MAGIC = b"\x0a\x0d\x0d\x0a"
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1



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
    #: Where the index stopped in the buffer: past the last whole record, or
    #: at the damage that stopped it.  A capture read in pieces continues
    #: from here (with the bytes after it) in the next piece.
    end: int = 0
    #: The bytes the record or block at ``end`` takes in all, where its header
    #: says so (0: unknown); a piece must hold that much to index it.
    need: int = 0
    #: Damage stopped the index (an impossible length): nothing after it is read.
    stopped: bool = False
    #: Bytes after the buffer's end that belong to an oversize packet block
    #: (reported, not indexed): a capture read in pieces passes over them unread.
    skip: int = 0

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
PER_FRAME = (
    "data_off", "cap_len", "wire_len", "ts_ns", "interface", "linktype", "record_start"
)


def _as_int64(values: Sequence[int]) -> IntArray:
    return np.asarray(values, dtype=np.int64) if len(values) else np.zeros(0, np.int64)


def index_records(
    buf: bytes | mmap.mmap,
    *,
    name: str = "<capture>",
    final: bool = True,
    shift: int = 0,
    before: int = 0,
    header: PcapParser | None = None,
    sections: PcapngParser | None = None,
) -> Records:
    """Index every record of a pcap or pcapng capture held in ``buf``.

    Raises :class:`CaptureFormatError` if ``buf`` is not a capture; a damaged
    or cut record ends the index with a message in ``problems``, as
    :class:`~layerpeek.capture.CaptureReader` does.

    A capture read in pieces (see :mod:`layerpeek.columnar.stream`) is
    indexed piece by piece: ``buf`` then starts ``shift`` bytes into the
    capture, after ``before`` records, on a record boundary; ``header`` is
    the pcap file header read from the first piece, ``sections`` the pcapng
    sections and interfaces so far (a parser that carries on from piece to
    piece); with ``final`` false, a record cut by the end of ``buf`` is left
    for the next piece (:attr:`Records.end`) rather than reported.  Messages
    give offsets and record numbers in the whole capture.
    """
    if header is not None:
        return _index_pcap(buf, name, header, shift, before, final)
    if sections is not None and sections.section >= 0:
        return _index_pcapng(buf, name, sections, shift, final)
    if _capture_format(buf, name) == "pcap":
        return _index_pcap(buf, name, None, shift, before, final)
    return _index_pcapng(buf, name, sections or PcapngParser(), shift, final)


def time_problem(count: int, first: int) -> str:
    """What to report of ``count`` frames whose time does not fit in int64 nanoseconds.

    Their ``ts_ns`` is null (an Arrow or pandas timestamp cannot hold them);
    ``first`` is the frame number of the first of them.
    """
    if count == 1:
        return (
            f"frame {first}: timestamp outside the int64 nanosecond range "
            "(years 1677 to 2262); its ts_ns is null"
        )
    return (
        f"{count} frames have timestamps outside the int64 nanosecond range "
        f"(years 1677 to 2262), the first frame {first}; their ts_ns is null"
    )


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


def _walk_python(buf: bytes | mmap.mmap, big_endian: bool, start: int = 24) -> _Walked:
    """Where every pcap record whose 16-byte header is whole starts (from byte ``start``),
    and where the walk stopped.

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
    at = start + 8
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


def _walk_compiled(buf: bytes | mmap.mmap, big_endian: bool, start: int = 24) -> _Walked:
    """:func:`_walk_python` in C (``layerpeek._speedups``): the same records, their headers
    copied on the way (each is in the CPU's cache at that moment)."""
    speedups = _compiled.speedups
    assert speedups is not None
    packed, headers, stop = speedups.pcap_walk(buf, start, big_endian, MAX_RECORD)
    return np.frombuffer(packed, np.int64), headers, stop


def _walk(buf: bytes | mmap.mmap, big_endian: bool, start: int) -> _Walked:
    """The pcap walk :func:`index_records` uses: compiled when enabled, else Python."""
    if _compiled.ENABLED:
        return _walk_compiled(buf, big_endian, start)
    return _walk_python(buf, big_endian, start)


def _index_pcap(
    buf: bytes | mmap.mmap,
    name: str,
    header: PcapParser | None,
    shift: int,
    before: int,
    final: bool,
) -> Records:
    """The records of ``buf``: a whole pcap file (``header`` None), or a piece of one
    after its file header (see :func:`index_records`)."""
    size = len(buf)
    start = 0
    file_header = b""
    if header is None:
        if size < 24:  # cut inside its header: no records, as the streaming reader says
            none = np.zeros(0, np.int64)
            return Records(
                "pcap", none, none, none, none, none, none, none,
                [f"file ends inside the 24-byte pcap header ({size} bytes)"],
                file_header=bytes(buf), end=size,
            )
        file_header = bytes(buf[:24])
        header = pcap_header(file_header, name)
        start = 24
    starts, headers, pos = _walk(buf, header.byte_order == ">", start)
    records = pcap_records_at(buf, header, starts, headers, file_header)
    incl = records.cap_len
    rec = records.record_start
    keep = len(rec)
    records.end = pos
    impossible = np.flatnonzero(incl > max_record(header.linktype))
    if len(impossible):
        keep = int(impossible[0])
        records.end = int(rec[keep])
        records.stopped = True
        problem = record_problem(
            before + keep + 1, shift + int(rec[keep]), int(incl[keep]), header.linktype
        )
        assert problem is not None
        records.problems.append(problem)
    elif keep and int(rec[-1] + 16 + incl[-1]) > size:
        keep -= 1
        records.end = int(rec[keep])
        records.need = 16 + int(incl[keep])
        if final:
            records.problems.append(
                f"record {before + keep + 1} at byte {shift + int(rec[keep])} cut by end of "
                f"file: header says {int(incl[keep])} bytes, {size - int(rec[keep]) - 16} present"
            )
    elif 0 < size - pos < 16:
        records.need = 16
        if final:
            records.problems.append(
                f"record {before + keep + 1} at byte {shift + pos} cut by end of file: "
                f"{size - pos} of 16 header bytes present"
            )
    if keep < len(rec):
        for name_ in PER_FRAME:
            setattr(records, name_, getattr(records, name_)[:keep])
    return records


def pcap_records_at(
    buf: bytes | mmap.mmap,
    header: PcapParser,
    starts: IntArray,
    headers: bytes | bytearray | None = None,
    file_header: bytes | None = None,
) -> Records:
    """Records whose 16-byte headers start at ``starts``, all read at once.

    ``headers``: those headers already copied one after the other (the
    compiled walk's); without it, one gather over the buffer reads them.
    ``file_header``: the pcap file header to keep (default: the buffer's
    first 24 bytes).
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
        file_header=bytes(buf[:24]) if file_header is None else file_header,
    )


def _index_pcapng(
    buf: bytes | mmap.mmap, name: str, helper: PcapngParser, shift: int, final: bool
) -> Records:
    """Walk pcapng blocks; Enhanced Packet Blocks are read here, the rest by PcapngParser.

    With the compiled loops, runs of well-formed Enhanced Packet Blocks are
    walked in C and read all at once (:func:`_epb_run`); every other block,
    and any block the C walk refuses, takes the per-block path below, which
    says the same things of the same blocks.  ``helper`` owns the sections
    and interfaces, exactly as ``read`` sees them (a piece of a capture read
    in pieces gets the one the pieces before it filled; see
    :func:`index_records` for ``shift`` and ``final``).
    """
    size = len(buf)
    stopped = False  # damage ended the walk
    need = 0  # bytes of the block cut by the end of the buffer, if known
    skip = 0  # bytes of an oversize packet block past the buffer's end
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
    # Frames already moved out of the lists above, as arrays in PER_FRAME order.
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
        if _compiled.ENABLED and helper.section >= 0:
            speedups = _compiled.speedups
            assert speedups is not None
            # Packet blocks longer than any interface's link type allows are
            # left to the per-block path below, which reports and skips them.
            largest = max(
                (max_record(iface.linktype) for iface in helper.interfaces), default=0
            )
            starts, headers, stop = speedups.pcapng_walk(
                buf, pos, helper.order == ">", min(MAX_BLOCK, largest + PACKET_BLOCK_SLACK)
            )
            if len(starts):
                move_lists()
                run, run_problems, run_bad = _epb_run(
                    helper, np.frombuffer(starts, np.int64), headers, stop, moved, shift
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
                    f"section header at byte {shift + pos}: bad byte-order magic {bom.hex(' ')}"
                )
                stopped = True
                break
            btype = 0x0A0D0D0A
            length = u32[order].unpack_from(buf, pos + 4)[0]
        else:
            if helper.section < 0:
                raise CaptureFormatError(f"{name}: not a pcapng file (no section header block)")
            order = helper.order
            btype, length = u32x2[order].unpack_from(buf, pos)
        if length < 12 or length % 4 or length > MAX_BLOCK:
            problems.append(
                f"block type 0x{btype:x} at byte {shift + pos}: impossible length {length}"
            )
            stopped = True
            break
        end = pos + length
        if btype in (2, 3, 6) and helper.interfaces and (btype == 3 or pos + 16 <= size):
            iface_id = 0 if btype == 3 else (
                u32[order].unpack_from(buf, pos + 8)[0] if btype == 6
                else struct.unpack_from(order + "H", buf, pos + 8)[0]
            )
            if iface_id < len(helper.interfaces):
                kind = helper.interfaces[iface_id].linktype
                limit = max_record(kind)
                if length > limit + PACKET_BLOCK_SLACK:
                    problems.append(
                        f"packet block at byte {shift + pos}: {length} bytes, more than a link "
                        f"type {kind} packet may take ({limit} bytes, as libpcap); skipped unread"
                    )
                    if end > size:
                        skip, end = end - size, size
                    pos = end
                    continue
        if end > size:
            need = length
            if final:
                problems.append(
                    f"block at byte {shift + pos} cut by end of file ({size - pos} bytes present)"
                )
            break
        trailer = u32[order].unpack_from(buf, end - 4)[0]
        if trailer != length:
            problems.append(
                f"block type 0x{btype:x} at byte {shift + pos}: trailing length {trailer} "
                f"differs from {length}"
            )
            stopped = True
            break
        if btype == 6:  # Enhanced Packet Block: the common case, read here
            if length < 32:
                problems.append(f"packet block at byte {shift + pos} too short; skipped")
            else:
                iface_id, high, low, cap, orig = epb[order].unpack_from(buf, pos + 8)
                interfaces = helper.interfaces
                if iface_id >= len(interfaces):
                    problems.append(
                        f"packet block at byte {shift + pos}: undefined interface {iface_id}; "
                        "skipped"
                    )
                else:
                    room = end - 4 - (pos + 28)
                    if cap > room:
                        problems.append(
                            f"packet block at byte {shift + pos}: captured length {cap} exceeds "
                            f"the block; cut to {room}"
                        )
                        cap = room
                    iface = interfaces[iface_id]
                    when = timestamp_ns(iface.tsresol, iface.tsoffset_s, high, low)
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
            problems.extend(f"block at byte {shift + pos}: {p}" for p in helper.problems)
            helper.problems.clear()
        pos = end
    else:
        if pos < size and final:  # not even the block's length is there
            problems.append(
                f"block at byte {shift + pos} cut by end of file ({size - pos} bytes present)"
            )
    move_lists()
    whole = (
        tuple(np.concatenate(arrays) for arrays in zip(*segments, strict=True))
        if segments
        else tuple(np.zeros(0, np.int64) for _ in PER_FRAME)
    )
    offsets, captured, on_wire, times, iface_numbers, linktypes, record_starts = whole
    return Records(
        "pcapng", offsets, captured, on_wire, times, iface_numbers, linktypes, record_starts,
        problems, meta, bad_time=bad_time, end=pos, need=need, stopped=stopped, skip=skip,
    )


def _epb_run(
    helper: PcapngParser,
    starts: IntArray,
    headers: bytes | bytearray,
    stop: int,
    before: int,
    shift: int,
) -> tuple[tuple[IntArray, ...], list[str], list[int]]:
    """A run of Enhanced Packet Blocks from the compiled walk, read all at once.

    Returns the frames' arrays (in :data:`PER_FRAME` order), the problems
    in block order, and which frames' times are out of range (counted after
    ``before`` earlier frames), saying of every block what the per-block path
    of :func:`_index_pcapng` says (at offsets ``shift`` later: the buffer's
    place in the capture).
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
        (i, f"packet block at byte {shift + int(starts[i])}: undefined interface "
            f"{int(iface_id[i])}; skipped")
        for i in np.flatnonzero(~defined).tolist()
    ] + [
        (i, f"packet block at byte {shift + int(starts[i])}: captured length {int(cap[i])} "
            f"exceeds the block; cut to {int(room[i])}")
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
        when[mine], bad[mine] = _timestamps_ns(iface.tsresol, iface.tsoffset_s, units[mine])
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
    tsresol: int, offset_s: int, units: NDArray[np.uint64]
) -> tuple[IntArray, BoolArray]:
    """:func:`timestamp_ns` of many timestamps of one interface, and which do not fit int64.

    Whole-nanosecond units are computed in int64 where the result is sure to
    fit (up to the year 2116); the rest, and other units, as
    :func:`timestamp_ns` computes them, one by one.
    """
    ns = np.zeros(len(units), np.int64)
    slow = np.ones(len(units), np.bool_)
    step, denominator = unit_ns(tsresol)
    if denominator == 1 and abs(offset_s) < 1 << 31:
        slow = units > np.uint64((1 << 62) // step)
        fast = ~slow
        ns[fast] = units[fast].astype(np.int64) * step + offset_s * 1_000_000_000
    bad = np.zeros(len(units), np.bool_)
    for i in np.flatnonzero(slow).tolist():
        value = int(units[i])
        when = timestamp_ns(tsresol, offset_s, value >> 32, value & 0xFFFF_FFFF)
        if _INT64_MIN <= when <= _INT64_MAX:
            ns[i] = when
        else:
            bad[i] = True
    return ns, bad
