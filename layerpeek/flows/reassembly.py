"""Byte-exact reassembly of one direction of a TCP stream.

Theory of operation
===================

The template is aioquic's ``QuicStreamReceiver``: positions are *offsets*
in the stream (0 = the first byte after the SYN), an in-order segment is
delivered at once (the fast path), anything ahead of the delivery point
waits in a sorted set of non-overlapping ranges, and the arrival of the
missing piece drains every range that became contiguous.

Sequence numbers are 32 bits and wrap.  An offset is recovered the way
aioquic's ``decode_packet_number`` recovers a packet number: of all values
congruent to ``seq - base`` modulo 2³², take the one nearest to the highest
offset seen so far.  That is right as long as the stream does not jump by
2³¹ bytes between two captured segments, which TCP's window forbids.

**Overlap policy: first copy wins.**  When a retransmission or an
overlapping segment covers bytes already received (delivered or waiting),
the bytes received first are kept and the new copy is trimmed.  This is
what Linux does for data it already queued, it keeps delivery idempotent,
and it means a byte is never delivered twice.  If the later copy carries
*different* bytes, that is reported as a
:class:`~layerpeek.flows.events.StreamInconsistency` (a possible evasion,
or a broken middlebox) instead of being hidden.  Delivered bytes are
compared against a bounded window of recent history (``compare_window``);
overlaps older than that are trimmed unchecked.

**Gaps are gaps.**  Bytes the capture never showed are not zero-filled and
not silently skipped: the stream moves past a hole only with a
:class:`~layerpeek.flows.events.StreamGap` saying where, how long, and why:

* ``"acked"``: the receiver acknowledged bytes beyond the hole, so the
  sender will not send them again (the capture missed them);
* ``"rst"`` / ``"end of capture"``: nothing more will come;
* ``"buffer cap"``: too much out-of-order data waits behind the hole.

**Bounded memory.**  Waiting data is capped per direction (``cap``) and,
through a shared :class:`Budget`, across all streams; past the cap the
stream skips to the first waiting range and reports the gap.  Each waiting
piece is charged its payload plus :data:`PIECE_OVERHEAD` bytes of
bookkeeping, so the caps bound memory, not only payload.  Every operation
on the waiting ranges and the history is O(log n) plus what it touches
(see :class:`_Waiting` and :class:`_History`).  Delivered
bytes are not kept beyond the comparison window.

SYN and FIN each occupy one sequence number (RFC 9293 §3.4): the caller
passes the SYN's sequence number + 1 as the base, and a FIN's offset marks
the end of the stream; bytes claimed beyond a FIN are ignored.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from layerpeek.flows.events import Direction, Event, StreamData, StreamGap, StreamInconsistency

_MASK = 0xFFFFFFFF
_HALF = 1 << 31

#: Default cap on out-of-order bytes waiting in one direction.
DEFAULT_CAP = 4 * 1024 * 1024
#: Default cap on out-of-order bytes waiting in all streams of a tracker.
DEFAULT_TOTAL_CAP = 64 * 1024 * 1024
#: Default amount of recently delivered bytes kept to check retransmissions.
DEFAULT_COMPARE_WINDOW = 16 * 1024

#: :meth:`StreamReassembler.segment` result bits.
NEW_DATA = 1  #: the segment carried bytes not seen before
OLD_DATA = 2  #: the segment carried bytes already received (a retransmission or overlap)


class Budget:
    """Bytes waiting out of order in all the streams sharing it (the total cap)."""

    __slots__ = ("limit", "used")

    def __init__(self, limit: int = DEFAULT_TOTAL_CAP) -> None:
        if limit < 0:
            raise ValueError("limit must be >= 0")
        self.limit = limit
        self.used = 0

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit


#: Bookkeeping charged per waiting piece against the caps (list slots, the
#: tuple, the bytes object's header, the ints): measured at about 250 bytes,
#: so a flood of one-byte segments cannot hold 250x its cap in memory.
PIECE_OVERHEAD = 250
#: Waiting pieces per bucket of :class:`_Waiting` before it is split.
_BUCKET = 256


class _Waiting:
    """Out-of-order ranges, sorted by start and disjoint, kept in buckets.

    One flat sorted list made every insertion at the front (segments arriving
    in descending order) and every removal from the front (draining) shift
    the whole list: 100,000 one-byte segments took 13 s, 4x per doubling.
    Buckets of at most ``2 * _BUCKET`` entries, found by binary search on
    each bucket's last end, bound every shift to a bucket (or the short
    list of buckets), so each operation is O(log n + _BUCKET).
    """

    __slots__ = ("count", "ends", "items", "maxes", "starts")

    def __init__(self) -> None:
        self.starts: list[list[int]] = []
        self.ends: list[list[int]] = []
        self.items: list[list[tuple[bytes, int]]] = []
        self.maxes: list[int] = []  # each bucket's last end (ends are sorted too)
        self.count = 0

    def first_start(self) -> int:
        return self.starts[0][0]

    def locate(self, offset: int) -> tuple[int, int]:
        """(bucket, index) of the first range ending after ``offset``."""
        b = bisect_right(self.maxes, offset)
        if b == len(self.maxes):
            return b, 0
        return b, bisect_right(self.ends[b], offset)

    def get(self, b: int, i: int) -> tuple[int, int, int, int, bytes] | None:
        """(bucket, index, start, end, data) at or after (bucket, index); None past the end."""
        while b < len(self.starts) and i >= len(self.starts[b]):
            b, i = b + 1, 0
        if b >= len(self.starts):
            return None
        return b, i, self.starts[b][i], self.ends[b][i], self.items[b][i][0]

    def insert(self, start: int, data: bytes, frame: int) -> None:
        """Add ``[start, start + len(data))``, which overlaps no waiting range."""
        end = start + len(data)
        self.count += 1
        if not self.maxes:
            self.starts.append([start])
            self.ends.append([end])
            self.items.append([(data, frame)])
            self.maxes.append(end)
            return
        b = min(bisect_right(self.maxes, start), len(self.maxes) - 1)
        j = bisect_left(self.starts[b], start)
        self.starts[b].insert(j, start)
        self.ends[b].insert(j, end)
        self.items[b].insert(j, (data, frame))
        self.maxes[b] = self.ends[b][-1]
        if len(self.starts[b]) > 2 * _BUCKET:
            self.starts.insert(b + 1, self.starts[b][_BUCKET:])
            self.ends.insert(b + 1, self.ends[b][_BUCKET:])
            self.items.insert(b + 1, self.items[b][_BUCKET:])
            del self.starts[b][_BUCKET:], self.ends[b][_BUCKET:], self.items[b][_BUCKET:]
            self.maxes[b] = self.ends[b][-1]
            self.maxes.insert(b + 1, self.ends[b + 1][-1])

    def pop_first(self) -> tuple[int, bytes, int]:
        start = self.starts[0].pop(0)
        self.ends[0].pop(0)
        data, frame = self.items[0].pop(0)
        self.count -= 1
        if not self.starts[0]:
            del self.starts[0], self.ends[0], self.items[0], self.maxes[0]
        return start, data, frame

    def clear(self) -> None:
        self.starts.clear()
        self.ends.clear()
        self.items.clear()
        self.maxes.clear()
        self.count = 0


class _History:
    """Recently delivered bytes, to compare retransmissions against.

    Parallel lists with a moving head (dropping from the front is a counter
    increment; the dead prefix is cut off once it is half the list) so that
    a retransmission finds the first overlapping delivery by binary search
    and compares only the deliveries it overlaps.  Scanning every kept
    delivery per retransmission (up to 16,384 one-byte ones) made 100,000
    retransmissions after 16 kB take 374 s.
    """

    __slots__ = ("data", "frames", "head", "nbytes", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.data: list[bytes] = []
        self.frames: list[int] = []  # the (first) frame that carried each delivery
        self.head = 0
        self.nbytes = 0

    def append(self, start: int, data: bytes, window: int, frame: int) -> None:
        self.starts.append(start)
        self.data.append(data)
        self.frames.append(frame)
        self.nbytes += len(data)
        while self.nbytes - len(self.data[self.head]) >= window:
            self.nbytes -= len(self.data[self.head])
            self.head += 1
        if self.head > 64 and self.head * 2 > len(self.starts):
            del self.starts[: self.head], self.data[: self.head], self.frames[: self.head]
            self.head = 0

    def overlapping(self, start: int, end: int) -> Iterator[tuple[int, bytes, int]]:
        """Deliveries (start, bytes, frame) that overlap ``[start, end)``, in order."""
        i = max(bisect_right(self.starts, start, self.head) - 1, self.head)
        starts, data = self.starts, self.data
        while i < len(starts) and starts[i] < end:
            if starts[i] + len(data[i]) > start:
                yield starts[i], data[i], self.frames[i]
            i += 1


class StreamReassembler:
    """One direction of one TCP connection: segments in, ordered events out.

    ``start(base_seq)`` names the sequence number of stream offset 0 (the
    SYN's sequence number + 1, or the first sequence number seen when the
    capture joined mid-stream).  Then ``segment(seq, data, ...)`` for every
    segment, ``acked(ack, ...)`` for every acknowledgement from the other
    side, ``flush(reason, ...)`` when nothing more will come.
    """

    __slots__ = (
        "_base",
        "_budget",
        "_buffered",
        "_cap",
        "_compare_window",
        "_fin",
        "_held",
        "_high",
        "_history",
        "_next",
        "_waiting",
        "conversation",
        "delivered_bytes",
        "direction",
        "gap_bytes",
        "started",
    )

    def __init__(
        self,
        conversation: int,
        direction: Direction,
        *,
        cap: int = DEFAULT_CAP,
        budget: Budget | None = None,
        compare_window: int = DEFAULT_COMPARE_WINDOW,
    ) -> None:
        if cap < 0 or compare_window < 0:
            raise ValueError("cap and compare_window must be >= 0")
        self.conversation = conversation
        self.direction = direction
        self.started = False
        self._base = 0
        self._next = 0  # offset of the next byte to deliver
        self._high = 0  # highest offset any segment reached (its end)
        self._fin: int | None = None  # offset of the FIN, once seen
        # Waiting ranges, sorted and non-overlapping.
        self._waiting = _Waiting()
        self._buffered = 0  # payload bytes waiting
        self._held = 0  # what they cost against the caps: payload + PIECE_OVERHEAD each
        self._cap = cap
        self._budget = budget
        self._compare_window = compare_window
        # Recently delivered bytes; made on first delivery and dropped on
        # release(), so a closed stream costs nothing.
        self._history: _History | None = None
        self.delivered_bytes = 0  #: bytes delivered so far
        self.gap_bytes = 0  #: bytes reported missing so far

    # -- positions -------------------------------------------------------

    def start(self, base_seq: int) -> None:
        """Fix stream offset 0 at sequence number ``base_seq`` (32-bit)."""
        self._base = base_seq & _MASK
        self.started = True

    def offset(self, seq: int) -> int:
        """The stream offset of 32-bit ``seq``, unwrapped near the highest offset seen.

        May be negative: bytes from before the point where the capture
        joined the stream.
        """
        d = (seq - self._base) & _MASK
        k = (self._high - d + _HALF) >> 32
        return d + (k << 32)

    @property
    def next_offset(self) -> int:
        """Offset of the next byte to deliver (everything below it was delivered or gapped)."""
        return self._next

    @property
    def buffered(self) -> int:
        """Bytes waiting out of order."""
        return self._buffered

    @property
    def finished(self) -> bool:
        """True when every byte up to the FIN was delivered or reported missing."""
        return self._fin is not None and self._next >= self._fin

    @property
    def fin_offset(self) -> int | None:
        return self._fin

    # -- input -----------------------------------------------------------

    def segment(
        self,
        seq: int,
        data: bytes,
        frame: int,
        ts_ns: int,
        out: list[Event],
        *,
        wire_len: int | None = None,
        fin: bool = False,
    ) -> int:
        """Take one segment's payload (``seq`` = sequence number of its first byte).

        ``wire_len`` is the payload length on the wire when the capture cut
        the segment short (snaplen): the uncaptured tail becomes a hole.
        ``fin`` marks the FIN, at ``seq + wire_len``.  Events are appended
        to ``out``; the result is a mask of :data:`NEW_DATA` / :data:`OLD_DATA`.
        """
        length = len(data) if wire_len is None else max(wire_len, len(data))
        d = (seq - self._base) & _MASK  # offset(), inlined: this runs per segment
        start = d + (((self._high - d + _HALF) >> 32) << 32)
        end = start + length
        if end > self._high:
            self._high = end
        if fin and self._fin is None and start + length >= self._next:
            self._fin = end
        if self._fin is not None and end > self._fin:  # bytes past the FIN are not data
            cut = max(self._fin - start, 0)
            data = data[:cut]
            end = min(end, self._fin)
        if not data:
            self._drain(ts_ns, out)
            return 0
        result = 0
        data_end = start + len(data)
        # Bytes below the delivery point were received before: compare, trim.
        if start < self._next:
            result |= OLD_DATA
            old_end = min(data_end, self._next)
            self._check_history(start, data[: old_end - start], frame, ts_ns, out)
            if data_end <= self._next:
                return result
            data = data[self._next - start :]
            start = self._next
        if start == self._next and not self._waiting.count:
            # The fast path: in order, nothing waiting.
            self._deliver(start, data, (frame,), ts_ns, out)
            return result | NEW_DATA
        result |= self._insert(start, data, frame, ts_ns, out)
        self._drain(ts_ns, out)
        self._enforce_caps(ts_ns, out)
        return result

    def acked(self, ack_offset: int, ts_ns: int, out: list[Event]) -> None:
        """The other side acknowledged everything below ``ack_offset``.

        Holes below it will never be filled (the sender considers those
        bytes delivered), so they are reported as gaps now and the data
        waiting behind them is delivered.  A FIN's own sequence number is
        not data, so acknowledgements are clamped to the FIN's offset.
        """
        if ack_offset <= self._next:
            return  # the usual case: nothing we have not delivered yet
        if self._fin is not None and ack_offset > self._fin:
            ack_offset = self._fin
        if ack_offset > self._high:
            # Acknowledged bytes no segment of ours ever reached: all missing.
            self._high = ack_offset
        self._skip_to(ack_offset, "acked", ts_ns, out)

    def flush(self, reason: str, ts_ns: int, out: list[Event]) -> None:
        """Nothing more will come: report every remaining hole and deliver what waits."""
        end = self._high if self._fin is None else self._fin
        self._skip_to(end, reason, ts_ns, out)
        self._clear()  # nothing can wait past the end; this only resets the counters

    def release(self) -> None:
        """Forget buffers and history (the connection is over; keep only counters)."""
        self._clear()
        self._history = None

    def skip_waiting(self, reason: str, ts_ns: int, out: list[Event]) -> None:
        """Give up on the first hole: report it and deliver what waits behind it."""
        if self._waiting.count:
            self._gap(self._waiting.first_start() - self._next, reason, ts_ns, out)
            self._drain(ts_ns, out)

    # -- internals -------------------------------------------------------

    def _deliver(
        self, start: int, data: bytes, frames: tuple[int, ...], ts_ns: int, out: list[Event]
    ) -> None:
        out.append(StreamData(self.conversation, self.direction, start, data, frames, ts_ns))
        n = len(data)
        self._next = start + n
        self.delivered_bytes += n
        if self._compare_window:
            history = self._history
            if history is None:
                history = self._history = _History()
            history.append(start, data, self._compare_window, frames[0] if frames else 0)

    def _gap(self, length: int, reason: str, ts_ns: int, out: list[Event]) -> None:
        if length <= 0:
            return
        out.append(StreamGap(self.conversation, self.direction, self._next, length, reason, ts_ns))
        self._next += length
        self.gap_bytes += length

    def _check_history(
        self, start: int, data: bytes, frame: int, ts_ns: int, out: list[Event]
    ) -> None:
        """Compare re-received bytes with what was delivered; report differences."""
        if self._history is None:
            return
        end = start + len(data)
        for h_start, h_data, h_frame in self._history.overlapping(start, end):
            h_end = h_start + len(h_data)
            lo = max(start, h_start)
            hi = min(end, h_end)
            if lo >= hi:
                continue
            if data[lo - start : hi - start] != h_data[lo - h_start : hi - h_start]:
                self._report_mismatch(lo, data[lo - start : hi - start],
                                      h_data[lo - h_start : hi - h_start], frame, ts_ns, out,
                                      h_frame)

    def _report_mismatch(
        self, offset: int, new: bytes, old: bytes, frame: int, ts_ns: int, out: list[Event],
        first_frame: int = 0,
    ) -> None:
        # Report the span from the first to the last differing byte.
        first = next(i for i in range(len(new)) if new[i] != old[i])
        last = next(i for i in range(len(new) - 1, -1, -1) if new[i] != old[i])
        out.append(
            StreamInconsistency(
                self.conversation, self.direction, offset + first, last - first + 1, frame, ts_ns,
                first_frame,
            )
        )

    def _insert(self, start: int, data: bytes, frame: int, ts_ns: int, out: list[Event]) -> int:
        """Store the parts of ``data`` at ``start`` not already waiting (first copy wins)."""
        end = start + len(data)
        waiting = self._waiting
        # The first waiting range that could overlap: the first whose end is past `start`.
        b, i = waiting.locate(start)
        result = 0
        pos = start
        new_parts: list[tuple[int, bytes]] = []
        while pos < end:
            found = waiting.get(b, i)
            if found is not None and found[2] < end:
                b, i, r_start, r_end, r_data = found
                if pos < r_start:
                    new_parts.append((pos, data[pos - start : r_start - start]))
                    pos = r_start
                # Overlap with the waiting range [r_start, r_end): first copy wins.
                hi = min(end, r_end)
                if pos < hi:
                    result |= OLD_DATA
                    old = r_data[pos - r_start : hi - r_start]
                    new = data[pos - start : hi - start]
                    if old != new:
                        self._report_mismatch(pos, new, old, frame, ts_ns, out,
                                              waiting.items[b][i][1])
                    pos = hi
                i += 1
            else:
                new_parts.append((pos, data[pos - start :]))
                pos = end
        for p_start, p_data in new_parts:
            waiting.insert(p_start, p_data, frame)
            self._account(len(p_data))
            result |= NEW_DATA
        return result

    def _account(self, nbytes: int) -> None:
        """``nbytes`` of payload start (> 0) or stop (< 0) waiting, one piece."""
        held = nbytes + (PIECE_OVERHEAD if nbytes > 0 else -PIECE_OVERHEAD)
        self._buffered += nbytes
        self._held += held
        if self._budget is not None:
            self._budget.used += held

    def _pop_first(self) -> tuple[int, bytes, int]:
        start, data, frame = self._waiting.pop_first()
        self._account(-len(data))
        return start, data, frame

    def _drain(self, ts_ns: int, out: list[Event]) -> None:
        """Deliver waiting ranges that became contiguous with the delivery point."""
        while self._waiting.count and self._waiting.first_start() <= self._next:
            start, data, frame = self._pop_first()
            if start + len(data) <= self._next:
                continue  # covered by a gap declared meanwhile
            if start < self._next:
                data = data[self._next - start :]
                start = self._next
            self._deliver(start, data, (frame,), ts_ns, out)

    def _skip_to(self, target: int, reason: str, ts_ns: int, out: list[Event]) -> None:
        """Move the delivery point up to ``target``: deliver what waits, gap the holes."""
        self._drain(ts_ns, out)
        while self._next < target:
            if self._waiting.count and self._waiting.first_start() < target:
                self._gap(self._waiting.first_start() - self._next, reason, ts_ns, out)
                self._drain(ts_ns, out)
            else:
                self._gap(target - self._next, reason, ts_ns, out)

    def _enforce_caps(self, ts_ns: int, out: list[Event]) -> None:
        while self._waiting.count and self._held > self._cap:
            self.skip_waiting("buffer cap", ts_ns, out)

    def _clear(self) -> None:
        if self._budget is not None:
            self._budget.used -= self._held
        self._buffered = 0
        self._held = 0
        self._waiting.clear()
