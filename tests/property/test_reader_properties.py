"""The capture readers on any bytes, fed in any chunks.

* The sans-IO parsers give the same frames and the same problems whether a
  file arrives whole, byte by byte, or in arbitrary chunks (a pipe or
  ``tcpdump -U -w -`` delivers whatever it has).
* Any bytes at all, and damaged real files, are either refused up front with
  :class:`CaptureFormatError` (not a capture) or read to the end: every whole
  record comes out and the damage is described in ``problems``; never a
  traceback.
"""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from layerpeek.capture import PcapngParser, PcapParser, open_capture
from layerpeek.capture.frame import RawFrame
from layerpeek.errors import CaptureFormatError

from .frames import CAPTURES, PROPERTY

#: Small files of both formats (the big ones only slow the shrinker down).
FILES = {
    p.name: p.read_bytes()
    for p in sorted(CAPTURES.glob("*.pcap*"))
    if p.stat().st_size < 8000
}
assert any(name.endswith(".pcapng") for name in FILES)

Parser = PcapParser | PcapngParser


def parse_in_chunks(data: bytes, sizes: list[int]) -> tuple[list[RawFrame], list[str]]:
    parser: Parser = PcapngParser() if data[:4] == b"\x0a\x0d\x0d\x0a" else PcapParser()
    frames: list[RawFrame] = []
    pos, i = 0, 0
    while pos < len(data):
        size = sizes[i % len(sizes)] if sizes else len(data)
        frames += parser.feed(data[pos : pos + size])
        pos += size
        i += 1
    parser.finish()
    return frames, parser.problems


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A real capture with bytes overwritten, cut or duplicated (lengths that lie)."""
    buf = bytearray(FILES[draw(st.sampled_from(sorted(FILES)))])
    for _ in range(draw(st.integers(1, 5))):
        pos = draw(st.integers(0, len(buf) - 1))
        op = draw(st.sampled_from(("set", "cut", "dup", "lie")))
        if op == "set":
            buf[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del buf[pos:]
            if not buf:
                break
        elif op == "dup":
            end = draw(st.integers(pos, len(buf)))
            buf[pos:pos] = buf[pos:end]
        else:  # a 32-bit length field made huge, zero or odd
            buf[pos : pos + 4] = draw(
                st.sampled_from((b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x0d\x00\x00\x00"))
            )
    return bytes(buf)


@PROPERTY
@given(name=st.sampled_from(sorted(FILES)), sizes=st.lists(st.integers(1, 700), max_size=8))
def test_any_chunking_gives_the_same_frames_and_problems(name: str, sizes: list[int]) -> None:
    data = FILES[name]
    assert parse_in_chunks(data, sizes) == parse_in_chunks(data, [])


@PROPERTY
@given(data=damaged(), sizes=st.lists(st.integers(1, 700), max_size=4))
def test_damaged_files_give_the_same_result_in_any_chunking(data: bytes, sizes: list[int]) -> None:
    try:
        whole = parse_in_chunks(data, [])
    except CaptureFormatError:
        return  # refused by its first block: no frames to compare
    assert parse_in_chunks(data, sizes) == whole


@PROPERTY
@given(data=st.one_of(damaged(), st.binary(max_size=200)))
def test_any_bytes_are_refused_or_read_to_the_end_with_problems_listed(data: bytes) -> None:
    try:
        reader = open_capture(io.BytesIO(data))
        frames = list(reader)
    except CaptureFormatError as e:
        assert str(e)
        return
    assert all(isinstance(f, RawFrame) and isinstance(f.ts_ns, int) for f in frames)
    assert all(isinstance(p, str) and p for p in reader.problems)
    for f in frames:
        assert len(f.data) <= len(data)


def test_the_files_cover_both_formats() -> None:
    assert {Path(n).suffix for n in FILES} == {".pcap", ".pcapng"}
