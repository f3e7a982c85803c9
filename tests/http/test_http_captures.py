"""HTTP exchanges in real captures: bodies equal what the server sent, and tshark agrees.

The project's captures were recorded from ``captures/make/web.py`` serving
the bodies that ``captures/make/content.py`` builds, so every body can be
checked byte for byte.  tshark's ``http`` fields and ``--export-objects``
are the second opinion (skipped where tshark is not installed); where
tshark itself gets a capture wrong, the test says how.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import itertools
import json
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import CAPTURES, PUBLIC
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerpeek.http
from layerpeek.commands.http import export_bodies
from layerpeek.flows.pipeline import conversations
from layerpeek.http import HTTPExchange
from layerpeek.http.reader import MessageReader, RequestReader, ResponseReader


def _content() -> ModuleType:
    spec = importlib.util.spec_from_file_location("capture_content", CAPTURES / "make/content.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


content: Any = _content()
FILES: dict[str, tuple[str, bytes]] = content.FILES
TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

OWN_HTTP = ["http_get_post", "http_sll2_any", "http_keepalive", "http_pipelined", "http_chunked",
            "http_gzip", "http_status_mix", "http_large_body", "http_rst_cut", "page_load"]
PUBLIC_HTTP = [
    "be_nsec_http.pcap", "http_get_fin.pcap", "http_gzip_json.pcap", "http_keepalive_5req.pcap",
    "http_pipelined_2req.pcap", "http_pipelined_scan_retrans.pcap",
    "http_post_100continue_chunked.pcap", "http_post_form.pcap", "http_range_keepalive_ooo.pcap",
    "http_three_streams_gzip.pcap", "ipv4_frag_http_get.pcap", "ipv6_http_null_loopback.pcap",
    "ipv6_http_rawip.pcap", "null_loopback_http_post_chunked.pcap", "qinq_http.pcap",
    "rawip_mixed.pcap", "sll2_http.pcap", "vlan_http.pcap",
]


@functools.cache
def _exchanges(path: Path) -> tuple[HTTPExchange, ...]:
    return tuple(layerpeek.http.exchanges(path))


def exchanges(path: Path) -> list[HTTPExchange]:
    """The capture's exchanges (read once per test session: several tests look at each)."""
    return list(_exchanges(path))


def served(target: str) -> bytes:
    return FILES["/index.html" if target == "/" else target][1]


def body(ex: HTTPExchange) -> bytes:
    assert ex.response is not None
    return ex.response.decoded_body


# -- the project's own captures: bodies equal content.py ---------------------------------


def test_get_and_post(capture: Any) -> None:
    get, post = exchanges(capture("http_get_post.pcap"))
    assert (get.method, get.target, get.status) == ("GET", "/index.html", 200)
    assert body(get) == content.PAGE and get.complete
    assert post.method == "POST" and post.status == 201 and post.complete
    assert post.request is not None
    sent = post.request.body
    assert sent == b"name=layerpeek&layer=http&message=hello+from+curl"
    assert body(post) == b"received %d bytes, sha256 %s\n" % (
        len(sent), hashlib.sha256(sent).hexdigest().encode())
    assert get.stream == 0 and post.stream == 1


def test_keep_alive_bodies(capture: Any) -> None:
    exs = exchanges(capture("http_keepalive.pcap"))
    assert [e.target for e in exs] == ["/index.html", "/style.css", "/logo.png", "/data.json"]
    assert {e.stream for e in exs} == {0} and [e.index for e in exs] == [0, 1, 2, 3]
    for ex in exs:
        assert ex.complete and body(ex) == served(ex.target)
        assert ex.response is not None
        assert ex.response.content_type == FILES[ex.target][0]


def test_pipelined_requests_in_one_segment_are_answered_in_order(capture: Any) -> None:
    exs = exchanges(capture("http_pipelined.pcap"))
    assert [(e.target, e.status) for e in exs] == [
        ("/style.css", 200), ("/logo.png", 200), ("/no-such-page", 404)]
    frames = {e.request.frames for e in exs if e.request}
    assert len(frames) == 1  # all three requests in one segment
    assert body(exs[0]) == content.CSS and body(exs[1]) == content.PNG
    ends = [e.response.end_ts_ns for e in exs if e.response]
    assert ends == sorted(ends) and all(e.complete for e in exs)


def test_chunked_body_and_its_sha256_trailer(capture: Any) -> None:
    (ex,) = exchanges(capture("http_chunked.pcap"))
    resp = ex.response
    assert resp is not None and resp.framing == "chunked" and ex.complete
    assert resp.body == b"".join(content.CHUNKS)
    assert resp.trailers.get("x-body-sha256") == hashlib.sha256(resp.body).hexdigest()
    assert len(resp.frames) > 4  # the chunks were written apart
    assert resp.body_wire_len > len(resp.body)  # chunk framing counted on the wire


def test_gzip_body_decodes_to_the_json_document(capture: Any) -> None:
    (ex,) = exchanges(capture("http_gzip.pcap"))
    resp = ex.response
    assert resp is not None and resp.content_encoding == "gzip"
    assert resp.body != content.JSON and gzip.decompress(resp.body) == content.JSON
    assert resp.decoded_body == content.JSON and resp.decoded().codings == ("gzip",)
    record = ex.to_dict()
    assert record["response_body_len"] == len(resp.body)
    assert record["response_body_decoded_len"] == len(content.JSON) == 3010
    assert json.loads(resp.decoded_body)["capture"] == "layerpeek demo"


def test_204_304_and_head_have_no_body(capture: Any) -> None:
    exs = exchanges(capture("http_status_mix.pcap"))
    assert [(e.method, e.target, e.status) for e in exs] == [
        ("GET", "/empty", 204), ("GET", "/style.css", 304), ("GET", "/no-such-page", 404),
        ("HEAD", "/index.html", 200)]
    for ex in (exs[0], exs[1], exs[3]):
        assert ex.response is not None and ex.response.body == b"" and ex.complete
    head = exs[3].response
    assert head is not None and head.headers.get("content-length") == str(len(content.PAGE))


def test_large_body_over_many_segments(capture: Any) -> None:
    (ex,) = exchanges(capture("http_large_body.pcap"))
    assert ex.response is not None and ex.complete
    assert len(ex.response.body) == 200_000 and ex.response.body == content.LARGE
    assert len(ex.response.frames) > 100


def test_rst_cut_is_incomplete_with_the_bytes_recovered(capture: Any) -> None:
    (ex,) = exchanges(capture("http_rst_cut.pcap"))
    resp = ex.response
    assert resp is not None and not ex.complete
    got = len(resp.body)
    assert 0 < got < 200_000 and resp.body == content.LARGE[:got]
    assert ex.problem == (f"response: body incomplete: {got} of 200000 bytes, "
                          "then the connection was reset (RST)")


def test_page_load_fetches_the_page_then_what_it_references(capture: Any) -> None:
    exs = exchanges(capture("page_load.pcap"))
    assert [(e.stream, e.host, e.target) for e in exs] == [
        (0, "www.example.test:8080", "/"), (0, "www.example.test:8080", "/style.css"),
        (0, "www.example.test:8080", "/logo.png")]
    assert [body(e) for e in exs] == [content.PAGE, content.CSS, content.PNG]
    assert b'href="/style.css"' in body(exs[0]) and b'src="/logo.png"' in body(exs[0])


def test_cooked_capture(capture: Any) -> None:
    (ex,) = exchanges(capture("http_sll2_any.pcap"))
    assert ex.target == "/style.css" and body(ex) == content.CSS and ex.complete


def test_bodies_match_the_readme_sha256_table(capture: Any) -> None:
    table = {}
    for line in (CAPTURES / "README.md").read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.split("|")]
        if len(cells) > 5 and len(cells[4]) == 64:
            table[cells[1].split()[0]] = cells[4]
    seen = 0
    for name in ("http_keepalive.pcap", "page_load.pcap", "http_large_body.pcap"):
        for ex in exchanges(capture(name)):
            target = "/index.html" if ex.target == "/" else ex.target
            assert hashlib.sha256(body(ex)).hexdigest() == table[target]
            seen += 1
    assert seen == 8


# -- tshark as the second opinion ---------------------------------------------------------


@dataclass(frozen=True)
class TsharkView:
    requests: Counter[tuple[int, str, str]]  #: (stream, method, uri)
    responses: Counter[tuple[int, int]]  #: (stream, code)
    objects: dict[str, int]  #: --export-objects http: sha256 → size, per file
    count: int  #: files exported


@functools.cache
def tshark_view(path: Path) -> TsharkView:
    """One tshark run per capture: its http fields and its exported objects."""
    assert TSHARK is not None
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [TSHARK, "-r", str(path), "--export-objects", f"http,{tmp}", "-Y", "http",
             "-T", "fields", "-E", "aggregator=/s", "-e", "tcp.stream",
             "-e", "http.request.method", "-e", "http.request.uri", "-e", "http.response.code"],
            capture_output=True, text=True, check=True, timeout=120,
        ).stdout
        files = list(Path(tmp).iterdir())
        objects = {hashlib.sha256(p.read_bytes()).hexdigest(): p.stat().st_size for p in files}
    requests: Counter[tuple[int, str, str]] = Counter()
    responses: Counter[tuple[int, int]] = Counter()
    for line in out.splitlines():
        stream, methods, uris, codes = line.split("\t")
        for method, uri in zip(methods.split(), uris.split(), strict=True):
            requests[(int(stream), method, uri)] += 1
        for code in codes.split():
            responses[(int(stream), int(code))] += 1
    return TsharkView(requests, responses, objects, len(files))


def ours(exs: list[HTTPExchange]) -> tuple[Counter[tuple[int, str, str]], Counter[tuple[int, int]]]:
    requests = Counter((e.stream, e.method, e.target) for e in exs if e.request is not None)
    responses = Counter((e.stream, m.status) for e in exs
                        for m in [*e.interim, *([e.response] if e.response else [])])
    return requests, responses


def all_http_captures() -> list[Path]:
    own = [CAPTURES / f"{n}.pcap" for n in OWN_HTTP]
    public = [PUBLIC / n for n in PUBLIC_HTTP] if PUBLIC.is_dir() else []
    return [p for p in own + public if p.exists()]


@needs_tshark
@pytest.mark.parametrize("path", all_http_captures(), ids=lambda p: p.name)
def test_requests_and_responses_agree_with_tshark(path: Path) -> None:
    exs = exchanges(path)
    theirs = tshark_view(path)
    m_req, m_resp = ours(exs)
    assert m_req == theirs.requests
    # tshark shows a response only once its reassembly completes; we also show
    # the ones cut short (RST, end of capture) and flag them.  Everything tshark
    # shows we show too.
    assert not (theirs.responses - m_resp)
    extra = m_resp - theirs.responses
    if path.name == "http_range_keepalive_ooo.pcap":
        # tshark's reassembly gives up on the first response (out-of-order
        # segments) and shows 14 of the 15 answers; all 15 are whole here.
        assert extra == Counter({(0, 206): 1}) and all(e.complete for e in exs)
    else:
        incomplete = Counter((e.stream, e.status) for e in exs
                             if e.response is not None and not e.response.complete)
        assert not (extra - incomplete)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@needs_tshark
@pytest.mark.parametrize("path", all_http_captures(), ids=lambda p: p.name)
def test_exported_bodies_equal_tsharks_export_objects(path: Path, tmp_path: Path) -> None:
    export_bodies(exchanges(path), str(tmp_path))
    mine = {sha(p.read_bytes()) for p in tmp_path.iterdir() if not p.name.endswith(".partial")}
    written = sum(1 for p in tmp_path.iterdir() if not p.name.endswith(".partial"))
    theirs = tshark_view(path)
    if path.name == "http_range_keepalive_ooo.pcap":
        # tshark exports pieces of the out-of-order first response as objects of
        # their own (1048, 991, 568 bytes); the 14 answers it did reassemble
        # (10000 bytes, the last 6515) are among our 15.
        assert written == 15
        whole = {d for d, size in theirs.objects.items() if size in (10000, 6515)}
        assert len(whole) == 14 and whole < mine
    elif path.name == "null_loopback_http_post_chunked.pcap":
        # The request's chunks end in bare LF; tshark expects CRLF after the
        # chunk data, so it keeps only the first chunk ("tototata").
        assert mine - set(theirs.objects) == {sha(b"tototatatiti")}
        assert set(theirs.objects) - mine == {sha(b"tototata")}
    else:
        assert mine == set(theirs.objects) and written == theirs.count


# -- public captures ------------------------------------------------------------------------


def test_public_100_continue_then_a_chunked_answer(public: Any) -> None:
    (ex,) = exchanges(public("http_post_100continue_chunked.pcap"))
    assert [m.status for m in ex.interim] == [100] and ex.status == 200 and ex.complete
    assert ex.request is not None and len(ex.request.body) == 2001
    assert ex.response is not None and ex.response.framing == "chunked"
    assert len(ex.response.body) == 60731 and ex.response.body.rstrip().endswith(b"</html>")


def test_public_scanner_pipelining_forty_pairs_in_order(public: Any) -> None:
    exs = exchanges(public("http_pipelined_scan_retrans.pcap"))
    assert len(exs) == 40 and all(e.complete and e.status == 404 for e in exs)
    assert [e.index for e in exs] == list(range(40))
    shared = Counter(e.request.frames for e in exs if e.request)
    assert max(shared.values()) > 1  # several requests per segment


def test_public_gzip_bodies_decode(public: Any) -> None:
    (ex,) = exchanges(public("http_gzip_json.pcap"))
    assert json.loads(body(ex))["gzipped"] is True
    keep = exchanges(public("http_keepalive_5req.pcap"))
    gz = [e for e in keep if e.response and e.response.content_encoding == "gzip"]
    assert len(gz) == 2
    for e in gz:
        assert e.response is not None and e.response.decoded().complete
        assert len(e.response.decoded_body) > len(e.response.body)


def test_public_range_responses_have_the_announced_lengths(public: Any) -> None:
    exs = exchanges(public("http_range_keepalive_ooo.pcap"))
    assert len(exs) == 15
    for ex in exs:
        assert ex.response is not None and ex.status == 206 and ex.complete
        span = ex.response.headers.get("content-range") or ""
        first, last = span.split()[1].split("/")[0].split("-")
        assert len(ex.response.body) == int(last) - int(first) + 1


def test_public_bare_lf_chunks_and_trailers(public: Any) -> None:
    (ex,) = exchanges(public("null_loopback_http_post_chunked.pcap"))
    assert ex.request is not None and ex.request.body == b"tototatatiti"
    assert ex.request.trailers.fields == [("trailehdr1", "tralierdata1"),
                                         ("trailehdr2", "tralierdata2")]


def test_public_fragmented_request_without_answer(public: Any) -> None:
    (ex,) = exchanges(public("ipv4_frag_http_get.pcap"))
    assert ex.method == "GET" and ex.host == "js.bizographics.com"
    assert ex.problem == "no response before the capture ended"


def test_public_streams_picked_up_midway_and_cut_by_the_capture(public: Any) -> None:
    exs = exchanges(public("rawip_mixed.pcap"))
    assert Counter(e.stream for e in exs) == Counter({0: 3, 1: 4, 2: 10, 5: 2})
    cut = [e for e in exs if e.response is not None and not e.response.complete]
    assert [(e.target, e.problem) for e in cut] == [
        ("/images/space23.jpg",
         "response: body incomplete: 0 of 1151 bytes, then the capture ended")]


def test_public_snaplen_cut_capture_reports_its_gaps(public: Any) -> None:
    problems: list[str] = []
    exs = layerpeek.http.exchanges(public("pcapng_comments_2if_snaplen.pcapng"),
                                   problems=problems)
    assert len(exs) == 1 and not exs[0].complete
    assert exs[0].problem is not None and "gap in the stream" in exs[0].problem
    assert problems and all(p.startswith("stream 13 server: skipped") for p in problems)


# -- real streams split anywhere ---------------------------------------------------------


@functools.cache
def streams() -> list[tuple[str, bytes, bytes]]:
    """Each HTTP conversation of the project's captures: (name, client bytes, server bytes)."""
    out = []
    for name in OWN_HTTP:
        path = CAPTURES / f"{name}.pcap"
        if not path.exists():
            continue
        for conv in conversations(path, keep_data=True):
            client = getattr(conv, "client_stream", None)
            server = getattr(conv, "server_stream", None)
            if client is not None and server is not None and client.data:
                out.append((f"{name}#{conv.id}", client.data, server.data))
    return out


def _read(data: bytes, parts: list[bytes], methods: list[str] | None) -> list[tuple[object, ...]]:
    reader: MessageReader
    if methods is None:
        reader = RequestReader()
    else:
        reader = ResponseReader(lambda n: methods[n] if n < len(methods) else None)
    msgs = []
    for part in parts:
        msgs += reader.feed(part)
    msgs += reader.finish("fin")
    return [(m.start_line(), m.headers.fields, m.trailers.fields, m.body, m.complete,
             tuple(m.problems), m.end_offset) for m in msgs]


def test_the_real_streams_were_found() -> None:
    assert len(streams()) >= 10


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, 10_000), cuts=st.lists(st.integers(0, 1 << 20), max_size=40),
       tiny=st.booleans())
def test_real_streams_split_anywhere_give_the_same_messages(
    index: int, cuts: list[int], tiny: bool
) -> None:
    found = streams()
    _, client, server = found[index % len(found)]
    requests = _read(client, [client], None)
    methods = [str(r[0]).split(" ", 1)[0] for r in requests]
    responses = _read(server, [server], methods)
    assert requests and all(r[4] for r in requests)

    def split(data: bytes) -> list[bytes]:
        if tiny and len(data) < 5000:
            return [data[i : i + 1] for i in range(len(data))]
        points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
        return [data[a:b] for a, b in itertools.pairwise(points) if b > a]

    assert _read(client, split(client), None) == requests
    assert _read(server, split(server), methods) == responses
