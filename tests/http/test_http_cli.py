"""``layerpeek http``: the table, the JSON Lines record, body export, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from builders import pcap_bytes
from flows.flowwire import Wire, script

from layerpeek.cli import main
from layerpeek.commands.http import safe_name

REQUIRED_KEYS = {"stream", "method", "host", "target", "status", "request_body_len",
                 "response_body_len", "content_encoding", "transfer_encoding", "complete"}


def test_table_has_one_row_per_exchange(capture: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["http", str(capture("http_keepalive.pcap"))]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["STREAM", "TIME", "METHOD", "HOST", "TARGET", "STATUS", "REQ",
                              "RESP", "TYPE", "DURATION", "RESULT"]
    assert len(rows) == 4
    cells = rows[0].split()
    assert cells[0] == "0" and cells[2:8] == ["GET", "127.0.0.1:8080", "/index.html", "200",
                                              "0/0", "341/341"]
    assert cells[8] == "text/html" and cells[-1] == "ok"


def test_table_shows_wire_and_decoded_sizes_and_why_incomplete(
    capture: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["http", str(capture("http_gzip.pcap"))]) == 0
    (row,) = capsys.readouterr().out.splitlines()[1:]
    assert row.split()[7] == "298/3010"
    assert main(["http", str(capture("http_rst_cut.pcap"))]) == 0
    (row,) = capsys.readouterr().out.splitlines()[1:]
    assert "body incomplete" in row and "reset (RST)" in row


def test_json_lines_carry_the_documented_keys(
    capture: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["http", str(capture("http_chunked.pcap")), "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert set(record) >= REQUIRED_KEYS
    assert {k: record[k] for k in REQUIRED_KEYS} == {
        "stream": 0, "method": "GET", "host": "127.0.0.1:8080", "target": "/chunked",
        "status": 200, "request_body_len": 0, "response_body_len": 198,
        "content_encoding": None, "transfer_encoding": "chunked", "complete": True}
    assert record["response_body_wire_len"] > 198 and record["problem"] is None
    assert record["response_frames"] and record["duration"] > 0


def test_json_of_an_incomplete_exchange(capture: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["http", str(capture("http_rst_cut.pcap")), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["complete"] is False and "reset (RST)" in record["problem"]
    assert 0 < record["response_body_len"] < 200_000


def test_export_writes_decoded_bodies_and_never_overwrites(
    capture: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "objects"
    assert main(["http", str(capture("http_gzip.pcap")), "--export", str(out)]) == 0
    assert "wrote 1 bodies to" in capsys.readouterr().err
    first = (out / "data.json").read_bytes()
    assert first.startswith(b'{"capture": "layerpeek demo"') and len(first) == 3010
    assert main(["http", str(capture("http_gzip.pcap")), "--export", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["data(1).json", "data.json"]
    assert (out / "data(1).json").read_bytes() == first


def test_export_marks_partial_bodies(capture: Any, tmp_path: Path) -> None:
    assert main(["http", str(capture("http_rst_cut.pcap")), "--export", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["large.bin.partial"]


@pytest.mark.parametrize(("target", "name"), [
    ("/index.html", "index.html"),
    ("/", "index"),
    ("/dir/", "dir"),
    ("/../../etc/passwd", "passwd"),
    ("/a/%2e%2e%2f%2e%2e%2fsecret", "secret"),
    ("/%2e%2e", "index"),
    ("/..", "index"),
    ("/.hidden", "hidden"),
    ("/x/..%5c..%5cwin.ini", "win.ini"),
    ("/file%00.txt", "file_.txt"),
    ("/q?name=../../x#frag", "q"),
    ("http://evil.test/../up.js?x=/", "up.js"),
    ("/sp ace/t%20a b", "t_a_b"),
    ("/" + "a" * 500, "a" * 100),
])
def test_export_names_cannot_leave_the_directory(target: str, name: str) -> None:
    assert safe_name(target) == name


def test_export_of_hostile_targets_stays_inside_the_directory(tmp_path: Path) -> None:
    w = Wire()
    packets = script(w, "c S", "s SA", "c A")
    for target in ("/../../escape.txt", "/%2e%2e%2fescape.txt", "/..%2F..%2Fescape.txt"):
        packets.append(w.c("PA", f"GET {target} HTTP/1.1\r\nHost: h\r\n\r\n".encode()))
        packets.append(w.s("PA", b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nboom"))
    packets += script(w, "c FA", "s FA", "c A")
    cap = tmp_path / "evil.pcap"
    cap.write_bytes(pcap_bytes([p.data for p in packets]))
    out = tmp_path / "out"
    assert main(["http", str(cap), "--export", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "escape(1).txt", "escape(2).txt", "escape.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.pcap", "out"]


def test_unusable_export_directory_is_one_line(
    capture: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["http", str(capture("http_gzip.pcap")), "--export", str(blocker)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"layerpeek: {blocker}: cannot create export directory")


@pytest.mark.parametrize("content", [b"", b"not a capture at all\n", b"\x1f\x8b\x08\x00garbage"])
def test_bad_file_is_one_clear_line_and_exit_1(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(content)
    assert main(["http", str(bad)]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith(f"layerpeek: {bad}: ") and "Traceback" not in captured.err


def test_missing_file_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["http", str(tmp_path / "nope.pcap")]) == 1
    assert main(["http", str(tmp_path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and "No such file" in lines[0] and "directory" in lines[1]


def test_problems_outside_any_exchange_go_to_stderr(
    public: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["http", str(public("pcapng_comments_2if_snaplen.pcapng"))]) == 0
    err = capsys.readouterr().err
    assert "layerpeek: warning:" in err and "stream 13 server: skipped" in err


def test_help_lists_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "http" in capsys.readouterr().out
