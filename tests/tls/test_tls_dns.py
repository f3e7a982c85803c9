"""DNS over TLS (RFC 7858, port 853): with the key log, ``dns`` and ``explain`` read it as DNS.

``captures/dns_over_tls.pcap``: dig +tls asks dns_server.py two questions on
one TLS 1.3 connection.  The decrypted transactions must be the ones tshark
finds with ``-o tls.keylog_file:``; without keys there are none (the
ciphertext is never framed as DNS).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from conftest import CAPTURES

import layerpeek
from layerpeek.cli import main
from layerpeek.dnstx import transactions
from layerpeek.story import explain
from layerpeek.tls import KeyLog

pytest.importorskip("cryptography")

PCAP = CAPTURES / "dns_over_tls.pcap"
KEYS = CAPTURES / "dns_over_tls.keys"


def test_dns_lists_the_decrypted_transactions(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    assert main(["dns", "--json", "--keylog", str(KEYS), str(PCAP)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["name"], r["type"], r["rcode"], r["server"]) for r in rows] == [
        ("www.example.test", "A", "NOERROR", "127.0.0.1:853"),
        ("example.test", "MX", "NOERROR", "127.0.0.1:853")]
    assert rows[0]["addresses"] == ["127.0.0.1"]
    assert main(["dns", "--json", str(PCAP)]) == 0
    out = capsys.readouterr()
    assert out.out == ""  # without keys: nothing framed from ciphertext
    assert "1 DNS-over-TLS connection (port 853) not read: give the key log" in out.err


def test_without_the_tls_stage_dns_over_tls_is_not_read() -> None:
    assert transactions(PCAP) == []


def test_explain_tells_dns_over_tls_as_dns() -> None:
    with layerpeek.read(PCAP) as packets:
        story = explain(packets, keylog=KeyLog.load(KEYS))
    assert story.kind == "dns"
    dns = [step for step in story.steps if step.kind == "dns"]
    assert len(dns) == 2 and all("over TLS" in step.text for step in dns)
    assert not any(step.kind == "tls-data" for step in story.steps)
    (hs,) = [step for step in story.steps if step.kind == "tls-handshake"]
    assert hs.facts["alpn"] == "dot"


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_the_transactions_equal_tsharks() -> None:
    out = subprocess.run(
        ["tshark", "-n", "-r", str(PCAP), "-o", f"tls.keylog_file:{KEYS}", "-Y", "dns",
         "-T", "fields", "-e", "frame.number", "-e", "dns.id", "-e", "dns.flags.response",
         "-e", "dns.qry.name"], capture_output=True, text=True, check=True).stdout
    theirs = [line.split("\t") for line in out.splitlines()]
    from layerpeek.analysis import Analysis
    from layerpeek.dnstx import DNSTransaction

    analysis = Analysis(["dns", "tls"], settings={"tls": {"keylog": KEYS}})
    found = [e for e in analysis.events(PCAP) if isinstance(e, DNSTransaction)]
    ours = []
    for tx in found:
        assert tx.query is not None and tx.response is not None
        ours.append([str(tx.query.frame), f"0x{tx.dns_id:04x}", "0", tx.name])
        ours.append([str(tx.response.frame), f"0x{tx.dns_id:04x}", "1", tx.name])
    assert sorted(ours, key=lambda r: int(r[0])) == theirs
