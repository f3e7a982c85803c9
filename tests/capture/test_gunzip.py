"""gzip captures: every byte that inflated cleanly is read, then the damage is reported.

The specification for intact files is Python's :mod:`gzip` (same bytes out);
for damaged ones, that what comes out is always a prefix of the original and
that the reason names the damage, wherever the file is cut or spoiled.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from builders import eth, ipv4, pcap_bytes, tcp

import layerpeek
from layerpeek.capture.gunzip import GzipDamage, GzipStream, inflate

ORIGINAL = os.urandom(3000) + bytes(200_000) + b"layerpeek" * 5000


def read_all(data: bytes, size: int = 4096) -> tuple[bytes, GzipDamage | None]:
    stream = GzipStream(io.BytesIO(data))
    out = bytearray()
    try:
        while chunk := stream.read(size):
            out += chunk
    except GzipDamage as e:
        return bytes(out), e
    return bytes(out), None


@pytest.mark.parametrize("size", [1, 7, 4096, 1 << 20, -1])
def test_an_intact_file_reads_like_pythons_gzip(size: int) -> None:
    packed = gzip.compress(ORIGINAL)
    if size == 1:
        packed = gzip.compress(ORIGINAL[:5000])
    data, error = read_all(packed, size)
    assert error is None
    assert data == gzip.decompress(packed)


def test_a_large_expansion_comes_out_in_bounded_steps() -> None:
    packed = gzip.compress(bytes(50 << 20))  # 50 MiB of zeros from ~50 kB
    stream = GzipStream(io.BytesIO(packed))
    sizes = []
    while chunk := stream.read(1 << 20):
        sizes.append(len(chunk))
    assert sum(sizes) == 50 << 20 and max(sizes) == 1 << 20


def test_members_back_to_back_and_zero_padding() -> None:
    packed = gzip.compress(b"first ") + gzip.compress(b"second") + bytes(100)
    assert read_all(packed) == (b"first second", None)
    assert inflate(packed) == (b"first second", None)


def test_optional_header_fields_are_skipped() -> None:
    body = zlib.compress(b"payload")[2:-4]  # raw deflate
    trailer = struct.pack("<II", zlib.crc32(b"payload"), 7)
    flags = 0x02 | 0x04 | 0x08 | 0x10  # header CRC, extra, name, comment
    header = b"\x1f\x8b\x08" + bytes([flags]) + bytes(6)
    header += struct.pack("<H", 3) + b"abc" + b"name\0" + b"comment\0" + b"\x00\x00"
    assert read_all(header + body + trailer) == (b"payload", None)


def test_a_wrong_crc_comes_after_all_the_data() -> None:
    packed = bytearray(gzip.compress(ORIGINAL))
    packed[-8] ^= 0xFF
    data, error = read_all(bytes(packed), 1 << 20)
    assert data == ORIGINAL
    assert error is not None and "CRC-32 check failed" in str(error)


def test_a_wrong_length_is_reported() -> None:
    packed = bytearray(gzip.compress(b"abc"))
    packed[-4] ^= 0x01
    assert read_all(bytes(packed))[0] == b"abc"
    assert "length check failed" in str(read_all(bytes(packed))[1])


def test_a_cut_anywhere_gives_a_prefix_and_a_reason() -> None:
    original = b"".join(bytes([i]) * (i * 7 % 300) for i in range(256))
    packed = gzip.compress(original)
    for cut in range(len(packed)):
        data, error = read_all(packed[:cut])
        assert original.startswith(data), cut
        assert error is not None, cut
        assert ("cut short" in str(error) or "ends inside" in str(error)
                or "empty stream" in str(error)), (cut, error)  # fmt: skip
    # cut inside the 8-byte trailer: every byte of data is already out
    assert read_all(packed[:-3])[0] == original


def test_corrupt_deflate_data_gives_what_came_before() -> None:
    packed = bytearray(gzip.compress(os.urandom(200_000)))
    original = gzip.decompress(bytes(packed))
    packed[len(packed) // 2 :] = bytes(len(packed) - len(packed) // 2)
    data, error = read_all(bytes(packed))
    assert original.startswith(data) and len(data) < len(original)
    assert error is not None


def test_garbage_after_a_member_is_reported_after_its_data() -> None:
    data, error = read_all(gzip.compress(b"good") + b"trailing junk")
    assert data == b"good"
    assert error is not None and "not a gzip header" in str(error)


# -- through the readers ---------------------------------------------------------

FRAMES = [eth(ipv4(tcp(bytes([i]) * (i * 11 % 200), seq=i), proto=6)) for i in range(40)]


def test_a_cut_gzip_capture_yields_every_whole_record_before_the_cut(tmp_path: Path) -> None:
    packed = gzip.compress(pcap_bytes(FRAMES))
    ends = [len(pcap_bytes(FRAMES[:k])) for k in range(len(FRAMES) + 1)]  # after k records
    path = tmp_path / "cut.pcap.gz"
    for cut in range(len(packed)):
        path.write_bytes(packed[:cut])
        inflated, _ = inflate(packed[:cut])
        if len(inflated) < 4:  # not even the magic number: nothing to read
            with pytest.raises(layerpeek.CaptureFormatError, match="gzip"):
                layerpeek.open_capture(path)
            continue
        whole = sum(1 for end in ends[1:] if end <= len(inflated))
        with layerpeek.open_capture(path) as reader:
            frames = [f.data for f in reader]
            problems = list(reader.problems)
        assert frames == FRAMES[:whole], cut
        assert any("gzip:" in p for p in problems), (cut, problems)


def test_a_damaged_trailer_loses_no_packet_in_any_reader(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    packed = bytearray(gzip.compress(pcap_bytes(FRAMES)))
    packed[-6] ^= 0x55
    path = tmp_path / "badcrc.pcap.gz"
    path.write_bytes(bytes(packed))
    with layerpeek.open_capture(path) as reader:
        assert [f.data for f in reader] == FRAMES
        assert any("CRC-32 check failed" in p for p in reader.problems)
    problems: list[str] = []
    assert layerpeek.table(path, problems=problems).num_rows == len(FRAMES)
    assert any("CRC-32 check failed" in p for p in problems)
    from layerpeek.columnar import split

    (chunk,) = split(path)
    problems = []
    assert layerpeek.table(chunk, problems=problems).num_rows == len(FRAMES)
    assert any("CRC-32 check failed" in p for p in problems)


def test_a_gzip_file_with_nothing_inflatable_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.pcap.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(6) + b"\xff" * 50)
    with pytest.raises(layerpeek.CaptureFormatError, match="gzip"), layerpeek.open_capture(
        path
    ) as reader:
        list(reader)
