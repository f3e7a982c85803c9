"""Choosing the format, pipes, gzip and the errors a person sees."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from builders import eth, ipv4_tcp, pcap_bytes, tcp
from conftest import public_captures
from pcapng_build import epb, idb, shb

from layerpeek.capture import open_capture
from layerpeek.errors import CaptureFormatError

FRAMES = [eth(ipv4_tcp(tcp(b"a" * n))) for n in range(3)]


class Unseekable(io.RawIOBase):
    """A pipe-like stream: seeking raises, as on a real pipe."""

    def __init__(self, data: bytes) -> None:
        self._b = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray) -> int:  # type: ignore[override]
        chunk = self._b.read(min(len(buf), 7))  # short reads, like a pipe
        buf[: len(chunk)] = chunk
        return len(chunk)

    def seek(self, *args: object) -> int:
        raise io.UnsupportedOperation("pipe")


def test_the_format_comes_from_the_magic_not_the_name(tmp_path: Path) -> None:
    ng = tmp_path / "really-pcapng.pcap"
    ng.write_bytes(shb() + idb() + epb("<", 0, 1, FRAMES[0]))
    classic = tmp_path / "really-pcap.pcapng"
    classic.write_bytes(pcap_bytes(FRAMES))
    assert open_capture(ng).format == "pcapng"
    assert open_capture(classic).format == "pcap"


def test_a_non_seekable_stream_is_read_without_seeking() -> None:
    frames = list(open_capture(io.BufferedReader(Unseekable(pcap_bytes(FRAMES)))))  # type: ignore[arg-type]
    assert [f.data for f in frames] == FRAMES


def test_gzip_files_are_read_transparently(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap.gz"
    path.write_bytes(gzip.compress(pcap_bytes(FRAMES)))
    assert [f.data for f in open_capture(path)] == FRAMES


def test_stdin_dash_reads_a_pipe(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap_bytes(FRAMES))
    code = "import layerpeek; print(sum(1 for _ in layerpeek.open_capture('-')))"
    with open(path, "rb") as f:
        out = subprocess.run([sys.executable, "-c", code], stdin=f, capture_output=True, text=True)
    assert out.stdout.strip() == "3"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty file"), (b"#!/bin/sh\necho hi\n", "not a pcap or pcapng file")],
)
def test_not_a_capture_is_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    with pytest.raises(CaptureFormatError, match=message):
        open_capture(path)


def test_a_missing_file_is_a_capture_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CaptureFormatError, match=r"nope\.pcap"):
        open_capture(tmp_path / "nope.pcap")


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("path", public_captures(), ids=lambda p: p.name)
def test_timestamps_lengths_and_interfaces_match_tshark(path: Path) -> None:
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            "-T",
            "fields",
            "-e",
            "frame.encap_type",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    ).stdout.splitlines()
    # tshark numbers pcapng custom blocks as frames; they have no encapsulation.
    rows = [r.split("\t") for r in out if r.split("\t")[0]]
    frames = list(open_capture(path))
    assert len(frames) == len(rows)
    for frame, (_encap, epoch, wire, cap) in zip(frames, rows, strict=False):
        if epoch:  # simple packet blocks carry no time
            assert frame.ts_ns == int(Decimal(epoch) * 1_000_000_000)
        assert (frame.wire_len, len(frame.data)) == (int(wire), int(cap))


def test_the_public_truncated_file_gives_its_whole_record_and_reports_the_cut(public) -> None:  # type: ignore[no-untyped-def]
    reader = open_capture(public("truncated_file_dns.pcap"))
    frames = list(reader)
    assert len(frames) == 1 and (len(frames[0].data), frames[0].wire_len) == (200, 282)
    assert reader.problems == [
        "record 2 at byte 240 cut by end of file: 7 of 16 header bytes present"
    ]


def test_the_public_multi_interface_file_keeps_each_link_type(public) -> None:  # type: ignore[no-untyped-def]
    frames = list(open_capture(public("pcapng_comments_2if_snaplen.pcapng")))
    assert {f.linktype for f in frames} == {1, 113}
    assert {(f.interface, f.linktype) for f in frames} == {(0, 1), (1, 113)}
