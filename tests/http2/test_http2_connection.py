"""Reading HTTP/2 frames from a connection's byte streams (RFC 9113, HPACK RFC 7541).

Frames are written by hand (``tests/h2wire.py``, header blocks by ``hpack``'s
encoder) and fed whole, one byte at a time, and split at every point: the
reader must give the same frames.  Damaged input is a value (a
``MalformedFrame``, a problem, a stopped direction), never an exception.
"""

from __future__ import annotations

import struct

import pytest
from h2wire import GET, H2, PREFACE, frame
from hypothesis import given, settings
from hypothesis import strategies as st

from layerpeek.http2.connection import (
    FrameRead,
    HTTP2Connection,
    PrefaceRead,
    Read,
    ReadStopped,
)
from layerpeek.layers.http2 import (
    ContinuationFrame,
    DataFrame,
    ErrorCode,
    FrameFlags,
    FrameType,
    GoAwayFrame,
    HeadersFrame,
    MalformedFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
    UnknownFrame,
    WindowUpdateFrame,
    decode_payload,
)

pytest.importorskip("hpack")


def frames_of(reads: list[Read]) -> list[object]:
    return [r.frame for r in reads if isinstance(r, FrameRead)]


def client_stream(h: H2) -> bytes:
    return (PREFACE + h.settings((4, 65535), (2, 0)) + h.window_update(0, 1000)
            + h.headers("c", 1, GET("/index.html", accept_encoding="gzip"), end_stream=True)
            + h.headers("c", 3, GET("/style.css"), end_stream=True)
            + h.ping() + h.rst(3, ErrorCode.CANCEL) + h.goaway(0))


def test_a_client_stream_reads_as_its_frames_in_order() -> None:
    conn = HTTP2Connection()
    reads = conn.feed("client", client_stream(H2()), (4,), 100)
    assert isinstance(reads[0], PrefaceRead) and reads[0].frames == (4,)
    kinds = [type(f).__name__ for f in frames_of(reads)]
    assert kinds == ["SettingsFrame", "WindowUpdateFrame", "HeadersFrame", "HeadersFrame",
                     "PingFrame", "RstStreamFrame", "GoAwayFrame"]
    settings_, update, first, second, ping, rst, goaway = frames_of(reads)
    assert isinstance(settings_, SettingsFrame) and [(s.id, s.value) for s in settings_.settings] \
        == [(4, 65535), (2, 0)]
    assert isinstance(update, WindowUpdateFrame) and update.increment == 1000
    assert isinstance(first, HeadersFrame) and first.headers == (
        (":method", "GET"), (":scheme", "http"), (":authority", "example.test"),
        (":path", "/index.html"), ("accept-encoding", "gzip"))
    # the second block refers to the first's dynamic-table entries: decoded in order
    assert isinstance(second, HeadersFrame) and second.headers is not None
    assert dict(second.headers)[":authority"] == "example.test"
    assert isinstance(ping, PingFrame) and ping.opaque == b"12345678" and not ping.ack
    assert isinstance(rst, RstStreamFrame) and rst.error_code == ErrorCode.CANCEL
    assert isinstance(goaway, GoAwayFrame) and goaway.last_stream_id == 0
    assert conn.problems == []
    offsets = [r.offset for r in reads if isinstance(r, FrameRead)]
    assert offsets[0] == len(PREFACE) and offsets == sorted(offsets)


def test_one_byte_at_a_time_and_every_split_give_the_same_frames() -> None:
    data = client_stream(H2())
    whole = frames_of(HTTP2Connection().feed("client", data))
    conn = HTTP2Connection()
    bytewise: list[Read] = []
    for i in range(len(data)):
        bytewise += conn.feed("client", data[i:i + 1], (i,))
    assert frames_of(bytewise) == whole
    for cut in range(len(data)):
        conn = HTTP2Connection()
        reads = conn.feed("client", data[:cut]) + conn.feed("client", data[cut:])
        assert frames_of(reads) == whole, cut


def test_a_frame_spanning_packets_names_them_all() -> None:
    h = H2()
    data = PREFACE + h.settings() + h.headers("c", 1, GET("/"), end_stream=True)
    conn = HTTP2Connection()
    reads = conn.feed("client", data[:30], (5,), 1) + conn.feed("client", data[30:40], (6,), 2)
    assert conn.pending("client") > 0
    reads += conn.feed("client", data[40:], (7,), 3)
    headers = [r for r in reads if isinstance(r, FrameRead) and r.frame.type == 1]
    assert [(r.frames, r.start_ts_ns, r.ts_ns) for r in headers] == [((6, 7), 2, 3)]
    assert conn.pending("client") == 0


def test_padding_is_removed_and_counted() -> None:
    h = H2()
    data = h.headers("s", 1, [(":status", "200")], pad=7) + h.data(1, b"body", pad=3, end=True)
    head, body = frames_of(HTTP2Connection(client_preface=False).feed("server", data))
    assert isinstance(head, HeadersFrame) and head.pad_length == 7
    assert head.headers == ((":status", "200"),)
    assert isinstance(body, DataFrame) and (body.data, body.pad_length) == (b"body", 3)
    assert body.length == 1 + 4 + 3 and body.end_stream


def test_a_header_block_continues_over_continuation_frames() -> None:
    h = H2()
    block = h.block("c", GET("/long", x_one="1" * 40, x_two="2" * 40))
    parts = [block[:10], block[10:30], block[30:]]
    data = (frame(FrameType.HEADERS, FrameFlags.END_STREAM, 1, parts[0])
            + frame(FrameType.CONTINUATION, 0, 1, parts[1])
            + frame(FrameType.CONTINUATION, FrameFlags.END_HEADERS, 1, parts[2]))
    reads = HTTP2Connection(client_preface=False).feed("client", data, (9,))
    first, middle, last = frames_of(reads)
    assert isinstance(first, HeadersFrame) and first.headers is None
    assert isinstance(middle, ContinuationFrame) and middle.headers is None
    assert isinstance(last, ContinuationFrame) and last.headers is not None
    block_read = [r for r in reads if isinstance(r, FrameRead)][-1].block
    assert block_read is not None and block_read.end_stream and block_read.size == len(data)
    assert dict(block_read.headers or ())["x-two"] == "2" * 40


def test_a_header_block_interrupted_by_another_frame_loses_the_hpack_state() -> None:
    h = H2()
    first = h.block("c", GET("/a"))
    data = (frame(FrameType.HEADERS, 0, 1, first[:5]) + h.ping()
            + h.headers("c", 3, GET("/b"), end_stream=True))
    conn = HTTP2Connection(client_preface=False)
    later = frames_of(conn.feed("client", data))[-1]
    assert isinstance(later, HeadersFrame) and later.headers is None
    assert any("CONTINUATION expected" in p for p in conn.problems)


def test_an_hpack_error_is_a_problem_and_later_blocks_are_not_guessed() -> None:
    h = H2()
    bad = frame(FrameType.HEADERS, FrameFlags.END_HEADERS, 1, b"\xff\xff\xff\xff\x0f")  # index
    data = bad + h.headers("c", 3, GET("/b"), end_stream=True)
    conn = HTTP2Connection(client_preface=False)
    reads = conn.feed("client", data)
    assert [f.headers for f in frames_of(reads) if isinstance(f, HeadersFrame)] == [None, None]
    blocks = [r.block for r in reads if isinstance(r, FrameRead) and r.block is not None]
    assert blocks[0].problem.startswith("HPACK: ") and "earlier" in blocks[1].problem
    assert len(conn.problems) == 1 and "HPACK" in conn.problems[0]


def test_header_lists_are_capped() -> None:
    h = H2()
    data = h.headers("c", 1, GET("/", cookie="x" * 5000), end_stream=True)
    conn = HTTP2Connection(client_preface=False, max_header_list=1000)
    (head,) = frames_of(conn.feed("client", data))
    assert isinstance(head, HeadersFrame) and head.headers is None
    assert "HPACK" in conn.problems[0]
    conn = HTTP2Connection(client_preface=False, max_block=100)
    (head,) = frames_of(conn.feed("client", h.headers("c", 3, GET("/", x="y" * 500))))
    assert isinstance(head, HeadersFrame) and head.headers is None


def test_a_larger_header_table_announced_by_settings_is_allowed() -> None:
    import hpack

    enc = hpack.Encoder()
    enc.header_table_size = 8192  # the encoder signals the new size in its next block
    block = enc.encode(GET("/"))
    conn = HTTP2Connection(client_preface=False)
    conn.feed("server", H2.settings((1, 8192)))
    (head,) = frames_of(conn.feed("client", frame(FrameType.HEADERS, 5, 1, block)))
    assert isinstance(head, HeadersFrame) and head.headers is not None


@pytest.mark.parametrize(("ftype", "flags", "stream", "payload", "reason"), [
    (FrameType.DATA, 0, 0, b"x", "DATA frame on stream 0"),
    (FrameType.SETTINGS, 0, 1, b"", "only stream 0"),
    (FrameType.SETTINGS, 0, 0, b"12345", "not a multiple of 6"),
    (FrameType.SETTINGS, 1, 0, b"\0" * 6, "SETTINGS ACK with"),
    (FrameType.PING, 0, 0, b"1234", "not 8"),
    (FrameType.RST_STREAM, 0, 1, b"123", "not 4"),
    (FrameType.PRIORITY, 0, 1, b"1234", "not 5"),
    (FrameType.WINDOW_UPDATE, 0, 0, b"\0\0\0\0", "increment of 0"),
    (FrameType.GOAWAY, 0, 0, b"1234", "less than 8"),
    (FrameType.HEADERS, FrameFlags.PADDED, 1, b"\x09abc", "padding 9 longer"),
    (FrameType.HEADERS, FrameFlags.PRIORITY, 1, b"\0\0", "shorter than 5"),
    (FrameType.PUSH_PROMISE, 0, 1, b"\0\0", "Promised Stream ID"),
])
def test_a_frame_breaking_its_types_rules_is_malformed_and_reading_goes_on(
    ftype: int, flags: int, stream: int, payload: bytes, reason: str
) -> None:
    conn = HTTP2Connection(client_preface=False)
    reads = conn.feed("client", frame(ftype, flags, stream, payload) + H2.ping())
    bad, ping = frames_of(reads)
    assert isinstance(bad, MalformedFrame) and reason in bad.reason
    assert isinstance(ping, PingFrame)
    assert len(conn.problems) == 1 and reason in conn.problems[0]


def test_unknown_frame_types_are_kept_raw() -> None:
    (unknown,) = frames_of(HTTP2Connection(client_preface=False).feed(
        "client", frame(0x10, 0x3, 7, b"extension")))
    assert isinstance(unknown, UnknownFrame) and unknown.payload == b"extension"
    assert (unknown.type, unknown.flags, unknown.stream_id) == (0x10, 3, 7)


def test_priority_fields() -> None:
    payload = struct.pack("!IB", 0x8000_0003, 15)
    prio = decode_payload(FrameType.PRIORITY, 0, 5, payload, 0, 5)
    assert isinstance(prio, PriorityFrame) and prio.priority is not None
    p = prio.priority
    assert (p.exclusive, p.depends_on, p.weight) == (True, 3, 15)


def test_a_client_not_beginning_with_the_preface_stops_being_read() -> None:
    conn = HTTP2Connection()
    reads = conn.feed("client", b"GET / HTTP/1.1\r\n\r\n")
    assert len(reads) == 1 and isinstance(reads[0], ReadStopped)
    assert conn.stopped("client") and conn.feed("client", H2.ping()) == []


def test_a_gap_inside_a_data_frame_is_skipped_and_counted() -> None:
    h = H2()
    data = h.data(1, b"A" * 100, end=True) + h.ping()
    conn = HTTP2Connection(client_preface=False)
    reads = conn.feed("server", data[:30]) + conn.gap("server", 40, "acked")
    reads += conn.feed("server", data[70:])
    body, ping = [r for r in reads if isinstance(r, FrameRead)]
    assert isinstance(body.frame, DataFrame) and body.frame.data == b"A" * 60
    assert body.missing == 40 and isinstance(ping.frame, PingFrame)


def test_a_gap_over_a_frame_header_stops_the_direction() -> None:
    h = H2()
    data = h.ping() + h.ping()
    conn = HTTP2Connection(client_preface=False)
    reads = conn.feed("client", data[:4]) + conn.gap("client", 10)
    assert [type(r).__name__ for r in reads] == ["ReadStopped"]
    assert "over a frame header" in conn.problems[0]
    assert conn.feed("client", data[14:]) == []


def test_a_gap_inside_a_header_block_loses_that_block_and_the_hpack_state() -> None:
    h = H2()
    data = h.headers("c", 1, GET("/a", x="y" * 30)) + h.headers("c", 3, GET("/b"))
    conn = HTTP2Connection(client_preface=False)
    reads = conn.feed("client", data[:12]) + conn.gap("client", 10)
    cut = len(H2().headers("c", 1, GET("/a", x="y" * 30)))
    reads += conn.feed("client", data[22:cut]) + conn.feed("client", data[cut:])
    first, second = frames_of(reads)
    assert isinstance(first, MalformedFrame) and "lost in a stream gap" in first.reason
    assert isinstance(second, HeadersFrame) and second.headers is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.booleans())
def test_any_bytes_never_raise(data: bytes, preface: bool) -> None:
    conn = HTTP2Connection()
    conn.feed("client", (PREFACE if preface else b"") + data)
    conn.feed("server", data)
    conn.gap("server", 3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 255), st.integers(0, 9),
                          st.binary(max_size=40)), max_size=12))
def test_any_sequence_of_frames_never_raises(items: list[tuple[int, int, int, bytes]]) -> None:
    conn = HTTP2Connection(client_preface=False)
    data = b"".join(frame(t, f, s, p) for t, f, s, p in items)
    reads = conn.feed("client", data)
    assert len(frames_of(reads)) == len(items)
