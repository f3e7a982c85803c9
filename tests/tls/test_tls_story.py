"""``explain`` tells HTTPS: the TLS handshake in its place, then the HTTP inside or the sizes.

The explainer's steps on a real HTTPS capture: TCP handshake, TLS handshake
(versions, SNI, ALPN, cipher, certificate, round trips), then the decrypted
requests and responses; without the key log, what can still be seen (the
hellos, the sizes and timing per direction) and that the content is
encrypted.  The numbers behind the words are the steps' ``facts``; the
frame numbers are checked against tshark where it is installed.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
from conftest import CAPTURES

import layerpeek
from layerpeek.analysis import Analysis
from layerpeek.story import Story, explain
from layerpeek.tls import KeyLog
from layerpeek.tls.summary import TLSSummaries

pytest.importorskip("cryptography")


def story(name: str, keys: bool) -> Story:
    keylog = KeyLog.load(CAPTURES / f"{name}.keys") if keys else None
    with layerpeek.read(CAPTURES / f"{name}.pcap") as packets:
        return explain(packets, keylog=keylog)


def of_stream(s: Story, stream: int) -> list[Any]:
    return [step for step in s.steps if step.stream == f"tcp {stream}"]


def test_with_the_key_log_the_tls_handshake_comes_between_tcp_and_http() -> None:
    s = story("tls13_http11", keys=True)
    assert [step.kind for step in of_stream(s, 0)] == [
        "handshake", "tls-handshake", "request", "response", "request", "response", "tls-alert",
        "teardown"]
    assert of_stream(s, 0)[6].title == "TLS close_notify"
    hs = of_stream(s, 0)[1]
    assert hs.title == "TLS handshake (TLS 1.3)"
    assert hs.frames[0] == 4 and hs.facts["server_name"] == "example.test"
    assert hs.facts | {"handshake_ms": None} == {
        "version": "TLS 1.3", "cipher_suite": "TLS_AES_128_GCM_SHA256",
        "server_name": "example.test", "alpn_offered": ["http/1.1"], "alpn": "http/1.1",
        "resumed": False, "hello_retry": False,
        "certificate_subject": "CN=example.test,O=layerpeek demo",
        "certificate_issuer": "CN=layerpeek demo CA,O=layerpeek demo",
        "round_trips": 1, "handshake_ms": None, "decrypted": True}
    for words in ("ClientHello (frame 4)", "server name example.test (SNI",
                  "TLS_AES_128_GCM_SHA256", "issued by CN=layerpeek demo CA",
                  "1 round trip", "decrypted the session"):
        assert words in hs.text, words
    assert of_stream(s, 1)[1].facts["cipher_suite"] == "TLS_CHACHA20_POLY1305_SHA256"
    assert s.overview.startswith("Web traffic (HTTPS, decrypted with the key log)")
    assert "2 TLS sessions (2 decrypted with the key log); 3 HTTP requests" in s.overview


def test_without_keys_it_tells_what_it_can_and_that_the_content_is_encrypted() -> None:
    s = story("tls13_http11", keys=False)
    assert s.kind == "https"
    assert [step.kind for step in of_stream(s, 0)] == [
        "handshake", "tls-handshake", "tls-data", "teardown"]
    hs, data = of_stream(s, 0)[1:3]
    assert hs.facts["server_name"] == "example.test" and hs.facts["alpn_offered"] == ["http/1.1"]
    assert hs.facts["certificate_subject"] is None  # TLS 1.3 encrypts it
    assert "without the key log its messages" in hs.text
    assert "no key log was given" in data.text
    # sizes per direction: every application-data record after the handshake
    assert (data.facts["client_records"], data.facts["client_bytes"]) == (3, 234)
    assert (data.facts["server_records"], data.facts["server_bytes"]) == (4, 1358)
    assert "the client sent 3 records (234 bytes)" in data.text
    assert "ms later" in data.text  # timing, burst by burst


def test_tls12_takes_two_round_trips_and_shows_its_certificate_in_the_clear() -> None:
    s = story("tls12_http11", keys=False)
    handshakes = [step for step in s.steps if step.kind == "tls-handshake"]
    assert [h.facts["round_trips"] for h in handshakes] == [2, 2, 2, 2]
    assert {h.facts["certificate_subject"] for h in handshakes} == {
        "CN=example.test,O=layerpeek demo"}
    assert [h.facts["cipher_suite"] for h in handshakes] == [
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"]
    assert all("TLS 1.3 needs one round trip" in h.text for h in handshakes)


def test_a_hello_retry_costs_a_round_trip_and_a_resumed_session_sends_no_certificate() -> None:
    (hrr,) = [step for step in story("tls13_hrr", keys=True).steps
              if step.kind == "tls-handshake"]
    assert hrr.facts["hello_retry"] and hrr.facts["round_trips"] == 2
    assert "HelloRetryRequest" in hrr.text and "secp256r1" in hrr.text
    resumed = [step for step in story("tls_resumed", keys=True).steps
               if step.kind == "tls-handshake"]
    assert [h.facts["resumed"] for h in resumed][:2] == [False, True]
    assert resumed[1].title == "TLS handshake (TLS 1.3, resumed)"
    assert resumed[1].facts["certificate_subject"] is None
    assert "resumed an earlier session" in resumed[1].text


def test_tls12_resumes_by_ticket_and_by_session_id_in_one_round_trip() -> None:
    for keys in (False, True):
        s = story("tls12_resumed", keys=keys)
        hs = [step for step in s.steps if step.kind == "tls-handshake"]
        assert [(h.facts["resumed"], h.facts["round_trips"]) for h in hs] == [
            (False, 2), (True, 1), (False, 2), (True, 1)], keys
        assert [h.facts["certificate_subject"] is not None for h in hs] == [
            True, False, True, False]
        assert hs[1].title == "TLS handshake (TLS 1.2, resumed)"
        assert [step.kind for step in s.steps].count("request") == (4 if keys else 0)


def test_a_fatal_alert_is_a_step_and_the_handshake_did_not_complete() -> None:
    s = story("tls_alert", keys=False)
    alerts = [step for step in s.steps if step.kind == "tls-alert"]
    assert [(a.facts["from"], a.facts["description"]) for a in alerts] == [
        ("client", "unknown_ca"), ("client", "unknown_ca")]
    assert "is not trusted" in alerts[0].text and "fatal" in alerts[0].text
    handshakes = [step for step in s.steps if step.kind == "tls-handshake"]
    assert all(h.facts["round_trips"] is None for h in handshakes)
    assert all("did not complete" in h.text for h in handshakes)


def test_connections_the_key_log_does_not_open_say_why_each() -> None:
    s = story("tls_missing_keys", keys=True)
    data = {step.stream: step for step in s.steps if step.kind == "tls-data"}
    assert sorted(data) == ["tcp 1", "tcp 2"]
    assert "no TLS 1.3 handshake traffic secrets" in data["tcp 1"].text
    assert "SERVER_TRAFFIC_SECRET_0" in data["tcp 2"].text
    # the third has its handshake secrets: its certificate is read
    hs = [step for step in s.steps if step.kind == "tls-handshake"]
    assert [h.facts["certificate_subject"] is not None for h in hs] == [True, False, True]
    assert [step.kind for step in s.steps].count("request") == 1


def test_http2_inside_tls_is_told_stream_by_stream() -> None:
    s = story("https_h2", keys=True)
    (hs,) = [step for step in s.steps if step.kind == "tls-handshake"]
    assert hs.facts["alpn"] == "h2" and "HTTP/2 requests and responses" in hs.text
    requests = [step for step in s.steps if step.kind == "request"]
    assert [r.facts["http2_stream"] for r in requests] == [1, 3, 5]


def test_an_https_page_load_is_told_in_the_explainers_steps_with_tls_in_its_place() -> None:
    told = story("https_page_load", keys=True)
    assert told.kind == "page load"
    assert [step.kind for step in told.steps][:5] == [
        "dns", "handshake", "tls-handshake", "request", "response"]
    assert [step.facts["target"] for step in told.steps if step.kind == "request"] == [
        "/index.html", "/style.css", "/logo.png"]
    assert "the TLS handshake" in told.overview
    observed = story("https_page_load", keys=False)
    assert observed.kind == "page load" and observed.overview.startswith("An HTTPS page load")
    assert [step.kind for step in observed.steps] == [
        "dns", "handshake", "tls-handshake", "tls-data", "reset"]
    assert observed.steps[2].facts["server_name"] == "www.example.test"


def test_the_json_form_carries_the_tls_facts() -> None:
    steps = story("tls12_http11", keys=True).to_dict()["steps"]
    first = next(step for step in steps if step["kind"] == "tls-handshake")
    assert first["facts"]["version"] == "TLS 1.2" and first["facts"]["decrypted"] is True


TSHARK = shutil.which("tshark")


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
@pytest.mark.parametrize("name", ["tls13_http11", "tls12_http11", "tls_resumed", "tls13_hrr",
                                  "tls_alert", "https_h2", "tls12_resumed",
                                  "https_page_load"])
def test_hello_frames_versions_and_server_names_equal_tsharks(name: str) -> None:
    assert TSHARK is not None
    out = subprocess.run(
        [TSHARK, "-r", str(CAPTURES / f"{name}.pcap"), "-Y",
         "tls.handshake.type == 1 || tls.handshake.type == 2", "-T", "fields", "-e",
         "tcp.stream", "-e", "frame.number", "-e", "tls.handshake.type", "-e",
         "tls.handshake.extensions_server_name", "-e", "tls.handshake.ciphersuite"],
        capture_output=True, text=True, check=True).stdout
    theirs: dict[int, dict[str, Any]] = {}
    for line in out.splitlines():
        stream, frame, types, sni, suites = line.split("\t")
        conn = theirs.setdefault(int(stream), {})
        if "1" in types.split(","):
            conn.setdefault("client_hello", int(frame))
            conn.setdefault("sni", sni)
        if "2" in types.split(","):  # the last ServerHello (after a HelloRetryRequest)
            conn["server_hello"] = int(frame)
            conn["cipher"] = int(suites.split(",")[-1], 16)
    summaries = TLSSummaries()
    for event in Analysis(["tls"]).events(CAPTURES / f"{name}.pcap"):
        summaries.feed(event)
    ours = {
        cid: {"client_hello": t.client_hello_frames[-1], "sni": t.server_name,
              "server_hello": t.server_hello_frames[-1], "cipher": t.cipher_suite}
        for cid, t in summaries.by_conversation.items()}
    assert ours == theirs
