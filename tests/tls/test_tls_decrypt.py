"""Decryption with a key log: every capture's sessions, and every way a key log can fail.

The captures in ``captures/`` were made by curl, Python's ssl and OpenSSL
with their key logs written beside them (see captures/README.md); the HTTP
bodies they carry are the fixed files of ``captures/make/content.py``, so
the decrypted bytes are checked against those files' SHA-256 digests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import pytest
from conftest import CAPTURES

import layerpeek
from layerpeek.flows.events import Event, StreamData
from layerpeek.flows.tracker import TCPTracker
from layerpeek.http.message import HTTPExchange
from layerpeek.http.pairing import HTTPPairer
from layerpeek.tls import (
    DecryptedData,
    KeyLog,
    TLSAlert,
    TLSApplicationData,
    TLSConnection,
    TLSEvent,
    TLSHandshake,
    TLSProblem,
    TLSTracker,
    handshake,
)

pytest.importorskip("cryptography")

#: sha256 of the bodies served (captures/README.md, "Bodies served").
SHA256 = {
    "/index.html": "5f261d0f154b3281e9dd1f0ceca373da4ef2a478dba3f432f52f59895bd74333",
    "/style.css": "665d0c293806c5e56c54f399d3eb321154da62f0e0677066d0133c50c9039e4c",
    "/logo.png": "2104d24658f93c43d406c871770be4f071f52841221441fd0f6e5cd018df1008",
    "/data.json": "295334e3895f472dcdfdd274c48dd1c6d1cf160f56823c563046ae25a0143c0d",
}


def tcp_events(name: str) -> list[Event]:
    tcp = TCPTracker()
    out: list[Event] = []
    with layerpeek.read(CAPTURES / name) as reader:
        for packet in reader:
            out.extend(tcp.feed(packet))
    out.extend(tcp.finish())
    return out


def run(name: str, keys: KeyLog | str | None = "beside") -> tuple[TLSTracker, list[TLSEvent]]:
    if keys == "beside":
        keys = KeyLog.load(CAPTURES / name.replace(".pcap", ".keys"))
    assert not isinstance(keys, str)
    tls = TLSTracker(keys)
    out: list[TLSEvent] = []
    for event in tcp_events(name):
        out.extend(tls.feed(event))
    out.extend(tls.finish())
    return tls, out


def exchanges(events: Iterable[TLSEvent | Event]) -> list[HTTPExchange]:
    """Decrypted data through the HTTP/1.x pairer, as the pipeline will feed it."""
    pairer = HTTPPairer()
    done: list[HTTPExchange] = []
    for event in events:
        if isinstance(event, DecryptedData):
            done.extend(pairer.feed(event.as_stream_data()))
    done.extend(pairer.finish())
    return done


def bodies(events: list[TLSEvent]) -> list[tuple[str, int, str]]:
    return [(ex.target or "", ex.response.status if ex.response else 0,
             hashlib.sha256(ex.response.body if ex.response else b"").hexdigest())
            for ex in exchanges(events)]


def test_tls13_http11_decrypts_both_connections_and_the_bodies_match() -> None:
    tls, events = run("tls13_http11.pcap")
    assert [c.decryption for c in tls.connections.values()] == ["decrypted", "decrypted"]
    assert [c.cipher_suite for c in tls.connections.values()] == [0x1301, 0x1303]
    got = bodies(events)
    assert got[:2] == [("/index.html", 200, SHA256["/index.html"]),
                       ("/style.css", 200, SHA256["/style.css"])]
    assert got[2][:2] == ("/submit", 201)
    assert not [e for e in events if isinstance(e, TLSProblem)]


def test_tls12_gcm_chacha_and_both_cbc_orders_decrypt() -> None:
    tls, events = run("tls12_http11.pcap")
    suites = [c.cipher_suite for c in tls.connections.values()]
    assert suites == [0xC02B, 0xCCA9, 0xC024, 0xC023]
    assert all(c.decryption == "decrypted" for c in tls.connections.values())
    assert bodies(events) == [(path, 200, SHA256[path]) for path in
                              ("/index.html", "/logo.png", "/style.css", "/data.json")]


def test_tls13_handshake_messages_come_out_decrypted_in_order() -> None:
    _, events = run("tls13_http11.pcap")
    first_conn = [e for e in events if isinstance(e, TLSHandshake) and e.conversation == 0]
    names = [(e.direction, type(e.message).__name__, e.decrypted) for e in first_conn]
    assert names[:7] == [
        ("client", "ClientHello", False), ("server", "ServerHello", False),
        ("server", "EncryptedExtensions", True), ("server", "Certificate", True),
        ("server", "CertificateVerify", True), ("server", "Finished", True),
        ("client", "Finished", True),
    ]
    cert = first_conn[3].message
    assert isinstance(cert, handshake.Certificate) and cert.request_context == b""
    assert cert.certificates[0].subject == "CN=example.test,O=layerpeek demo"


def test_decrypted_data_is_shaped_like_stream_data_with_plaintext_offsets() -> None:
    _, events = run("tls13_http11.pcap")
    client = [e for e in events if isinstance(e, DecryptedData) and e.conversation == 0
              and e.direction == "client"]
    offset = 0
    for e in client:
        assert e.offset == offset and e.frames and e.ts_ns > 0
        offset += len(e.data)
    assert client[0].data.startswith(b"GET /index.html HTTP/1.1\r\n")
    as_stream = client[0].as_stream_data()
    assert isinstance(as_stream, StreamData) and as_stream.data == client[0].data
    assert not isinstance(client[0], StreamData)  # never mistaken for bytes on the wire


def test_resumed_tls13_session_has_no_certificate_and_decrypts() -> None:
    tls, events = run("tls_resumed.pcap")
    conns = list(tls.connections.values())
    assert [c.resumed for c in conns[:2]] == [False, True]
    assert conns[1].certificates == () and conns[0].certificates
    assert all(c.decryption == "decrypted" for c in conns)
    assert [b[:2] for b in bodies(events)] == [("/index.html", 200), ("/style.css", 200)] * 2


def test_key_update_moves_the_keys_on() -> None:
    _, events = run("tls13_keyupdate.pcap")
    updates = [e for e in events if isinstance(e, TLSHandshake)
               and isinstance(e.message, handshake.KeyUpdate)]
    assert len(updates) == 1 and updates[0].direction == "client"
    request = b"".join(e.data for e in events if isinstance(e, DecryptedData)
                       and e.direction == "client")
    assert request == b"GET / HTTP/1.0\r\n\r\n"  # sent after the KeyUpdate
    assert not [e for e in events if isinstance(e, TLSProblem)]


def test_alerts_in_the_clear_after_a_tls13_server_hello_are_not_decryption_failures() -> None:
    """curl rejects the certificate before switching to its handshake keys: its TLS 1.3
    alert is a plaintext record (type 21), which must not be fed to the cipher."""
    _, events = run("tls_alert.pcap")
    alerts = [(e.conversation, e.alert.summary(), e.decrypted) for e in events
              if isinstance(e, TLSAlert)]
    assert alerts == [(0, "Alert fatal unknown_ca", False), (1, "Alert fatal unknown_ca", False)]
    # The TLS 1.2 handshake stopped before the ClientKeyExchange, so the server
    # never had a master secret to log: told as missing keys, nothing worse.
    problems = [(e.conversation, e.kind) for e in events if isinstance(e, TLSProblem)]
    assert problems == [(1, "no-keys")]


def test_missing_and_partial_keys_are_told_per_connection() -> None:
    tls, events = run("tls_missing_keys.pcap")
    conns = list(tls.connections.values())
    assert conns[0].decryption == "decrypted"
    assert conns[1].decryption == "keys missing from the key log"
    problems = [(p.conversation, p.kind) for p in events if isinstance(p, TLSProblem)]
    assert (1, "no-keys") in problems
    assert [(p[0], p[1]) for p in problems if p[0] == 2] == [(2, "no-keys"), (2, "no-keys")]
    # only the first connection's HTTP is readable; the others still tell sizes
    assert [b[:2] for b in bodies(events)] == [("/index.html", 200)]
    sizes = [e for e in events if isinstance(e, TLSApplicationData) and e.conversation == 1]
    assert sizes and not any(e.decrypted for e in sizes)
    # the third connection's handshake (handshake secrets present) still decrypts
    third = [e.message.kind for e in events if isinstance(e, TLSHandshake)
             and e.conversation == 2 and e.decrypted]
    assert "Certificate" in third and "Finished" in third


def test_a_wrong_key_log_is_an_authentication_failure_not_an_exception() -> None:
    text = (CAPTURES / "tls12_http11.keys").read_text()
    wrong = KeyLog.parse("\n".join(
        line[:-4] + "0000" if line.startswith("CLIENT_RANDOM") else line
        for line in text.splitlines()))
    tls, events = run("tls12_http11.pcap", wrong)
    assert all(c.decryption.startswith("failed") for c in tls.connections.values())
    failures = [p for p in events if isinstance(p, TLSProblem) and p.kind == "auth-failed"]
    assert len(failures) == 8  # each direction of the four connections, once
    assert "did not decrypt" in failures[0].reason
    assert not [e for e in events if isinstance(e, DecryptedData)]


def test_without_a_key_log_sizes_and_hellos_are_still_told() -> None:
    tls, events = run("tls13_http11.pcap", None)
    assert [c.decryption for c in tls.connections.values()] == ["no key log given"] * 2
    assert [c.server_name for c in tls.connections.values()] == ["example.test"] * 2
    assert not [e for e in events if isinstance(e, (DecryptedData, TLSProblem))]
    assert sum(e.length for e in events if isinstance(e, TLSApplicationData)) > 0


@pytest.mark.parametrize("name", ["tls13_http11.pcap", "tls12_http11.pcap"])
def test_feeding_the_stream_byte_by_byte_gives_the_same_events(name: str) -> None:
    keys = KeyLog.load(CAPTURES / name.replace(".pcap", ".keys"))
    streams: dict[int, list[StreamData]] = {}
    for e in tcp_events(name):
        if isinstance(e, StreamData):
            streams.setdefault(e.conversation, []).append(e)
    for cid, chunks in streams.items():
        whole, bytewise = TLSConnection(cid, keys), TLSConnection(cid, keys)
        a: list[TLSEvent] = []
        b: list[TLSEvent] = []
        for chunk in chunks:
            a.extend(whole.feed(chunk.direction, chunk.data))
            for i in range(len(chunk.data)):
                b.extend(bytewise.feed(chunk.direction, chunk.data[i : i + 1]))
        plain = [(e.direction, e.data) for e in a if isinstance(e, DecryptedData)]
        joined: dict[str, bytes] = {}
        for e in b:
            if isinstance(e, DecryptedData):
                joined[e.direction] = joined.get(e.direction, b"") + e.data
        assert {d: b"".join(x for dd, x in plain if dd == d) for d in joined} == joined
        assert [type(e.message).__name__ for e in a if isinstance(e, TLSHandshake)] == [
            type(e.message).__name__ for e in b if isinstance(e, TLSHandshake)]


def test_a_capture_cut_inside_a_record_is_a_truncation_problem() -> None:
    keys = KeyLog.load(CAPTURES / "tls13_http11.keys")
    events = [e for e in tcp_events("tls13_http11.pcap") if isinstance(e, StreamData)
              and e.conversation == 0]
    conn = TLSConnection(0, keys)
    for e in events[:-2]:
        conn.feed(e.direction, e.data)
    last = events[-2]
    conn.feed(last.direction, last.data[: len(last.data) // 2])
    problems = conn.close()
    assert [p.kind for p in problems if isinstance(p, TLSProblem)] == ["truncated"]


def test_a_gap_stops_that_direction_with_a_problem() -> None:
    conn = TLSConnection(0, None)
    (problem,) = conn.gap("server", 1200, "acked")
    assert isinstance(problem, TLSProblem) and problem.kind == "gap"
    assert conn.feed("server", b"\x17\x03\x03\x00\x10" + bytes(16)) == []


def test_key_log_lines_that_do_not_parse_are_counted_not_fatal() -> None:
    log = KeyLog.parse("# comment\n\nCLIENT_RANDOM zz 00\nCLIENT_RANDOM " + "00" * 32 + " 11\n"
                       "ONLY_TWO fields\nCLIENT_RANDOM 0011 22\n")
    assert len(log) == 1 and log.get("CLIENT_RANDOM", bytes(32)) == b"\x11"
    assert len(log.problems) == 3 and log.problems[0].startswith("line 3:")


def test_non_tls_conversations_are_ignored(capture: object) -> None:
    tls = TLSTracker(None)
    for event in tcp_events("http_keepalive.pcap"):
        assert tls.feed(event) == []
    assert tls.connections == {}


def test_every_tls_capture_has_its_key_log() -> None:
    for path in sorted(CAPTURES.glob("*.pcap")):
        if path.name.startswith(("tls", "https")):
            assert Path(str(path).replace(".pcap", ".keys")).exists(), path.name


def test_a_hello_retry_request_is_followed_by_a_second_hello_and_decryption() -> None:
    tls, events = run("tls13_hrr.pcap")
    hellos = [e.message for e in events if isinstance(e, TLSHandshake)
              and isinstance(e.message, (handshake.ClientHello, handshake.ServerHello))]
    kinds = [(type(m).__name__, getattr(m, "retry_request", False)) for m in hellos]
    assert kinds == [("ClientHello", False), ("ServerHello", True), ("ClientHello", False),
                     ("ServerHello", False)]
    hrr = hellos[1]
    assert isinstance(hrr, handshake.ServerHello)
    key_share = handshake.find(hrr.extensions, handshake.KeyShare)
    assert key_share is not None and key_share.selected_group == 23  # secp256r1
    assert hellos[0].random == hellos[2].random  # the same session: one key log entry
    (conn,) = tls.connections.values()
    assert conn.retry_requested and conn.decryption == "decrypted"
    assert bodies(events) == [("/style.css", 200, SHA256["/style.css"])]
