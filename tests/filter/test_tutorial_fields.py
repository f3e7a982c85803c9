"""tshark fields people copy from tutorials (issue 15): ``frame.time``, ``tcp.flags.str``,
``tcp.checksum.status``, ``http.request.full_uri``, ``http.file_data``, ``_ws.col.Info``.

Each is checked for its meaning on a built capture, and against tshark 4.0 on
the bundled captures where tshark is installed (``frame.time`` is local time:
the comparison runs both with TZ=UTC).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from builders import eth, ipv4_tcp, pcap_bytes, tcp
from conftest import CAPTURES

from layerpeek.cli import main

TSHARK = shutil.which("tshark")

#: 2023-11-14 22:13:20 UTC
START_NS = 1_700_000_000_000_000_000


def fields(capsys: pytest.CaptureFixture[str], path: Path, *argv: str) -> list[str]:
    code = main(["dump", str(path), "-T", "fields", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.splitlines()


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield None
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def web(tmp_path: Path) -> Path:
    get = b"GET /a?b=1 HTTP/1.1\r\nHost: example.test:8080\r\n\r\n"
    post = b"POST http://proxy.test/x HTTP/1.1\r\nHost: proxy.test\r\nContent-Length: 3\r\n\r\nabc"
    frames = [
        eth(ipv4_tcp(tcp(sport=40000, dport=80, flags="S", seq=1))),
        eth(ipv4_tcp(tcp(get, sport=40000, dport=80, flags="PA", seq=2, ack=1))),
        eth(ipv4_tcp(tcp(post, sport=40001, dport=80, flags="PA", seq=2, ack=1))),
    ]
    path = tmp_path / "web.pcap"
    path.write_bytes(pcap_bytes(frames, start_ns=START_NS + 123_456_789))
    return path


def test_frame_time_is_tsharks_local_date_and_time(
    capsys: pytest.CaptureFixture[str], web: Path, utc: object
) -> None:
    assert fields(capsys, web, "-e", "frame.time", "-c", "1") == [
        "Nov 14, 2023 22:13:20.123456000 UTC"]  # a microsecond pcap


def test_frame_time_compares_with_dates(
    capsys: pytest.CaptureFixture[str], web: Path, utc: object
) -> None:
    after = ["-e", "frame.number", "-Y", 'frame.time > "Nov 14, 2023 22:13:20.124"']
    assert fields(capsys, web, *after) == ["2", "3"]
    iso = ["-e", "frame.number", "-Y", 'frame.time <= "2023-11-14 22:13:20.1234567891"']
    assert fields(capsys, web, *iso) == ["1"]
    code = main(["dump", str(web), "-Y", 'frame.time > "yesterday"'])
    assert code == 2 and "not a valid date and time" in capsys.readouterr().err


def test_tcp_flags_str_spells_each_bit(capsys: pytest.CaptureFixture[str], web: Path) -> None:
    assert fields(capsys, web, "-e", "tcp.flags.str") == [
        "··········S·", "·······AP···", "·······AP···"]
    assert fields(capsys, web, "-e", "frame.number", "-Y", 'tcp.flags.str == "··········S·"') == [
        "1"]


def test_tcp_checksum_status(capsys: pytest.CaptureFixture[str], web: Path) -> None:
    assert fields(capsys, web, "-e", "tcp.checksum.status") == ["1", "1", "1"]  # as built
    bad = web.with_name("bad.pcap")
    frame = bytearray(web.read_bytes())
    frame[24 + 16 + 14 + 20 + 16] ^= 0xFF  # the first frame's TCP checksum
    bad.write_bytes(bytes(frame))
    assert fields(capsys, bad, "-e", "tcp.checksum.status") == ["0", "1", "1"]


def test_full_uri_and_file_data(capsys: pytest.CaptureFixture[str], web: Path) -> None:
    assert fields(capsys, web, "-e", "http.request.full_uri") == [
        "", "http://example.test:8080/a?b=1", "http://proxy.test/x"]
    assert fields(capsys, web, "-e", "http.file_data") == ["", "", "abc"]


def test_info_column_is_what_dump_prints(capsys: pytest.CaptureFixture[str], web: Path) -> None:
    info = fields(capsys, web, "-e", "_ws.col.Info", "-E", "header=y")
    assert info[0] == "_ws.col.Info"
    assert info[2].startswith("GET /a?b=1 HTTP/1.1 [stream 0")
    assert fields(capsys, web, "-e", "frame.number", "-Y", '_ws.col.Info contains "POST"') == [
        "3"]


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
@pytest.mark.parametrize("capture", ["http_get_post.pcap", "page_load.pcap",
                                     "tcp_loss_reorder.pcap", "http_keepalive.pcap"])
def test_equal_to_tsharks(capsys: pytest.CaptureFixture[str], capture: str, utc: object) -> None:
    names = ["frame.number", "frame.time", "tcp.flags.str", "tcp.checksum.status",
             "http.request.full_uri"]
    argv = [arg for name in names for arg in ("-e", name)]
    theirs = subprocess.run(
        [str(TSHARK), "-r", str(CAPTURES / capture), "-o", "tcp.check_checksum:TRUE",
         "-T", "fields", *argv], capture_output=True, text=True, timeout=300,
        env={**os.environ, "TZ": "UTC"}).stdout.splitlines()
    assert fields(capsys, CAPTURES / capture, *argv) == theirs


# --------------------------------------------------------------------------- slices, len(), &

FILTERS = [
    "eth.src[0:3] == 00:00:00",
    "ip.src[3] == 01",
    "ip.dst[2-3] == 00:01",
    "eth.dst[-2:] == 00:00",
    'http.request.uri[0:2] == "/s"',
    "len(http.host) > 16",
    "len(eth.src) == 6",
    "tcp.flags & 0x02",
    "tcp.flags & 0x12 == 0x12",
    "!(tcp.flags & 0x10)",
    "tcp.flags & 0x01 && ip.src == 127.0.0.1",
]


def frames_matching(capsys: pytest.CaptureFixture[str], path: Path, flt: str) -> list[str]:
    return fields(capsys, path, "-e", "frame.number", "-Y", flt)


@pytest.mark.parametrize("flt", FILTERS)
def test_slices_len_and_bitwise_and(capsys: pytest.CaptureFixture[str], flt: str) -> None:
    page = CAPTURES / "page_load.pcap"
    shown = frames_matching(capsys, page, flt)
    assert shown, flt  # every filter here matches some frame of the page load
    if TSHARK is not None:
        theirs = subprocess.run([str(TSHARK), "-r", str(page), "-Y", flt, "-T", "fields",
                                 "-e", "frame.number"], capture_output=True, text=True,
                                timeout=120).stdout.splitlines()
        assert shown == theirs, flt


@pytest.mark.parametrize(("flt", "words"), [
    ("len(tcp.flags) > 1", "len() needs bytes"),
    ("tcp.port[0:1] == 1", "a slice needs bytes"),
    ("http.host & 0x01", "'&' needs an integer field"),
    ("eth.src[x] == 00", "is not a slice"),
    ("eth.src[0:3 == 00", "expected ']'"),
    ("tcp.flags & mask", "a bit mask"),
])
def test_their_mistakes_are_usage_errors(
    capsys: pytest.CaptureFixture[str], web: Path, flt: str, words: str
) -> None:
    assert main(["dump", str(web), "-Y", flt]) == 2
    assert words in capsys.readouterr().err


def test_tcp_time_delta_is_per_stream(capsys: pytest.CaptureFixture[str], web: Path) -> None:
    # frames 1 ms apart: 1 and 2 are stream 0, 3 is stream 1 (another client port)
    rows = fields(capsys, web, "-e", "tcp.stream", "-e", "tcp.time_delta",
                  "-e", "tcp.time_relative")
    assert rows == ["0\t0.000000000\t0.000000000", "0\t0.001000000\t0.001000000",
                    "1\t0.000000000\t0.000000000"]


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
@pytest.mark.parametrize("capture", ["http_get_post.pcap", "tcp_loss_reorder.pcap",
                                     "page_load.pcap"])
def test_tcp_times_equal_tsharks(capsys: pytest.CaptureFixture[str], capture: str) -> None:
    argv = ["-Y", "tcp", "-T", "fields", "-e", "frame.number", "-e", "tcp.time_delta",
            "-e", "tcp.time_relative"]
    theirs = subprocess.run([str(TSHARK), "-r", str(CAPTURES / capture), *argv],
                            capture_output=True, text=True, timeout=300).stdout.splitlines()
    assert main(["dump", str(CAPTURES / capture), *argv]) == 0
    assert capsys.readouterr().out.splitlines() == theirs
