"""StreamReassembler: byte-exact, order-independent, gaps reported exactly.

The central property (architecture §2.9): any permutation and duplication
of the same segments reassembles to the same bytes, across 32-bit sequence
wraparound, and when segments are missing the gaps reported are exactly
the missing ranges: never zero-filled, never silently dropped.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from layerpeek.flows.events import Event, StreamData, StreamGap, StreamInconsistency
from layerpeek.flows.reassembly import (
    NEW_DATA,
    OLD_DATA,
    PIECE_OVERHEAD,
    Budget,
    StreamReassembler,
)

MASK = 0xFFFFFFFF


def collect(events: list[Event]) -> tuple[bytes, list[tuple[int, int, str]]]:
    """(delivered bytes, [(gap offset, length, reason)]) checking contiguity on the way."""
    pos = 0
    data = bytearray()
    gaps: list[tuple[int, int, str]] = []
    for e in events:
        if isinstance(e, StreamData):
            assert e.offset == pos, f"data at {e.offset}, expected {pos}"
            data += e.data
            pos += len(e.data)
        elif isinstance(e, StreamGap):
            assert e.offset == pos, f"gap at {e.offset}, expected {pos}"
            assert e.length > 0
            gaps.append((e.offset, e.length, e.reason))
            pos += e.length
    return bytes(data), gaps


@st.composite
def segmented(draw: st.DrawFn) -> tuple[int, bytes, list[tuple[int, bytes]]]:
    """A stream, an ISN (often near the 2**32 wrap), and its cut into segments."""
    stream = draw(st.binary(min_size=1, max_size=400))
    isn = draw(st.one_of(st.integers(0, MASK), st.integers(MASK - 300, MASK)))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(stream) - 1), max_size=12)))) \
        if len(stream) > 1 else []
    bounds = [0, *cuts, len(stream)]
    segments = [(bounds[i], stream[bounds[i] : bounds[i + 1]]) for i in range(len(bounds) - 1)]
    return isn, stream, segments


@settings(max_examples=300)
@given(case=segmented(), data=st.data())
def test_any_permutation_and_duplication_gives_the_same_bytes(
    case: tuple[int, bytes, list[tuple[int, bytes]]], data: st.DataObject
) -> None:
    isn, stream, segments = case
    # Duplicates, plus retransmissions that merge neighbours (overlapping copies).
    extra = data.draw(st.lists(st.sampled_from(segments), max_size=6))
    merged = []
    for _ in range(data.draw(st.integers(0, 3))):
        i = data.draw(st.integers(0, len(segments) - 1))
        j = data.draw(st.integers(i, len(segments) - 1))
        start, end = segments[i][0], segments[j][0] + len(segments[j][1])
        merged.append((start, stream[start:end]))
    order = data.draw(st.permutations(segments + extra + merged))
    r = StreamReassembler(0, "client")
    r.start((isn + 1) & MASK)  # offset 0 is the byte after the SYN
    out: list[Event] = []
    for frame, (offset, chunk) in enumerate(order, 1):
        r.segment((isn + 1 + offset) & MASK, chunk, frame, frame, out)
    got, gaps = collect(out)
    assert got == stream
    assert gaps == []
    assert not any(isinstance(e, StreamInconsistency) for e in out)
    assert r.buffered == 0


@settings(max_examples=300)
@given(case=segmented(), data=st.data())
def test_missing_segments_are_reported_as_exactly_those_gaps(
    case: tuple[int, bytes, list[tuple[int, bytes]]], data: st.DataObject
) -> None:
    isn, _, segments = case
    keep = data.draw(st.lists(st.booleans(), min_size=len(segments), max_size=len(segments)))
    if not any(keep):
        keep[-1] = True
    kept = [s for s, k in zip(segments, keep, strict=True) if k]
    order = data.draw(st.permutations(kept))
    r = StreamReassembler(7, "server")
    r.start(isn)
    out: list[Event] = []
    for frame, (offset, chunk) in enumerate(order, 1):
        r.segment((isn + offset) & MASK, chunk, frame, 0, out)
    r.flush("end of capture", 0, out)
    got, gaps = collect(out)
    high = max(o + len(c) for o, c in kept)
    expected_gaps: list[tuple[int, int]] = []
    for (offset, chunk), k in zip(segments, keep, strict=True):
        if not k and offset < high:
            if expected_gaps and expected_gaps[-1][0] + expected_gaps[-1][1] == offset:
                expected_gaps[-1] = (expected_gaps[-1][0], expected_gaps[-1][1] + len(chunk))
            else:
                expected_gaps.append((offset, len(chunk)))
    assert [(o, n) for o, n, _ in gaps] == expected_gaps
    assert got == b"".join(c for (_, c), k in zip(segments, keep, strict=True) if k)
    assert r.gap_bytes == sum(n for _, n in expected_gaps)


def test_sequence_numbers_wrap_around_2_32_without_losing_bytes() -> None:
    r = StreamReassembler(0, "client")
    r.start(MASK - 4)  # five bytes before the wrap
    out: list[Event] = []
    r.segment(MASK - 4, b"abcde", 1, 0, out)
    r.segment(0, b"fghij", 2, 0, out)  # seq wrapped to 0: offset 5, not -(2**32)
    r.segment(10, b"pqrst", 4, 0, out)  # ahead of a hole, after the wrap
    r.segment(5, b"klmno", 3, 0, out)
    assert collect(out) == (b"abcdefghijklmnopqrst", [])


def test_stream_longer_than_4_gib_keeps_counting_offsets() -> None:
    r = StreamReassembler(0, "client")
    r.start(100)
    out: list[Event] = []
    step = 1 << 30  # pretend 1 GiB segments by acknowledging holes: offsets must keep growing
    for i in range(1, 6):
        r.acked(r.offset((100 + i * step) & MASK), 0, out)
    assert r.next_offset == 5 * step


def test_in_order_segment_is_delivered_at_once_without_buffering() -> None:
    r = StreamReassembler(3, "client")
    r.start(1000)
    out: list[Event] = []
    assert r.segment(1000, b"hello", 9, 123, out) == NEW_DATA
    assert out == [StreamData(3, "client", 0, b"hello", (9,), 123)]
    assert r.buffered == 0


def test_out_of_order_data_waits_and_is_delivered_when_the_hole_fills() -> None:
    r = StreamReassembler(0, "server")
    r.start(0)
    out: list[Event] = []
    r.segment(5, b"world", 2, 20, out)
    assert out == [] and r.buffered == 5
    r.segment(0, b"hello", 1, 30, out)
    assert [(e.offset, e.data, e.frames, e.ts_ns) for e in out if isinstance(e, StreamData)] == [
        (0, b"hello", (1,), 30),
        (5, b"world", (2,), 30),  # ts: the frame that made them deliverable
    ]


def test_retransmission_is_trimmed_and_flagged_as_old_data() -> None:
    r = StreamReassembler(0, "client")
    r.start(0)
    out: list[Event] = []
    r.segment(0, b"abcdef", 1, 0, out)
    assert r.segment(3, b"defghi", 2, 0, out) == OLD_DATA | NEW_DATA
    assert collect(out)[0] == b"abcdefghi"


def test_overlap_with_different_bytes_keeps_the_first_copy_and_reports_it() -> None:
    r = StreamReassembler(4, "client")
    r.start(0)
    out: list[Event] = []
    r.segment(0, b"GET /index", 1, 0, out)
    r.segment(4, b"/evil", 2, 0, out)  # rewrites bytes 5..8 differently
    data, _ = collect(out)
    assert data == b"GET /index"
    bad = [e for e in out if isinstance(e, StreamInconsistency)]
    assert [(e.offset, e.length, e.frame) for e in bad] == [(5, 4, 2)]


def test_overlap_between_waiting_ranges_also_keeps_the_first_copy() -> None:
    r = StreamReassembler(0, "client")
    r.start(0)
    out: list[Event] = []
    r.segment(10, b"KLMNO", 1, 0, out)
    r.segment(12, b"xxOPQ", 2, 0, out)  # 12-13 differ from "MN", 14 agrees, 15-16 new
    r.segment(0, b"ABCDEFGHIJ", 3, 0, out)
    assert collect(out)[0] == b"ABCDEFGHIJKLMNOPQ"
    assert [(e.offset, e.length) for e in out if isinstance(e, StreamInconsistency)] == [(12, 2)]


def test_acknowledged_hole_becomes_a_gap_and_waiting_data_flows() -> None:
    r = StreamReassembler(0, "client")
    r.start(0)
    out: list[Event] = []
    r.segment(0, b"aaaa", 1, 0, out)
    r.segment(8, b"cccc", 3, 0, out)  # bytes 4..7 never captured
    r.acked(12, 5, out)  # ...but the receiver acknowledged all 12
    data, gaps = collect(out)
    assert data == b"aaaacccc"
    assert gaps == [(4, 4, "acked")]


def test_ack_beyond_everything_seen_reports_the_unseen_tail() -> None:
    r = StreamReassembler(0, "client")
    r.start(0)
    out: list[Event] = []
    r.segment(0, b"ab", 1, 0, out)
    r.acked(6, 0, out)
    assert collect(out) == (b"ab", [(2, 4, "acked")])


def test_fin_ends_the_stream_and_its_ack_is_not_a_missing_byte() -> None:
    r = StreamReassembler(0, "client")
    r.start(0)
    out: list[Event] = []
    r.segment(0, b"bye", 1, 0, out, fin=True)
    assert r.finished and r.fin_offset == 3
    r.acked(4, 0, out)  # ack of the FIN's sequence number
    r.segment(3, b"zzz", 2, 0, out)  # bytes claimed after the FIN are not data
    assert collect(out) == (b"bye", [])


def test_per_direction_cap_skips_ahead_with_a_buffer_cap_gap() -> None:
    r = StreamReassembler(0, "client", cap=8 + 2 * PIECE_OVERHEAD)  # bookkeeping counts too
    r.start(0)
    out: list[Event] = []
    r.segment(4, b"12345", 1, 0, out)
    assert out == []
    r.segment(9, b"6789", 2, 0, out)  # 9 bytes waiting > 8
    data, gaps = collect(out)
    assert gaps == [(0, 4, "buffer cap")]
    assert data == b"123456789"
    assert r.buffered == 0


def test_shared_budget_counts_bytes_waiting_in_every_stream() -> None:
    budget = Budget(limit=10 + 2 * PIECE_OVERHEAD)
    a = StreamReassembler(0, "client", budget=budget)
    b = StreamReassembler(1, "client", budget=budget)
    a.start(0)
    b.start(0)
    out: list[Event] = []
    a.segment(5, b"x" * 6, 1, 0, out)
    b.segment(5, b"y" * 6, 2, 0, out)
    assert budget.used == 12 + 2 * PIECE_OVERHEAD and budget.exceeded
    b.skip_waiting("buffer cap", 0, out)
    assert budget.used == 6 + PIECE_OVERHEAD and not budget.exceeded
    a.release()
    assert budget.used == 0


def test_snaplen_cut_segment_leaves_a_hole_for_its_missing_tail() -> None:
    r = StreamReassembler(0, "client")
    r.start(0)
    out: list[Event] = []
    r.segment(0, b"abc", 1, 0, out, wire_len=10)  # 10 bytes sent, 3 captured
    r.segment(10, b"k", 2, 0, out)
    r.flush("end of capture", 0, out)
    assert collect(out) == (b"abck", [(3, 7, "end of capture")])


def test_bytes_before_a_midstream_start_are_ignored_not_delivered() -> None:
    r = StreamReassembler(0, "client")
    r.start(5000)  # capture joined at seq 5000
    out: list[Event] = []
    assert r.segment(4990, b"0123456789", 1, 0, out) == OLD_DATA  # old retransmission
    r.segment(5000, b"new", 2, 0, out)
    assert collect(out) == (b"new", [])
