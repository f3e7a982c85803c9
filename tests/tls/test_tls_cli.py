"""``--keylog FILE`` and ``$SSLKEYLOGFILE`` on the commands that read HTTPS captures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CAPTURES

from layerpeek.cli import main

pytest.importorskip("cryptography")

PCAP = str(CAPTURES / "tls12_http11.pcap")
KEYS = str(CAPTURES / "tls12_http11.keys")


def test_http_lists_the_decrypted_exchanges(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["http", "--json", "--keylog", KEYS, PCAP]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["target"], r["status"], r["response_body_len"]) for r in rows] == [
        ("/index.html", 200, 341), ("/logo.png", 200, 852), ("/style.css", 200, 155),
        ("/data.json", 200, 3010)]


def test_without_keys_https_has_no_http_exchanges(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    assert main(["http", "--json", PCAP]) == 0
    assert capsys.readouterr().out == ""


def test_sslkeylogfile_is_the_default(capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSLKEYLOGFILE", KEYS)
    assert main(["http", "--json", PCAP]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4


def test_an_unreadable_keylog_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    assert main(["http", "--keylog", str(tmp_path / "missing.keys"), PCAP]) == 1
    err = capsys.readouterr().err
    assert "cannot read the key log" in err and "Traceback" not in err


def test_a_missing_sslkeylogfile_only_warns(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "not-yet-written.keys"))
    assert main(["http", PCAP]) == 0
    assert "not decrypting" in capsys.readouterr().err


def test_lines_not_in_the_format_are_a_warning(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    keys = tmp_path / "k.log"
    keys.write_text(Path(KEYS).read_text() + "garbage line\n")
    assert main(["http", "--json", "--keylog", str(keys), PCAP]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 4 and "1 line not in the key log format" in err


def test_dump_summary_names_the_connections_that_were_not_decrypted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = str(CAPTURES / "tls_missing_keys.pcap")
    assert main(["dump", "--keylog", str(CAPTURES / "tls_missing_keys.keys"), name]) == 0
    err = capsys.readouterr().err
    assert "2 TLS connections not decrypted" in err
    assert "keys missing from the key log 2" in err


def test_dump_with_a_complete_key_log_reports_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dump", "--keylog", KEYS, PCAP]) == 0
    assert capsys.readouterr().err == ""


def test_explain_tells_the_decrypted_requests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--json", "--keylog", KEYS, PCAP]) == 0
    assert "/logo.png" in capsys.readouterr().out


def test_export_http_rows_include_https(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "x.parquet"
    assert main(["export", "-q", "--what", "http", "--keylog", KEYS, "--parquet", str(out),
                 PCAP]) == 0
    assert pq.read_table(out).num_rows == 4


def test_follow_shows_the_decrypted_stream(capsys: pytest.CaptureFixture[str]) -> None:
    name = str(CAPTURES / "tls13_http11.pcap")
    assert main(["follow", "--keylog", str(CAPTURES / "tls13_http11.keys"), name, "1"]) == 0
    out = capsys.readouterr().out
    assert "POST /submit HTTP/1.1" in out and "HTTP/1.1 201 Created" in out
    assert "name=layerpeek&layer=tls&message=hello+over+TLS+1.3" in out


def test_follow_raw_writes_the_plaintext_bytes(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    name = str(CAPTURES / "tls12_http11.pcap")
    assert main(["follow", "--raw", "--direction", "client", "--keylog", KEYS, name, "0"]) == 0
    assert capsysbinary.readouterr().out.startswith(b"GET /index.html HTTP/1.1\r\n")


def test_flows_summary_names_the_connections_that_were_not_decrypted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = str(CAPTURES / "tls_missing_keys.pcap")
    assert main(["flows", "--keylog", str(CAPTURES / "tls_missing_keys.keys"), name]) == 0
    assert "2 TLS connections not decrypted" in capsys.readouterr().err
