"""The incremental HTTP/1.x readers (RFC 9112): framing, damage, caps, and split-invariance.

The h11 pattern: the same stream fed whole, one byte at a time, or split at
any boundary must give the same messages.
"""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerpeek.http.message import HTTPMessage
from layerpeek.http.reader import (
    NOT_HTTP,
    SWITCHED,
    MessageReader,
    RequestReader,
    ResponseReader,
)

GET = b"GET /a.txt HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t\r\n\r\n"
POST = (b"POST /form HTTP/1.1\r\nHost: example.test\r\nContent-Length: 11\r\n\r\nhello=world")
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
    b"4\r\nWiki\r\n"
    b"6;name=value\r\npedia \r\n"
    b"E\r\nin \r\n\r\nchunks.\r\n"
    b"0\r\nX-Sum: abc\r\nX-Other:  two words \r\n\r\n"
)
CHUNKED_BODY = b"Wikipedia in \r\n\r\nchunks."


def view(msg: HTTPMessage) -> tuple[object, ...]:
    """What must not depend on how the stream was split."""
    return (msg.kind, msg.start_line(), msg.headers.fields, msg.trailers.fields, msg.body,
            msg.framing, msg.complete, tuple(msg.problems), tuple(msg.notes),
            msg.start_offset, msg.head_len, msg.end_offset, msg.body_wire_len, msg.missing)


def feed_all(reader: MessageReader, parts: list[bytes], how: str = "fin") -> list[HTTPMessage]:
    out: list[HTTPMessage] = []
    for i, part in enumerate(parts):
        out += reader.feed(part, (i + 1,), 1000 * (i + 1))
    return out + reader.finish(how)


def requests(data: bytes, parts: list[bytes] | None = None, how: str = "fin") -> list[HTTPMessage]:
    return feed_all(RequestReader(), parts if parts is not None else [data], how)


def responses(
    data: bytes, methods: list[str] | None = None, parts: list[bytes] | None = None,
    how: str = "fin",
) -> list[HTTPMessage]:
    names = methods or []
    reader = ResponseReader(lambda n: names[n] if n < len(names) else None)
    return feed_all(reader, parts if parts is not None else [data], how)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


# -- start line, headers ------------------------------------------------------------


def test_request_head_keeps_order_case_and_repeats_with_case_insensitive_lookup() -> None:
    data = (b"GET /x HTTP/1.1\r\nHost: h\r\nSet-Thing: 1\r\nX-Mixed-CASE: v\r\n"
            b"set-thing: 2\r\n\r\n")
    (msg,) = requests(data)
    assert (msg.method, msg.target, msg.version) == ("GET", "/x", "HTTP/1.1")
    assert msg.headers.fields == [("Host", "h"), ("Set-Thing", "1"), ("X-Mixed-CASE", "v"),
                                  ("set-thing", "2")]
    assert msg.headers.get("x-mixed-case") == "v"
    assert msg.headers.get_all("SET-THING") == ["1", "2"]
    assert "HOST" in msg.headers and "Cookie" not in msg.headers
    assert msg.complete and msg.problems == [] and msg.body == b"" and msg.framing == "none"


def test_request_with_content_length_body_then_the_next_request() -> None:
    first, second = requests(POST + GET)
    assert first.method == "POST" and first.body == b"hello=world" and first.framing == "length"
    assert first.head_len == len(POST) - 11 and first.end_offset == len(POST)
    assert second.target == "/a.txt" and second.start_offset == len(POST)


def test_empty_lines_between_messages_are_skipped() -> None:
    msgs = requests(GET + b"\r\n" + GET)
    assert [m.target for m in msgs] == ["/a.txt", "/a.txt"]
    assert msgs[1].start_offset == len(GET) + 2


def test_bare_lf_line_ends_are_accepted() -> None:
    (msg,) = requests(b"GET /bar/ HTTP/1.1\nHost: testmyids.org\n\n")
    assert msg.target == "/bar/" and msg.headers.get("host") == "testmyids.org"


def test_response_with_content_length() -> None:
    (msg,) = responses(OK)
    assert (msg.version, msg.status, msg.reason) == ("HTTP/1.1", 200, "OK")
    assert msg.body == b"hello" and msg.body_wire_len == 5 and msg.complete
    assert msg.content_type == "text/plain"


# -- body framing --------------------------------------------------------------------


def test_chunked_body_with_extension_and_trailers() -> None:
    (msg,) = responses(CHUNKED)
    assert msg.framing == "chunked" and msg.complete, msg.problems
    assert msg.body == CHUNKED_BODY
    assert msg.trailers.fields == [("X-Sum", "abc"), ("X-Other", "two words")]
    assert msg.body_wire_len == len(CHUNKED) - CHUNKED.index(b"\r\n\r\n") - 4
    assert msg.transfer_encoding == "chunked"


def test_chunked_request_body() -> None:
    data = (b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n") + GET
    first, second = requests(data)
    assert first.body == b"abc" and first.complete and second.method == "GET"


def test_body_until_close_is_complete_when_the_connection_closes_with_fin() -> None:
    data = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"
    (msg,) = responses(data, how="fin")
    assert msg.framing == "close" and msg.body == b"all of it" and msg.complete


@pytest.mark.parametrize(("how", "said"), [("rst", "reset"), ("eof", "capture ended")])
def test_body_until_close_is_doubtful_when_the_connection_did_not_close_cleanly(
    how: str, said: str
) -> None:
    (msg,) = responses(b"HTTP/1.0 200 OK\r\n\r\nsome", how=how)
    assert msg.body == b"some" and not msg.complete and said in msg.problems[0]


@pytest.mark.parametrize("status", [204, 304, 100, 103])
def test_no_body_for_204_304_and_1xx_even_with_content_length(status: int) -> None:
    data = f"HTTP/1.1 {status} X\r\nContent-Length: 5\r\n\r\n".encode() + OK
    first, second = responses(data, methods=["GET", "GET"])
    assert first.status == status and first.body == b"" and first.framing == "none"
    assert second.status == 200 and second.body == b"hello"


def test_response_to_head_has_no_body_despite_content_length() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 341\r\n\r\n" + OK
    head, get = responses(data, methods=["HEAD", "GET"])
    assert head.body == b"" and head.headers.get("content-length") == "341"
    assert get.body == b"hello"


def test_interim_responses_do_not_consume_a_request_method() -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n" + OK
    msgs = responses(data, methods=["HEAD", "GET"])
    assert [m.status for m in msgs] == [100, 200, 200]
    assert msgs[1].body == b"" and msgs[2].body == b"hello"  # HEAD's answer is the first 200


def test_101_switching_protocols_stops_reading_http() -> None:
    data = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"
    reader = ResponseReader(lambda n: "GET")
    (msg,) = feed_all(reader, [data])
    assert msg.status == 101 and msg.complete
    assert reader.state == SWITCHED and reader.tunnel_bytes == 7


def test_connect_2xx_opens_a_tunnel_but_a_refusal_keeps_http() -> None:
    tunnel = ResponseReader(lambda n: "CONNECT")
    (msg,) = feed_all(tunnel, [b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01"])
    assert msg.framing == "tunnel" and tunnel.tunnel_bytes == 3
    refused = responses(b"HTTP/1.1 407 Proxy Auth\r\nContent-Length: 2\r\n\r\nno" + OK,
                        methods=["CONNECT", "GET"])
    assert [m.status for m in refused] == [407, 200]


def test_request_reader_pauses_after_connect_until_told() -> None:
    reader = RequestReader()
    got = reader.feed(b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n" + GET)
    assert [m.method for m in got] == ["CONNECT"]  # the GET waits for the server's answer
    assert [m.method for m in reader.resume()] == ["GET"]
    reader = RequestReader()
    reader.feed(b"CONNECT h:443 HTTP/1.1\r\n\r\n\x16\x03\x01\x00")
    reader.switch()
    assert reader.state == SWITCHED and reader.tunnel_bytes == 4


# -- damage ------------------------------------------------------------------------------


def test_both_content_length_and_chunked_is_reported_and_chunked_wins() -> None:
    data = (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n")
    (msg,) = responses(data)
    assert msg.body == b"abc" and not msg.complete
    assert "both Content-Length and Transfer-Encoding" in msg.problems[0]


def test_bad_chunk_size_keeps_what_came_before_and_finds_the_next_response() -> None:
    data = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\nrubbish\r\n"
            + OK)
    reader = ResponseReader()
    first, second = feed_all(reader, [data])
    assert first.body == b"abc" and not first.complete
    assert first.problems == ["bad chunk size line 'zz'"]
    assert second.status == 200 and second.body == b"hello" and second.complete
    assert second.notes == ["preceded by skipped 13 bytes after a bad chunk"]
    assert reader.problems == ["skipped 13 bytes after a bad chunk"]


def test_invalid_content_length_is_reported() -> None:
    (msg,) = responses(b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\nbody")
    assert "invalid Content-Length '12x'" in msg.problems
    assert msg.framing == "close" and msg.body == b"body"


def test_identical_repeated_content_length_is_fine_but_different_ones_are_not() -> None:
    (same,) = responses(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")
    assert same.complete and same.body == b"ok"
    (diff,) = responses(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok")
    assert not diff.complete


def test_stream_ending_mid_body_reports_what_was_recovered() -> None:
    (msg,) = responses(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd", how="rst")
    assert msg.body == b"abcd" and not msg.complete
    assert msg.problems == ["body incomplete: 4 of 10 bytes, then the connection was reset (RST)"]


def test_stream_ending_mid_head_and_mid_chunks_are_reported() -> None:
    (head,) = responses(b"HTTP/1.1 404 Not Found\r\nContent-Le", how="eof")
    assert head.status == 404 and not head.complete
    assert head.problems == ["head incomplete: the capture ended"]
    (chunks,) = responses(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n")
    assert chunks.body == b"ab" and "no last chunk" in chunks.problems[0]


def test_gap_inside_a_content_length_body_is_skipped_and_counted() -> None:
    reader = ResponseReader()
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    assert reader.feed(head, (1,), 1) == []
    assert reader.gap(4, "acked") == []
    (msg,) = reader.feed(b"hij" + OK, (3,), 3)[:1]
    assert msg.body == b"abchij" and msg.missing == 4 and not msg.complete
    assert msg.problems == ["4 body bytes missing (stream gap, not zero-filled)"]
    assert msg.frames == (1, 3) and msg.end_offset == len(head) + 4 + 3


def test_several_gaps_in_a_close_delimited_body_are_one_running_total() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.0 200 OK\r\n\r\nab")
    reader.gap(3)
    reader.feed(b"cd")
    reader.gap(4)
    (msg,) = reader.finish("fin")
    assert msg.body == b"abcd" and msg.missing == 7
    assert msg.problems == ["7 body bytes missing (stream gap, not zero-filled)"]
    assert msg.to_dict()["body_len"] == 11 and msg.to_dict()["body_wire_len"] == 11


def test_gap_inside_a_chunk_is_skipped_and_the_chunking_goes_on() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nab")
    reader.gap(3)
    (msg,) = reader.feed(b"fgh\r\n0\r\n\r\n")
    assert msg.body == b"abfgh" and msg.missing == 3 and not msg.complete


def test_gap_in_a_head_cuts_the_message_and_the_reader_resynchronises() -> None:
    reader = RequestReader()
    assert reader.feed(b"GET /one HTTP/1.1\r\nHost: a\r\nAcc") == []
    (cut,) = reader.gap(20, "acked")
    assert cut.target == "/one" and not cut.complete
    assert cut.problems == ["20-byte gap in the stream (acked) in the head"]
    (nxt,) = reader.feed(b"ept: */*\r\n\r\nGET /two HTTP/1.1\r\n\r\n")
    assert nxt.target == "/two" and nxt.start_offset == 31 + 20 + 12
    assert nxt.notes == ["preceded by skipped 12 bytes after a 20-byte gap in the stream (acked)"]


def test_resync_ignores_method_words_that_are_not_at_a_line_start_or_lack_a_version() -> None:
    reader = RequestReader(midstream=True)
    msgs = feed_all(reader, [b"x GET /no HTTP/1.1\r\nGET nope\r\nGET /yes HTTP/1.1\r\n\r\n"])
    assert [m.target for m in msgs] == ["/yes"]


def test_a_stream_that_is_not_http_is_ignored_silently() -> None:
    reader = RequestReader()
    assert feed_all(reader, [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"]) == []
    assert reader.state == NOT_HTTP and reader.problems == [] and not reader.is_http


def test_midstream_pickup_starts_at_the_first_start_line() -> None:
    reader = ResponseReader(midstream=True)
    (msg,) = feed_all(reader, [b"end of some earlier body\r\n" + OK])
    assert msg.body == b"hello" and msg.start_offset == 26
    assert reader.problems == ["skipped 26 bytes that are not HTTP"]


def test_bytes_after_a_message_that_are_not_http_are_reported() -> None:
    reader = ResponseReader()
    msgs = feed_all(reader, [OK + b"EXTRA!!!!"])
    assert len(msgs) == 1 and reader.problems == [
        "skipped 9 bytes that are not HTTP, after a message"
    ]


# -- caps against hostile input ---------------------------------------------------------


def test_head_size_cap() -> None:
    reader = RequestReader(max_head=100)
    big = b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 200 + b"\r\n\r\n"
    msgs = feed_all(reader, [big + GET])
    assert msgs[0].problems == ["head larger than 100 bytes"] and not msgs[0].complete
    assert msgs[1].target == "/a.txt" and msgs[1].complete


def test_header_count_cap() -> None:
    data = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(10)) + b"\r\n"
    reader = RequestReader(max_headers=4)
    (msg,) = feed_all(reader, [data])
    assert len(msg.headers) == 4 and "more than 4 header fields" in msg.problems[0]


def test_body_cap_counts_but_does_not_keep() -> None:
    reader = ResponseReader(max_body=3)
    (msg,) = feed_all(reader, [OK])
    assert msg.body == b"hel" and msg.body_wire_len == 5 and not msg.complete


# -- frames and times ----------------------------------------------------------------------


def test_frames_and_times_of_each_message() -> None:
    reader = ResponseReader()
    assert reader.feed(OK[:10], (5,), 500) == []
    first = reader.feed(OK[10:] + OK[:20], (6,), 600)
    second = reader.feed(OK[20:], (8, 9), 900)
    assert first[0].frames == (5, 6) and (first[0].start_ts_ns, first[0].end_ts_ns) == (500, 600)
    assert second[0].frames == (6, 8, 9)
    assert (second[0].start_ts_ns, second[0].end_ts_ns) == (600, 900)


# -- split invariance ------------------------------------------------------------------------

STREAMS = {
    "requests": (RequestReader, POST + GET + b"\r\n" + GET),
    "chunked": (ResponseReader, CHUNKED + OK),
    "damaged": (ResponseReader, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\nqq\r\nnoise GET HTTP/1.1\r\n" + OK + b"junk" + OK[:30]),
    "close": (ResponseReader, OK + b"HTTP/1.0 200 OK\r\n\r\nuntil the end"),
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_whole_and_byte_at_a_time_give_the_same_messages(name: str) -> None:
    cls, data = STREAMS[name]
    whole = [view(m) for m in feed_all(cls(), [data])]
    tiny = [view(m) for m in feed_all(cls(), bytewise(data))]
    assert whole == tiny and whole


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(STREAMS)), cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_any_split_gives_the_same_messages(name: str, cuts: list[int]) -> None:
    cls, data = STREAMS[name]
    whole = [view(m) for m in feed_all(cls(), [data])]
    assert [view(m) for m in feed_all(cls(), split_at(data, cuts))] == whole


def test_every_single_split_point_of_a_chunked_response() -> None:
    whole = [view(m) for m in responses(CHUNKED)]
    for i in range(len(CHUNKED) + 1):
        assert [view(m) for m in responses(CHUNKED, parts=[CHUNKED[:i], CHUNKED[i:]])] == whole


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_arbitrary_bytes_never_raise_and_split_does_not_matter(
    data: bytes, cuts: list[int]
) -> None:
    for cls in (RequestReader, ResponseReader):
        for stream in (data, b"GET / HTTP/1.1\r\n" + data, b"HTTP/1.1 200 OK\r\n" + data):
            whole = [view(m) for m in feed_all(cls(), [stream], how="rst")]
            assert [view(m) for m in feed_all(cls(), split_at(stream, cuts), how="rst")] == whole


def test_large_body_in_many_segments_is_read_in_linear_time() -> None:
    body = bytes(range(256)) * 4000  # 1 MB
    data = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    parts = [data[i : i + 1460] for i in range(0, len(data), 1460)]
    (msg,) = responses(data, parts=parts)
    assert hashlib.sha256(msg.body).digest() == hashlib.sha256(body).digest()
    assert len(msg.frames) == len(parts)
