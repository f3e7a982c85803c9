"""HTTP/1.x heads as one TCP segment carries them (RFC 9112): start lines, headers, body
bytes, heads cut at the segment's end, the heuristic, and the parser's bounds."""

from __future__ import annotations

import pytest
from builders import eth, ipv4_tcp, tcp

from layerpeek.layers import http
from layerpeek.layers.ethernet import Ethernet
from layerpeek.layers.http import HTTP, MAX_HEADERS, MAX_LINE, sniff
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.tcp import TCP
from layerpeek.packet import Layer, Malformed, Packet, Payload
from layerpeek.reader import decode

#: http_get_fin.pcap frame 4 (zeek testing/btest/Traces/http/get.pcap): wget's request.
GET = bytes.fromhex(
    "0010db88d2ef c8bcc896d2a0 0800"  # Ethernet
    "4500 00bc 4a9a 4000 4006 024c 8d8ee405 c096bb2b"  # IPv4, total length 188
    "e9d0 0050 fe21323b a5afce3f 80 18 202b 0480 0000"  # TCP 59856 → 80, PSH ACK, 32 bytes
    "0101080a 164add66 2f894259"  # NOP NOP timestamps
) + (
    b"GET /download/CHANGES.bro-aux.txt HTTP/1.1\r\n"
    b"User-Agent: Wget/1.14 (darwin12.2.0)\r\n"
    b"Accept: */*\r\n"
    b"Host: bro.org\r\n"
    b"Connection: Keep-Alive\r\n"
    b"\r\n"
)
PAYLOAD_AT = 66

#: http_pipelined_2req.pcap frame 6 (suricata-verify ...-tx-pipeline/input.pcap): a whole
#: response, head and 39-byte body, in one segment.
RESPONSE = bytes.fromhex(
    "f65e4687a0b3 bc2411513efd 0800"
    "4500 0151 88da 4000 3606 c48d 983552ef 0a10010b"  # IPv4, total length 337
    "0050 87e2 72527958 69787211 80 18 0016 5f5e 0000"  # TCP 80 → 34786, PSH ACK
    "0101080a deede83b 3afaf560"
) + (
    b"HTTP/1.1 200 OK\r\n"
    b"Accept-Ranges: bytes\r\n"
    b"Content-Length: 39\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b'Etag: "dijd9909juur13"\r\n'
    b"Last-Modified: Fri, 15 May 2026 15:47:20 GMT\r\n"
    b"Server: Caddy\r\n"
    b"Vary: Accept-Encoding\r\n"
    b"Date: Fri, 15 May 2026 15:48:34 GMT\r\n"
    b"\r\n"
    b"uid=0(root) gid=0(root) groups=0(root)\n"
)

#: http_pipelined_2req.pcap frame 4: two pipelined requests in one segment, with bare LF
#: line ends.
PIPELINED = bytes.fromhex(
    "bc2411513efd f65e4687a0b3 0800"
    "4500 0084 f6f3 4000 4006 4d41 0a10010b 983552ef"
    "87e2 0050 697871c1 72527958 80 18 003f 9eae 0000"
    "0101080a 3afaf560 deede803"
) + b"GET /bar/ HTTP/1.1\nHost: testmyids.org\n\nGET /foo/ HTTP/1.1\nHost: testmyids.org\n\n"

#: http_post_form.pcap frame 6 (zeek testing/btest/Traces/http/post.pcap): the server sent
#: its status line alone; the headers follow in frame 8.
STATUS_LINE_ONLY = bytes.fromhex(
    "c8bcc896d2a0 0010db88d2ef 0800"
    "4500 0045 c927 4000 2f06 a283 36f33781 8d8ee405"
    "0050 d15b 98b0810d b490e0e0 80 18 003d beca 0000"
    "0101080a 1cdd4830 1e99134d"
) + b"HTTP/1.1 200 OK\r\n"


def head(payload: bytes) -> HTTP:
    layer, after = http.decode(payload, 0, len(payload))
    assert after is None
    assert isinstance(layer, HTTP)
    return layer


def types(packet: Packet) -> list[type[Layer]]:
    return [type(layer) for layer in packet.layers]


class TestRealHeads:
    def test_request_line_and_headers_in_order_and_case(self) -> None:
        packet = decode(GET)
        assert types(packet) == [Ethernet, IPv4, TCP, HTTP]
        h = packet[HTTP]
        assert (h.kind, h.method, h.target, h.version) == (
            "request", "GET", "/download/CHANGES.bro-aux.txt", "HTTP/1.1"
        )
        assert (h.status, h.reason) == (None, None)
        assert h.headers == (
            ("User-Agent", "Wget/1.14 (darwin12.2.0)"),
            ("Accept", "*/*"),
            ("Host", "bro.org"),
            ("Connection", "Keep-Alive"),
        )
        assert (h.body, h.complete) == (b"", True)
        assert packet.spans[-1] == (PAYLOAD_AT, len(GET))

    def test_request_summary(self) -> None:
        assert decode(GET)[HTTP].summary() == "GET /download/CHANGES.bro-aux.txt HTTP/1.1"

    def test_response_status_headers_and_body_in_this_segment(self) -> None:
        h = decode(RESPONSE)[HTTP]
        assert (h.kind, h.version, h.status, h.reason) == ("response", "HTTP/1.1", 200, "OK")
        assert (h.method, h.target) == (None, None)
        assert [name for name, _ in h.headers] == [
            "Accept-Ranges", "Content-Length", "Content-Type", "Etag", "Last-Modified",
            "Server", "Vary", "Date",
        ]
        assert h.header("Etag") == '"dijd9909juur13"'
        assert h.body == b"uid=0(root) gid=0(root) groups=0(root)\n"
        assert len(h.body) == int(h.header("content-length") or 0)
        assert h.complete
        assert h.summary() == "HTTP/1.1 200 OK"

    def test_response_from_the_server_port_is_found_by_the_lower_port(self) -> None:
        packet = decode(RESPONSE)
        assert (packet[TCP].src_port, packet[TCP].dst_port) == (80, 34786)
        assert HTTP in packet

    def test_bare_lf_head_and_the_pipelined_request_after_it_as_body(self) -> None:
        """One layer per segment: the second request is the first one's body bytes here;
        splitting pipelined messages is the stream reader's job."""
        h = decode(PIPELINED)[HTTP]
        assert (h.method, h.target, h.version) == ("GET", "/bar/", "HTTP/1.1")
        assert h.headers == (("Host", "testmyids.org"),)
        assert h.complete
        assert h.body == b"GET /foo/ HTTP/1.1\nHost: testmyids.org\n\n"

    def test_status_line_alone_is_an_incomplete_head(self) -> None:
        packet = decode(STATUS_LINE_ONLY)
        assert types(packet) == [Ethernet, IPv4, TCP, HTTP]  # no Malformed: nothing is wrong
        h = packet[HTTP]
        assert (h.status, h.reason, h.headers, h.complete) == (200, "OK", (), False)
        assert h.summary() == "HTTP/1.1 200 OK (head incomplete)"


class TestHeaderAccess:
    def test_header_lookup_ignores_case_and_returns_the_first(self) -> None:
        h = head(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX: y\r\n\r\n")
        assert h.header("SET-COOKIE") == "a=1"
        assert h.headers_all("Set-Cookie") == ["a=1", "b=2"]
        assert h.header("missing") is None
        assert h.headers_all("missing") == []

    def test_whitespace_around_values_is_trimmed_but_names_keep_their_case(self) -> None:
        h = head(b"GET / HTTP/1.1\r\nX-CaSe : \t spaced value \t\r\nEmpty:\r\n\r\n")
        assert h.headers == (("X-CaSe", "spaced value"), ("Empty", ""))

    def test_colon_inside_a_value_is_kept(self) -> None:
        h = head(b"GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n")
        assert h.header("host") == "example.com:8080"

    def test_obsolete_line_folding_joins_with_one_space(self) -> None:
        h = head(b"GET / HTTP/1.1\r\nX-Long: first\r\n   second\r\n\tthird\r\nY: z\r\n\r\n")
        assert h.headers == (("X-Long", "first second third"), ("Y", "z"))

    def test_line_without_a_colon_is_skipped(self) -> None:
        h = head(b"GET / HTTP/1.1\r\nnot a header\r\nHost: a\r\n\r\n")
        assert h.headers == (("Host", "a"),)

    def test_bytes_are_read_as_latin1(self) -> None:
        h = head(b"GET /caf\xe9 HTTP/1.1\r\nX-Name: Ren\xe9e \xff\r\n\r\n")
        assert h.target == "/caf\xe9"
        assert h.header("x-name") == "Ren\xe9e \xff"


class TestStartLines:
    @pytest.mark.parametrize(
        "method", ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"]
    )
    def test_every_method_is_recognised(self, method: str) -> None:
        h = head(f"{method} /x HTTP/1.1\r\n\r\n".encode())
        assert (h.kind, h.method, h.target, h.version) == ("request", method, "/x", "HTTP/1.1")

    def test_connect_target_is_an_authority(self) -> None:
        h = head(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        assert h.target == "example.com:443"

    def test_request_without_a_version(self) -> None:
        h = head(b"GET /old\r\n\r\n")
        assert (h.method, h.target, h.version) == ("GET", "/old", "")
        assert h.summary() == "GET /old"

    def test_response_without_a_reason_phrase(self) -> None:
        h = head(b"HTTP/1.0 204\r\n\r\n")
        assert (h.version, h.status, h.reason) == ("HTTP/1.0", 204, "")
        assert h.summary() == "HTTP/1.0 204"

    def test_reason_phrase_keeps_its_spaces(self) -> None:
        assert head(b"HTTP/1.1 404 Not Found\r\n\r\n").reason == "Not Found"

    @pytest.mark.parametrize("code", [b"2000", b"20", b"abc", b"\xb2\xb3\xb9"])
    def test_status_that_is_not_three_digits_is_none(self, code: bytes) -> None:
        h = head(b"HTTP/1.1 " + code + b" Weird\r\n\r\n")
        assert h.status is None
        assert h.summary() == "HTTP/1.1 ? Weird"


class TestSegmentBoundaries:
    def test_head_cut_mid_header_keeps_the_whole_lines(self) -> None:
        h = head(b"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: cu")
        assert h.headers == (("Host", "example.com"),)
        assert (h.complete, h.body) == (False, b"")

    def test_head_cut_after_a_line_end_but_before_the_blank_line(self) -> None:
        h = head(b"GET / HTTP/1.1\r\nHost: example.com\r\n")
        assert h.headers == (("Host", "example.com"),)
        assert not h.complete

    def test_head_cut_between_cr_and_lf_of_the_blank_line(self) -> None:
        h = head(b"GET / HTTP/1.1\r\nHost: a\r\n\r")
        assert h.headers == (("Host", "a"),)
        assert not h.complete

    def test_start_line_cut_keeps_what_is_there(self) -> None:
        h = head(b"GET /very/long/pa")
        assert (h.method, h.target, h.version, h.complete) == ("GET", "/very/long/pa", "", False)

    def test_body_is_only_what_this_segment_holds(self) -> None:
        h = head(b"POST /f HTTP/1.1\r\nContent-Length: 100\r\n\r\nfirst part")
        assert (h.body, h.complete) == (b"first part", True)

    def test_bare_lf_line_before_a_crlf_blank_line_ends_the_head(self) -> None:
        h = head(b"GET / HTTP/1.1\nHost: a\n\r\nbody")
        assert (h.headers, h.body, h.complete) == ((("Host", "a"),), b"body", True)

    def test_continuation_segment_on_an_http_port_is_plain_data(self) -> None:
        """The middle of a body is not damage: a data layer, no Malformed marker."""
        frame = eth(ipv4_tcp(tcp(b'{"json": "body bytes"}', sport=80, dport=40000)))
        packet = decode(frame)
        assert types(packet) == [Ethernet, IPv4, TCP, Payload]
        assert packet.protocols == "eth:ipv4:tcp:data"
        assert not packet.truncated

    def test_decode_itself_returns_payload_for_non_http_bytes(self) -> None:
        layer, after = http.decode(b"xxGARBAGE", 2, 9)
        assert layer == Payload(b"GARBAGE")
        assert after is None


class TestSniff:
    @pytest.mark.parametrize(
        "start",
        [b"GET ", b"POST /", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS *", b"PATCH ",
         b"CONNECT ", b"TRACE ", b"HTTP/1.1 200", b"HTTP/1.0 "],
    )
    def test_http_starts(self, start: bytes) -> None:
        assert sniff(b"..." + start, 3, 3 + len(start))

    @pytest.mark.parametrize(
        "start",
        [b"", b"GET", b"GETX /", b"get / HTTP/1.1", b" GET /", b"HTTP/2 200", b"HTTP/1",
         b"PRI * HTTP/2.0", b"\x16\x03\x01\x02\x00", b"SSH-2.0-OpenSSH"],
    )
    def test_other_starts(self, start: bytes) -> None:
        assert not sniff(start, 0, len(start))

    def test_sniff_does_not_look_past_end(self) -> None:
        assert not sniff(b"GET / HTTP/1.1", 0, 3)

    def test_heuristic_finds_http_on_an_unregistered_port(self) -> None:
        frame = eth(ipv4_tcp(tcp(b"GET / HTTP/1.1\r\n\r\n", sport=51234, dport=3040)))
        assert types(decode(frame)) == [Ethernet, IPv4, TCP, HTTP]

    def test_heuristic_leaves_other_bytes_as_data(self) -> None:
        frame = eth(ipv4_tcp(tcp(b"hello\r\n", sport=51234, dport=3040)))
        assert types(decode(frame)) == [Ethernet, IPv4, TCP, Payload]


class TestBounds:
    def test_more_than_max_headers_stops_parsing(self) -> None:
        lines = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 5))
        h = head(b"GET / HTTP/1.1\r\n" + lines + b"\r\nbody")
        assert len(h.headers) == MAX_HEADERS
        assert h.headers[-1] == (f"X-{MAX_HEADERS - 1}", "v")
        assert (h.complete, h.body) == (False, b"")

    def test_exactly_max_headers_is_complete(self) -> None:
        lines = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS))
        h = head(b"GET / HTTP/1.1\r\n" + lines + b"\r\n")
        assert (len(h.headers), h.complete) == (MAX_HEADERS, True)

    def test_header_line_over_the_cap_stops_parsing_keeping_earlier_headers(self) -> None:
        payload = b"GET / HTTP/1.1\r\nA: b\r\nBig: " + b"x" * MAX_LINE + b"\r\nC: d\r\n\r\n"
        h = head(payload)
        assert h.headers == (("A", "b"),)
        assert not h.complete

    def test_header_line_exactly_at_the_cap_is_kept(self) -> None:
        value = b"x" * (MAX_LINE - len(b"Big: "))
        h = head(b"GET / HTTP/1.1\r\nBig: " + value + b"\r\n\r\n")
        assert h.header("big") == value.decode()
        assert h.complete

    def test_start_line_over_the_cap_is_shortened(self) -> None:
        h = head(b"GET /" + b"a" * (2 * MAX_LINE) + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        assert h.method == "GET"
        assert h.headers == ()
        assert not h.complete
        assert h.target is not None and len(h.target) < MAX_LINE


class TestTruncation:
    @pytest.mark.parametrize(
        ("frame", "start"),
        [
            pytest.param(GET, b"GET ", id="request"),
            pytest.param(RESPONSE, b"HTTP/1.", id="response"),
        ],
    )
    def test_every_cut_gives_a_prefix_chain_and_http_never_reports_damage(
        self, frame: bytes, start: bytes
    ) -> None:
        full = types(decode(frame))
        head_end = frame.index(b"\r\n\r\n") + 4
        for n in range(len(frame)):
            packet = decode(frame[:n])
            got = types(packet)
            last = packet.layers[-1] if packet.layers else None
            if isinstance(last, Malformed):
                assert last.truncated, (n, last)
                assert last.protocol != "http"
                assert got[:-1] == full[: len(got) - 1], n
            elif isinstance(last, Payload):  # e.g. "G", "GE", "GET": not yet an HTTP start
                assert 0 < n - PAYLOAD_AT < len(start), n
                assert got[:-1] == full[:-1]
            else:
                assert got == full[: len(got)], n
                if isinstance(last, HTTP):
                    assert last.complete == (n >= head_end), n
