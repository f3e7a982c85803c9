"""Pairing requests with responses over scripted TCP conversations (RFC 9112 §9.3.2).

Each test writes the ladder diagram with the flows tests' ``Wire`` helper;
the packets go through the real flow pipeline and pairer.
"""

from __future__ import annotations

from flows.flowwire import Wire, script
from hypothesis import given, settings
from hypothesis import strategies as st

import layerpeek.http
from layerpeek.flows.events import ConnectionClosed, ConnectionOpened, StreamData, StreamGap
from layerpeek.http import HTTPExchange, HTTPPairer
from layerpeek.packet import Packet

HS = ["c S", "s SA", "c A"]
FIN = ["c FA", "s FA", "c A"]


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: example.test\r\n{extra}\r\n".encode()


def ok(body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def run(packets: list[Packet], problems: list[str] | None = None) -> list[HTTPExchange]:
    return layerpeek.http.exchanges(packets, problems=problems)


def test_pipelined_requests_are_paired_in_order() -> None:
    w = Wire()
    packets = script(w, *HS)
    packets.append(w.c("PA", get("/a") + get("/b") + get("/c")))  # frame 4
    packets += [w.s("PA", ok(b"A")), w.s("PA", ok(b"BB") + ok(b"CCC"))]
    packets += script(w, *FIN)
    exs = run(packets)
    assert [(e.index, e.target, e.response.body if e.response else None) for e in exs] == [
        (0, "/a", b"A"), (1, "/b", b"BB"), (2, "/c", b"CCC")]
    assert all(e.complete and e.problem is None for e in exs)
    assert [e.request.frames for e in exs if e.request] == [(4,), (4,), (4,)]
    assert [e.response.frames for e in exs if e.response] == [(5,), (6,), (6,)]
    assert exs[0].client == "10.0.0.1:40000" and exs[0].server == "10.0.0.2:80"


def test_timings_of_an_exchange() -> None:
    w = Wire(step_ns=1_000_000)
    packets = script(w, *HS)
    body = b"x" * 3000
    response = ok(body)
    packets += [w.c("PA", get("/t")), w.s("A", response[:1460]), w.s("A", response[1460:2920]),
                w.s("PA", response[2920:])]
    packets += script(w, *FIN)
    (ex,) = run(packets)
    req, resp = ex.request, ex.response
    assert req is not None and resp is not None
    assert resp.start_ts_ns - req.start_ts_ns == 1_000_000
    assert resp.end_ts_ns - resp.start_ts_ns == 2_000_000
    assert ex.duration_ns == 3_000_000 and resp.frames == (5, 6, 7)
    assert ex.to_dict()["duration"] == 0.003


def test_keep_alive_requests_each_wait_for_their_response() -> None:
    w = Wire()
    packets = script(w, *HS)
    for i in range(3):
        packets += [w.c("PA", get(f"/{i}")), w.s("PA", ok(b"%d" % i))]
    packets += script(w, *FIN)
    exs = run(packets)
    assert [(e.target, e.response.body) for e in exs if e.response] == [
        ("/0", b"0"), ("/1", b"1"), ("/2", b"2")]


def test_unanswered_request_when_the_connection_is_reset() -> None:
    w = Wire()
    packets = script(w, *HS)
    packets += [w.c("PA", get("/slow")), w.s("RA")]
    (ex,) = run(packets)
    assert ex.response is None and not ex.complete
    assert ex.problem == "no response before the connection was reset (RST)"


def test_unanswered_request_when_the_capture_ends() -> None:
    w = Wire()
    packets = [*script(w, *HS), w.c("PA", get("/pending"))]
    (ex,) = run(packets)
    assert ex.problem == "no response before the capture ended"


def test_response_whose_request_was_not_captured() -> None:
    w = Wire()
    # Picked up mid-connection: only the server's answer is in the capture.
    packets = [w.s("PA", ok(b"hi")), w.c("A")]
    (ex,) = run(packets)
    assert ex.request is None and ex.response is not None and ex.response.body == b"hi"
    assert ex.problem == "request not captured" and ex.status == 200


def test_100_continue_is_attached_to_its_request() -> None:
    w = Wire()
    packets = script(w, *HS)
    head = b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
    packets += [w.c("PA", head), w.s("PA", b"HTTP/1.1 100 Continue\r\n\r\n"),
                w.c("PA", b"data"), w.s("PA", ok(b"stored"))]
    packets += script(w, *FIN)
    (ex,) = run(packets)
    assert [m.status for m in ex.interim] == [100]
    assert ex.request is not None and ex.request.body == b"data"
    assert ex.status == 200 and ex.complete and ex.to_dict()["interim"] == [100]


def test_early_response_before_the_request_body_is_done() -> None:
    w = Wire()
    packets = script(w, *HS)
    head = b"POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n"
    packets += [w.c("PA", head + b"12345"),
                w.s("PA", b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n"),
                w.c("PA", b"67890")]
    packets += script(w, *FIN)
    (ex,) = run(packets)
    assert ex.status == 413 and ex.request is not None and ex.request.body == b"1234567890"


def test_upgrade_to_websocket_stops_http_on_the_connection() -> None:
    w = Wire()
    packets = script(w, *HS)
    packets += [
        w.c("PA", get("/ws", "Connection: Upgrade\r\nUpgrade: websocket\r\n")),
        w.s("PA", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi"),
        w.c("PA", b"\x81\x82abcd\x00\x00"),
    ]
    packets += script(w, *FIN)
    problems: list[str] = []
    (ex,) = run(packets, problems)
    assert ex.status == 101 and ex.complete and problems == []


def test_refused_upgrade_keeps_reading_http() -> None:
    w = Wire()
    packets = script(w, *HS)
    packets += [
        w.c("PA", get("/a", "Connection: Upgrade\r\nUpgrade: h2c\r\n") + get("/b")),
        w.s("PA", ok(b"A") + ok(b"B")),
    ]
    packets += script(w, *FIN)
    exs = run(packets)
    assert [(e.target, e.response.body if e.response else None) for e in exs] == [
        ("/a", b"A"), ("/b", b"B")]


def test_connect_tunnel_is_not_parsed_as_http() -> None:
    w = Wire()
    packets = script(w, *HS)
    packets += [
        w.c("PA", b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n"),
        w.s("PA", b"HTTP/1.1 200 Connection established\r\n\r\n"),
        w.c("PA", b"\x16\x03\x01\x00\x05hello"),
        w.s("PA", b"\x16\x03\x03\x00\x02hi"),
    ]
    packets += script(w, *FIN)
    problems: list[str] = []
    (ex,) = run(packets, problems)
    assert ex.method == "CONNECT" and ex.status == 200 and ex.complete and problems == []


def test_a_lost_segment_inside_a_body_is_counted_not_invented() -> None:
    w = Wire()
    packets = script(w, *HS)
    response = ok(b"A" * 100 + b"B" * 100 + b"C" * 100)
    cut = len(response) - 200
    packets += [w.c("PA", get("/x")), w.s("A", response[:cut])]
    w.lost("s", response[cut : cut + 100])
    packets += [w.s("PA", response[cut + 100 :]), w.c("A")]
    packets += script(w, *FIN)
    (ex,) = run(packets)
    assert ex.response is not None
    assert ex.response.body == b"A" * 100 + b"C" * 100 and ex.response.missing == 100
    assert not ex.complete
    assert ex.problem == "response: 100 body bytes missing (stream gap, not zero-filled)"
    assert ex.to_dict()["response_body_len"] == 300


def test_a_lost_request_makes_later_pairings_uncertain() -> None:
    w = Wire()
    packets = script(w, *HS)
    packets += [w.c("PA", get("/1")), w.s("PA", ok(b"1"))]
    w.lost("c", get("/2"))
    packets += [w.c("PA", get("/3")), w.s("PA", ok(b"2")), w.s("PA", ok(b"3"))]
    packets += script(w, *FIN)
    exs = run(packets)
    # "/3" waits behind the hole, so the answer to the lost "/2" finds no request
    # waiting; "/3" is delivered once the hole is given up on, and gets the next
    # answer, with a warning that the hole may have held more.
    assert [(e.index, e.target, e.response.body if e.response else None, e.problem)
            for e in exs] == [
        (0, "/1", b"1", None),
        (2, "/3", b"3", "paired after a stream gap: messages in between may be missing"),
        (1, "", b"2", "request not captured"),
    ]


def test_connections_that_are_not_http_give_nothing() -> None:
    w = Wire(server=("10.0.0.2", 22))
    packets = script(w, *HS)
    packets += [w.s("PA", b"SSH-2.0-OpenSSH_9.2\r\n"), w.c("PA", b"SSH-2.0-client\r\n")]
    packets += script(w, *FIN)
    problems: list[str] = []
    assert run(packets, problems) == [] and problems == []


def test_the_pairer_is_sans_io_and_takes_tracker_events_directly() -> None:
    pairer = HTTPPairer()
    assert pairer.feed(StreamData(7, "client", 0, get("/direct"), (1,), 10)) == []
    (ex,) = pairer.feed(StreamData(7, "server", 0, ok(b"yes"), (2,), 20))
    assert (ex.stream, ex.target, ex.status, ex.duration_ns) == (7, "/direct", 200, 10)
    assert pairer.finish() == []


PIECES = [get("/a"), ok(b"body"), b"HTTP/1.1 100 Continue\r\n\r\n", b"CONNECT h:1 HTTP/1.1\r\n\r\n",
          b"HTTP/1.1 101 Switching\r\n\r\n", b"Transfer-Encoding: chunked\r\n", b"\r\n",
          b"5\r\nhello\r\n0\r\n\r\n", b"Content-Length: 3\r\n", b"HEAD / HTTP/1.1\r\n",
          b"HTTP/1.1 204 No Content\r\n", b"zz\r\n", b"\x00\xff garbage"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(
    st.integers(0, 3),  # conversation
    st.sampled_from(["client", "server"]),
    st.one_of(st.sampled_from(PIECES), st.binary(max_size=40),
              st.integers(1, 5000), st.sampled_from(["fin", "rst", "eof", "open"])),
), max_size=40))
def test_any_sequence_of_tracker_events_never_raises(
    events: list[tuple[int, str, bytes | int | str]]
) -> None:
    pairer = HTTPPairer()
    offsets: dict[tuple[int, str], int] = {}
    out: list[HTTPExchange] = []
    for frame, (cid, direction, what) in enumerate(events, start=1):
        at = offsets.get((cid, direction), 0)
        if isinstance(what, bytes):
            out += pairer.feed(StreamData(cid, direction, at, what, (frame,), frame))
            offsets[(cid, direction)] = at + len(what)
        elif isinstance(what, int):
            out += pairer.feed(StreamGap(cid, direction, at, what, "acked", frame))
            offsets[(cid, direction)] = at + what
        elif what == "open":
            out += pairer.feed(ConnectionOpened(cid, "handshake", frame, frame))
        else:
            out += pairer.feed(ConnectionClosed(cid, what, frame))
            offsets = {k: v for k, v in offsets.items() if k[0] != cid}
    out += pairer.finish()
    for ex in out:
        record = ex.to_dict()
        assert record["complete"] == (record["problem"] is None)
        assert ex.request is not None or ex.response is not None


def test_midstream_pickup_with_the_client_on_the_higher_port_is_read_the_right_way_round() -> None:
    # No handshake in the capture, and the server's port (8080) is higher than the
    # client's (3000): the tracker takes the higher port for the client.  The
    # request and status lines tell the pairer otherwise.
    w = Wire(client=("10.0.0.1", 3000), server=("10.0.0.2", 8080))
    packets = [w.c("PA", get("/x")), w.s("PA", ok(b"right")), w.c("A")]
    (ex,) = run(packets)
    assert (ex.method, ex.target, ex.status, ex.complete) == ("GET", "/x", 200, True)
    assert ex.response is not None and ex.response.body == b"right"
    assert (ex.client, ex.server) == ("10.0.0.1:3000", "10.0.0.2:8080")
