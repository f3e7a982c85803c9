"""The ladders (``layerpeek handshake``, the notebook's SVG) draw the TLS handshake on the arrows.

Each segment that completed TLS messages gets them on a second arrow (text)
or a second label (SVG), after the TCP handshake; ``--keylog``/``keylog=``
names TLS 1.3's encrypted handshake messages.  Which handshake messages each
frame completed is checked against tshark (``tls.handshake.type`` per frame,
with the key log).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import CAPTURES

from layerpeek.cli import main

pytest.importorskip("cryptography")

#: Our label's first word → the TLS handshake type tshark gives.
TYPES = {"ClientHello": 1, "ServerHello": 2, "HelloRetryRequest": 2, "NewSessionTicket": 4,
         "EncryptedExtensions": 8, "Certificate": 11, "ServerKeyExchange": 12,
         "CertificateRequest": 13, "ServerHelloDone": 14, "CertificateVerify": 15,
         "ClientKeyExchange": 16, "Finished": 20, "KeyUpdate": 24}


def ladder(capsys: pytest.CaptureFixture[str], name: str, *extra: str) -> str:
    assert main(["handshake", str(CAPTURES / f"{name}.pcap"), *extra]) == 0
    return capsys.readouterr().out


def frames_and_tls(text: str) -> list[tuple[int, str]]:
    """(frame, TLS arrow text) for every TLS arrow, in order."""
    out: list[tuple[int, str]] = []
    frame = 0
    for line in text.splitlines():
        m = re.match(r"\s+(\d+)\s+\d+\.\d+\s+\|", line)
        if m:
            frame = int(m.group(1))
        tls = re.search(r"\|<?=+ TLS (.*?) =+>?\|", line)
        if tls:
            out.append((frame, tls.group(1)))
    return out


def test_tls12_messages_follow_the_tcp_handshake_on_their_segments(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    text = ladder(capsys, "tls12_http11", "0")
    arrows = frames_and_tls(text)
    assert arrows[:4] == [
        (4, "ClientHello SNI=example.test ALPN=http/1.1"),
        (6, "ServerHello TLS1.2 TLS_ECDHE_ECDSA_WITH_A…"),
        (6, "Certificate (2) CN=example.test,O=layerpe…"),
        (6, "ServerKeyExchange x25519, ServerHelloDone"),
    ]
    # without the key log a TLS 1.2 Finished is an encrypted handshake message
    assert arrows[4:8] == [(8, "ClientKeyExchange, ChangeCipherSpec"),
                           (8, "Encrypted Handshake Message"), (9, "ChangeCipherSpec"),
                           (9, "Encrypted Handshake Message")]
    # the server's messages point left, the client's right
    assert "|<== TLS ServerHello" in text and "|==== TLS ClientHello" in text
    assert ("TLS: TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, SNI example.test, "
            "ALPN http/1.1, 2 round trips") in text


def test_the_key_log_names_tls13s_encrypted_handshake(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    without = frames_and_tls(ladder(capsys, "tls13_http11", "0"))
    assert (6, "Application Data ×4 (990 bytes)") in without
    with_keys = ladder(capsys, "tls13_http11", "0", "--keylog",
                       str(CAPTURES / "tls13_http11.keys"))
    arrows = frames_and_tls(with_keys)
    assert [text for frame, text in arrows if frame == 6] == [
        "ServerHello TLS1.3 TLS_AES_128_GCM_SHA256", "ChangeCipherSpec",
        "EncryptedExtensions ALPN=http/1.1", "Certificate (2) CN=example.test,O=layerpe…",
        "CertificateVerify ecdsa_secp256r1_sha256", "Finished"]
    assert "content encrypted" not in with_keys and ", decrypted" in with_keys


def test_the_notebook_ladder_carries_the_tls_messages() -> None:
    from layerpeek.notebook import conversations

    conv = conversations(CAPTURES / "https_h2.pcap", keylog=CAPTURES / "https_h2.keys").tcp(0)
    assert conv.tls is not None and conv.tls.alpn == "h2" and "tls" in conv.services
    labelled = [(s.frame, s.tls[0]) for s in conv.segments if s.tls]
    assert labelled[:3] == [(4, "ClientHello SNI=example.test ALPN=h2,http/1.1"),
                            (6, "ServerHello TLS1.3 TLS_AES_256_GCM_SHA384"),
                            (8, "ChangeCipherSpec")]
    html = conv._repr_html_()
    assert html.count('class="lp-tls"') == len(labelled)
    assert "TLS: TLS 1.3 TLS_AES_256_GCM_SHA384, SNI example.test, ALPN h2" in html


TSHARK = shutil.which("tshark")


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
@pytest.mark.parametrize("name", ["tls12_http11", "tls13_http11", "tls13_hrr", "tls_resumed",
                                  "tls13_keyupdate", "tls12_resumed", "https_page_load"])
def test_the_handshake_messages_of_each_frame_equal_tsharks(name: str) -> None:
    from layerpeek.notebook import conversations

    assert TSHARK is not None
    keys = CAPTURES / f"{name}.keys"
    out = subprocess.run(
        [TSHARK, "-r", str(CAPTURES / f"{name}.pcap"), "-o", f"tls.keylog_file:{keys}",
         "-Y", "tls.handshake.type", "-T", "fields", "-e", "frame.number",
         "-e", "tls.handshake.type"], capture_output=True, text=True, check=True).stdout
    theirs = {int(f): [int(t) for t in types.split(",")]
              for f, types in (line.split("\t") for line in out.splitlines())}
    ours: dict[int, list[int]] = {}
    for conv in conversations(CAPTURES / f"{name}.pcap", keylog=keys):
        for seg in getattr(conv, "segments", []):
            types = [TYPES[label.split()[0]] for label in seg.tls
                     if label.split()[0] in TYPES]
            if types:
                ours[seg.frame] = types
    assert ours == theirs


def test_live_handshake_draws_the_same_tls_arrows_as_it_goes(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``live --handshake --keylog``: the ladder drawn packet by packet has the file's arrows."""
    import layerpeek
    from layerpeek.commands.live import LiveLadder
    from layerpeek.tls import KeyLog

    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    keys = CAPTURES / "tls13_http11.keys"
    written: list[str] = []
    ladder_ = LiveLadder(written.append, KeyLog.load(keys))
    with layerpeek.read(CAPTURES / "tls13_http11.pcap") as packets:
        for packet in packets:
            ladder_.feed(packet)
    ladder_.finish()
    whole = frames_and_tls(ladder(capsys, "tls13_http11", "--keylog", str(keys)))
    assert frames_and_tls("".join(written)) == whole
    assert (6, "EncryptedExtensions ALPN=http/1.1") in whole


def test_the_notebook_lists_https_exchanges_with_the_key_log() -> None:
    from layerpeek.notebook import exchanges

    assert len(exchanges(CAPTURES / "https_h2.pcap")) == 0
    found = exchanges(CAPTURES / "https_h2.pcap", keylog=CAPTURES / "https_h2.keys")
    assert [(ex.target, ex.status) for ex in found] == [
        ("/index.html", 200), ("/style.css", 200), ("/no-such-page", 404)]


def test_a_hostile_server_name_reaches_the_terminal_escaped() -> None:
    """The labels carry capture text: control characters are shown as escapes."""
    from layerpeek.commands.handshake import _tls_arrows

    (arrow,) = _tls_arrows(["ClientHello SNI=evil\x1b]0;owned\x07.test"], True)
    assert "\x1b" not in arrow and "\x07" not in arrow
    assert "\\x1b]0;owned\\x07" in arrow
