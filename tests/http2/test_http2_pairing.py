"""HTTP/2 requests and responses paired per stream, over scripted TCP conversations.

Each test writes the ladder with the flows tests' ``Wire`` helper and the
frames with ``h2wire.H2``; the packets go through the real flow pipeline,
the HTTP pairer (which finds HTTP/2 by content, on any port) and the
HTTP/2 pairer, into the same exchange records as HTTP/1.x.
"""

from __future__ import annotations

import gzip

import pytest
from flows.flowwire import Wire, script
from h2wire import GET, H2, PREFACE, frame

import layerpeek.http
from layerpeek.http import HTTPExchange
from layerpeek.layers.http2 import ErrorCode, FrameFlags, FrameType
from layerpeek.packet import Packet

pytest.importorskip("hpack")

HS = ["c S", "s SA", "c A"]
FIN = ["c FA", "s FA", "c A"]
OK = [(":status", "200")]


def wire() -> Wire:
    return Wire(server=("10.0.0.2", 7777))  # not an HTTP port: found by content


def run(packets: list[Packet], problems: list[str] | None = None) -> list[HTTPExchange]:
    return layerpeek.http.exchanges(packets, problems=problems)


def test_prior_knowledge_streams_are_paired_by_id_not_by_order() -> None:
    w, h = wire(), H2()
    packets = script(w, *HS)
    packets.append(w.c("PA", PREFACE + h.settings() + h.headers("c", 1, GET("/a"), end_stream=True)
                       + h.headers("c", 3, GET("/b"), end_stream=True)))  # frame 4
    packets.append(w.s("PA", h.settings() + h.headers("s", 3, OK) + h.data(3, b"B", end=True)))
    packets.append(w.s("PA", h.headers("s", 1, OK) + h.data(1, b"A", end=True)))
    packets += script(w, *FIN)
    exs = run(packets)
    assert [(e.http2_stream, e.target, e.response.body if e.response else None) for e in exs] == [
        (1, "/a", b"A"), (3, "/b", b"B")]
    assert all(e.complete and e.http_version == "HTTP/2" for e in exs)
    assert [e.request.frames for e in exs if e.request] == [(4,), (4,)]
    assert [e.response.frames for e in exs if e.response] == [(6,), (5,)]
    assert exs[0].host == "example.test" and exs[0].server == "10.0.0.2:7777"
    assert exs[0].to_dict()["http2_stream"] == 1


def test_the_preface_split_over_segments_is_still_found() -> None:
    w, h = wire(), H2()
    client = PREFACE + h.settings() + h.headers("c", 1, GET("/"), end_stream=True)
    packets = script(w, *HS)
    packets += [w.c("PA", client[:3]), w.c("PA", client[3:20]), w.c("PA", client[20:])]
    packets += [w.s("PA", h.settings() + h.headers("s", 1, OK, end_stream=True))]
    packets += script(w, *FIN)
    (ex,) = run(packets)
    assert ex.complete and ex.status == 200 and ex.response is not None
    assert ex.response.body == b""


def test_other_protocols_and_http1_are_untouched() -> None:
    w = wire()
    packets = script(w, *HS)
    packets += [w.s("PA", b"220 smtp.example.test ESMTP\r\n"), w.c("PA", b"PRIX\r\n")]
    packets += script(w, *FIN)
    assert run(packets) == []
    w = Wire()
    packets = script(w, *HS)
    packets += [w.c("PA", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
                w.s("PA", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")]
    packets += script(w, *FIN)
    (ex,) = run(packets)
    assert ex.http_version == "HTTP/1.1" and ex.http2_stream is None and ex.complete


def test_upgrade_h2c_continues_the_request_as_stream_1() -> None:
    w, h = Wire(), H2()
    upgrade = (b"GET /up HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
               b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
    switch = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    packets = script(w, *HS)
    packets.append(w.c("PA", upgrade))  # 4
    packets.append(w.s("PA", switch + h.settings() + h.headers("s", 1, OK)))  # 5
    packets.append(w.c("PA", PREFACE + h.settings() + h.settings(ack=True)
                       + h.headers("c", 3, GET("/next"), end_stream=True)))  # 6
    packets.append(w.s("PA", h.data(1, b"upgraded", end=True) + h.headers("s", 3, OK)
                       + h.data(3, b"next", end=True)))  # 7
    packets += script(w, *FIN)
    first, second = run(packets)
    assert first.http2_stream == 1 and first.target == "/up" and first.complete
    assert first.request is not None and first.request.version == "HTTP/1.1"
    assert [m.status for m in first.interim] == [101]
    assert first.response is not None and first.response.body == b"upgraded"
    assert first.response.frames == (5, 7) and first.http_version == "HTTP/2"
    assert (second.http2_stream, second.target, second.status) == (3, "/next", 200)
    assert second.response is not None and second.response.body == b"next"


def test_an_upgrade_refused_stays_http1() -> None:
    w = Wire()
    packets = script(w, *HS)
    packets.append(w.c("PA", b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n"))
    packets.append(w.s("PA", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno"))
    packets += script(w, *FIN)
    (ex,) = run(packets)
    assert ex.http2_stream is None and ex.response is not None and ex.response.body == b"no"


def exchange(*server: bytes, client_extra: bytes = b"", fin: bool = True,
             problems: list[str] | None = None) -> list[HTTPExchange]:
    w, h = wire(), H2()
    packets = script(w, *HS)
    packets.append(w.c("PA", PREFACE + h.settings() + h.headers("c", 1, GET("/x"),
                                                                 end_stream=True) + client_extra))
    packets += [w.s("PA", part) for part in server]
    if fin:
        packets += script(w, *FIN)
    return run(packets, problems)


def test_interim_responses_body_over_frames_and_trailers() -> None:
    h = H2()
    body = gzip.compress(b"payload " * 50)
    (ex,) = exchange(
        h.settings() + h.headers("s", 1, [(":status", "103"), ("link", "</s.css>")]),
        h.headers("s", 1, [(":status", "200"), ("content-encoding", "gzip")]),
        h.data(1, body[:20]) + h.data(1, body[20:], pad=4),
        h.headers("s", 1, [("grpc-status", "0")], end_stream=True),
    )
    assert ex.complete and [m.status for m in ex.interim] == [103]
    assert ex.response is not None and ex.response.body == body
    assert ex.response.decoded_body == b"payload " * 50
    assert ex.response.trailers.raw_items() == [("grpc-status", "0")]
    assert ex.response.body_wire_len == 9 + 20 + 9 + 1 + len(body) - 20 + 4


def test_a_stream_reset_by_the_server_has_no_response() -> None:
    h = H2()
    (ex,) = exchange(h.settings() + h.rst(1, ErrorCode.REFUSED_STREAM))
    assert ex.response is None and not ex.complete
    assert ex.problem == "no response: stream reset by the server (RST_STREAM REFUSED_STREAM)"


def test_a_response_cut_by_a_reset_says_so() -> None:
    h = H2()
    (ex,) = exchange(h.settings() + h.headers("s", 1, OK) + h.data(1, b"part"),
                     h.rst(1, ErrorCode.INTERNAL_ERROR))
    assert ex.response is not None and ex.response.body == b"part" and not ex.complete
    assert ex.problem == "response: response cut: stream reset by the server " \
                         "(RST_STREAM INTERNAL_ERROR)"


def test_a_reset_after_all_the_content_length_cuts_nothing() -> None:
    """curl resets a stream once its Content-Length is in (seen in http2_upgrade_h2c)."""
    h = H2()
    w, packets = wire(), []
    packets = script(w, *HS)
    packets.append(w.c("PA", PREFACE + h.settings() + h.headers("c", 1, GET("/x"),
                                                                 end_stream=True)))
    packets.append(w.s("PA", h.settings() + h.headers("s", 1, [*OK, ("content-length", "2")])
                       + h.data(1, b"ok")))
    packets.append(w.c("PA", h.rst(1, ErrorCode.STREAM_CLOSED)))
    packets.append(w.s("PA", h.data(1, b"", end=True)))
    packets += script(w, *FIN)
    problems: list[str] = []
    (ex,) = run(packets, problems)
    assert ex.complete and ex.response is not None and ex.response.body == b"ok"
    assert ex.response.notes == ["stream reset by the client (RST_STREAM STREAM_CLOSED) after "
                                 "the whole body (Content-Length) arrived"]
    assert problems == []


def test_goaway_ends_the_streams_the_server_never_processed() -> None:
    h = H2()
    (first, second) = exchange(
        h.settings() + h.goaway(1, ErrorCode.NO_ERROR) + h.headers("s", 1, OK)
        + h.data(1, b"one", end=True),
        client_extra=h.headers("c", 3, GET("/y"), end_stream=True))
    assert first.complete and first.http2_stream == 1
    assert second.http2_stream == 3 and second.response is None
    assert second.problem == ("no response: not processed, GOAWAY from the server "
                              "(last stream 1, NO_ERROR)")


def test_content_length_disagreeing_with_the_data_is_flagged() -> None:
    h = H2()
    (ex,) = exchange(h.settings() + h.headers("s", 1, [*OK, ("content-length", "10")])
                     + h.data(1, b"short", end=True))
    assert not ex.complete and "content-length '10' but the DATA frames carried 5" in (
        ex.problem or "")


def test_a_connection_reset_mid_body_leaves_the_response_incomplete() -> None:
    h, w = H2(), wire()
    packets = script(w, *HS)
    packets.append(w.c("PA", PREFACE + h.settings() + h.headers("c", 1, GET("/x"),
                                                                 end_stream=True)))
    packets.append(w.s("PA", h.settings() + h.headers("s", 1, OK) + h.data(1, b"par")))
    packets.append(w.s("RA"))
    (ex,) = run(packets)
    assert ex.response is not None and ex.response.body == b"par"
    assert "no END_STREAM" in (ex.problem or "") and "reset" in (ex.problem or "")


def test_bodies_are_capped_like_http1() -> None:
    from layerpeek.analysis import Analysis

    h, w = H2(), wire()
    packets = script(w, *HS)
    packets.append(w.c("PA", PREFACE + h.settings() + h.headers("c", 1, GET("/x"),
                                                                 end_stream=True)))
    packets.append(w.s("PA", h.settings() + h.headers("s", 1, OK) + h.data(1, b"x" * 100,
                                                                          end=True)))
    packets += script(w, *FIN)
    analysis = Analysis(["http"], settings={"http": {"max_body": 30}})
    (ex,) = [e for e in analysis.events(packets) if isinstance(e, HTTPExchange)]
    assert ex.response is not None and ex.response.body == b"x" * 30
    assert ex.problem == "response: body longer than 30 bytes: only those kept"


def test_push_promise_opens_the_promised_stream() -> None:
    h = H2()
    (page, pushed) = exchange(
        h.settings() + h.push_promise(1, 2, GET("/style.css")) + h.headers("s", 1, OK)
        + h.data(1, b"page", end=True),
        h.headers("s", 2, OK) + h.data(2, b"css", end=True))
    assert (page.http2_stream, page.pushed_by, page.target) == (1, None, "/x")
    assert (pushed.http2_stream, pushed.pushed_by, pushed.target) == (2, 1, "/style.css")
    assert pushed.complete and pushed.response is not None and pushed.response.body == b"css"


def test_damage_is_reported_once_per_connection_never_raised() -> None:
    h = H2()
    problems: list[str] = []
    exs = exchange(h.settings() + frame(FrameType.PING, 0, 0, b"bad") + h.headers("s", 1, OK)
                   + frame(FrameType.DATA, FrameFlags.END_STREAM, 1, b"ok"), problems=problems)
    assert [e.complete for e in exs] == [True]
    assert problems == ["stream 0 HTTP/2 server: PING frame on stream 0: PING payload is 3 "
                        "bytes, not 8"]


def test_streams_left_open_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from layerpeek.http2 import pairing

    monkeypatch.setattr(pairing, "MAX_OPEN_STREAMS", 3)
    h, w = H2(), wire()
    packets = script(w, *HS)
    opened = b"".join(h.headers("c", sid, GET(f"/{sid}")) for sid in (1, 3, 5, 7, 9))
    packets.append(w.c("PA", PREFACE + h.settings() + opened))
    problems: list[str] = []
    exs = run(packets, problems)
    assert [e.http2_stream for e in exs] == [1, 3, 5]
    assert problems == ["stream 0 HTTP/2 more than 3 streams open at once: the others are not "
                        "followed"]
