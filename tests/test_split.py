"""Splitting a capture on record boundaries: chunks processed apart give the whole file's answer."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("numpy")

import pyarrow as pa
from conftest import own_captures, public_captures

import layerpeek
from layerpeek.columnar import Chunk, split, table
from layerpeek.errors import CaptureFormatError

ALL_CAPTURES = own_captures() + public_captures()


def packet_facts(packets: Any) -> list[tuple[Any, ...]]:
    return [
        (p.index, p.ts_ns, p.wire_len, p.linktype, p.interface, p.interface_name, p.data,
         p.protocols)
        for p in packets
    ]


@pytest.mark.parametrize("parts", [2, 3, 7])
@pytest.mark.parametrize("path", ALL_CAPTURES, ids=lambda p: p.name)
def test_chunks_decoded_one_by_one_give_the_whole_files_packets(path: Path, parts: int) -> None:
    chunks = split(path, parts)
    got = [fact for chunk in chunks for fact in packet_facts(chunk.packets())]
    assert got == packet_facts(layerpeek.read(path))


@pytest.mark.parametrize("path", ALL_CAPTURES, ids=lambda p: p.name)
def test_chunk_tables_concatenated_equal_the_whole_files_table(path: Path) -> None:
    chunks = split(path, 4)
    whole = table(path)
    parts = pa.concat_tables([table(chunk) for chunk in chunks])
    assert parts.to_pylist() == whole.to_pylist()


def test_chunks_cover_the_file_without_gaps_or_overlap(capture: Any) -> None:
    path = capture("http_large_body.pcap")
    chunks = split(path, 5)
    assert len(chunks) == 5
    assert chunks[0].start == 0 and chunks[-1].end == path.stat().st_size
    for before, after in itertools.pairwise(chunks):
        assert before.end == after.start
        assert after.first_frame == before.first_frame + before.frames
    assert sum(c.frames for c in chunks) == 187


def test_chunk_size_sets_the_number_of_chunks(capture: Any) -> None:
    path = capture("http_large_body.pcap")  # about 200 kB
    size = path.stat().st_size
    chunks = split(path, chunk_bytes=size // 4 + 1)
    assert len(chunks) == 4
    assert len(split(path)) == 1  # the default chunk is far larger


def test_more_parts_than_records_gives_one_chunk_per_record(capture: Any) -> None:
    chunks = split(capture("tcp_refused.pcap"), 50)
    assert [c.frames for c in chunks] == [1, 1, 1, 1]


def test_each_chunk_is_a_capture_of_its_own(capture: Any, tmp_path: Path) -> None:
    path = capture("http_rst_cut.pcap")
    for k, chunk in enumerate(split(path, 3)):
        out = tmp_path / f"part{k}.pcap"
        chunk.write(out)
        frames = list(layerpeek.open_capture(out))
        assert len(frames) == chunk.frames
        whole = list(layerpeek.open_capture(path))[chunk.first_frame - 1 :][: chunk.frames]
        assert [f.data for f in frames] == [f.data for f in whole]


def test_pcapng_chunks_carry_the_section_and_its_interfaces(public: Any) -> None:
    """Three big-endian sections, five interfaces: ids and link types survive the cut."""
    path = public("pcapng_be_multisection.pcapng")
    chunks = split(path, 8)
    assert len(chunks) > 3
    for chunk in chunks[1:]:
        assert chunk.header[:4] == b"\x0a\x0d\x0d\x0a"  # starts with a Section Header Block
    got = [fact for chunk in chunks for fact in packet_facts(chunk.packets())]
    assert got == packet_facts(layerpeek.read(path))
    assert {c.interface_base for c in chunks} != {0}  # later sections count earlier interfaces


def test_the_file_problem_goes_with_the_last_chunk(capture: Any, tmp_path: Path) -> None:
    data = capture("http_get_post.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-10])
    chunks = split(cut, 3)
    assert not chunks[0].problems
    problems: list[str] = []
    rows = sum(table(c, ["frame"], problems=problems).num_rows for c in chunks)
    assert rows == 19
    assert len(problems) == 1 and "cut by end of file" in problems[0]


@pytest.mark.parametrize("name", ["http_get_post.pcap", "tcp_3040_greeting.pcapng"])
@pytest.mark.parametrize("parts", [1, 3])
def test_chunk_problems_read_like_the_whole_files(
    capture: Any, tmp_path: Path, name: str, parts: int
) -> None:
    """Offsets and record numbers in the messages are the file's, not a chunk's."""
    data = capture(name).read_bytes()
    cut = tmp_path / f"cut-{name}"
    for size in (len(data) - 10, len(data) - 100, len(data) - 300):
        cut.write_bytes(data[:size])
        with layerpeek.open_capture(cut) as reader:
            frames = sum(1 for _ in reader)
            expected = list(reader.problems)
        problems: list[str] = []
        chunks = split(cut, parts)
        rows = sum(table(c, ["frame"], problems=problems).num_rows for c in chunks)
        assert (rows, problems) == (frames, expected), size
        assert expected


def test_a_gzip_capture_is_one_chunk(capture: Any, tmp_path: Path) -> None:
    path = capture("http_chunked.pcap")
    gz = tmp_path / "c.pcap.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    chunks = split(gz, 4)
    assert len(chunks) == 1 and chunks[0].compressed and chunks[0].frames == 20
    assert table(chunks[0]).to_pylist() == table(path).to_pylist()


def test_chunks_are_plain_picklable_values(capture: Any) -> None:
    import pickle

    chunks = split(capture("http_rst_cut.pcap"), 3)
    again = pickle.loads(pickle.dumps(chunks))
    assert again == chunks
    assert all(isinstance(c, Chunk) for c in again)
    assert "frames 1-" in again[0].name


def test_bad_arguments_and_files_are_clear_errors(tmp_path: Path, capture: Any) -> None:
    with pytest.raises(ValueError, match="parts must be at least 1"):
        split(capture("tcp_refused.pcap"), 0)
    with pytest.raises(ValueError, match="chunk_bytes must be at least 1"):
        split(capture("tcp_refused.pcap"), chunk_bytes=0)
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture")
    with pytest.raises(CaptureFormatError, match="not a pcap or pcapng file"):
        split(junk)
    with pytest.raises(CaptureFormatError, match="No such file"):
        split(tmp_path / "absent.pcap")
