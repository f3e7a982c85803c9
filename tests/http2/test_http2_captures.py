"""HTTP/2 in real captures: what curl and nghttp asked, what hypercorn sent, and tshark agrees.

The captures were recorded by ``captures/make/make_all.py`` (curl and nghttp
against ``captures/make/h2_server.py``, which serves ``content.py``), so
every request path and every body is known in advance.  tshark 4.0 is the
second opinion, frame by frame and stream by stream (skipped where it is
not installed); port 8081 is read by tshark as HTTP, which hands over to
HTTP/2 on the preface or after the ``101`` (its HTTP/2 heuristic is off by
default).
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import CAPTURES

import layerpeek
import layerpeek.http
from layerpeek.http import HTTPExchange

pytest.importorskip("hpack")


def _content() -> ModuleType:
    spec = importlib.util.spec_from_file_location("h2_content", CAPTURES / "make/content.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FILES: dict[str, tuple[str, bytes]] = _content().FILES
TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
AS_HTTP = ["-d", "tcp.port==8081,http"]

#: capture → (the paths requested, in stream order; the stream the first one used; upgraded?)
CAPTURED = {
    "http2_prior_knowledge": (["/index.html"], 1, False),
    "http2_upgrade_h2c": (["/index.html", "/style.css"], 1, True),
    "http2_parallel": (["/index.html", "/style.css", "/logo.png", "/data.json"], 1, True),
    "http2_gzip": (["/index.html", "/data.json", "/logo.png"], 13, False),
    "http2_push": (["/", "/style.css", "/logo.png"], 13, False),
}
NAMES = sorted(CAPTURED)
#: HTTP/2 inside TLS (ALPN h2), made for the TLS work with its key log: decrypted by the
#: TLS stage, then read by the same HTTP/2 code (tshark: -o tls.keylog_file:).
HTTPS = "https_h2"
#: Every HTTP/2-over-TLS capture with its key log (https_page_load: curl resolving the
#: name through DNS first, three requests on one connection).
HTTPS_NAMES = [HTTPS, "https_page_load"]


def tshark_args(name: str) -> list[str]:
    if name in HTTPS_NAMES:
        return ["-o", f"tls.keylog_file:{CAPTURES / (name + '.keys')}"]
    return AS_HTTP


def our_args(name: str) -> list[str]:
    return ["--keylog", str(CAPTURES / f"{name}.keys")] if name in HTTPS_NAMES else []


@functools.cache
def exchanges(name: str) -> list[HTTPExchange]:
    keylog = CAPTURES / f"{name}.keys" if name in HTTPS_NAMES else None
    return layerpeek.http.exchanges(CAPTURES / f"{name}.pcap", keylog=keylog)


def served(path: str) -> bytes:
    return FILES["/index.html" if path == "/" else path][1]


@pytest.mark.parametrize("name", NAMES)
def test_every_request_is_answered_with_the_body_the_server_sent(name: str) -> None:
    paths, first_stream, upgraded = CAPTURED[name]
    exs = exchanges(name)
    assert [ex.target for ex in exs] == paths
    for ex in exs:
        assert ex.complete and ex.problem is None, (ex.target, ex.problem)
        assert ex.http_version == "HTTP/2" and ex.status == 200
        assert ex.host == "127.0.0.1:8081" and ex.server == "127.0.0.1:8081"
        assert ex.response is not None and ex.response.decoded_body == served(ex.target)
    assert exs[0].http2_stream == first_stream
    streams = [ex.http2_stream for ex in exs]
    assert len(set(streams)) == len(streams)
    first = exs[0]
    assert first.request is not None
    if upgraded:  # the HTTP/1.1 request became stream 1; 101 came before the HTTP/2 answer
        assert first.request.version == "HTTP/1.1" and first.request.headers.get("upgrade") == "h2c"
        assert [m.status for m in first.interim] == [101]
        assert first.response is not None and first.response.version == "HTTP/2"
    else:
        assert first.request.version == "HTTP/2" and first.interim == []


def test_gzip_bodies_are_decoded_and_the_png_is_not_compressed() -> None:
    exs = {ex.target: ex for ex in exchanges("http2_gzip")}
    for path in ("/index.html", "/data.json"):
        resp = exs[path].response
        assert resp is not None and resp.content_encoding == "gzip"
        assert gzip.decompress(resp.body) == served(path) == resp.decoded_body
        assert len(resp.body) < len(served(path))
    png = exs["/logo.png"].response
    assert png is not None and png.content_encoding == "" and png.body == served("/logo.png")


def test_pushed_responses_name_the_stream_that_promised_them() -> None:
    page, css, png = exchanges("http2_push")
    assert page.pushed_by is None and page.http2_stream == 13
    assert (css.http2_stream, css.pushed_by) == (2, 13)
    assert (png.http2_stream, png.pushed_by) == (4, 13)
    assert css.request is not None and css.request.notes == [
        "pushed by the server: PUSH_PROMISE on stream 13"]


def test_parallel_streams_interleave_on_one_connection() -> None:
    exs = exchanges("http2_parallel")
    assert {ex.stream for ex in exs} == {0}
    later = exs[1:]  # streams 3, 5, 7: all requested before any was answered
    assert [ex.http2_stream for ex in later] == [3, 5, 7]
    last_request = max(ex.request.end_ts_ns for ex in later if ex.request is not None)
    first_response = min(ex.response.start_ts_ns for ex in later if ex.response is not None)
    assert last_request < first_response


def test_http_json_names_the_version_and_stream(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "layerpeek", "http", "--json",
                          str(CAPTURES / "http2_push.pcap")], capture_output=True, text=True,
                         check=True)
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(r["http_version"], r["http2_stream"], r["pushed_by"], r["target"]) for r in rows] == [
        ("HTTP/2", 13, None, "/"), ("HTTP/2", 2, 13, "/style.css"), ("HTTP/2", 4, 13, "/logo.png")]


def test_export_writes_the_decoded_http2_bodies(tmp_path: Path) -> None:
    out = tmp_path / "objects"
    subprocess.run([sys.executable, "-m", "layerpeek", "http", "--export", str(out),
                    str(CAPTURES / "http2_gzip.pcap")], capture_output=True, check=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {
        "index.html": served("/index.html"), "data.json": served("/data.json"),
        "logo.png": served("/logo.png")}


# -- tshark as the second opinion ---------------------------------------------------------


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON objects with repeated keys (tshark's -T json): repeated values become lists."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            if not isinstance(out[key], list) or not out.get(f"__list_{key}"):
                out[key] = [out[key]]
                out[f"__list_{key}"] = True
            out[key].append(value)
        else:
            out[key] = value
    return out


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@functools.cache
def tshark_frames(name: str) -> list[dict[str, Any]]:
    """Every HTTP/2 frame tshark shows, in order: frame number, sender port, type, stream,
    header list, DATA bytes."""
    assert TSHARK is not None
    run = subprocess.run([TSHARK, "-n", "-r", str(CAPTURES / f"{name}.pcap"), *tshark_args(name),
                          "-Y", "http2", "-T", "json"], capture_output=True, text=True, check=True)
    out: list[dict[str, Any]] = []
    for packet in json.loads(run.stdout, object_pairs_hook=_pairs):
        layers = packet["_source"]["layers"]
        number = int(layers["frame"]["frame.number"])
        port = int(layers["tcp"]["tcp.srcport"])
        server_port = 8443 if name in HTTPS_NAMES else 8081
        for h2 in _listed(layers.get("http2")):
            for frame in _listed(h2.get("http2.stream")):
                if "http2.type" not in frame:
                    continue  # the Magic
                headers = [(h["http2.header.name"], h.get("http2.header.value", ""))
                           for h in _listed(frame.get("http2.header"))]
                data = frame.get("http2.data.data", "")
                promised = int(frame.get("http2.push_promise.promised_stream_id", 0))
                out.append({"frame": number, "from_server": port == server_port,
                            "type": int(frame["http2.type"]),
                            "length": int(frame["http2.length"]),
                            "stream": int(frame["http2.streamid"]), "headers": headers,
                            "promised": promised,
                            "data": bytes.fromhex(data.replace(":", ""))})
    return out


@needs_tshark
@pytest.mark.parametrize("name", [*NAMES, *HTTPS_NAMES])
def test_every_request_and_response_agrees_with_tshark(name: str) -> None:
    """Per HTTP/2 stream: the header lists (names and values, in order) and the body bytes."""
    requests: dict[int, list[tuple[str, str]]] = {}
    responses: dict[int, list[tuple[str, str]]] = {}
    bodies: dict[int, bytes] = defaultdict(bytes)
    reassembled: dict[int, bytes] = {}
    for f in tshark_frames(name):
        if f["type"] == 1:  # HEADERS
            (responses if f["from_server"] else requests).setdefault(f["stream"], f["headers"])
        elif f["type"] == 5:  # PUSH_PROMISE: the request the server made up
            requests.setdefault(f["promised"], f["headers"])
        elif f["type"] == 0 and f["from_server"]:
            # tshark shows each DATA frame's bytes, and on the frame that ends the
            # stream the whole body it reassembled (longer than that frame)
            if len(f["data"]) <= f["length"]:
                bodies[f["stream"]] += f["data"]
            else:
                reassembled[f["stream"]] = f["data"]
    ours = {ex.http2_stream: ex for ex in exchanges(name)}
    upgraded = CAPTURED[name][2] if name in CAPTURED else False
    assert set(responses) == set(ours)
    for sid, ex in ours.items():
        assert ex.request is not None and ex.response is not None
        if not (upgraded and sid == 1):  # stream 1's request was HTTP/1.1 (tshark's http)
            assert ex.request.headers.raw_items() == requests[sid]
        assert ex.response.headers.raw_items() == responses[sid]
        assert ex.response.body == bodies[sid] == reassembled.get(sid, bodies[sid])
        assert (ex.method, ex.target, ex.host, ex.status) == (
            dict(requests.get(sid, ex.request.headers.raw_items())).get(":method", "GET"),
            dict(requests.get(sid, [])).get(":path", ex.target),
            dict(requests.get(sid, [])).get(":authority", ex.host),
            int(dict(responses[sid])[":status"]))


@needs_tshark
@pytest.mark.parametrize("name", [*NAMES, *HTTPS_NAMES])
def test_per_packet_fields_equal_tsharks(name: str) -> None:
    """``dump -T fields`` and ``tshark -T fields`` on every HTTP/2 packet: the same frames
    (type, stream, flags, length) and the same decoded header names and values."""
    fields = ["frame.number", "http2.type", "http2.streamid", "http2.flags", "http2.length",
              "http2.header.name", "http2.header.value", "http2.headers.method",
              "http2.headers.path", "http2.headers.status", "http2.push_promise.promised_stream_id"]
    args = [a for f in fields for a in ("-e", f)] + ["-E", "occurrence=a"]
    path = str(CAPTURES / f"{name}.pcap")
    assert TSHARK is not None
    theirs = subprocess.run([TSHARK, "-n", "-r", path, *tshark_args(name), "-Y", "http2", "-T",
                             "fields", *args], capture_output=True, text=True, check=True).stdout
    ours = subprocess.run([sys.executable, "-m", "layerpeek", "dump", *our_args(name), path,
                           "-Y", "http2", "-T", "fields", *args], capture_output=True, text=True,
                          check=True).stdout
    assert ours.splitlines() == theirs.splitlines()
    assert len(ours.splitlines()) >= 8


def test_http_y_selects_exchanges_by_http2_fields() -> None:
    run = subprocess.run([sys.executable, "-m", "layerpeek", "http", "--json", "-Y",
                          'http2.headers.path == "/logo.png"',
                          str(CAPTURES / "http2_parallel.pcap")], capture_output=True, text=True,
                         check=True)
    assert [json.loads(line)["target"] for line in run.stdout.splitlines()] == ["/logo.png"]


def test_explain_tells_the_upgrade_the_streams_and_the_pushes() -> None:
    from layerpeek.story import explain

    with layerpeek.read(CAPTURES / "http2_upgrade_h2c.pcap") as reader:
        story = explain(list(reader))
    text = "\n".join(step.text for step in story.steps)
    assert "It asked to switch the connection to HTTP/2 (Upgrade: h2c)." in text
    assert "interim 101 (frame 6): from there on the connection speaks HTTP/2" in text
    assert "GET /style.css (Host: 127.0.0.1:8081) on HTTP/2 stream 3" in text
    with layerpeek.read(CAPTURES / "http2_push.pcap") as reader:
        story = explain(list(reader))
    pushes = [s for s in story.steps if s.title == "HTTP/2 server push"]
    assert [s.facts["target"] for s in pushes] == ["/style.css", "/logo.png"]
    assert [s.facts["http2_stream"] for s in pushes] == [2, 4]


def test_http2_inside_tls_is_read_from_the_decrypted_stream() -> None:
    """https_h2.pcap (curl --http2 over TLS 1.3, ALPN h2) with its key log."""
    pytest.importorskip("cryptography")
    exs = exchanges(HTTPS)
    assert [(ex.http2_stream, ex.target, ex.status) for ex in exs] == [
        (1, "/index.html", 200), (3, "/style.css", 200), (5, "/no-such-page", 404)]
    assert all(ex.complete and ex.http_version == "HTTP/2" for ex in exs)
    assert [ex.response.decoded_body for ex in exs[:2] if ex.response] == [
        served("/index.html"), served("/style.css")]
    assert exs[0].host == "example.test:8443"
    assert layerpeek.http.exchanges(CAPTURES / f"{HTTPS}.pcap") == []  # no key: nothing read
