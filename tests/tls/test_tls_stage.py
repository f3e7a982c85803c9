"""The TLS stage in :class:`~layerpeek.analysis.Analysis`; the HTTP pairer reads its plaintext."""

from __future__ import annotations

import pytest
from conftest import CAPTURES

from layerpeek.analysis import STAGES, Analysis
from layerpeek.flows.events import Problem, StreamData
from layerpeek.http import exchanges
from layerpeek.http.message import HTTPExchange
from layerpeek.http.pairing import HTTPPairer
from layerpeek.tls import DecryptedData, KeyLog, TLSHandshake
from layerpeek.tls.stage import TLSStage

pytest.importorskip("cryptography")


def test_the_stage_runs_after_the_trackers_and_before_http() -> None:
    names = [name for name, _ in STAGES]
    assert names.index("tcp") < names.index("tls") < names.index("http")


def test_an_analysis_with_a_key_log_pairs_https_exchanges() -> None:
    keys = str(CAPTURES / "tls13_http11.keys")
    analysis = Analysis(["http", "tls"], settings={"tls": {"keylog": keys}})
    events = list(analysis.events(CAPTURES / "tls13_http11.pcap"))
    done = [e for e in events if isinstance(e, HTTPExchange)]
    assert [(e.stream, e.method, e.target, e.status) for e in done] == [
        (0, "GET", "/index.html", 200), (0, "GET", "/style.css", 200), (1, "POST", "/submit", 201)]
    assert done[0].client == "127.0.0.1:41400" and done[0].server == "127.0.0.1:8443"
    assert any(isinstance(e, TLSHandshake) for e in events)
    stage = analysis.get(TLSStage)
    assert stage is not None and [c.decryption for c in stage.connections.values()] == [
        "decrypted", "decrypted"]


def test_problems_reach_the_summaries_once_per_connection_and_kind() -> None:
    keys = KeyLog.load(CAPTURES / "tls_missing_keys.keys")
    analysis = Analysis(["tls"], settings={"tls": {"keylog": keys}})
    told = [e.text for e in analysis.events(CAPTURES / "tls_missing_keys.pcap")
            if isinstance(e, Problem) and e.stage == "tls"]
    assert len(told) == 2 and told[0].startswith("stream 1: no TLS 1.3 handshake")
    assert told[1].startswith("stream 2: the key log has the handshake secrets")


def test_without_the_stage_https_gives_no_exchanges() -> None:
    assert exchanges(CAPTURES / "tls12_http11.pcap") == []
    assert len(exchanges(CAPTURES / "tls12_http11.pcap",
                         keylog=CAPTURES / "tls12_http11.keys")) == 4


def test_the_pairer_ignores_ciphertext_once_plaintext_comes() -> None:
    pairer = HTTPPairer()
    assert pairer.feed(StreamData(0, "client", 0, b"\x16\x03\x01\x00\x05hello", (1,), 1)) == []
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    response = b"HTTP/1.1 204 No Content\r\n\r\n"
    assert pairer.feed(DecryptedData(0, "client", 0, request, (5,), 5)) == []
    assert pairer.feed(StreamData(0, "client", 10, b"\x17\x03\x03\x00\x10" + bytes(16))) == []
    (ex,) = pairer.feed(DecryptedData(0, "server", 0, response, (6,), 6))
    assert (ex.stream, ex.method, ex.target, ex.status) == (0, "GET", "/", 204)


def test_the_negotiated_protocol_of_an_open_connection_can_be_asked() -> None:
    keys = str(CAPTURES / "https_h2.keys")
    analysis = Analysis(["tls"], settings={"tls": {"keylog": keys, "keep_connections": False}})
    stage = analysis.get(TLSStage)
    assert stage is not None
    seen: list[tuple[str | None, bytes]] = []
    for step in analysis.run(CAPTURES / "https_h2.pcap"):
        for e in step.events:
            if isinstance(e, DecryptedData) and e.direction == "client" and e.offset == 0:
                conn = stage.tracker.connection(e.conversation)
                assert conn is not None
                seen.append((conn.alpn, e.data[:24]))
    analysis.finish()
    assert seen == [("h2", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
    assert stage.tracker.connection(0) is None  # closed and not kept
