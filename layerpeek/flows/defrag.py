"""IP defragmentation (IPv4 and IPv6) as a stage before the TCP tracker.

Theory of operation
===================

The decoders stop at a fragment: its payload is kept as
:class:`~layerpeek.packet.Payload` because a fragment alone cannot be
decoded.  ``Defragmenter.process(packet)`` collects fragments by datagram,
IPv4 by (source, destination, protocol, identification) as RFC 791 says,
IPv6 by (source, destination, identification) of the Fragment header
(RFC 8200 §4.5), and when the frame that *completes* a datagram arrives it
returns a new :class:`~layerpeek.packet.Packet` for that frame whose layers
are the original link layers followed by the reassembled datagram decoded
from its IP header on (UDP, TCP, DNS …), as Wireshark does by default.
Every fragment frame gets a :class:`FragmentInfo` saying which datagram it
belongs to (its first frame and identification); the completing frame's
info lists all of the datagram's frames.

The reassembled packet's bytes are ``link header + rebuilt datagram``: the
IP header of the first fragment (offset 0) with the fragment fields
cleared, the length fields set to the whole datagram and the IPv4 checksum
recomputed (IPv6: the Fragment header removed and the previous header's
Next Header patched).  So the layers, spans and ``payload_after`` of the
new packet all agree, and the TCP tracker sees an ordinary segment.

Overlaps: the first copy of a byte wins (as in TCP reassembly); an overlap
carrying *different* bytes is reported on the fragment's info
(``problems``), identical ones as duplicates.  A datagram whose fragments
were cut by the capture's snaplen cannot be rebuilt and is reported.

A datagram whose rebuilt length would not fit its 16-bit length field
(over 65,535 bytes, as crafted fragments can claim) is not rebuilt: it is a
reported problem and its fragments stay as they are.

Bounds: at most ``max_datagrams`` datagrams and ``max_bytes`` bytes are held
(the oldest is dropped first, with a problem recorded); the bytes charged are
each datagram's buffer as laid out (up to its highest offset) plus
:data:`FRAGMENT_OVERHEAD` per fragment, not only payload bytes.  A datagram
takes at most :data:`MAX_FRAGMENTS` fragments and keeps at most
:data:`MAX_DATAGRAM_PROBLEMS` problem lines (the rest counted); the
abandoned-datagram list keeps the newest :data:`MAX_PROBLEMS` and
:attr:`Defragmenter.given_up` counts them all.  A datagram expires when
it is incomplete ``timeout_v4_ns`` (30 s, Linux's ``ipfrag_time``) or
``timeout_v6_ns`` (60 s, RFC 8200 §4.5) after its first fragment, in
*packet* time.
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from layerpeek.decode import decode_layers
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.packet import Layer, Packet
from layerpeek.registry import Registry

if TYPE_CHECKING:
    from layerpeek.analysis import Step

#: IPv6 extension headers that may precede a Fragment header.
_V6_EXT = {0: "hop-by-hop", 43: "routing", 60: "destination options", 51: "AH"}
_V6_FRAGMENT = 44
_MAX_EXT = 16

_LINKTYPE_IPV4 = 228
_LINKTYPE_IPV6 = 229

#: Problems kept in :attr:`Defragmenter.problems` (the newest); every one is
#: counted in :attr:`Defragmenter.given_up`.
MAX_PROBLEMS = 1000
#: Problems kept per datagram (the rest are counted in one line).
MAX_DATAGRAM_PROBLEMS = 32
#: Fragments one datagram may collect: the most a 65,535-byte datagram needs
#: in 8-byte fragments.  More (duplicates) drop the datagram as a problem.
MAX_FRAGMENTS = 8192
#: The largest IP datagram: the 16-bit Total Length (IPv4) or Payload Length (IPv6).
MAX_DATAGRAM = 65535
#: Fragment payload bytes that can ever be part of a datagram (IPv6 counts the
#: 40-byte fixed header outside its Payload Length).
_LIMIT = {4: MAX_DATAGRAM, 6: MAX_DATAGRAM + 40}
#: Bookkeeping charged per fragment (frame number, intervals) against ``max_bytes``.
FRAGMENT_OVERHEAD = 64


@dataclass(slots=True)
class FragmentInfo:
    """A fragment's place in its datagram, or the completion of the datagram."""

    version: int  #: 4 or 6
    datagram_id: int  #: IPv4 Identification or IPv6 Fragment header Identification
    first_frame: int  #: the first frame seen of this datagram
    offset: int  #: this fragment's offset in bytes
    length: int  #: this fragment's payload bytes
    more: bool  #: the More Fragments flag
    complete: bool = False  #: this frame completed the datagram (and carries it decoded)
    frames: tuple[int, ...] = ()  #: on the completing frame: every frame of the datagram
    total_len: int = 0  #: on the completing frame: the reassembled payload length
    problems: tuple[str, ...] = ()  #: overlaps, duplicates, inconsistencies

    def summary(self) -> str:
        from layerpeek.render.flows import fragment_summary

        return fragment_summary(self)

    def tree_lines(self) -> list[str]:
        from layerpeek.render.flows import fragment_tree_lines

        return fragment_tree_lines(self)

    def to_dict(self) -> dict[str, Any]:
        from layerpeek.render.flows import fragment_to_dict

        return fragment_to_dict(self)


class _Datagram:
    """One datagram's fragments so far, held in bounded, linear-time structures.

    The captured bytes live in one ``bytearray`` laid out at their datagram
    offsets (at most 65,575 bytes: nothing past :data:`_LIMIT` is stored), and
    what is filled is a sorted list of disjoint ``[start, end)`` intervals,
    merged as fragments arrive.  A fragment is placed with a binary search
    and compared only with the intervals it overlaps, which it then merges
    into one, so each fragment costs O(log n + what it overlaps) and every
    interval is merged away at most once: linear in the fragments, duplicates
    included (a list of pieces scanned whole per fragment made 40,000
    duplicates of one datagram take 93 s).
    """

    __slots__ = (
        "buf",
        "covered",
        "first_frame",
        "first_ts",
        "frames",
        "header",
        "more_problems",
        "nbytes",
        "next_header",
        "next_header_at",
        "problems",
        "seen",
        "total",
        "truncated",
    )

    def __init__(self, frame: int, ts: int) -> None:
        self.first_frame = frame
        self.first_ts = ts
        self.frames: list[int] = []
        self.header: bytes | None = None  # unfragmentable header from the offset-0 fragment
        self.next_header_at = 0  # IPv6: where in `header` the Next Header to patch is
        self.next_header = 0  # IPv6: what the Fragment header said comes next
        self.buf = bytearray()  # captured bytes at their offsets
        self.covered: list[tuple[int, int]] = []  # captured intervals: sorted, disjoint, merged
        self.seen: list[tuple[int, int]] = []  # the same for what fragments cover on the wire
        self.nbytes = 0  # what this datagram is charged against Defragmenter.max_bytes
        self.total: int | None = None  # payload length, known from the last fragment
        self.problems: list[str] = []  # at most MAX_DATAGRAM_PROBLEMS
        self.more_problems = 0  # problems past that
        self.truncated = False

    def note(self, problems: list[str]) -> None:
        room = MAX_DATAGRAM_PROBLEMS - len(self.problems)
        self.problems.extend(problems[:max(room, 0)])
        self.more_problems += max(len(problems) - max(room, 0), 0)

    def all_problems(self) -> tuple[str, ...]:
        more = (f"{self.more_problems} more problems not listed",) if self.more_problems else ()
        return (*self.problems, *more)


def _merge(intervals: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """Add ``[start, end)`` to sorted disjoint ``intervals`` in place; return the overlapped ones.

    Intervals that touch or overlap the new one are replaced by their union.
    Binary search finds the first candidate, so the cost is O(log n) plus the
    intervals merged (each of which then disappears).
    """
    i = bisect_left(intervals, (start,))
    if i and intervals[i - 1][1] >= start:
        i -= 1
    j = i
    lo, hi = start, end
    while j < len(intervals) and intervals[j][0] <= end:
        lo = min(lo, intervals[j][0])
        hi = max(hi, intervals[j][1])
        j += 1
    hit = intervals[i:j]
    intervals[i:j] = [(lo, hi)]
    return hit


_Key = tuple[Any, ...]


class Defragmenter:
    """Reassemble fragmented IP datagrams; see the module docstring.

    As the first stage of :class:`~layerpeek.analysis.Analysis` it replaces
    ``step.packet`` by the reassembled datagram on the frame that completed
    one, and notes every fragment in ``step.flow.defrag``; it raises no events.
    """

    stage_name: ClassVar[str] = "defrag"
    requires: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __init__(
        self,
        *,
        registry: Registry | None = None,
        max_datagrams: int = 1024,
        max_bytes: int = 8 * 1024 * 1024,
        timeout_v4_ns: int = 30 * 10**9,
        timeout_v6_ns: int = 60 * 10**9,
    ) -> None:
        self._registry = registry
        self._max_datagrams = max_datagrams
        self._max_bytes = max_bytes
        self._timeouts = {4: timeout_v4_ns, 6: timeout_v6_ns}
        self._pending: OrderedDict[_Key, _Datagram] = OrderedDict()
        self._bytes = 0
        #: Datagrams given up (expired, evicted, unrebuildable), newest last (the last
        #: :data:`MAX_PROBLEMS`).
        self.problems: deque[str] = deque(maxlen=MAX_PROBLEMS)
        #: How many datagrams were given up in all (``problems`` keeps only the newest).
        self.given_up = 0

    @property
    def pending(self) -> int:
        """Datagrams waiting for fragments."""
        return len(self._pending)

    def feed(self, packet: Packet) -> Packet:
        """The packet to use from here on: ``packet`` itself, or its reassembled datagram."""
        return self.process(packet)[0]

    def on_packet(self, step: Step) -> Sequence[object]:
        packet, frag = self.process(step.packet)
        if frag is not None:
            from layerpeek.flows.records import PacketFlowInfo

            step.packet = packet
            step.flow = PacketFlowInfo("", defrag=frag)
        return ()

    def on_finish(self, events: Sequence[object]) -> Sequence[object]:
        return ()

    def process(self, packet: Packet) -> tuple[Packet, FragmentInfo | None]:
        """Like :meth:`feed`, also returning the frame's :class:`FragmentInfo` (or None)."""
        if self._pending:
            self._expire(packet.ts_ns)
        for i, layer in enumerate(packet.layers):
            kind = type(layer)
            if kind is IPv4:
                assert isinstance(layer, IPv4)
                if layer.flags & 0x1 or layer.fragment_offset:
                    return self._v4(packet, i, layer)
            elif kind is IPv6:
                assert isinstance(layer, IPv6)
                found = _v6_fragment(packet.data, packet.spans[i][0], layer)
                if found is not None:
                    return self._v6(packet, i, layer, found)
        return packet, None

    # -- per version ---------------------------------------------------------

    def _v4(self, packet: Packet, i: int, ip: IPv4) -> tuple[Packet, FragmentInfo | None]:
        data = packet.data
        start = packet.spans[i][0]
        hlen = ip.header_len
        wire_end = start + ip.total_len
        payload = data[start + hlen : wire_end]
        key: _Key = (4, ip.src, ip.dst, ip.protocol, ip.id)
        more = bool(ip.flags & 0x1)
        header = data[start : start + hlen] if ip.fragment_offset == 0 else None
        cut = len(data) < wire_end
        return self._add(packet, i, key, 4, ip.id, ip.fragment_offset, payload, more, header, 0,
                         cut, ip.total_len - hlen)

    def _v6(
        self, packet: Packet, i: int, ip: IPv6, found: tuple[int, int, int, bool, int]
    ) -> tuple[Packet, FragmentInfo | None]:
        frag_at, nh_at, offset, more, ident = found
        data = packet.data
        start = packet.spans[i][0]
        wire_end = start + 40 + ip.payload_len
        payload = data[frag_at + 8 : wire_end]
        key: _Key = (6, ip.src, ip.dst, ident)
        # The unfragmentable part, without the Fragment header; the byte that named
        # the Fragment header (at nh_at) will name what the Fragment header named.
        header = data[start:frag_at] if offset == 0 else None
        cut = len(data) < wire_end
        return self._add(packet, i, key, 6, ident, offset, payload, more, header,
                         nh_at - start, cut, wire_end - frag_at - 8,
                         next_header=data[frag_at])

    # -- shared --------------------------------------------------------------

    def _add(
        self, packet: Packet, i: int, key: _Key, version: int, ident: int, offset: int,
        payload: bytes, more: bool, header: bytes | None, nh_at: int, cut: bool,
        wire_len: int, *, next_header: int = 0,
    ) -> tuple[Packet, FragmentInfo | None]:
        frame = packet.index
        dg = self._pending.get(key)
        if dg is None:
            self._make_room()
            dg = _Datagram(frame, packet.ts_ns)
            self._pending[key] = dg
        dg.frames.append(frame)
        self._charge(dg, FRAGMENT_OVERHEAD)
        problems: list[str] = []
        if cut or len(payload) < wire_len:
            dg.truncated = True
            problems.append("fragment cut short by the capture (snaplen)")
        if header is not None and dg.header is None:
            dg.header = header
            dg.next_header_at = nh_at
            dg.next_header = next_header
            self._charge(dg, len(header))
        if not more:
            end = offset + wire_len
            if dg.total is not None and dg.total != end:
                problems.append(f"last fragment says the datagram ends at {end}, "
                                f"an earlier one said {dg.total}")
            elif dg.total is None:
                dg.total = end
        limit = _LIMIT[version]
        if offset + max(len(payload), wire_len) > limit:
            problems.append(f"fragment ends at {offset + max(len(payload), wire_len)}, "
                            f"past {limit} bytes")
        else:
            problems.extend(self._store(dg, offset, payload))
            _merge(dg.seen, offset, offset + wire_len)
        dg.note(problems)
        info = FragmentInfo(version, ident, dg.first_frame, offset, wire_len, more,
                            problems=tuple(problems))
        if len(dg.frames) > MAX_FRAGMENTS:
            self._drop(key, f"more than {MAX_FRAGMENTS} fragments (duplicates?)")
            return packet, info
        done = self._complete(dg)
        if not done:
            self._enforce_bytes()
            return packet, info
        del self._pending[key]
        self._bytes -= dg.nbytes
        if dg.truncated:
            frames = _frames_text(dg.frames)
            self._given_up(f"IPv{version} datagram id=0x{ident:x} (frames {frames}) not "
                           f"rebuilt: a fragment was cut by the capture")
            return packet, info
        size = self._datagram_size(version, dg)
        if size > MAX_DATAGRAM:
            why = (f"reassembled datagram would be {size} bytes, more than the "
                   f"{MAX_DATAGRAM} an IPv{version} length field can say: not rebuilt, "
                   f"fragments kept as they are")
            frames = _frames_text(dg.frames)
            self._given_up(f"IPv{version} datagram id=0x{ident:x} (frames {frames}): {why}")
            info.problems = (*info.problems, why)
            return packet, info
        rebuilt = self._rebuild(packet, i, version, dg)
        info.complete = True
        info.frames = tuple(dg.frames)
        info.total_len = dg.total or 0
        info.problems = dg.all_problems()
        return rebuilt, info

    @staticmethod
    def _datagram_size(version: int, dg: _Datagram) -> int:
        """What the rebuilt datagram's length field would have to say."""
        header = len(dg.header or b"")
        total = dg.total or 0
        return header + total if version == 4 else header - 40 + total

    def _charge(self, dg: _Datagram, nbytes: int) -> None:
        dg.nbytes += nbytes
        self._bytes += nbytes

    def _store(self, dg: _Datagram, offset: int, payload: bytes) -> list[str]:
        """Place ``payload`` at ``offset``, first copy wins; return problems seen.

        Only the filled intervals the fragment overlaps are compared (one slice
        comparison each), then merged with it: see :class:`_Datagram`.
        """
        end = offset + len(payload)
        if end <= offset:
            return []
        hit = _merge(dg.covered, offset, end)
        grow = end - len(dg.buf)
        if grow > 0:
            dg.buf.extend(bytes(grow))
            self._charge(dg, grow)
        old = bytes(dg.buf[offset:end]) if hit else b""
        dg.buf[offset:end] = payload
        same: list[tuple[int, int]] = []
        differ: list[tuple[int, int]] = []
        for p_start, p_end in hit:
            lo, hi = max(offset, p_start), min(end, p_end)
            if lo >= hi:
                continue  # touching, not overlapping
            first = old[lo - offset : hi - offset]
            dg.buf[lo:hi] = first  # the first copy wins
            (same if first == payload[lo - offset : hi - offset] else differ).append((lo, hi))
        problems: list[str] = []
        if differ:
            problems.append(f"overlap at {differ[0][0]}–{differ[-1][1]} with different data "
                            "(first copy kept)")
        if same:
            problems.append(f"duplicate of bytes {same[0][0]}–{same[-1][1]}")
        return problems

    @staticmethod
    def _complete(dg: _Datagram) -> bool:
        """Every byte up to the end is covered (on the wire; captured or not)."""
        if dg.total is None or dg.header is None or not dg.seen:
            return False
        start, end = dg.seen[0]
        return start == 0 and end >= dg.total

    def _rebuild(self, packet: Packet, i: int, version: int, dg: _Datagram) -> Packet:
        total = dg.total or 0
        body = bytes(dg.buf[:total])
        header = dg.header or b""
        if version == 4:
            hdr = bytearray(header)
            struct.pack_into("!H", hdr, 2, len(hdr) + len(body))
            flags_frag = struct.unpack_from("!H", hdr, 6)[0]
            struct.pack_into("!H", hdr, 6, flags_frag & 0x4000)  # keep DF, clear MF/offset
            struct.pack_into("!H", hdr, 10, 0)
            struct.pack_into("!H", hdr, 10, _checksum(bytes(hdr)))
            datagram = bytes(hdr) + body
            linktype = _LINKTYPE_IPV4
        else:
            hdr = bytearray(header)
            hdr[dg.next_header_at] = dg.next_header
            struct.pack_into("!H", hdr, 4, len(hdr) - 40 + len(body))
            datagram = bytes(hdr) + body
            linktype = _LINKTYPE_IPV6
        start = packet.spans[i][0]
        prefix = packet.data[:start]
        layers, spans = decode_layers(datagram, linktype, self._registry)
        new_layers: tuple[Layer, ...] = packet.layers[:i] + layers
        new_spans = packet.spans[:i] + tuple((a + start, b + start) for a, b in spans)
        data = prefix + datagram
        return Packet(
            packet.index,
            packet.ts_ns,
            len(data),
            packet.linktype,
            data,
            new_layers,
            new_spans,
            packet.interface,
            packet.interface_name,
        )

    # -- bounds --------------------------------------------------------------

    def _drop(self, key: _Key, why: str) -> None:
        dg = self._pending.pop(key)
        self._bytes -= dg.nbytes
        self._given_up(
            f"IPv{key[0]} datagram id=0x{key[-1]:x} from frame {dg.first_frame} "
            f"(frames {_frames_text(dg.frames)}) dropped incomplete: {why}"
        )

    def _given_up(self, text: str) -> None:
        self.given_up += 1
        self.problems.append(text)

    def _expire(self, now: int) -> None:
        while self._pending:
            key, dg = next(iter(self._pending.items()))
            if now - dg.first_ts <= self._timeouts[key[0]]:
                return
            self._drop(key, f"no fragment completed it within {self._timeouts[key[0]] / 1e9:g} s")

    def _make_room(self) -> None:
        while len(self._pending) >= self._max_datagrams:
            self._drop(next(iter(self._pending)), "too many datagrams waiting")

    def _enforce_bytes(self) -> None:
        while self._bytes > self._max_bytes and self._pending:
            self._drop(next(iter(self._pending)), "too many fragment bytes waiting")


def _frames_text(frames: list[int]) -> str:
    """A datagram's frames for a problem line, long lists shortened."""
    if len(frames) <= 16:
        return str(frames)
    return f"[{frames[0]}, {frames[1]}, ... {frames[-1]}; {len(frames)} frames]"


def _checksum(header: bytes) -> int:
    """RFC 1071 Internet checksum of an (even-length) IPv4 header."""
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _v6_fragment(data: bytes, start: int, ip: IPv6) -> tuple[int, int, int, bool, int] | None:
    """Find an IPv6 Fragment header by walking the raw extension chain.

    Returns (fragment header position, position of the Next Header byte that
    names it, offset in bytes, More flag, identification), or None when the
    packet is not a fragment.  Walking the bytes keeps this independent of
    how the IPv6 layer represents its extensions; the walk is bounded.
    """
    nh = ip.next_header
    if nh != _V6_FRAGMENT and nh not in _V6_EXT:
        return None
    end = min(len(data), start + 40 + ip.payload_len) if ip.payload_len else len(data)
    nh_at = start + 6
    pos = start + 40
    for _ in range(_MAX_EXT):
        if nh == _V6_FRAGMENT:
            if pos + 8 > end:
                return None
            off_flags, ident = struct.unpack_from("!HI", data, pos + 2)
            offset = off_flags & 0xFFF8
            more = bool(off_flags & 1)
            if offset == 0 and not more:
                return None  # an "atomic fragment" (RFC 6946): a whole datagram
            return pos, nh_at, offset, more, ident
        if nh not in _V6_EXT or pos + 2 > end:
            return None
        length = (data[pos + 1] + 2) * 4 if nh == 51 else (data[pos + 1] + 1) * 8
        nh_at = pos
        nh = data[pos]
        pos += length
    return None
