"""Differential tests against tshark (Wireshark 4.0) on the HTTPS captures.

Without keys, every TLS field of every frame (records, handshake messages,
hello extensions, certificates, alerts) must equal tshark's.  With the key
log (``-o tls.keylog_file:``), the handshake messages of each connection,
the decrypted ones included, must be the ones tshark finds, and every
decrypted HTTP/1.1 request and response (method, path, status, each header
line, body bytes) must be the one tshark finds.

These captures were made on loopback (64 KiB segments), so no record spans
two segments and per-frame comparison of the per-packet layer is exact.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import CAPTURES

import layerpeek
from layerpeek.flows.tracker import TCPTracker
from layerpeek.http.pairing import HTTPPairer
from layerpeek.layers.tls import TLS
from layerpeek.tls import DecryptedData, KeyLog, TLSAlert, TLSHandshake, TLSTracker, handshake
from layerpeek.tls.records import Alert, EncryptedHandshake

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

NAMES = ["tls13_http11.pcap", "tls12_http11.pcap", "tls_resumed.pcap", "tls_alert.pcap",
         "tls_missing_keys.pcap", "https_h2.pcap", "tls13_keyupdate.pcap",
         "tls13_hrr.pcap", "tls12_resumed.pcap", "https_page_load.pcap"]
HTTP1 = ["tls13_http11.pcap", "tls12_http11.pcap", "tls_resumed.pcap", "tls_missing_keys.pcap",
         "tls13_hrr.pcap", "tls12_resumed.pcap"]

#: tshark field → how to read ours from a frame's TLS layer (a list per frame).
FIELDS = [
    "tls.record.content_type", "tls.record.version", "tls.record.length", "tls.handshake.type",
    "tls.handshake.length", "tls.handshake.version", "tls.handshake.random",
    "tls.handshake.session_id", "tls.handshake.ciphersuite", "tls.handshake.extension.type",
    "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
    "tls.handshake.extensions.supported_version", "tls.handshake.extensions_supported_group",
    "tls.handshake.extensions_key_share_group",
    "tls.handshake.extensions_key_share_selected_group", "tls.handshake.sig_hash_alg",
    "tls.handshake.extensions_ec_point_format", "tls.handshake.certificate",
    "tls.alert_message.level", "tls.alert_message.desc",
]


def tshark(path: Path, *args: str) -> list[list[str]]:
    assert TSHARK is not None
    out = subprocess.run([TSHARK, "-n", "-r", str(path), *args], capture_output=True,
                         text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def _hex4(v: int) -> str:
    return f"0x{v:04x}"


def ours(layer: TLS) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {f: [] for f in FIELDS}
    for record in layer.records:
        out["tls.record.content_type"].append(str(record.content_type))
        out["tls.record.version"].append(_hex4(record.version))
        out["tls.record.length"].append(str(record.length))
        for msg in record.messages:
            if isinstance(msg, Alert) and msg.level is not None:
                out["tls.alert_message.level"].append(str(msg.level))
                out["tls.alert_message.desc"].append(str(msg.description))
            if isinstance(msg, EncryptedHandshake) or not hasattr(msg, "handshake_type"):
                continue
            out["tls.handshake.type"].append(str(msg.handshake_type))
            out["tls.handshake.length"].append(str(msg.length))
            if isinstance(msg, (handshake.ClientHello, handshake.ServerHello)):
                out["tls.handshake.version"].append(_hex4(msg.version))
                out["tls.handshake.random"].append(msg.random.hex())
                if msg.session_id:
                    out["tls.handshake.session_id"].append(msg.session_id.hex())
                suites = (msg.cipher_suites if isinstance(msg, handshake.ClientHello)
                          else (msg.cipher_suite,))
                out["tls.handshake.ciphersuite"].extend(_hex4(s) for s in suites)
                for ext in msg.extensions:
                    out["tls.handshake.extension.type"].append(str(ext.type))
                    if isinstance(ext, handshake.ServerName):
                        out["tls.handshake.extensions_server_name"].extend(ext.names)
                    elif isinstance(ext, handshake.ALPN):
                        out["tls.handshake.extensions_alpn_str"].extend(ext.protocols)
                    elif isinstance(ext, handshake.SupportedVersions):
                        out["tls.handshake.extensions.supported_version"].extend(
                            _hex4(v) for v in ext.versions)
                    elif isinstance(ext, handshake.SupportedGroups):
                        out["tls.handshake.extensions_supported_group"].extend(
                            _hex4(g) for g in ext.groups)
                    elif isinstance(ext, handshake.KeyShare):
                        out["tls.handshake.extensions_key_share_group"].extend(
                            str(e.group) for e in ext.entries)
                        if ext.selected_group is not None:  # HelloRetryRequest
                            out["tls.handshake.extensions_key_share_selected_group"].append(
                                str(ext.selected_group))
                    elif isinstance(ext, handshake.SignatureAlgorithms):
                        out["tls.handshake.sig_hash_alg"].extend(_hex4(s) for s in ext.schemes)
                    elif isinstance(ext, handshake.ECPointFormats):
                        out["tls.handshake.extensions_ec_point_format"].extend(
                            str(f) for f in ext.formats)
            elif isinstance(msg, handshake.ServerKeyExchange) and msg.signature_scheme:
                out["tls.handshake.sig_hash_alg"].append(_hex4(msg.signature_scheme))
            elif isinstance(msg, handshake.Certificate):
                out["tls.handshake.certificate"].extend(c.der.hex() for c in msg.certificates)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_every_cleartext_tls_field_of_every_frame_matches_tshark(name: str) -> None:
    path = CAPTURES / name
    args = ["-Y", "tls", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
            "-e", "frame.number"]
    for f in FIELDS:
        args += ["-e", f]
    args += ["-e", "tls.record.opaque_type"]
    theirs: dict[int, list[str]] = {}
    for row in tshark(path, *args):
        # tshark names a TLS 1.3 protected record's type "opaque_type" (always 23,
        # after the cleartext records of a flight); layerpeek's per-packet layer
        # cannot know the version of every segment, so it calls both content_type.
        values, opaque = row[1:-1], row[-1]
        if opaque:
            values[0] = ",".join(v for v in (values[0], opaque) if v)
        theirs[int(row[0])] = values
    # tshark does not hand a retransmission's payload to TLS (it shows as TCP only);
    # layerpeek's per-packet layer decodes every segment: those frames are not compared
    skip = {int(row[0]) for row in tshark(path, "-Y", "tcp.analysis.retransmission", "-T",
                                          "fields", "-e", "frame.number")}
    mine: dict[int, list[str]] = {}
    for packet in layerpeek.read(path):
        layer = packet.get(TLS)
        if layer is not None and packet.index not in skip:
            mine[packet.index] = [",".join(v) for v in ours(layer).values()]
    assert sorted(mine) == sorted(theirs)
    for frame, values in mine.items():
        for field, a, b in zip(FIELDS, values, theirs[frame], strict=True):
            assert a == b, f"{name} #{frame} {field}: ours {a!r}, tshark {b!r}"


def stage(name: str) -> list[Any]:
    keys = KeyLog.load(CAPTURES / name.replace(".pcap", ".keys"))
    tcp, tls = TCPTracker(), TLSTracker(keys)
    events: list[Any] = []
    with layerpeek.read(CAPTURES / name) as reader:
        for packet in reader:
            for e in tcp.feed(packet):
                events.extend(tls.feed(e))
    for e in tcp.finish():
        events.extend(tls.feed(e))
    events.extend(tls.finish())
    return events


def keyed(name: str, *args: str) -> list[list[str]]:
    keys = CAPTURES / name.replace(".pcap", ".keys")
    return tshark(CAPTURES / name, "-o", f"tls.keylog_file:{keys}", *args)


@pytest.mark.parametrize("name", NAMES)
def test_decrypted_handshake_messages_and_alerts_match_tshark(name: str) -> None:
    rows = keyed(name, "-Y", "tls", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
                 "-e", "tcp.stream", "-e", "tls.handshake.type", "-e", "tls.alert_message.desc",
                 "-e", "tls.handshake.certificate")
    theirs: dict[int, list[str]] = {}
    their_alerts: dict[int, list[str]] = {}
    their_certs: dict[int, list[str]] = {}
    for stream, types, alerts, certs in rows:
        theirs.setdefault(int(stream), []).extend(t for t in types.split(",") if t)
        their_alerts.setdefault(int(stream), []).extend(a for a in alerts.split(",") if a)
        their_certs.setdefault(int(stream), []).extend(c for c in certs.split(",") if c)
    mine: dict[int, list[str]] = {}
    my_alerts: dict[int, list[str]] = {}
    my_certs: dict[int, list[str]] = {}
    for e in stage(name):
        if isinstance(e, TLSHandshake) and not isinstance(e.message, EncryptedHandshake):
            mine.setdefault(e.conversation, []).append(str(e.message.handshake_type))
            if isinstance(e.message, handshake.Certificate):
                my_certs.setdefault(e.conversation, []).extend(
                    c.der.hex() for c in e.message.certificates)
        elif isinstance(e, TLSAlert) and e.alert.description is not None:
            my_alerts.setdefault(e.conversation, []).append(str(e.alert.description))
    assert mine == {k: v for k, v in theirs.items() if v}
    assert my_alerts == {k: v for k, v in their_alerts.items() if v}
    assert my_certs == {k: v for k, v in their_certs.items() if v}


def _lines(text: str) -> list[str]:
    return [line for line in text.split(",") if line] if text else []


@pytest.mark.parametrize("name", HTTP1)
def test_decrypted_http11_requests_and_responses_match_tshark(
    name: str, tmp_path: Path
) -> None:
    rows = keyed(name, "-Y", "http", "-T", "fields", "-E", "occurrence=a", "-E",
                 "aggregator=\x1f", "-e", "tcp.stream", "-e", "http.request.method", "-e",
                 "http.request.uri", "-e", "http.response.code", "-e", "http.request.line",
                 "-e", "http.response.line")
    def header(line: str) -> tuple[str, str]:
        # tshark shows each header line raw; a value's surrounding whitespace is
        # not part of it (RFC 9110 §5.5), and layerpeek keeps values trimmed.
        name, _, value = line.removesuffix("\\r\\n").partition(":")
        return name, value.strip(" \t")

    theirs = [(int(s), m, u, c, [header(x) for x in (rq or rs).split("\x1f") if x])
              for s, m, u, c, rq, rs in rows]
    pairer = HTTPPairer()
    exchanges = []
    for e in stage(name):
        if isinstance(e, DecryptedData):
            exchanges.extend(pairer.feed(e.as_stream_data()))
    exchanges.extend(pairer.finish())
    mine = []
    for ex in exchanges:
        req, resp = ex.request, ex.response
        assert req is not None and resp is not None
        mine.append((ex.stream, req.method, req.target, "", list(req.headers)))
        mine.append((ex.stream, "", "", str(resp.status), list(resp.headers)))
    assert mine == theirs
    # body bytes: tshark's HTTP object export against our decoded bodies, in order
    subprocess.run([TSHARK, "-n", "-r", str(CAPTURES / name), "-o",
                    f"tls.keylog_file:{CAPTURES / name.replace('.pcap', '.keys')}",
                    "--export-objects", f"http,{tmp_path}"], capture_output=True, check=True)
    exported = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for ex in exchanges:
        assert ex.response is not None and ex.request is not None
        target = (ex.request.target or "").lstrip("/") or "%5c"
        body = ex.response.body
        assert any(data == body for fname, data in exported.items()
                   if fname.startswith(target.split("?")[0])), f"{name} {ex.request.target}"
