"""The compiled loops of ``layerpeek.table`` (``layerpeek._speedups``) and their Python twins.

``layerpeek.table`` walks pcap record headers, runs of pcapng Enhanced
Packet Blocks, and copies the first bytes of every frame in C when the
extension was built, in Python/NumPy when it was not (or with
``LAYERPEEK_PURE_PYTHON=1``).  Both must give the same records, the same
windows, the same problems and the same tables, byte for byte, on every
capture and on every cut of one.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("numpy")
pytest.importorskip("pyarrow")

import numpy as np
from builders import eth, ipv4_tcp, pcap_bytes, tcp
from conftest import own_captures, public_captures

import layerpeek.columnar as columnar
from layerpeek.capture.pcap import MAX_RECORD
from layerpeek.columnar import _compiled, column_arrays, decoder, records

speedups = _compiled.speedups
needs_compiled = pytest.mark.skipif(speedups is None, reason="layerpeek._speedups not built")
ALL_CAPTURES = own_captures() + public_captures()
PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
PCAPS = [p for p in ALL_CAPTURES if p.read_bytes()[:4] in PCAP_MAGICS]


@pytest.fixture(params=["python", "compiled"])
def loops(request: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once with the Python walk and window copy, once with the compiled ones."""
    compiled = request.param == "compiled"
    if compiled and speedups is None:
        pytest.skip("layerpeek._speedups not built")
    monkeypatch.setattr(_compiled, "ENABLED", compiled)
    return str(request.param)


def test_ci_builds_the_compiled_loops() -> None:
    """CI installs a C compiler: there the extension must have been built, not silently skipped."""
    if os.environ.get("CI") != "true":
        pytest.skip("only CI promises a C compiler")
    assert speedups is not None
    assert _compiled.ENABLED


def test_layerpeek_pure_python_turns_the_compiled_loops_off() -> None:
    code = "from layerpeek.columnar import _compiled; print(_compiled.ENABLED)"
    env = {**os.environ, "LAYERPEEK_PURE_PYTHON": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False"]


def _both_walks(data: bytes) -> tuple[Any, Any]:
    big = data[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d")
    return records._walk_python(data, big), records._walk_compiled(data, big)


@needs_compiled
@pytest.mark.parametrize("path", PCAPS, ids=lambda p: p.name)
def test_the_compiled_walk_finds_the_records_the_python_walk_finds(path: Path) -> None:
    data = path.read_bytes()
    (starts, no_headers, stop), (c_starts, headers, c_stop) = _both_walks(data)
    assert no_headers is None
    assert c_starts.tolist() == starts.tolist() and c_stop == stop
    assert bytes(headers) == b"".join(data[s : s + 16] for s in starts.tolist())


@needs_compiled
def test_the_walks_agree_on_every_cut_of_a_capture(capture: Any) -> None:
    """Cut inside a header, inside the data, on a boundary, inside the file header's end."""
    data = capture("tcp_3040_greeting.pcap").read_bytes()
    for size in range(24, len(data) + 1):
        cut = data[:size]
        (starts, _, stop), (c_starts, headers, c_stop) = _both_walks(cut)
        assert c_starts.tolist() == starts.tolist(), size
        assert c_stop == stop, size
        assert len(headers) == 16 * len(starts), size


def test_an_impossible_length_ends_the_records_alike(loops: str, tmp_path: Path) -> None:
    frames = [eth(ipv4_tcp(tcp(b"x" * n))) for n in (1, 2, 3, 4)]
    data = bytearray(pcap_bytes(frames))
    third = 24 + sum(16 + len(f) for f in frames[:2])
    struct.pack_into("<I", data, third + 8, MAX_RECORD + 1)
    rec = columnar.index_records(bytes(data))
    assert len(rec) == 2
    assert rec.problems == [
        f"record 3 at byte {third}: captured length {MAX_RECORD + 1} is impossible; stopped reading"
    ]


def test_a_big_endian_nanosecond_capture_reads_alike(loops: str) -> None:
    frames = [eth(ipv4_tcp(tcp(b"y" * n))) for n in (0, 10, 700)]
    little = pcap_bytes(frames)
    header = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
    records = []
    at = 24
    for i, frame in enumerate(frames):
        records.append(struct.pack(">IIII", 1_700_000_000 + i, 123_456_789, len(frame), 1500)
                       + frame)
        at += 16 + len(frame)
    rec = columnar.index_records(header + b"".join(records))
    assert rec.cap_len.tolist() == [len(f) for f in frames]
    assert rec.wire_len.tolist() == [1500] * 3
    assert rec.ts_ns.tolist() == [(1_700_000_000 + i) * 10**9 + 123_456_789 for i in range(3)]
    assert len(columnar.index_records(little)) == 3


def test_pcap_walk_refuses_bad_arguments() -> None:
    if speedups is None:
        pytest.skip("layerpeek._speedups not built")
    with pytest.raises(ValueError, match="start"):
        speedups.pcap_walk(b"\x00" * 64, -1, False, MAX_RECORD)
    with pytest.raises(TypeError):
        speedups.pcap_walk("not bytes", 0, False, MAX_RECORD)  # type: ignore[arg-type]
    starts, headers, stop = speedups.pcap_walk(b"\x00" * 64, 100, False, MAX_RECORD)
    assert (bytes(starts), bytes(headers), stop) == (b"", b"", 64)


def _numpy_windows(buf: bytes, bases: Any, width: int) -> bytes:
    out = bytearray()
    for base in bases.tolist():
        row = buf[base : base + width]
        out += row + bytes(width - len(row))
    return bytes(out)


@needs_compiled
def test_copy_windows_copies_rows_and_pads_past_the_end_with_zeros() -> None:
    rng = np.random.default_rng(11)
    buf = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    bases = np.array([0, 1, 17, 2000, 2999 - 144, 2999 - 10, 2999, 3000, 5000], np.int64)
    for width in (1, 8, 144, 3100):
        assert speedups.copy_windows(buf, bases, width) == _numpy_windows(buf, bases, width)
    assert speedups.copy_windows(buf, np.zeros(0, np.int64), 144) == b""


@needs_compiled
def test_copy_windows_refuses_bad_arguments() -> None:
    buf = bytes(100)
    with pytest.raises(ValueError):
        speedups.copy_windows(buf, np.array([-1], np.int64), 8)
    with pytest.raises(ValueError):
        speedups.copy_windows(buf, np.array([0], np.int64), 0)
    with pytest.raises(ValueError):
        speedups.copy_windows(buf, b"\x00" * 7, 8)  # not whole int64 values


def test_the_window_block_is_the_same_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    if speedups is None:
        pytest.skip("layerpeek._speedups not built")
    rng = np.random.default_rng(5)
    buf = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    frames = np.sort(rng.choice(np.arange(0, 4000), 50, replace=False)).astype(np.int64)
    monkeypatch.setattr(_compiled, "ENABLED", True)
    compiled = decoder.Windows.copy(buf, frames)
    monkeypatch.setattr(_compiled, "ENABLED", False)
    python = decoder.Windows.copy(buf, frames)
    assert compiled is not None and python is not None
    assert (compiled.base == python.base).all()
    assert compiled.block.tobytes() == python.block.tobytes()


@pytest.mark.parametrize("batch", [1, 3, 64])
@pytest.mark.parametrize("path", own_captures(), ids=lambda p: p.name)
def test_tables_decoded_in_small_batches_equal_the_whole(
    path: Path, batch: int, loops: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch edges inside flows, DNS caches and path codes shared across batches."""
    whole = columnar.table(path, [*columnar.COLUMNS, "community_id"])
    monkeypatch.setattr(column_arrays, "BATCH", batch)
    problems: list[str] = []
    batched = columnar.table(path, [*columnar.COLUMNS, "community_id"], problems=problems)
    assert batched.equals(whole)
    assert problems == []


@pytest.mark.parametrize("path", PCAPS, ids=lambda p: p.name)
def test_every_pcap_gives_one_table_either_way(path: Path, loops: str) -> None:
    problems: list[str] = []
    got = columnar.table(path, problems=problems)
    with_default = pytest.MonkeyPatch.context()
    with with_default as m:
        m.setattr(_compiled, "ENABLED", speedups is not None)
        reference_problems: list[str] = []
        reference = columnar.table(path, problems=reference_problems)
    assert got.equals(reference)
    assert problems == reference_problems


# -- pcapng: runs of Enhanced Packet Blocks walked in C ------------------------

PCAPNGS = [p for p in ALL_CAPTURES if p.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"]


def _index_both_ways(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    monkeypatch.setattr(_compiled, "ENABLED", False)
    python = columnar.index_records(data)
    monkeypatch.setattr(_compiled, "ENABLED", True)
    compiled = columnar.index_records(data)
    return python, compiled


def _assert_same_index(python: Any, compiled: Any, note: object = "") -> None:
    for name in records.PER_FRAME:
        assert getattr(compiled, name).tolist() == getattr(python, name).tolist(), (name, note)
    assert compiled.problems == python.problems, note
    assert compiled.meta_blocks == python.meta_blocks, note
    assert compiled.bad_time == python.bad_time, note


@needs_compiled
@pytest.mark.parametrize("path", PCAPNGS, ids=lambda p: p.name)
def test_every_pcapng_indexes_alike_either_way(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same_index(*_index_both_ways(path.read_bytes(), monkeypatch))


def _odd_pcapng() -> bytes:
    """Every block the compiled walk has to hand back, between runs it takes."""
    from pcapng_build import block, epb, idb, obsolete_pb, shb, spb

    frame = eth(ipv4_tcp(tcp(b"x" * 30)))
    big_units = (1 << 62) // 1000 + 5  # past where µs times are computed in int64
    too_short = block("<", 6, bytes(16))  # 28 bytes: an EPB too short to hold its fields
    cut_to_room = bytearray(epb("<", 0, 1, frame))
    struct.pack_into("<I", cut_to_room, 20, len(frame) + 9)  # captured length past the block
    cut_big = bytearray(epb(">", 0, 1, frame))
    struct.pack_into(">I", cut_big, 20, len(frame) + 5)
    return (
        shb() + idb(linktype=1) + idb(linktype=1, tsresol=9, tsoffset=-5)
        + epb("<", 0, 1_000_000, frame) + epb("<", 1, 2_000_000_000, frame)
        + epb("<", 7, 5, frame)  # undefined interface, inside a run
        + bytes(cut_to_room) + epb("<", 0, big_units, frame)
        + epb("<", 0, (1 << 64) - 1, frame)  # past int64 nanoseconds: a null time
        + too_short + epb("<", 1, 3, frame)
        + spb("<", frame) + obsolete_pb("<", 0, 4, frame)
        + idb(linktype=101, tsresol=0x83)  # 1/8 s units: not whole nanoseconds
        + epb("<", 2, 17, ipv4_tcp(tcp(b"y"))) + epb("<", 0, 9, frame)
        + block("<", 0x0BAD, bytes(8))  # a block nobody knows
        + shb(">") + idb(">", linktype=1) + epb(">", 0, 11, frame)
        + bytes(cut_big) + epb(">", 3, 12, frame)  # the problems of one run, in block order
        + epb(">", 0, 13, frame)
    )


@needs_compiled
def test_odd_blocks_between_runs_index_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _odd_pcapng()
    python, compiled = _index_both_ways(data, monkeypatch)
    _assert_same_index(python, compiled)
    assert len(python.problems) >= 4 and python.bad_time  # the file does reach those paths


@needs_compiled
def test_cut_pcapng_files_index_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _odd_pcapng()
    for size in range(len(data) - 260, len(data) + 1):
        _assert_same_index(*_index_both_ways(data[:size], monkeypatch), size)
    for size in range(4, 200):
        _assert_same_index(*_index_both_ways(data[:size], monkeypatch), size)


@needs_compiled
def test_a_damaged_block_in_a_run_stops_both_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    from pcapng_build import epb, idb, shb

    frame = eth(ipv4_tcp(tcp(b"z" * 8)))
    good = shb() + idb() + b"".join(epb("<", 0, i, frame) for i in range(6))
    third = len(shb() + idb()) + 2 * len(epb("<", 0, 0, frame))
    for at, value in ((4, 30), (4, 1 << 31), (4, 13), (-4, 99)):  # lengths, then the trailer
        damaged = bytearray(good)
        where = third + at if at >= 0 else third + len(epb("<", 0, 0, frame)) + at
        struct.pack_into("<I", damaged, where, value)
        python, compiled = _index_both_ways(bytes(damaged), monkeypatch)
        _assert_same_index(python, compiled, (at, value))
        assert len(python) == 2 and python.problems


def test_pcapng_walk_refuses_bad_arguments() -> None:
    if speedups is None:
        pytest.skip("layerpeek._speedups not built")
    with pytest.raises(ValueError, match="start"):
        speedups.pcapng_walk(b"\x00" * 64, -1, False, 1 << 20)
    starts, headers, stop = speedups.pcapng_walk(b"\x00" * 64, 100, False, 1 << 20)
    assert (bytes(starts), bytes(headers), stop) == (b"", b"", 64)


@pytest.mark.parametrize("path", PCAPNGS, ids=lambda p: p.name)
def test_every_pcapng_gives_one_table_either_way(path: Path, loops: str) -> None:
    problems: list[str] = []
    got = columnar.table(path, [*columnar.COLUMNS, "community_id"], problems=problems)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(_compiled, "ENABLED", speedups is not None)
        reference_problems: list[str] = []
        reference = columnar.table(path, [*columnar.COLUMNS, "community_id"],
                                   problems=reference_problems)
    assert got.equals(reference)
    assert problems == reference_problems
