"""The QUIC stage on real captures: connections, decryption with the key log, HTTP/3 exchanges.

The captures were made by ``captures/make/h3_peer.py`` (an aioquic client and
server) serving ``content.py``, so every path and body is known; the client's
own report of what it received was checked against the same digests when the
captures were made.  Bad input (a wrong key, a damaged tag, a cut datagram, a
CRYPTO offset far ahead) is built here from those captures.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from conftest import CAPTURES

import layerpeek
from layerpeek.analysis import Analysis
from layerpeek.flows.events import Problem
from layerpeek.http.message import HTTPExchange
from layerpeek.packet import Packet
from layerpeek.quic import QUIC
from layerpeek.quic import frames as qf
from layerpeek.quic.reassembly import Reassembly
from layerpeek.quic.stage import QUICConnection, QUICConversation, QUICHandshake, QUICStage
from layerpeek.tls.handshake import ClientHello, ServerHello
from layerpeek.tls.keylog import KeyLog

pytest.importorskip("cryptography")
pytest.importorskip("pylsqpack")


def _content() -> ModuleType:
    spec = importlib.util.spec_from_file_location("h3_content", CAPTURES / "make/content.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FILES: dict[str, tuple[str, bytes]] = _content().FILES


def capture(name: str) -> Path:
    path = CAPTURES / f"{name}.pcap"
    if not path.exists():
        pytest.skip(f"captures/{name}.pcap missing")
    return path


def run(source: Path | list[Packet], keylog: KeyLog | Path | None = None,
        **options: object) -> tuple[list[object], QUICStage, list[Packet]]:
    stage = QUICStage(keylog, **options)  # type: ignore[arg-type]
    analysis = Analysis([stage])
    events: list[object] = []
    packets: list[Packet] = []
    for step in analysis.run(source):
        events.extend(step.events)
        packets.append(step.packet)
    events.extend(analysis.finish())
    return events, stage, packets


def connection(events: list[object]) -> QUICConnection:
    (conv,) = [e for e in events if isinstance(e, QUICConversation)]
    return conv.connection


@pytest.mark.parametrize(("name", "paths"), [
    ("quic_h3_page", ["/index.html", "/style.css", "/logo.png", "/data.json", "/no-such-page"]),
    ("quic_retry", ["/index.html", "/style.css"]),
    ("quic_version_negotiation", ["/style.css"]),
])
def test_every_request_and_body_is_what_the_programs_sent(name: str, paths: list[str]) -> None:
    events, _, _ = run(capture(name), CAPTURES / f"{name}.keys")
    exchanges = [e for e in events if isinstance(e, HTTPExchange)]
    assert [ex.request.target for ex in exchanges if ex.request] == paths
    for ex in exchanges:
        assert ex.request is not None and ex.response is not None and ex.problem is None
        assert ex.request.version == ex.response.version == "HTTP/3"
        assert ex.request.method == "GET"
        assert ex.request.headers.get(":authority") == "example.test"
        found = FILES.get(ex.request.target)
        if found is None:
            assert ex.response.status == 404
            continue
        kind, body = found
        assert ex.response.status == 200
        assert ex.response.headers.get("content-type") == kind
        assert hashlib.sha256(ex.response.body).hexdigest() == hashlib.sha256(body).hexdigest()
    conn = connection(events)
    assert (conn.sni, conn.alpn, conn.problems, conn.undecrypted) == ("example.test", "h3", [], {})
    assert conn.exchanges == len(paths)


def test_the_handshake_is_told_from_the_crypto_frames_of_each_level() -> None:
    events, _, packets = run(capture("quic_h3_page"), CAPTURES / "quic_h3_page.keys")
    told = [(e.direction, e.level, e.message.kind) for e in events
            if isinstance(e, QUICHandshake)]
    assert told == [
        ("client", "initial", "ClientHello"), ("server", "initial", "ServerHello"),
        ("server", "handshake", "EncryptedExtensions"), ("server", "handshake", "Certificate"),
        ("server", "handshake", "CertificateVerify"), ("server", "handshake", "Finished"),
        ("client", "handshake", "Finished")]
    conn = connection(events)
    assert conn.handshake_rtt_ns is not None and conn.handshake_rtt_ns > 0
    assert conn.handshake_done_ts_ns is not None
    hello = next(e.message for e in events if isinstance(e, QUICHandshake)
                 and isinstance(e.message, ServerHello))
    assert isinstance(hello, ServerHello) and conn.suite == hello.cipher_suite
    # Every packet of the connection was decrypted, and each shows where it belongs.
    quic = [p.get(QUIC) for p in packets]
    assert all(layer is not None for layer in quic)
    for layer in quic:
        assert layer is not None
        for qp in layer.packets:
            assert qp.decrypted and qp.packet_number is not None and qp.dcid is not None
    # The connection ids announced in NEW_CONNECTION_ID frames are the connection's.
    announced = {f.connection_id for layer in quic if layer is not None
                 for f in layer.frames() if isinstance(f, qf.NewConnectionId)}
    assert len(announced) == 14 and announced <= conn.client_cids | conn.server_cids


def test_retry_and_version_negotiation_are_followed() -> None:
    retry = connection(run(capture("quic_retry"), CAPTURES / "quic_retry.keys")[0])
    assert retry.retry and retry.initial_dcid != retry.original_dcid and not retry.problems
    vn = connection(run(capture("quic_version_negotiation"),
                        CAPTURES / "quic_version_negotiation.keys")[0])
    assert vn.negotiated_versions == (0x6B3343CF,) and vn.version == 0x6B3343CF
    assert vn.problems == []


def test_without_keys_the_initials_are_read_and_the_rest_is_reported_encrypted() -> None:
    events, _, packets = run(capture("quic_no_keys"))
    conn = connection(events)
    assert conn.sni == "example.test" and conn.suite is not None  # from the Initials
    assert conn.alpn is None and conn.exchanges == 0
    assert conn.undecrypted == {"handshake": 4, "1-rtt": 8}
    problems = [e.text for e in events if isinstance(e, Problem)]
    assert any("8 1-rtt packet(s) not decrypted" in text for text in problems)
    initials = [qp for p in packets if (layer := p.get(QUIC)) for qp in layer.packets
                if qp.kind == "Initial"]
    assert initials and all(qp.decrypted for qp in initials)
    one_rtt = [qp for p in packets if (layer := p.get(QUIC)) for qp in layer.packets
               if qp.kind == "1-RTT"]
    assert all(qp.problem == "1-rtt: no key log given" for qp in one_rtt)


def _keylog(name: str, change: bytes | None = None) -> KeyLog:
    log = KeyLog.load(CAPTURES / f"{name}.keys")
    if change is not None:
        for table in log.secrets.values():
            for random in table:
                table[random] = change * len(table[random])
    return log


def test_a_wrong_key_is_reported_on_the_connection_and_the_initials_still_read() -> None:
    events, _, _ = run(capture("quic_h3_page"), _keylog("quic_h3_page", b"\x42"))
    conn = connection(events)
    assert conn.exchanges == 0 and conn.sni == "example.test"
    assert "handshake client: the payload does not authenticate (wrong key, or damaged)" in (
        conn.problems)
    assert conn.undecrypted["1-rtt"] > 0


def test_a_corrupted_tag_loses_that_packet_only() -> None:
    with layerpeek.read(capture("quic_h3_page")) as reader:
        packets = list(reader)
    victim = packets[12]  # frame 13: the server's answer to /index.html
    data = bytearray(victim.data)
    data[-1] ^= 0xFF
    packets[12] = layerpeek.decode(bytes(data), victim.linktype)
    events, _, out = run(packets, CAPTURES / "quic_h3_page.keys")
    conn = connection(events)
    assert conn.undecrypted == {"1-rtt": 1}
    assert "1-rtt server: the payload does not authenticate (wrong key, or damaged)" in (
        conn.problems)
    layer = out[12].get(QUIC)
    assert layer is not None and not layer.packets[0].decrypted
    exchanges = [e for e in events if isinstance(e, HTTPExchange)]
    assert len(exchanges) == 5  # the others are whole; /index.html's response is cut
    cut = [e for e in exchanges if e.problem]
    assert [e.request.target for e in cut if e.request] == ["/index.html"]


def test_a_truncated_datagram_is_a_malformed_layer_and_the_connection_goes_on() -> None:
    with layerpeek.read(capture("quic_h3_page")) as reader:
        packets = list(reader)
    second = packets[1]  # the server's Initial + Handshake datagram
    packets[1] = layerpeek.decode(second.data[:200], second.linktype)
    events, _, _ = run(packets, CAPTURES / "quic_h3_page.keys")
    assert packets[1].malformed is not None and packets[1].malformed.protocol == "quic"
    assert "runs past the datagram" in packets[1].malformed.reason
    conn = connection(events)
    # The ServerHello and EncryptedExtensions were in that datagram: the suite is found by
    # trying each, HTTP/3 from the client's offer, and every request is still read.
    assert conn.problems == [
        "the ServerHello was not seen: cipher suite TLS_AES_256_GCM_SHA384 found by trying each"]
    assert conn.undecrypted == {} and conn.alpn is None and conn.exchanges == 5


def test_a_crypto_offset_beyond_the_limit_is_refused_with_a_reason() -> None:
    stream = Reassembly(limit=1000)
    assert stream.add(0, b"abc") == (b"abc", None)
    assert stream.add(10, b"xyz") == (b"", None)  # ahead, within the limit: held
    data, refused = stream.add(1 << 40, b"far")
    assert data == b"" and refused is not None and "limit 1000" in refused
    assert stream.add(3, b"defghij") == (b"defghijxyz", None)
    assert stream.held == 0 and stream.pending == {}
    assert stream.add(2, b"cd") == (b"", None)  # already delivered: a retransmission


def test_a_crypto_frame_far_ahead_is_told_per_connection() -> None:
    stage = QUICStage(max_crypto=4096)
    conn = QUICConnection(0, ("10.0.0.1", 1), ("10.0.0.2", 443), 1, b"x", b"x", 0)
    told = stage._crypto(conn, "client", "initial", qf.Crypto(6, 1 << 50, b"data"),
                         layerpeek.decode(b""), [])
    assert told == [] and len(conn.problems) == 1
    assert conn.problems[0].startswith("initial CRYPTO from the client: data at offset")


def test_flows_of_the_page_is_one_udp_conversation_and_one_quic_connection() -> None:
    events, stage, _ = run(capture("quic_h3_page"), CAPTURES / "quic_h3_page.keys")
    assert len(stage.finished) == 1 and stage.connections == {}
    hello = [e for e in events if isinstance(e, QUICHandshake)
             and isinstance(e.message, ClientHello)]
    assert len(hello) == 1
