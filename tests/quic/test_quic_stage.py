"""The QUIC stage on real captures: connections, decryption with the key log, HTTP/3 exchanges.

The captures were made by ``captures/make/h3_peer.py`` (an aioquic client and
server) serving ``content.py``, so every path and body is known; the client's
own report of what it received was checked against the same digests when the
captures were made.  Bad input (a wrong key, a damaged tag, a cut datagram, a
CRYPTO offset far ahead) is built here from those captures.
"""

from __future__ import annotations

import dataclasses
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
from layerpeek.quic.protection import initial_keys
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
    ("quic_key_update", ["/index.html", "/style.css", "/logo.png"]),
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
    packets[12] = dataclasses.replace(layerpeek.decode(bytes(data), victim.linktype),
                                      index=13, ts_ns=victim.ts_ns)
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
    packets[1] = dataclasses.replace(layerpeek.decode(second.data[:200], second.linktype),
                                     index=2, ts_ns=second.ts_ns)
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


def test_explain_tells_the_quic_handshake_where_tcp_and_tls_would_be() -> None:
    from layerpeek.story import explain

    with layerpeek.read(capture("quic_h3_page")) as reader:
        story = explain(reader, keylog=CAPTURES / "quic_h3_page.keys")
    kinds = [s.kind for s in story.steps]
    assert kinds[0] == "quic-handshake" and "handshake" not in kinds and "udp" not in kinds
    first = story.steps[0]
    assert first.title == "QUIC handshake (1 round trip, TLS inside)"
    assert "ClientHello for example.test" in first.text and "Unlike HTTPS over TCP" in first.text
    assert first.facts["alpn"] == "h3" and first.stream == "udp 0"
    requests = [s for s in story.steps if s.kind == "request"]
    assert [s.facts["target"] for s in requests] == [
        "/index.html", "/style.css", "/logo.png", "/data.json", "/no-such-page"]
    assert all("over HTTP/3 (QUIC)" in s.text for s in requests)
    assert "1 QUIC connection" in story.overview


def test_a_key_update_is_followed_on_both_sides() -> None:
    events, _, packets = run(capture("quic_key_update"), CAPTURES / "quic_key_update.keys")
    conn = connection(events)
    assert conn.key_updates == {"client": 1, "server": 1} and conn.problems == []
    phases = [qp.key_phase for p in packets if (layer := p.get(QUIC)) for qp in layer.packets
              if qp.kind == "1-RTT"]
    assert phases[0] == 0 and phases[-1] == 1 and None not in phases


def _moved(packet: Packet, port: int, client_port: int) -> Packet:
    """The frame with the client's UDP port changed to ``port`` (Ethernet, IPv4 without options)."""
    data = bytearray(packet.data)
    sport = int.from_bytes(data[34:36], "big")
    at = 34 if sport == client_port else 36
    data[at : at + 2] = port.to_bytes(2, "big")
    decoded = layerpeek.decode(bytes(data), packet.linktype)
    return dataclasses.replace(decoded, index=packet.index, ts_ns=packet.ts_ns)


def test_migration_to_a_new_port_keeps_the_connection() -> None:
    with layerpeek.read(capture("quic_h3_page")) as reader:
        packets = list(reader)
    # From frame 9 on, the client sends from (and the server answers to) port 50000.
    packets = packets[:8] + [_moved(p, 50000, 41500) for p in packets[8:]]
    events, stage, _ = run(packets, CAPTURES / "quic_h3_page.keys")
    (conn,) = stage.finished
    assert conn.migrations == [
        "frame 9: the client moved from 127.0.0.1:41500 to 127.0.0.1:50000"]
    assert conn.client == ("127.0.0.1", 50000) and conn.problems == []
    assert conn.exchanges == 5 and len([e for e in events if isinstance(e, QUICConversation)]) == 1


def seal_initial(dcid: bytes, scid: bytes, payload: bytes) -> bytes:
    """A client Initial (version 1, packet number 0) protected as RFC 9001 §5 says, with
    ``cryptography``'s AES-GCM and AES-ECB (the keys come from layerpeek's derivation, which
    the Appendix A vectors check)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    keys = initial_keys(1, dcid)
    assert keys is not None
    client = keys[0]
    payload = payload + bytes(max(0, 1162 - len(payload)))  # PADDING to a full datagram
    length = 1 + len(payload) + 16
    header = (bytes([0xC0, 0, 0, 0, 1, len(dcid)]) + dcid + bytes([len(scid)]) + scid + b"\x00"
              + (0x4000 | length).to_bytes(2, "big") + b"\x00")
    sealed = AESGCM(client.key).encrypt(client.iv, payload, header)  # nonce: iv XOR 0
    mask = Cipher(algorithms.AES(client.hp), modes.ECB()).encryptor().update(sealed[3:19])
    protected = bytearray(header + sealed)
    protected[0] ^= mask[0] & 0x0F
    protected[len(header) - 1] ^= mask[1]
    return bytes(protected)


def test_connections_beyond_the_limit_are_let_go_and_counted() -> None:
    from builders import eth, ipv4_udp, udp

    with layerpeek.read(capture("quic_h3_page")) as reader:
        first = next(iter(reader))
    layer = first.get(QUIC)
    assert layer is not None
    hello = next(f for f in layer.frames() if isinstance(f, qf.Crypto))
    crypto = bytes([6, 0, 0x40 | len(hello.data) >> 8, len(hello.data) & 0xFF]) + hello.data
    frames = [eth(ipv4_udp(udp(seal_initial(bytes([n]) * 8, bytes([0x80 + n]) * 8, crypto),
                               sport=40000 + n, dport=443))) for n in range(10)]
    packets = [dataclasses.replace(layerpeek.decode(f), index=i + 1)
               for i, f in enumerate(frames)]
    assert all((lq := p.get(QUIC)) is not None and lq.packets[0].decrypted for p in packets)
    events, stage, _ = run(packets, max_connections=3)
    assert stage.evicted == 7 and len(stage.finished) == 10 and stage.connections == {}
    let_go = [c for c in stage.finished if c.problems]
    assert [c.index for c in let_go] == list(range(7))
    assert let_go[0].problems == ["let go after 3 connections were open"]
    assert len([e for e in events if isinstance(e, QUICConversation)]) == 10


def test_flows_tells_the_quic_connection_on_its_udp_conversation() -> None:
    import json
    import subprocess
    import sys

    from conftest import ROOT

    path = capture("quic_h3_page")
    cmd = [sys.executable, "-m", "layerpeek", "flows", "--keylog",
           str(CAPTURES / "quic_h3_page.keys"), str(path)]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    table = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    (head, line) = table.splitlines()
    assert head.split()[:2] == ["ID", "PROTO"]
    assert line.split()[1:4] == ["quic", "127.0.0.1:41500", "127.0.0.1:443"]
    assert line.endswith("closed (client: 0x0)")
    out = subprocess.run([*cmd[:4], "--json", *cmd[4:]], capture_output=True, text=True,
                         check=True, env=env).stdout
    (record,) = [json.loads(x) for x in out.splitlines()]
    quic = record["quic"]
    assert record["proto"] == "udp" and quic["sni"] == "example.test" and quic["alpn"] == "h3"
    assert quic["state"] == "closed" and quic["http3_exchanges"] == 5
    assert quic["handshake_rtt_ns"] > 0 and quic["problems"] == []


def test_out_of_order_stream_data_is_bounded_per_connection() -> None:
    stage = QUICStage(max_stream=10_000, max_held=1000)
    conn = QUICConnection(0, ("10.0.0.1", 1), ("10.0.0.2", 443), 1, b"x", b"x", 0)
    frame = layerpeek.decode(b"")
    stage._stream(conn, "client", qf.Stream(0x0E, 0, 10, b"a" * 600, False), frame, [])
    assert conn._held == 600 and conn.problems == []
    stage._stream(conn, "client", qf.Stream(0x0E, 4, 10, b"b" * 600, False), frame, [])
    assert conn._held == 600  # stream 4's 600 bytes were let go, stream 0's kept
    assert conn.problems == ["more than 1000 bytes held out of order on the connection: "
                             "stream 4's dropped"]
    stage._stream(conn, "client", qf.Stream(0x0E, 0, 0, b"z" * 10, False), frame, [])
    assert conn._held == 0 and conn._streams[(0, "client")].delivered == 610
    stage._stream(conn, "client", qf.Stream(0x0F, 0, 610, b"", True), frame, [])
    assert (0, "client") not in conn._streams  # its FIN: forgotten


def test_the_library_lists_http3_exchanges_with_a_key_log() -> None:
    import layerpeek.http

    path = capture("quic_h3_page")
    listed = layerpeek.http.exchanges(path, keylog=CAPTURES / "quic_h3_page.keys")
    assert [(ex.request.target if ex.request else None,
             ex.response.status if ex.response else None) for ex in listed] == [
        ("/index.html", 200), ("/style.css", 200), ("/logo.png", 200), ("/data.json", 200),
        ("/no-such-page", 404)]
    assert layerpeek.http.exchanges(path) == []  # without keys nothing of HTTP/3 can be read


def test_0rtt_requests_of_a_resumed_session_are_read() -> None:
    events, stage, _ = run(capture("quic_0rtt"), CAPTURES / "quic_0rtt.keys")
    first, resumed = stage.finished
    assert (first.zero_rtt, resumed.zero_rtt) == (0, 2)
    assert first.problems == [] and resumed.problems == [] and resumed.undecrypted == {}
    exchanges = [e for e in events if isinstance(e, HTTPExchange)]
    assert [(e.stream, e.request.target if e.request else None) for e in exchanges] == [
        (0, "/index.html"), (1, "/index.html"), (1, "/style.css")]
    for ex in exchanges:
        assert ex.request is not None and ex.response is not None and ex.problem is None
        body = FILES[ex.request.target][1]
        assert hashlib.sha256(ex.response.body).digest() == hashlib.sha256(body).digest()
    # The resumed connection's requests left in its 0-RTT packets, before the server spoke.
    early = [ex.request.frames[0] for ex in exchanges[1:] if ex.request is not None]
    assert all(frame < resumed.first_frame + 3 for frame in early)


def test_a_connection_picked_up_midway_says_why_it_cannot_be_read() -> None:
    with layerpeek.read(capture("quic_h3_page")) as reader:
        later = list(reader)[6:]  # from the first request on: no Initial, no handshake
    events, stage, packets = run(later, CAPTURES / "quic_h3_page.keys")
    assert stage.finished == [] and [e for e in events if isinstance(e, HTTPExchange)] == []
    for packet in packets:
        layer = packet.get(QUIC)
        assert layer is not None
        (qp,) = layer.packets
        assert not qp.decrypted and qp.problem is not None
        assert qp.problem.startswith("1-RTT packet of a connection whose start is not in")
