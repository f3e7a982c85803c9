"""Tables of what cannot be mapped (a pipe, stdin, gzip) are built in bounded memory.

A capture file is mapped, so its size costs no memory; a stream and a gzip
file used to be read (or inflated) whole before the table was built: a
10 MB gzip file of zeros took 5.7 GB and died, ``yes | layerpeek export -``
died at 2.7 GB.  Now they are read a piece at a time
(``layerpeek.columnar.stream.PIECE_BYTES``), and these tests count the
bytes held while it happens (``tracemalloc``: every ``bytes``, bytearray and
NumPy array Python holds) and the bytes asked of the stream, never time or
RSS.  Read in small pieces, every capture gives the table the mapped file
gives, with the same problems.
"""

from __future__ import annotations

import gzip
import io
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("numpy")
pytest.importorskip("pyarrow")

from builders import eth, ipv4_udp, pcap_bytes, udp
from conftest import own_captures, public_captures

import layerpeek
from layerpeek.cli import main
from layerpeek.columnar import split, stream_tables, table
from layerpeek.columnar import stream as stream_module
from layerpeek.errors import CaptureFormatError

ALL_CAPTURES = own_captures() + public_captures()
MiB = 1 << 20
#: The piece size these tests read with, and what may be held beyond the
#: table: a piece being read while the one before is carried, their join,
#: and the inflater's buffers.
PIECE = 1 * MiB
HELD = 8 * MiB
#: What the streams below hold: 64 times the piece size.
STREAM = 64 * MiB


class Generated(io.RawIOBase):
    """A binary stream made on the fly, holding none of itself.

    Counts what it serves (``served``) and the largest read asked of it;
    a read of "everything" (``read()``, ``read(-1)``) is counted as ``inf``.
    """

    def __init__(self, head: bytes, unit: bytes, total: int) -> None:
        self._head = head
        self._unit = unit
        self._total = total
        self._at = 0
        self.served = 0
        self.largest_read: float = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        self.largest_read = max(self.largest_read, float("inf") if n is None or n < 0 else n)
        want = self._total - self._at if n is None or n < 0 else min(n, self._total - self._at)
        out = bytearray()
        while len(out) < want:
            at = self._at + len(out)
            if at < len(self._head):
                out += self._head[at : at + want - len(out)]
                continue
            offset = (at - len(self._head)) % len(self._unit)
            out += self._unit[offset : offset + want - len(out)]
        self._at += len(out)
        self.served += len(out)
        return bytes(out)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


#: One 32 KiB frame (Ethernet, IPv4, UDP, zeros) as a pcap record.
FRAME = eth(ipv4_udp(udp(bytes(32 * 1024 - 42), sport=5000, dport=6000)))
RECORD = struct.pack("<IIII", 1_700_000_000, 0, len(FRAME), len(FRAME)) + FRAME
PCAP_HEADER = pcap_bytes([])
FRAMES = (STREAM - len(PCAP_HEADER)) // len(RECORD)


def pcap_stream() -> Generated:
    """A 64 MiB pcap of 32 KiB frames, made as it is read."""
    return Generated(PCAP_HEADER, RECORD, len(PCAP_HEADER) + FRAMES * len(RECORD))


def gzip_file(path: Path, head: bytes, unit: bytes, total: int) -> Path:
    """``head`` then ``unit`` repeated, ``total`` bytes, gzip-compressed into ``path``
    without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    source = Generated(head, unit, total)
    with open(path, "wb") as f:
        while data := source.read(MiB):
            f.write(packer.compress(data))
        f.write(packer.flush())
    return path


def peak_held(action: Callable[[], Any]) -> tuple[Any, int]:
    """What ``action`` returns, and the most bytes Python held at once while it ran."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = action()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_module, "PIECE_BYTES", PIECE, raising=False)


def test_a_stream_is_read_a_piece_at_a_time() -> None:
    source = pcap_stream()
    got, held = peak_held(lambda: table(source, ["frame", "cap_len"]))
    assert got.num_rows == FRAMES
    assert got.column("frame").to_pylist() == list(range(1, FRAMES + 1))
    assert set(got.column("cap_len").to_pylist()) == {len(FRAME)}
    assert source.largest_read <= 2 * PIECE  # never "everything"
    assert held < HELD, f"{held / MiB:.1f} MiB held for a {STREAM / MiB:.0f} MiB stream"


def test_a_gzip_file_is_inflated_a_piece_at_a_time(tmp_path: Path) -> None:
    path = gzip_file(tmp_path / "big.pcap.gz", PCAP_HEADER, RECORD,
                     len(PCAP_HEADER) + FRAMES * len(RECORD))
    assert path.stat().st_size < STREAM // 100
    got, held = peak_held(lambda: table(path, ["frame"]))
    assert got.num_rows == FRAMES
    assert held < HELD, f"table: {held / MiB:.1f} MiB held"
    # the Dask reader's path: split() counts the frames, the chunk is read
    (chunk,), held = peak_held(lambda: split(path))
    assert chunk.frames == FRAMES and chunk.compressed
    assert held < HELD, f"split: {held / MiB:.1f} MiB held"
    got, held = peak_held(lambda: table(chunk, ["frame"]))
    assert got.column("frame").to_pylist() == list(range(1, FRAMES + 1))
    assert held < HELD, f"table(chunk): {held / MiB:.1f} MiB held"


def test_gzip_bytes_are_inflated_a_piece_at_a_time(tmp_path: Path) -> None:
    packed = gzip_file(tmp_path / "big.pcap.gz", PCAP_HEADER, RECORD,
                       len(PCAP_HEADER) + FRAMES * len(RECORD)).read_bytes()
    got, held = peak_held(lambda: table(packed, ["frame"]))
    assert got.num_rows == FRAMES
    assert held < HELD + len(packed)


def test_export_reads_standard_input_and_gzip_a_piece_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    source = pcap_stream()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(source)))
    out = tmp_path / "stdin.parquet"
    code, held = peak_held(lambda: main(["export", "-", "--parquet", str(out), "-q"]))
    assert code == 0
    assert held < HELD, f"export -: {held / MiB:.1f} MiB held"
    frames = pq.read_table(out, columns=["frame"]).column(0).to_pylist()
    assert frames == list(range(1, FRAMES + 1))
    assert pq.ParquetFile(out).num_row_groups > 1  # a row group per piece, not one at the end

    path = gzip_file(tmp_path / "big.pcap.gz", PCAP_HEADER, RECORD,
                     len(PCAP_HEADER) + FRAMES * len(RECORD))
    out = tmp_path / "gz.parquet"
    code, held = peak_held(lambda: main(["export", str(path), "--parquet", str(out), "-q"]))
    assert code == 0
    assert held < HELD, f"export gz: {held / MiB:.1f} MiB held"
    assert pq.read_table(out).num_rows == FRAMES


def test_what_is_not_a_capture_is_refused_after_one_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``yes | layerpeek export -`` (and a gzip file of zeros) read one piece, not all."""
    yes = Generated(b"", b"y\n", 256 * MiB)
    with pytest.raises(CaptureFormatError, match="not a pcap or pcapng file"):
        table(yes)
    assert yes.served <= 2 * PIECE

    yes = Generated(b"", b"y\n", 256 * MiB)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(yes)))
    assert main(["export", "-", "--parquet", str(tmp_path / "y.parquet")]) == 1
    assert "not a pcap or pcapng file" in capsys.readouterr().err
    assert yes.served <= 2 * PIECE + io.DEFAULT_BUFFER_SIZE

    zeros = gzip_file(tmp_path / "zeros.gz", b"", bytes(MiB), 256 * MiB)

    def refuse() -> None:
        with pytest.raises(CaptureFormatError, match="not a pcap or pcapng file"):
            table(zeros)

    _, held = peak_held(refuse)
    assert held < HELD


def test_damage_that_ends_the_index_ends_the_reading() -> None:
    """After an impossible record length nothing more can be read: the pipe is left."""
    impossible = struct.pack("<IIII", 1, 0, 0xFFFF_FFF0, 60)
    head = PCAP_HEADER + RECORD * 3 + impossible
    source = Generated(head, b"\x00", len(head) + STREAM)
    problems: list[str] = []
    got = table(source, ["frame"], problems=problems)
    assert got.num_rows == 3
    assert problems == [
        f"record 4 at byte {len(PCAP_HEADER) + 3 * len(RECORD)}: captured length "
        f"{0xFFFF_FFF0} is impossible; stopped reading"
    ]
    assert source.served <= 2 * PIECE


def test_a_record_longer_than_a_piece_is_read_in_one_go(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its header says how long it is: one read for the rest of it, not one per piece
    (which would copy what was carried over and over)."""
    monkeypatch.setattr(stream_module, "PIECE_BYTES", 4096)
    big = eth(ipv4_udp(udp(bytes(60_000))))
    record = struct.pack("<IIII", 1, 0, len(big), len(big)) + big
    reads: list[int] = []

    class Counting(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            data = super().read(n)
            reads.append(len(data))
            return data

    source = Counting(PCAP_HEADER + record * 4)
    problems: list[str] = []
    tables = list(stream_tables(source, ["frame", "cap_len"], problems=problems,
                                name="big"))
    assert sum(t.num_rows for t in tables) == 4 and problems == []
    assert len(reads) <= 2 * 4 + 3, reads  # at most a read or two per record


@pytest.mark.parametrize("piece", [999, 8192])
@pytest.mark.parametrize("path", ALL_CAPTURES, ids=lambda p: p.name)
def test_read_in_pieces_every_capture_gives_the_files_table(
    path: Path, piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records cut by every piece's end, pcapng sections and interfaces carried over:
    the same rows and the same problems as the mapped file, plain and gzip."""
    monkeypatch.setattr(stream_module, "PIECE_BYTES", piece)
    columns = [*layerpeek.columnar.COLUMNS, "community_id"]
    want_problems: list[str] = []
    want = table(path, columns, problems=want_problems).to_pylist()
    for data in (path.read_bytes(), gzip.compress(path.read_bytes())):
        problems: list[str] = []
        got = table(io.BytesIO(data), columns, problems=problems)
        assert got.to_pylist() == want
        assert problems == want_problems


def test_a_cut_anywhere_reads_like_the_streaming_reader(
    capture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut inside a record header, inside its data, on a boundary, with pieces ending
    anywhere: the same records and the same message as ``layerpeek.read``."""
    data = capture("tcp_3040_greeting.pcap").read_bytes()
    for size in range(len(data) - 120, len(data) + 1):
        for piece in (64, 100, 257):
            monkeypatch.setattr(stream_module, "PIECE_BYTES", piece)
            problems: list[str] = []
            rows = list(stream_tables(io.BytesIO(data[:size]), ["cap_len"], problems=problems,
                                      name="cut"))
            got = [r["cap_len"] for t in rows for r in t.to_pylist()]
            with layerpeek.open_capture(io.BytesIO(data[:size])) as reader:
                frames = [len(f.data) for f in reader]
                streamed = list(reader.problems)
            assert got == frames, (size, piece)
            assert problems == streamed, (size, piece)


# -- timestamps an int64 of nanoseconds cannot hold -------------------------------------


def _far_future(tmp_path: Path) -> Path:
    from pcapng_build import epb, idb, shb

    frame = eth(ipv4_udp(udp(b"x", sport=1, dport=2)))
    data = (shb() + idb(tsresol=0) + epb("<", 0, 5, frame) + epb("<", 0, 1 << 62, frame)
            + epb("<", 0, 1 << 63, frame) + epb("<", 0, 6, frame))
    path = tmp_path / "far.pcapng"
    path.write_bytes(data)
    return path


WANT_TIME_PROBLEM = (
    "2 frames have timestamps outside the int64 nanosecond range (years 1677 to 2262), "
    "the first frame 2; their ts_ns is null"
)


def test_a_timestamp_past_int64_nanoseconds_is_a_reported_problem(tmp_path: Path) -> None:
    path = _far_future(tmp_path)
    for source in (path, path.read_bytes(), io.BytesIO(path.read_bytes()),
                   io.BytesIO(gzip.compress(path.read_bytes()))):
        problems: list[str] = []
        got = table(source, ["frame", "ts_ns"], problems=problems)
        assert got.column("ts_ns").to_pylist() == [5_000_000_000, None, None, 6_000_000_000]
        assert problems == [WANT_TIME_PROBLEM], source


def test_split_and_export_report_the_timestamps_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _far_future(tmp_path)
    assert split(path, 2)[-1].problems == (WANT_TIME_PROBLEM,)
    assert main(["export", str(path), "--parquet", str(tmp_path / "o.parquet"), "-q"]) == 0
    assert WANT_TIME_PROBLEM in capsys.readouterr().err


def test_the_dask_reader_warns_of_the_timestamps(tmp_path: Path) -> None:
    pytest.importorskip("dask.dataframe")
    from layerpeek.columnar import read_captures

    path = _far_future(tmp_path)
    with pytest.warns(layerpeek.CaptureProblemWarning, match="int64 nanosecond range"):
        frame = read_captures(path, columns=["ts_ns"]).compute(scheduler="sync")
    assert frame["ts_ns"].isna().sum() == 2
