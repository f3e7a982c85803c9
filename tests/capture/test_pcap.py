"""Classic pcap: byte orders, time units, lengths, and files cut anywhere."""

from __future__ import annotations

import io

import pytest
from builders import eth, feed_in_chunks, ipv4_tcp, pcap_bytes, tcp, varied_frames

from layerpeek.capture import PcapParser, open_capture

FRAMES = [eth(ipv4_tcp(tcp(b"x" * n, seq=n))) for n in (0, 5, 100)]
START = 1_700_000_000_123_456_789


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nanos", [False, True])
def test_both_byte_orders_and_time_units_give_integer_nanoseconds(
    big_endian: bool, nanos: bool
) -> None:
    data = pcap_bytes(FRAMES, nanos=nanos, big_endian=big_endian, start_ns=START, step_ns=1000)
    frames = list(open_capture(io.BytesIO(data)))
    assert [f.data for f in frames] == FRAMES
    expected = START if nanos else START // 1000 * 1000  # µs files lose the last three digits
    assert [f.ts_ns for f in frames] == [expected + 1000 * i for i in range(3)]
    assert all(f.linktype == 1 and f.interface == 0 for f in frames)


def test_original_length_is_kept_beside_the_captured_bytes() -> None:
    data = pcap_bytes([FRAMES[2][:60]], wire_lens=[len(FRAMES[2])], snaplen=60)
    reader = open_capture(io.BytesIO(data))
    (frame,) = list(reader)
    assert len(frame.data) == 60 and frame.wire_len == len(FRAMES[2])
    assert reader.interfaces[0].snaplen == 60


@pytest.mark.parametrize(("nanos", "tsresol"), [(False, 6), (True, 9)])
def test_the_interface_states_the_files_time_unit(nanos: bool, tsresol: int) -> None:
    reader = open_capture(io.BytesIO(pcap_bytes(FRAMES[:1], nanos=nanos)))
    list(reader)
    assert reader.interfaces[0].tsresol == tsresol  # microseconds or nanoseconds, as pcapng says


def test_link_type_ignores_the_fcs_bits() -> None:
    data = bytearray(pcap_bytes(FRAMES[:1], linktype=1))
    data[20:24] = (1 | 0x10000000).to_bytes(4, "little")  # FCS-present bit set
    assert [f.linktype for f in open_capture(io.BytesIO(bytes(data)))] == [1]


def test_a_file_cut_at_any_byte_yields_every_whole_record_then_reports_the_cut() -> None:
    data = pcap_bytes(FRAMES)
    ends = []
    pos = 24
    for frame in FRAMES:
        pos += 16 + len(frame)
        ends.append(pos)
    for cut in range(24, len(data) + 1):
        reader = open_capture(io.BytesIO(data[:cut]))
        frames = list(reader)
        whole = sum(1 for e in ends if e <= cut)
        assert [f.data for f in frames] == FRAMES[:whole], cut
        on_boundary = cut == 24 or cut in ends
        assert bool(reader.problems) != on_boundary, (cut, reader.problems)
        if reader.problems:
            assert "cut by end of file" in reader.problems[0]
            assert f"record {whole + 1}" in reader.problems[0]


def test_feeding_one_byte_at_a_time_gives_the_same_frames() -> None:
    data = pcap_bytes(FRAMES)
    parser = PcapParser()
    frames = []
    for i in range(len(data)):
        frames += parser.feed(data[i : i + 1])
    parser.finish()
    assert [f.data for f in frames] == FRAMES and parser.problems == []


@pytest.mark.parametrize("chunk", [100, 4096])
def test_fed_small_chunks_the_parser_keeps_about_a_record_and_a_chunk(chunk: int) -> None:
    """A live pipe delivers small chunks: consumed bytes must not pile up in the buffer.

    (They used to stay until a megabyte had been consumed, and every chunk
    copied the whole buffer again.)
    """
    frames = varied_frames()
    data = pcap_bytes(frames)
    got, largest = feed_in_chunks(PcapParser(), data, chunk)
    assert got == frames and len(data) > 500_000
    assert largest <= 2 * (16 + max(map(len, frames))) + 2 * chunk


def test_an_impossible_record_length_stops_reading_with_a_problem() -> None:
    data = bytearray(pcap_bytes(FRAMES))
    data[24 + 8 : 24 + 12] = (0x7FFFFFFF).to_bytes(4, "little")
    reader = open_capture(io.BytesIO(bytes(data)))
    assert list(reader) == []
    assert "impossible" in reader.problems[0]


def test_records_stopped_early_go_on_with_the_next_call() -> None:
    """``iter_records`` hands records out one by one; a consumer may stop and come back."""
    frames = [eth(ipv4_tcp(tcp(bytes([i]) * i))) for i in range(10)]
    parser = PcapParser()
    first = parser.iter_records(pcap_bytes(frames))
    taken = [next(first)[2] for _ in range(3)]
    first.close()
    assert parser.records == 3
    rest = [record[2] for record in parser.iter_records(b"")]
    assert taken + rest == frames and parser.records == 10
    parser.finish()
    assert parser.problems == []
