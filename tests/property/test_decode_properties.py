"""Any bytes, on any link type, through the decode driver and through each decoder alone.

The promise (h11's AFL invariant turned into a test): decoding never raises
for anything a network can carry, and the chain always ends in a valid
terminal layer with no byte lost.  A bug in a decoder propagates out of the
driver on purpose (it catches only its own ``DecodeError``), so these tests
are what keep that honest.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import layerpeek
from layerpeek.errors import DecodeError
from layerpeek.packet import Layer, Malformed
from layerpeek.registry import TABLES, Dissector

from .frames import LINKTYPES, PROPERTY, all_dissectors, any_frames, assert_valid_chain

DISSECTORS = all_dissectors()


@PROPERTY
@given(frame=any_frames())
def test_decoding_any_bytes_never_raises_and_ends_in_a_valid_terminal_layer(
    frame: tuple[bytes, int],
) -> None:
    data, linktype = frame
    assert_valid_chain(layerpeek.decode(data, linktype))


@pytest.mark.parametrize("linktype", LINKTYPES)
@PROPERTY
@given(data=st.binary(max_size=120))
def test_every_link_type_survives_arbitrary_bytes(linktype: int, data: bytes) -> None:
    assert_valid_chain(layerpeek.decode(data, linktype))


@st.composite
def windows(draw: st.DrawFn) -> tuple[bytes, int, int]:
    """A buffer and a [start, end) window in it, as the driver hands one to a decoder."""
    buf = draw(st.binary(max_size=160))
    start = draw(st.integers(0, len(buf)))
    end = draw(st.integers(start, len(buf)))
    return buf, start, end


@pytest.mark.parametrize(
    "dissector", [d for _, d in DISSECTORS], ids=[label for label, _ in DISSECTORS]
)
@PROPERTY
@given(window=windows())
def test_each_decoder_alone_returns_a_layer_and_a_hand_over_inside_its_window(
    dissector: Dissector, window: tuple[bytes, int, int]
) -> None:
    buf, start, end = window
    if dissector.sniff is not None:
        assert isinstance(dissector.sniff(buf, start, end), bool)
    try:
        layer, after = dissector.decode(buf, start, end)
    except DecodeError as e:  # the one exception a decoder may raise: the driver's signal
        assert e.reason
        assert e.offset is None or 0 <= e.offset <= len(buf)
        return
    assert isinstance(layer, Layer)
    assert not isinstance(layer, Malformed)
    if after is None:
        return
    if isinstance(after, Malformed):
        assert start <= after.offset <= end
        assert after.reason
        return
    table, _key, next_start, next_end = after
    assert table in TABLES
    assert start <= next_start, "a hand-over never points backwards"
    assert next_end <= end, "a hand-over never reaches past the window it was given"
