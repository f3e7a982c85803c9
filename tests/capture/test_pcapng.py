"""pcapng: sections, interfaces, resolutions, packet block kinds, lying lengths."""

from __future__ import annotations

import io

import pytest
from builders import eth, feed_in_chunks, ipv4_tcp, tcp, varied_frames
from pcapng_build import block, epb, idb, obsolete_pb, shb, spb

from layerpeek.capture import PcapngParser, open_capture

FRAME = eth(ipv4_tcp(tcp(b"hello")))
RAW_IP = ipv4_tcp(tcp(b"raw"))


def frames_of(data: bytes) -> list:  # type: ignore[type-arg]
    return list(open_capture(io.BytesIO(data)))


@pytest.mark.parametrize("order", ["<", ">"])
def test_enhanced_packets_carry_their_interface_and_its_name(order: str) -> None:
    data = shb(order) + idb(order, 1, name="eth0") + epb(order, 0, 1_700_000_000_000_001, FRAME)
    (f,) = frames_of(data)
    assert f.data == FRAME and f.linktype == 1
    assert f.interface == 0 and f.interface_name == "eth0"
    assert f.ts_ns == 1_700_000_000_000_001_000  # default resolution: microseconds


def test_each_frame_gets_its_own_interfaces_link_type() -> None:
    # dpkt applies the first interface's link type to every frame (its issue #681).
    data = (
        shb() + idb(linktype=1) + idb(linktype=101) + epb("<", 0, 1, FRAME) + epb("<", 1, 2, RAW_IP)
    )
    a, b = frames_of(data)
    assert (a.linktype, a.interface) == (1, 0)
    assert (b.linktype, b.interface) == (101, 1)


@pytest.mark.parametrize(
    ("tsresol", "units", "ns"),
    [
        (3, 1_700_000_000_123, 1_700_000_000_123_000_000),  # milliseconds
        (9, 1_700_000_000_123_456_789, 1_700_000_000_123_456_789),  # nanoseconds
        (0x80 | 20, 3 << 20, 3_000_000_000),  # 2^-20 s units: 3 seconds
    ],
)
def test_if_tsresol_scales_timestamps(tsresol: int, units: int, ns: int) -> None:
    data = shb() + idb(tsresol=tsresol) + epb("<", 0, units, FRAME)
    assert frames_of(data)[0].ts_ns == ns


class TestUnitsThatAreNotWholeNanoseconds:
    """Converted with integers and rounded once to the nearest nanosecond (ties to even).

    Through a float, these timestamps came out 47 ns and 1 ns off.
    """

    def test_binary_fractions_of_a_second(self) -> None:
        # 2024-12-06 15:46:40 UTC plus 123,456,789 units of 2^-30 s (0.114978095... s).
        units = (1_733_500_000 << 30) | 123_456_789
        data = shb() + idb(tsresol=0x80 | 30) + epb("<", 0, units, FRAME)
        assert frames_of(data)[0].ts_ns == 1_733_500_000_114_978_095

    def test_picoseconds_since_an_offset(self) -> None:
        # 64 bits of picoseconds span 213 days: such a capture counts from if_tsoffset.
        data = (
            shb()
            + idb(tsresol=12, tsoffset=1_733_500_000)
            + epb("<", 0, 18_000_000_123_456_789_012, FRAME)
        )
        assert frames_of(data)[0].ts_ns == 1_751_500_000_123_456_789

    @pytest.mark.parametrize(
        ("tenths", "ns"),
        [(5, 0), (10, 1), (15, 2), (25, 2), (35, 4)],  # 0.5 ns → 0, 1.5 → 2, 2.5 → 2, 3.5 → 4
    )
    def test_halves_round_to_even(self, tenths: int, ns: int) -> None:
        data = shb() + idb(tsresol=10) + epb("<", 0, tenths, FRAME)  # units of 0.1 ns
        assert frames_of(data)[0].ts_ns == ns

    def test_the_interface_still_reports_its_unit(self) -> None:
        parser = PcapngParser()
        parser.feed(shb() + idb(tsresol=0x80 | 30) + idb(tsresol=12) + idb())
        units = [(i.tsresol, i.tsresol_ns) for i in parser.interfaces]
        assert units == [(0x80 | 30, 1e9 / 2**30), (12, 0.001), (6, 1000.0)]


def test_if_tsoffset_adds_whole_seconds() -> None:
    data = shb() + idb(tsoffset=100) + epb("<", 0, 5_000_000, FRAME)
    assert frames_of(data)[0].ts_ns == 105_000_000_000


def test_several_sections_with_different_byte_orders_restart_interface_numbering() -> None:
    data = (
        shb("<")
        + idb("<", 1, name="a")
        + epb("<", 0, 1, FRAME)
        + shb(">")
        + idb(">", 101, name="b")
        + epb(">", 0, 2, RAW_IP)
    )
    a, b = frames_of(data)
    assert (a.interface_name, a.linktype) == ("a", 1)
    assert (b.interface_name, b.linktype) == ("b", 101)
    assert b.interface == 1  # ids are unique across the file


def test_simple_and_obsolete_packet_blocks_are_read() -> None:
    data = shb() + idb(snaplen=10) + spb("<", FRAME) + obsolete_pb("<", 0, 7, FRAME)
    simple, old = frames_of(data)
    assert simple.data == FRAME[:10] and simple.wire_len == len(FRAME) and simple.ts_ns == 0
    assert old.data == FRAME and old.ts_ns == 7000


def test_unknown_blocks_are_skipped() -> None:
    data = (
        shb()
        + idb()
        + block("<", 0xBAD, b"custom!!")
        + block("<", 5, b"\0" * 8)
        + epb("<", 0, 1, FRAME)
    )
    assert [f.data for f in frames_of(data)] == [FRAME]


@pytest.mark.parametrize("length", [4, 13, 0x7FFFFFF0])
def test_a_block_length_that_lies_stops_cleanly_with_a_problem(length: int) -> None:
    good = shb() + idb() + epb("<", 0, 1, FRAME)
    bad = bytearray(epb("<", 0, 2, FRAME))
    bad[4:8] = length.to_bytes(4, "little")
    reader = open_capture(io.BytesIO(good + bytes(bad)))
    assert [f.data for f in reader] == [FRAME]
    assert reader.problems


def test_a_trailing_length_mismatch_is_reported() -> None:
    bad = bytearray(epb("<", 0, 2, FRAME))
    bad[-4:] = (8).to_bytes(4, "little")
    reader = open_capture(io.BytesIO(shb() + idb() + bytes(bad)))
    assert list(reader) == [] and "trailing length" in reader.problems[0]


def test_a_packet_on_an_undefined_interface_is_skipped_and_reported() -> None:
    reader = open_capture(io.BytesIO(shb() + idb() + epb("<", 3, 1, FRAME) + epb("<", 0, 1, FRAME)))
    assert len(list(reader)) == 1 and "undefined interface 3" in reader.problems[0]


def test_cut_at_every_byte_keeps_whole_blocks_and_one_problem() -> None:
    data = shb() + idb() + epb("<", 0, 1, FRAME) + epb("<", 0, 2, FRAME)
    for cut in range(len(shb()), len(data) + 1):
        reader = open_capture(io.BytesIO(data[:cut]))
        frames = list(reader)
        assert all(f.data == FRAME for f in frames)
        assert len(reader.problems) <= 1


def test_byte_at_a_time_feeding_equals_whole_feeding() -> None:
    data = shb() + idb(name="x") + epb("<", 0, 1, FRAME) + spb("<", FRAME)
    parser = PcapngParser()
    frames = []
    for i in range(len(data)):
        frames += parser.feed(data[i : i + 1])
    assert [f.data for f in frames] == [FRAME, FRAME]


@pytest.mark.parametrize("chunk", [100, 4096])
def test_fed_small_chunks_the_parser_keeps_about_a_block_and_a_chunk(chunk: int) -> None:
    """As for pcap: a pipe's small chunks must not pile consumed bytes up in the buffer."""
    frames = varied_frames()
    data = shb() + idb("<", 1) + b"".join(epb("<", 0, i, f) for i, f in enumerate(frames))
    got, largest = feed_in_chunks(PcapngParser(), data, chunk)
    assert got == frames and len(data) > 500_000
    assert largest <= 2 * (32 + max(map(len, frames))) + 2 * chunk
