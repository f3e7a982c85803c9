"""TCP reassembly gives the same stream whatever order and duplication the segments came in.

The segments of one direction are cut from a known byte stream (overlaps
allowed: a retransmission may re-cut the bytes differently), then delivered
in any permutation, with any of them repeated.  After ``flush`` the bytes
delivered, in offset order, must be exactly the stream: nothing lost,
nothing delivered twice, no gap reported, and each byte's offset right.
Sequence numbers start anywhere, including just below the 2³² wrap.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from layerpeek.flows.events import Event, StreamData, StreamGap, StreamInconsistency
from layerpeek.flows.reassembly import StreamReassembler

from .frames import PROPERTY

_MASK = 0xFFFFFFFF


@st.composite
def shuffled_segments(draw: st.DrawFn) -> tuple[bytes, int, list[tuple[int, bytes]]]:
    """(stream, base seq, segments as (seq, bytes)) covering the whole stream."""
    stream = draw(st.binary(min_size=1, max_size=400))
    base = draw(st.one_of(st.integers(0, _MASK), st.integers(_MASK - 300, _MASK)))
    # A cover of [0, len): cut points, then optional extra overlapping pieces.
    cuts = sorted(set(draw(st.lists(st.integers(1, len(stream) - 1), max_size=20)))) if len(
        stream
    ) > 1 else []
    bounds = [0, *cuts, len(stream)]
    pieces = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    for _ in range(draw(st.integers(0, 6))):  # retransmissions that re-cut the bytes
        a = draw(st.integers(0, len(stream) - 1))
        b = draw(st.integers(a + 1, len(stream)))
        pieces.append((a, b))
    pieces += draw(st.lists(st.sampled_from(pieces), max_size=6))  # plain duplicates
    order = draw(st.permutations(pieces))
    return stream, base, [((base + a) & _MASK, stream[a:b]) for a, b in order]


def reassemble(base: int, segments: list[tuple[int, bytes]]) -> list[Event]:
    r = StreamReassembler(0, "client")
    r.start(base)
    out: list[Event] = []
    for frame, (seq, data) in enumerate(segments, 1):
        r.segment(seq, data, frame, frame, out)
    r.flush("end of capture", len(segments) + 1, out)
    return out


@PROPERTY
@given(case=shuffled_segments())
def test_any_order_and_duplication_gives_the_same_stream(
    case: tuple[bytes, int, list[tuple[int, bytes]]],
) -> None:
    stream, base, segments = case
    events = reassemble(base, segments)
    assert not [e for e in events if isinstance(e, StreamGap)]
    assert not [e for e in events if isinstance(e, StreamInconsistency)]
    data = [e for e in events if isinstance(e, StreamData)]
    offset = 0
    for e in data:  # delivered in order, each byte once, at its offset
        assert e.offset == offset
        offset += len(e.data)
    assert b"".join(e.data for e in data) == stream


@PROPERTY
@given(case=shuffled_segments(), drop=st.data())
def test_a_missing_piece_is_reported_as_a_gap_never_invented(
    case: tuple[bytes, int, list[tuple[int, bytes]]], drop: st.DataObject
) -> None:
    stream, base, segments = case
    # Remove every copy of some bytes: whatever is left must come out at its
    # own offset, and the holes as gaps that exactly fill the rest.
    lost = drop.draw(st.integers(0, len(stream) - 1))
    kept = [
        (seq, data)
        for seq, data in segments
        if not ((seq - base) & _MASK) <= lost < ((seq - base) & _MASK) + len(data)
    ]
    events = reassemble(base, kept)
    covered = bytearray(len(stream))
    position = 0
    for e in events:
        if isinstance(e, StreamData):
            assert e.offset == position
            assert e.data == stream[e.offset : e.offset + len(e.data)]
            covered[e.offset : e.offset + len(e.data)] = b"\x01" * len(e.data)
            position += len(e.data)
        elif isinstance(e, StreamGap):
            assert e.offset == position and e.length > 0
            position += e.length
    assert covered[lost] == 0
    # flush() reports holes up to the highest byte any segment reached, no further.
    assert position == max((((seq - base) & _MASK) + len(d) for seq, d in kept), default=0)
