"""Hostile input: traffic and files crafted to crash, hang or exhaust a dissector.

Each case is built here with ``tests/builders.py`` and checked for the three
promises of issue 8: no traceback, the damage reported as a value (a
``Malformed`` layer, a reader problem, an eviction), and work and memory that
stay bounded whatever the input claims.  Timing is left to the benchmarks
(``bench/bench_memory.py``); memory bounds are asserted with tracemalloc,
which counts allocations deterministically.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import struct
import sys
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from builders import eth, ipv4, ipv4_tcp, ipv6, pcap_bytes, tcp, udp
from pcapng_build import block, epb, idb, shb

import layerpeek
from layerpeek import DNS, TCP, IPv6, Malformed
from layerpeek.capture import open_capture
from layerpeek.cli import main
from layerpeek.commands.problems import EXIT_MALFORMED, MAX_CONNECTIONS_DEFAULT
from layerpeek.flows.events import ConnectionClosed, Event
from layerpeek.flows.tracker import DEFAULT_MAX_CONNECTIONS, TCPTracker
from layerpeek.flows.udp import UDPTracker
from layerpeek.http.decoding import DEFAULT_CAP, decode_body
from layerpeek.http.message import HTTPMessage
from layerpeek.http.reader import MAX_HEAD, MAX_HEADERS, RequestReader, ResponseReader
from layerpeek.layers import dns as dns_layer
from layerpeek.layers import http as http_layer
from layerpeek.layers.dns import MAX_POINTERS, decode_message
from layerpeek.packet import Packet

sys.path.insert(0, str(Path(__file__).resolve().parent / "flows"))
from flowwire import Wire, script  # the flow tests' scripted connections

# ---------------------------------------------------------------------------
# DNS: compression loops and pointer chains
# ---------------------------------------------------------------------------


def dns_header(qdcount: int = 1, ancount: int = 0) -> bytes:
    return struct.pack("!HHHHHH", 0x1234, 0x0100, qdcount, ancount, 0, 0)


def dns_frame(message: bytes) -> Packet:
    return layerpeek.decode(eth(ipv4(udp(message, dport=53), proto=17)))


def test_a_name_pointing_at_itself_is_invalid_not_an_endless_loop() -> None:
    message = dns_header() + b"\xc0\x0c" + b"\x00\x01\x00\x01"  # offset 12 → offset 12
    packet = dns_frame(message)
    bad = packet.malformed
    assert bad is not None and not bad.truncated
    assert "does not point before" in bad.reason
    assert packet[DNS].complete is False


def test_two_names_pointing_at_each_other_are_invalid() -> None:
    # Question 1 at 12 points forward to 18; question 2 at 18 points back to 12.
    message = dns_header(2) + b"\xc0\x12" + b"\x00\x01\x00\x01" + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    bad = dns_frame(message).malformed
    assert bad is not None and "does not point before offset" in bad.reason


def pointer_chain(answers: int) -> bytes:
    """A message whose n-th answer's name is a pointer to the (n-1)-th answer's name.

    The question holds the name ``a`` at offset 12 and answer 0 points there,
    so answer k resolves through k + 1 pointers: the work per name grows with
    the chain unless pointers per name are capped (MAX_POINTERS) and names
    already read are remembered.
    """
    message = bytearray(dns_header(1, answers) + b"\x01a\x00" + b"\x00\x01\x00\x01")
    target = 12
    for _ in range(answers):
        here = len(message)
        message += struct.pack("!H", 0xC000 | target)
        message += struct.pack("!HHIH", 1, 1, 60, 4) + b"\x7f\x00\x00\x01"
        target = here
    return bytes(message)


def test_a_pointer_chain_up_to_the_limit_resolves() -> None:
    message = pointer_chain(MAX_POINTERS)
    layer, after = decode_message(message, 0, len(message))
    assert after is None
    assert isinstance(layer, DNS) and len(layer.answers) == MAX_POINTERS
    assert {record.name for record in layer.answers} == {"a"}


def test_a_pointer_chain_past_the_limit_stops_with_the_records_before_it_kept() -> None:
    message = pointer_chain(MAX_POINTERS + 1)
    layer, after = decode_message(message, 0, len(message))
    assert isinstance(layer, DNS) and len(layer.answers) == MAX_POINTERS
    assert isinstance(after, Malformed) and not after.truncated
    assert after.reason.startswith(f"dns.answers[{MAX_POINTERS}]: more than {MAX_POINTERS}")


def test_a_chain_of_pointers_is_walked_once_per_message_not_once_per_record() -> None:
    # 128 answers, each naming the previous one: without the per-message name
    # cache every answer re-walks the whole chain (128 × 129 / 2 steps, about
    # 0.25 s for a 64 kB message).  Counted, not timed: the one label is
    # decoded once, for the question.
    message = pointer_chain(MAX_POINTERS)
    with patch.object(dns_layer, "_label_text", wraps=dns_layer._label_text) as label_text:
        layer, after = decode_message(message, 0, len(message))
    assert after is None and isinstance(layer, DNS) and len(layer.answers) == MAX_POINTERS
    assert label_text.call_count == 1


def test_pointers_that_hop_forward_and_back_cannot_loop() -> None:
    # Question 1's name points forward into question 2, whose name points back.
    message = (
        dns_header(2) + b"\xc0\x12\x00\x01\x00\x01" + b"\x01b\xc0\x0c\x00\x01\x00\x01"
    )
    layer, after = decode_message(message, 0, len(message))
    assert isinstance(layer, DNS) and layer.questions == ()
    assert isinstance(after, Malformed) and "does not point before offset 12" in after.reason


# ---------------------------------------------------------------------------
# IPv6 extension-header chains hundreds long
# ---------------------------------------------------------------------------


def destination_options_chain(count: int, last: int = 17) -> bytes:
    """``count`` 8-byte Destination Options headers (PadN only), then ``last``."""
    out = b""
    for i in range(count):
        nh = last if i == count - 1 else 60
        out += bytes([nh, 0, 1, 4, 0, 0, 0, 0])
    return out


@pytest.mark.parametrize("count", [65, 300, 8000])
def test_an_extension_chain_hundreds_long_stops_at_the_cap_with_the_headers_kept(
    count: int,
) -> None:
    payload = destination_options_chain(count) + udp(b"x")
    packet = layerpeek.decode(eth(ipv6(payload, next_header=60)))
    ip = packet[IPv6]
    assert len(ip.extensions) == 64  # layerpeek.layers.ipv6.MAX_EXTENSIONS
    bad = packet.malformed
    assert bad is not None and not bad.truncated
    assert bad.reason == "ipv6: more than 64 extension headers"
    assert bad.offset == 14 + 40 + 64 * 8


def test_a_chain_of_64_extension_headers_still_reaches_udp() -> None:
    payload = destination_options_chain(64) + udp(b"x", dport=9)
    packet = layerpeek.decode(eth(ipv6(payload, next_header=60)))
    assert packet.protocols == "eth:ipv6:udp:data"


def test_a_chain_cut_by_its_payload_length_is_invalid_not_truncated() -> None:
    payload = destination_options_chain(10)
    packet = layerpeek.decode(eth(ipv6(payload, next_header=60, payload_len=20)))
    bad = packet.malformed
    assert bad is not None and not bad.truncated and "payload length leaves" in bad.reason


# ---------------------------------------------------------------------------
# TCP options with zero or overflowing lengths
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (b"\x02\x00\x00\x00", "tcp.options[0].length 0 < 2"),  # would never advance
        (b"\x02\x01\x00\x00", "tcp.options[0].length 1 < 2"),
        (b"\x01\x01\x08\x28", "tcp.options[2].length 40 overflows the header (2 bytes left)"),
        (b"\x01\x01\x01\x05", "tcp.options[3].length: missing, option 5 ends the header"),
        (b"\x02\x04\x05\xb4\xfe\xff\x00\x00", "tcp.options[1].length 255 overflows"),
    ],
)
def test_option_lengths_that_are_zero_or_overflow_are_malformed_with_the_header_kept(
    options: bytes, reason: str
) -> None:
    packet = layerpeek.decode(eth(ipv4_tcp(tcp(b"payload", flags="S", options=options))))
    header = packet[TCP]
    assert header.syn and header.header_len == 20 + len(options)
    bad = packet.malformed
    assert bad is not None and not bad.truncated and bad.protocol == "tcp"
    assert bad.reason.startswith(reason)
    assert bad.data.endswith(b"payload"), "the bytes after the damage are kept"


def test_a_header_length_past_the_segment_is_reported() -> None:
    segment = tcp(b"", data_offset_words=15)  # claims 60 bytes, has 20
    packet = layerpeek.decode(eth(ipv4_tcp(segment)))
    bad = packet.malformed
    assert bad is not None and bad.protocol == "tcp"
    assert "header length 60 but 20 bytes left" in bad.reason


# ---------------------------------------------------------------------------
# Capture files whose lengths lie
# ---------------------------------------------------------------------------

FRAME = eth(ipv4_tcp(tcp(b"hello")))


def read_all(data: bytes) -> tuple[list[bytes], list[str]]:
    reader = open_capture(io.BytesIO(data))
    frames = [f.data for f in reader]
    return frames, reader.problems


def raw_block(btype: int, length: int, body: bytes, trailer: int | None = None) -> bytes:
    return struct.pack("<II", btype, length) + body + struct.pack(
        "<I", length if trailer is None else trailer
    )


@pytest.mark.parametrize(
    ("bad_block", "problem"),
    [
        (raw_block(6, 8, b""), "impossible length 8"),  # shorter than its own framing
        (raw_block(6, 0, b""), "impossible length 0"),
        (raw_block(6, 0xFFFFFFFC, b"\x00" * 20), "impossible length 4294967292"),
        (raw_block(6, 22, b"\x00" * 10), "impossible length 22"),  # not a multiple of 4
        (raw_block(6, 32, b"\x00" * 20, trailer=36), "trailing length 36 differs from 32"),
    ],
)
def test_pcapng_block_lengths_that_lie_stop_the_reader_with_every_frame_before_kept(
    bad_block: bytes, problem: str
) -> None:
    good = shb() + idb() + epb("<", 0, 1, FRAME)
    frames, problems = read_all(good + bad_block + epb("<", 0, 2, FRAME))
    assert frames == [FRAME]
    assert len(problems) == 1 and problem in problems[0]
    assert f"at byte {len(good)}" in problems[0]


def test_a_packet_block_claiming_more_captured_bytes_than_it_holds_is_cut_to_the_block() -> None:
    body = struct.pack("<IIIII", 0, 0, 1, 5000, 5000) + FRAME + b"\x00" * (-len(FRAME) % 4)
    frames, problems = read_all(shb() + idb() + block("<", 6, body) + epb("<", 0, 2, FRAME))
    assert frames[0].startswith(FRAME) and frames[1] == FRAME
    assert len(problems) == 1 and "captured length 5000 exceeds the block" in problems[0]


def test_a_block_claiming_hundreds_of_megabytes_is_not_allocated() -> None:
    # 200 MB is more than an Ethernet packet block may take: it is reported and
    # passed over unread; the file ends inside it, and nothing near 200 MB was
    # ever allocated.
    lying = struct.pack("<II", 6, 200 * 1024 * 1024) + b"\x00" * 64
    tracemalloc.start()
    try:
        frames, problems = read_all(shb() + idb() + epb("<", 0, 1, FRAME) + lying)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(frames) == 1
    assert "skipped unread" in problems[0] and "cut by end of file" in problems[-1]
    assert peak < 5 * 1024 * 1024


def test_a_pcap_record_claiming_four_gigabytes_stops_the_reader_with_a_problem() -> None:
    data = pcap_bytes([FRAME]) + struct.pack("<IIII", 1, 0, 0xFFFFFFFF, 60) + FRAME
    frames, problems = read_all(data)
    assert frames == [FRAME]
    assert len(problems) == 1 and "captured length 4294967295 is impossible" in problems[0]


def test_a_corrupt_gzip_capture_is_one_clear_error_not_a_zlib_traceback() -> None:
    # Found by the readers fuzzer (tests/fuzz/crashes/readers/): zlib.error is
    # not an OSError, and escaped from gzip's read().
    data = b"\x1f\x8b\x08" + b"\x00" * 17 + b"\xb2\xa1\x00" + b"\xe3" * 5
    with pytest.raises(layerpeek.CaptureFormatError, match="decompressing"):
        read_all(data)


# ---------------------------------------------------------------------------
# A flood of SYNs to distinct ports: the connection table stays bounded
# ---------------------------------------------------------------------------


def syn_flood(count: int) -> bytes:
    """A pcap of ``count`` SYNs from one client to ``count`` distinct (addr, port) pairs.

    One record is built with the builders, then copied ``count`` times into a
    preallocated buffer and patched in place with ``struct.pack_into``
    (destination address and port, timestamp), so even a million records take
    about a second; checksums are left stale (layerpeek does not verify them).
    """
    template = pcap_bytes([eth(ipv4_tcp(tcp(flags="S", sport=40000, dport=1, seq=7)))])
    header, record = template[:24], template[24:]
    out = bytearray(header + record * count)
    base = 24
    size = len(record)
    for i in range(count):
        at = base + i * size
        struct.pack_into("<I", out, at, 1_700_000_000 + i // 1_000_000)  # ts_sec
        struct.pack_into("<I", out, at + 4, i % 1_000_000)  # ts_usec
        struct.pack_into("!BB", out, at + 16 + 14 + 18, (i >> 16) & 0xFF, (i >> 8) & 0xFF)
        struct.pack_into("!H", out, at + 16 + 14 + 20 + 2, 1 + i % 60000)  # dst port
    return bytes(out)


def feed(tracker: TCPTracker, packets: Iterator[Packet]) -> list[Event]:
    events: list[Event] = []
    for packet in packets:
        events += tracker.feed(packet)
    return events


FLOOD = 5_000
CAP = 500


def test_a_syn_flood_keeps_the_table_at_its_cap_and_reports_every_eviction() -> None:
    tracker = TCPTracker(max_connections=CAP)
    events = feed(tracker, iter(layerpeek.read(io.BytesIO(syn_flood(FLOOD)))))
    assert len(tracker.conversations) == FLOOD  # every SYN was a distinct connection
    assert tracker.tracked_connections == CAP
    assert tracker.evicted == FLOOD - CAP
    evicted = [e for e in events if isinstance(e, ConnectionClosed) and e.how == "evicted"]
    # Oldest first: the first FLOOD - CAP connections went, in order.
    assert [e.conversation for e in evicted] == list(range(FLOOD - CAP))
    assert tracker.conversations[0].close.kind == "evicted"
    assert tracker.conversations[FLOOD - 1].close.kind == "open"
    finished = tracker.finish()
    assert sum(isinstance(e, ConnectionClosed) for e in finished) == CAP


def test_under_a_flood_only_the_small_summaries_outlive_the_table() -> None:
    # tracemalloc counts the bytes still allocated, deterministically.  An
    # evicted connection keeps only its TCPConversation summary (what `flows`
    # lists); its runtime state (sides, reassemblers, sequence analysis) goes.
    def retained_per_syn(cap: int) -> float:
        packets = list(layerpeek.read(io.BytesIO(syn_flood(3000))))
        tracemalloc.start()
        try:
            tracker = TCPTracker(max_connections=cap)
            feed(tracker, iter(packets))
            return tracemalloc.get_traced_memory()[0] / 3000
        finally:
            tracemalloc.stop()

    assert retained_per_syn(200) < 0.7 * retained_per_syn(1_000_000)


def test_an_active_connection_survives_while_idle_ones_are_evicted() -> None:
    flood = list(layerpeek.read(io.BytesIO(syn_flood(300))))
    tracker = TCPTracker(max_connections=100)
    events = feed(tracker, iter(flood[:1]))  # connection 0: the one we keep busy
    for packet in flood[1:]:
        events += tracker.feed(packet)
        events += tracker.feed(flood[0])  # its SYN again: a retransmission, so it stays recent
    closed = {e.conversation for e in events if isinstance(e, ConnectionClosed)}
    assert 0 not in closed
    assert tracker.evicted == 300 - 100


def test_the_default_cap_is_documented_and_generous() -> None:
    assert DEFAULT_MAX_CONNECTIONS == TCPTracker()._max_connections >= 10_000
    with pytest.raises(ValueError, match="max_connections"):
        TCPTracker(max_connections=0)


def test_a_huge_http_head_is_cut_at_the_documented_limits() -> None:
    # The per-packet HTTP head parser (layers/http.py) on a 1 MB header line
    # and on a million tiny header lines: bounded output, the cut reported by
    # complete=False.
    long_line = b"GET / HTTP/1.1\r\nX-Long: " + b"a" * (1 << 20) + b"\r\n\r\n"
    layer, _ = http_layer.decode(long_line, 0, len(long_line))
    assert isinstance(layer, layerpeek.HTTP) and not layer.complete
    assert layer.headers == () and layer.target == "/"
    many = b"GET / HTTP/1.1\r\n" + b"a:b\r\n" * 1_000_000 + b"\r\n"
    tracemalloc.start()
    try:
        layer, _ = http_layer.decode(many, 0, len(many))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(layer, layerpeek.HTTP) and not layer.complete
    assert len(layer.headers) == http_layer.MAX_HEADERS
    # The latin-1 text of the head (5 MB) once, not a million small strings.
    assert peak < 2 * len(many) + (1 << 20)


# ---------------------------------------------------------------------------
# HTTP streams: huge heads, endless headers, absurd chunk sizes, gzip bombs
# ---------------------------------------------------------------------------


def read_requests(stream: bytes, piece: int = 4096) -> tuple[list[HTTPMessage], list[str], int]:
    """Messages, reader problems and peak traced memory, fed in ``piece``-byte segments."""
    reader = RequestReader()
    messages: list[HTTPMessage] = []
    tracemalloc.start()
    try:
        for i in range(0, len(stream), piece):
            messages += reader.feed(stream[i : i + piece])
        messages += reader.finish("fin")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return messages, reader.problems, peak


NEXT = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"


def test_a_1_mb_header_line_is_cut_at_the_head_cap_and_the_next_request_still_read() -> None:
    stream = b"GET /big HTTP/1.1\r\nX-Long: " + b"a" * (1 << 20) + b"\r\n\r\n" + NEXT
    messages, _problems, peak = read_requests(stream)
    big, after = messages
    assert big.target == "/big" and not big.complete
    assert f"head larger than {MAX_HEAD} bytes" in big.problems
    assert after.target == "/next" and after.complete
    assert peak < 4 * MAX_HEAD + (64 << 10), "the reader never held the whole megabyte"


def test_a_million_tiny_headers_keep_at_most_the_header_cap() -> None:
    stream = b"GET /many HTTP/1.1\r\n" + b"a:b\r\n" * 1_000_000 + b"\r\n" + NEXT
    messages, _problems, peak = read_requests(stream, piece=1 << 16)
    many, after = messages
    assert many.target == "/many" and not many.complete
    assert len(many.headers) <= MAX_HEADERS
    assert after.target == "/next"
    assert peak < 16 * MAX_HEAD


def test_more_header_fields_than_the_cap_within_the_head_size_are_flagged() -> None:
    stream = b"GET /h HTTP/1.1\r\n" + b"a:b\r\n" * 5000 + b"\r\n"
    (message,), _, _ = read_requests(stream)
    assert len(message.headers) == MAX_HEADERS
    assert f"more than {MAX_HEADERS} header fields (the rest dropped)" in message.problems


def chunked(size_line: bytes, data: bytes = b"abc") -> bytes:
    return (
        b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + size_line + b"\r\n" + data
    )


def test_a_chunk_size_of_2_to_the_64_is_a_bad_chunk_not_an_allocation() -> None:
    stream = chunked(b"%x" % (1 << 64)) + b"\r\n0\r\n\r\n" + NEXT
    (message, after), problems, peak = read_requests(stream)
    assert not message.complete
    assert "bad chunk size line '10000000000000000'" in message.problems
    assert problems == ["skipped 29 bytes after a bad chunk"]  # the reader resynchronised
    assert after.target == "/next" and after.complete
    assert peak < 1 << 20


def test_the_largest_chunk_size_waits_for_data_that_never_comes() -> None:
    messages, _, peak = read_requests(chunked(b"ffffffffffffffff", b"x" * 10000))
    (message,) = messages
    assert not message.complete and message.body == b"x" * 10000
    assert any("chunked body incomplete" in p for p in message.problems)
    assert peak < 1 << 20


def gzip_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    return b"".join(compressor.compress(block) for _ in range(size >> 20)) + compressor.flush()


def test_a_gzip_bomb_decodes_only_up_to_the_cap() -> None:
    bomb = gzip_bomb(256 << 20)  # 256 MB of zeros in about 250 kB
    assert len(bomb) < 300_000
    stream = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
        + bomb
    )
    reader = ResponseReader()
    (message,) = reader.feed(stream) + reader.finish("fin")
    assert message.complete and message.body == bomb
    cap = 1 << 20
    tracemalloc.start()
    try:
        decoded = message.decoded(cap)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not decoded.complete and decoded.problem
    assert len(decoded.data) <= cap
    assert peak < 4 * cap + 2 * len(bomb)
    assert DEFAULT_CAP == 64 << 20  # the documented default when no cap is given


def test_gzip_inside_gzip_is_capped_at_every_layer() -> None:
    inner = gzip_bomb(64 << 20)
    outer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    body = outer.compress(inner) + outer.flush()
    decoded = decode_body(body, ["gzip", "gzip"], cap=1 << 20)
    assert not decoded.complete and len(decoded.data) <= 1 << 20


def test_without_kept_summaries_a_long_capture_leaves_only_the_table() -> None:
    # What `dump` uses: the events and per-packet facts, not the summaries.
    tracker = TCPTracker(max_connections=CAP, keep_conversations=False)
    feed(tracker, iter(layerpeek.read(io.BytesIO(syn_flood(FLOOD)))))
    assert len(tracker.conversations) == CAP == tracker.tracked_connections
    assert min(tracker.conversations) == FLOOD - CAP  # the newest are the ones left
    assert tracker.evicted == FLOOD - CAP


def test_a_udp_flood_to_distinct_ports_is_bounded_the_same_way() -> None:
    datagrams = [
        eth(ipv4(udp(b"x", sport=40000, dport=1 + i), proto=17)) for i in range(3000)
    ]
    tracker = UDPTracker(max_connections=100, keep_conversations=False)
    for i, packet in enumerate(layerpeek.read(io.BytesIO(pcap_bytes(datagrams))), 1):
        conv, _direction = tracker.feed(packet) or (None, "")
        assert conv is not None and conv.id == i - 1  # ids never repeat
    assert tracker.evicted == 2900 and len(tracker.conversations) == 100


# ---------------------------------------------------------------------------
# The CLI: a summary of every problem met, and --strict
# ---------------------------------------------------------------------------


def damaged_capture(tmp_path: Path) -> Path:
    """Two good frames, two with a bad option length, one cut in its IPv4 header,
    and a last record cut by the end of the file."""
    good = eth(ipv4_tcp(tcp(b"hi", flags="PA")))
    bad = eth(ipv4_tcp(tcp(b"x", flags="S", options=b"\x02\x00\x00\x00")))
    worse = eth(ipv4_tcp(tcp(b"x", flags="S", options=b"\x01\x01\x08\x28")))
    cut = eth(ipv4_tcp(tcp(b"")))[:20]
    data = pcap_bytes([good, bad, good, worse, cut]) + struct.pack("<IIII", 1, 0, 60, 60) + b"ab"
    path = tmp_path / "damaged.pcap"
    path.write_bytes(data)
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", [["dump"], ["dump", "--json"], ["dump", "-V"], ["flows"],
                                     ["handshake"]])
def test_every_command_ends_with_a_summary_of_the_problems_it_met(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run_cli(capsys, *command, str(damaged_capture(tmp_path)))
    assert code == 0
    summary = err[err.index("layerpeek: problems in") :].splitlines()
    # The bad SYN's byte "x" lands where "hi" was: the stream commands say so too.
    conflict = "" if command == ["handshake"] else ", 1 conflicting retransmission"
    assert summary[0] == (
        f"layerpeek: problems in 3 of 5 packets: 2 malformed, 1 truncated, 1 file problem"
        f"{conflict}"
    )
    rows = [line.split(None, 2) for line in summary[1:]]
    assert ["malformed", "1", "tcp: tcp.options[N].length N < N"] in rows
    assert ["malformed", "1", "tcp: tcp.options[N].length N overflows the header (N bytes left)"
            ] in rows
    assert ["truncated", "1", "ipv4: need N bytes, have N"] in rows
    assert ["file", "1"] in [row[:2] for row in rows]
    assert "cut by end of file" in err.splitlines()[0], "the file warning itself comes first"


@pytest.mark.parametrize("command", [["dump"], ["flows"], ["handshake"]])
def test_strict_turns_a_damaged_capture_into_exit_code_3(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, _err = run_cli(capsys, *command, "--strict", str(damaged_capture(tmp_path)))
    assert code == EXIT_MALFORMED == 3


@pytest.mark.parametrize("command", [["dump"], ["flows"], ["handshake"], ["follow", "0"]])
def test_a_clean_capture_prints_no_summary_and_strict_passes(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "clean.pcap"
    path.write_bytes(pcap_bytes([eth(ipv4_tcp(tcp(b"hi", flags="PA")))]))
    code, _out, err = run_cli(capsys, command[0], "--strict", str(path), *command[1:])
    assert (code, err) == (0, "")


def test_follow_summarises_stream_gaps_which_do_not_fail_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = Wire()
    packets = script(w, "c S", "s SA", "c A")
    packets.append(w.s("PA", b"abcd"))
    w.lost("s", b"LOST")
    packets.append(w.s("PA", b"efgh"))
    packets += script(w, "c A", "s FA", "c FA", "s A")
    path = tmp_path / "lossy.pcap"
    path.write_bytes(pcap_bytes([p.data for p in packets], step_ns=w.step_ns))
    code, _out, err = run_cli(capsys, "follow", "--strict", str(path), "0")
    assert code == 0
    assert "layerpeek: problems: 1 stream gap" in err
    assert "4 TCP bytes never captured (acked 1)" in err


def test_flows_bounds_its_table_and_reports_the_evictions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "syns.pcap"
    path.write_bytes(syn_flood(300))
    code, out, err = run_cli(capsys, "flows", "--strict", "--max-connections", "100", str(path))
    assert code == 0, "evictions are reported, not damage"
    assert len(out.splitlines()) == 1 + 300
    assert "evicted" in out.splitlines()[1]
    assert "layerpeek: problems: 200 evicted" in err
    assert "(TCP 200, UDP 0; see --max-connections)" in err


def test_max_connections_must_be_positive_and_its_default_is_the_trackers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["flows", "--max-connections", "0", "x.pcap"]) == 2
    assert "must be at least 1" in capsys.readouterr().err
    assert MAX_CONNECTIONS_DEFAULT == DEFAULT_MAX_CONNECTIONS


def test_the_exit_codes_are_documented_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "3    --strict: a packet was malformed or truncated" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# Issue 16: IP defragmentation past 65,535 bytes, and duplicates
# ---------------------------------------------------------------------------

from hostile_inputs import (  # noqa: E402
    capture,
    duplicate_fragments,
    huge_record,
    oversize_datagram,
)
from workcount import Counted, count_work, growth  # noqa: E402

from layerpeek.flows import conversations  # noqa: E402
from layerpeek.flows.defrag import MAX_FRAGMENTS, Defragmenter  # noqa: E402


def decoded(frames: list[bytes]) -> Iterator[Packet]:
    for n, frame in enumerate(frames, 1):
        yield dataclasses.replace(layerpeek.decode(frame), index=n, ts_ns=n)


@pytest.mark.parametrize("version", [4, 6])
def test_a_datagram_rebuilt_past_65535_bytes_is_a_problem_with_its_fragments_kept(
    version: int,
) -> None:
    d = Defragmenter()
    frames = oversize_datagram(version)
    results = [d.process(p) for p in decoded(frames)]
    last, info = results[-1]
    assert info is not None and not info.complete
    assert "more than the 65535" in info.problems[-1] and "fragments kept" in info.problems[-1]
    assert last.protocols.endswith("data")  # the fragment itself, not a rebuilt datagram
    assert d.given_up == 1 and "not rebuilt" in d.problems[-1] and d.pending == 0


@pytest.mark.parametrize("version", [4, 6])
@pytest.mark.parametrize("command", [["dump"], ["dump", "--no-flows"], ["flows"],
                                     ["follow", "--udp"], ["http"], ["dns"], ["explain"],
                                     ["handshake"]])
def test_every_defragmenting_command_survives_an_oversize_datagram(
    version: int, command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.pcap"
    path.write_bytes(capture(oversize_datagram(version)))
    stream = ["0"] if command[0] == "follow" else []
    code, _out, err = run_cli(capsys, *command, str(path), *stream)
    assert code == (2 if stream else 0)  # follow: the datagram never became a UDP stream
    assert "Traceback" not in err


def test_conversations_survive_an_oversize_datagram(tmp_path: Path) -> None:
    path = tmp_path / "big.pcap"
    path.write_bytes(capture(oversize_datagram(6)))
    assert conversations(str(path)) == []  # its fragments never made a UDP datagram


def test_duplicate_fragments_cost_linear_work_and_the_datagram_is_bounded() -> None:
    def run(n: int) -> Callable[[], None]:
        packets = list(decoded(duplicate_fragments(n)))

        def go() -> None:
            d = Defragmenter()
            for p in packets:
                d.process(p)
        return go

    assert growth(run, 500) < 5  # the old pieces/seen scans grew 16-fold here
    d = Defragmenter()
    for p in decoded(duplicate_fragments(MAX_FRAGMENTS + 10)):
        d.process(p)
    assert d.given_up == 1 and f"more than {MAX_FRAGMENTS} fragments" in d.problems[-1]
    assert d.pending == 1  # the duplicates after the drop started a new datagram


def test_the_fragment_count_in_the_summary_counts_past_the_kept_problem_lines() -> None:
    d = Defragmenter(max_datagrams=1)
    frames = [duplicate_fragments(1)[0][:18] + struct.pack("!H", n) + duplicate_fragments(1)[0][20:]
              for n in range(1500)]
    for p in decoded(frames):
        d.process(p)
    assert d.given_up == 1499 and len(d.problems) == 1000


def test_work_counting_sees_a_quadratic_loop() -> None:
    """The yardstick itself: a list scanned per item grows k², a dict lookup k."""
    def quadratic(n: int) -> Callable[[], None]:
        def go() -> None:
            items: list[int] = []
            for x in range(n):
                items.insert(0, x)
        return go

    assert growth(quadratic, 200, root=__file__) > 12
    assert count_work(lambda: None).total == 0


# ---------------------------------------------------------------------------
# Issue 16: unsafe writes: what may be replaced, full devices, the .part rule
# ---------------------------------------------------------------------------

import errno  # noqa: E402
import os  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402

from layerpeek.commands import http as http_command  # noqa: E402
from layerpeek.commands import live as live_command  # noqa: E402
from layerpeek.commands.common import CommandError  # noqa: E402

PUBLIC = Path(__file__).resolve().parents[1].parent / "shared" / "captures" / "public"
SMALL_HTTP = Path(__file__).resolve().parents[1] / "captures" / "http_get_post.pcap"


def export_argv(target: Path, *more: str) -> list[str]:
    return ["export", str(SMALL_HTTP), "--parquet", str(target), "-q", *more]


def odd_targets(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "link.parquet"
    link.symlink_to(victim)
    folder = tmp_path / "folder"
    folder.mkdir()
    targets = {"fifo": fifo, "symlink": link, "directory": folder}
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        targets["device"] = device
    except (PermissionError, OSError):
        pass  # not root: device nodes cannot be made, the other kinds still are checked
    return targets


@pytest.mark.parametrize("what", ["packets", "conversations"])
def test_export_refuses_to_replace_anything_but_a_regular_file(
    what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for kind, target in odd_targets(tmp_path).items():
        before = os.lstat(target)
        code, _out, err = run_cli(capsys, *export_argv(target, "--what", what))
        assert code == 1, kind
        assert "refusing to replace it" in err and "Traceback" not in err
        after = os.lstat(target)
        assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode), kind
        assert not Path(str(target) + ".part").exists()
    assert (tmp_path / "victim.txt").read_text() == "precious"


def test_export_replaces_a_regular_file_only_when_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    target = tmp_path / "out.parquet"
    target.write_bytes(b"old")

    def full(table: object, where: str, **kwargs: object) -> None:
        Path(where).write_bytes(b"PAR1 cut")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    code, _out, err = run_cli(capsys, *export_argv(target, "--what", "conversations"))
    assert code == 1 and "No space left on device" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert target.read_bytes() == b"old" and not Path(str(target) + ".part").exists()
    monkeypatch.undo()
    assert run_cli(capsys, *export_argv(target, "--what", "conversations"))[0] == 0
    assert target.read_bytes()[:4] == b"PAR1"


def test_export_packets_on_a_full_disk_leaves_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    def full(self: object, table: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    target = tmp_path / "out.parquet"
    code, _out, err = run_cli(capsys, *export_argv(target))
    assert code == 1 and "No space left on device" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize("command", [["dump"], ["dump", "--json"], ["flows"], ["http"],
                                     ["explain"], ["dns"]])
def test_stdout_on_a_full_device_is_one_line_and_exit_1(command: list[str]) -> None:
    # dns needs DNS to write anything: with none its stdout stays empty
    capture = SMALL_HTTP.with_name("page_load.pcap") if command == ["dns"] else SMALL_HTTP
    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, "-m", "layerpeek", *command, str(capture)],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == ["layerpeek: output: cannot write: "
                                                "No space left on device"]


class FakeLive:
    linktype = 1
    interface = "lo"
    snaplen = 262144


def one_packet() -> Packet:
    return layerpeek.decode(eth(ipv4_tcp(tcp(b"hi", flags="PA"))))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_live_w_to_a_full_device_is_one_clear_error() -> None:
    fileobj, part = live_command._open_output("/dev/full")  # a device: written through
    assert part is None
    with pytest.raises(CommandError, match="No space left on device"):
        live_command._recorder(FakeLive(), fileobj, "/dev/full", part)
    live_command._close_quietly(fileobj)  # what capture()'s ExitStack does


def test_live_w_writes_a_part_file_renamed_only_on_a_clean_stop(tmp_path: Path) -> None:
    target = tmp_path / "cap.pcapng"
    fileobj, part = live_command._open_output(str(target))
    assert part == str(target) + ".part" and not target.exists()
    record = live_command._recorder(FakeLive(), fileobj, str(target), part)
    record(one_packet())
    assert Path(part).stat().st_size > 0 and not target.exists()
    fileobj.close()
    from layerpeek.commands import outfile
    outfile.finish(part, str(target))
    assert [p.name for p in tmp_path.iterdir()] == ["cap.pcapng"]
    assert len(list(layerpeek.read(str(target)))) == 1
    with pytest.raises(CommandError, match="symbolic link"):
        (tmp_path / "l").symlink_to(target)
        live_command._open_output(str(tmp_path / "l"))


def test_a_body_export_on_a_full_disk_leaves_no_cut_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.fdopen

    class Full:
        def __init__(self, fd: int) -> None:
            self.f = real(fd, "wb")

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

        def write(self, data: bytes) -> int:
            self.f.write(data[:3])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Full(fd))
    with pytest.raises(CommandError, match="No space left on device"):
        http_command._write_new(str(tmp_path), "page.html", b"<html>")
    assert list(tmp_path.iterdir()) == []


def test_exporting_many_bodies_of_one_name_does_linear_work(tmp_path: Path) -> None:
    runs = iter(range(10))

    def write(n: int) -> Callable[[], None]:
        folder = tmp_path / str(next(runs))
        folder.mkdir()

        def go() -> None:
            for _ in range(n):
                http_command._write_new(str(folder), "index.html", b"x")
        return go

    assert growth(write, 50) < 5  # restarting the search at (1) per body grew 16-fold
    names = sorted(p.name for p in (tmp_path / "1").iterdir())
    assert len(names) == 200 and "index(199).html" in names and "index.html" in names


# ---------------------------------------------------------------------------
# Issue 16: super-linear paths, each measured by counting work (tests/workcount.py)
# ---------------------------------------------------------------------------

from layerpeek.flows.reassembly import PIECE_OVERHEAD, StreamReassembler  # noqa: E402


def reassemble(segments: list[tuple[int, bytes]]) -> Callable[[], None]:
    def go() -> None:
        r = StreamReassembler(0, "client", cap=1 << 30)
        r.start(0)
        out: list[Event] = []
        for n, (offset, data) in enumerate(segments):
            r.segment(offset, data, n, n, out)
        r.flush("end of capture", 0, out)
    return go


def test_one_byte_segments_in_descending_order_are_reassembled_in_linear_work() -> None:
    assert growth(lambda n: reassemble([(i, b"x") for i in range(n, -1, -1)]), 2000) < 5


def test_one_byte_segments_behind_a_hole_drain_in_linear_work() -> None:
    assert growth(lambda n: reassemble([(i, b"x") for i in range(1, n)] + [(0, b"x")]),
                  2000) < 5


def test_segments_in_random_order_are_reassembled_in_n_log_n_work() -> None:
    import random

    def shuffled(n: int) -> Callable[[], None]:
        order = list(range(n))
        random.Random(n).shuffle(order)
        return reassemble([(i * 2, b"xy") for i in order])
    assert growth(shuffled, 2000) < 6


def test_retransmissions_compare_only_the_history_they_overlap() -> None:
    def retransmit(n: int) -> Callable[[], None]:
        delivered = [(i, b"x") for i in range(16 * 1024)]  # a full comparison window
        return reassemble(delivered + [(100, b"x")] * n)
    small = count_work(retransmit(100)).total
    large = count_work(retransmit(400)).total
    per_retransmission = (large - small) / 300
    assert per_retransmission < 200  # scanning the 16,384 kept pieces cost ~16,000 each


def test_waiting_pieces_are_charged_their_bookkeeping_against_the_cap() -> None:
    r = StreamReassembler(0, "client", cap=100 * (1 + PIECE_OVERHEAD))
    r.start(0)
    out: list[Event] = []
    for i in range(1, 1000):
        r.segment(i * 2, b"x", i, i, out)
    assert r.buffered <= 100  # one-byte pieces: the cap counts ~250 B each, not 1


def test_a_mid_stream_connection_is_probed_in_linear_work() -> None:
    from layerpeek.flows.events import StreamData
    from layerpeek.http.pairing import HTTPPairer

    def probe(n: int) -> Callable[[], None]:
        def go() -> None:
            pairer = HTTPPairer()
            for i in range(n):  # one byte per segment, no request line yet
                pairer.feed(StreamData(7, "client", i, b"a", (i,), i))
        return go
    assert growth(probe, 500) < 5  # rebuilding and searching the held bytes grew 16-fold


def test_a_mid_stream_probe_still_finds_the_roles_byte_by_byte() -> None:
    from layerpeek.flows.events import ConnectionClosed, StreamData
    from layerpeek.http.pairing import HTTPPairer

    pairer = HTTPPairer()
    request = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    out = []
    # The tracker guessed wrong: the side it calls "client" sends the responses.
    for i, byte in enumerate(request):
        out += pairer.feed(StreamData(3, "server", i, bytes([byte]), (i,), i))
    for i, byte in enumerate(response):
        out += pairer.feed(StreamData(3, "client", i, bytes([byte]), (100 + i,), 100 + i))
    out += pairer.feed(ConnectionClosed(3, "fin", 0))  # type: ignore[call-arg]
    (exchange,) = out
    assert exchange.request is not None and exchange.request.target == "/a"
    assert exchange.response is not None and exchange.response.status == 200


def test_explain_runs_collect_their_frames_in_linear_work() -> None:
    from layerpeek.flows.events import StreamData
    from layerpeek.story import _add_run

    def download(n: int) -> Callable[[], None]:
        def go() -> None:
            runs: dict[int, list[Any]] = {}
            for i in range(n):  # frame numbers that count the comparisons made with them
                _add_run(runs, {}, StreamData(1, "server", i, b"x", (Counted(i),), i))
        return go
    assert growth(download, 1000) < 5  # `frame not in run.frames` grew 16-fold


def test_dns_over_tcp_in_one_byte_segments_is_framed_in_linear_work() -> None:
    from layerpeek.dnstx import _TCPFramer

    def framer(n: int) -> Callable[[], None]:
        message = struct.pack("!H", n - 2) + dns_header() + bytes(n - 14)  # one n-byte message

        def go() -> None:
            f = _TCPFramer()
            for i in range(n):
                f.feed(message[i : i + 1], (Counted(i),))
        return go
    assert growth(framer, 2000) < 5  # the frame list scanned per piece grew 16-fold


def test_a_nested_gzip_bomb_stops_at_the_first_implausible_layer() -> None:
    inner = gzip_bomb(64 << 20)
    body = zlib.compress(inner)  # deflate of gzip: ~300 bytes that would inflate to 64 MiB
    for _ in range(2):
        body = gzip.compress(body)
    produced = 0
    real = zlib.decompressobj

    class Counting:
        def __init__(self, wbits: int) -> None:
            self.d = real(wbits)

        def decompress(self, data: bytes, limit: int = 0) -> bytes:
            nonlocal produced
            got = self.d.decompress(data, limit)
            produced += len(got)
            return got

        def __getattr__(self, name: str) -> Any:
            return getattr(self.d, name)

    with patch("layerpeek.http.decoding.zlib.decompressobj", Counting):
        decoded = decode_body(body, ["gzip", "deflate", "gzip", "gzip"])
    assert not decoded.complete and "nested decompression bomb" in (decoded.problem or "")
    assert produced < 1032 * 4 * len(body) + (1 << 20)  # each layer was inflated to 64 MiB
    many = decode_body(b"x", ["gzip"] * 5)
    assert not many.complete and "more than 4" in (many.problem or "")


def test_legitimate_nested_codings_still_decode() -> None:
    body = b"<html>" + bytes(range(256)) * 40 + b"</html>"
    encoded = gzip.compress(zlib.compress(body))
    decoded = decode_body(encoded, ["deflate", "gzip"])
    assert decoded.complete and decoded.data == body


# ---------------------------------------------------------------------------
# Issue 16: terminal safety and silent loss
# ---------------------------------------------------------------------------

from hostile_inputs import TERMINAL_ATTACKS, bad_codings, terminal_attack  # noqa: E402

from layerpeek.termsafe import json_safe, terminal_safe  # noqa: E402

#: Our own colours are off (output is not a terminal), so any of these is the capture's.
RAW = ("\x1b", "\x07", "\r", "\x08", "\x9b", "\u202e")


@pytest.mark.parametrize("command", [["http"], ["http", "--json"], ["explain"],
                                     ["explain", "--json"], ["dns"], ["dns", "--json"],
                                     ["dump"], ["dump", "-V"], ["dump", "--json"], ["flows"],
                                     ["follow"]])
def test_no_capture_control_or_bidi_character_reaches_the_terminal(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "evil.pcap"
    path.write_bytes(capture(terminal_attack()))
    stream = ["0"] if command == ["follow"] else []
    code, out, err = run_cli(capsys, *command, str(path), *stream)
    assert code == 0, err
    for ch in RAW:
        assert ch not in out.replace("\r\n", "\n") if ch == "\r" else ch not in out, (ch, out)
        assert ch not in err
    if command[0] in ("http", "explain") and "--json" not in command:
        assert "\\x1b" in out  # shown, escaped


def test_one_escaping_function_covers_controls_and_bidi() -> None:
    assert terminal_safe("plain → text é") == "plain → text é"
    assert terminal_safe(TERMINAL_ATTACKS) == (
        "\\x1b[31m\\x1b]0;owned\\x07\\x0d\\x08\\x9b\\u202e")
    assert json_safe('"a\u202eb\x9b"') == '"a\\u202eb\\u009b"'


def test_a_body_that_did_not_decode_in_full_is_never_called_ok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "codings.pcap"
    path.write_bytes(capture(bad_codings()))
    code, out, _err = run_cli(capsys, "http", str(path))
    assert code == 0
    lines = out.splitlines()[1:]
    assert len(lines) == 3 and not any(line.rstrip().endswith(" ok") for line in lines)
    assert "cut short" in lines[0] and "damaged" in lines[1] and "unknown" in lines[2]
    code, out, _err = run_cli(capsys, "http", "--json", str(path))
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["complete"] for r in rows] == [False] * 3
    assert all("response body:" in r["problem"] for r in rows)
    folder = tmp_path / "bodies"
    code, _out, _err = run_cli(capsys, "http", "--export", str(folder), str(path))
    assert sorted(p.name for p in folder.iterdir()) == [
        "f0.txt.partial", "f1.txt.partial", "f2.txt.partial"]


def test_a_body_cut_at_the_decoding_cap_is_not_complete() -> None:
    from layerpeek.http.message import HTTPExchange

    bomb = gzip_bomb(2 << 20)
    stream = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
              % len(bomb) + bomb)
    reader = ResponseReader()
    (response,) = reader.feed(stream) + reader.finish("fin")
    response._decoded = decode_body(response.body, ["gzip"], cap=1 << 20)  # a 1 MiB cap
    (request,) = RequestReader().feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    exchange = HTTPExchange(0, 0, request, response)  # type: ignore[call-arg]
    assert not exchange.complete and "cap" in (exchange.problem or "")


# ---------------------------------------------------------------------------
# Issue 16: streams that never end, and one huge record
# ---------------------------------------------------------------------------


class Endless(io.RawIOBase):
    """A stream that never ends (``cat /dev/urandom``), after ``head``; counts its reads."""

    def __init__(self, head: bytes) -> None:
        self.head = head
        self.reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        self.reads += 1
        if self.reads > 1000:
            raise AssertionError("still reading a stream after a fatal problem")
        data, self.head = (self.head or b"\xff" * len(b))[: len(b)], self.head[len(b):]
        b[: len(data)] = data
        return len(data)


@pytest.mark.parametrize("head", [
    pcap_bytes([]),  # a pcap header, then records claiming 4 GiB each
    shb() + idb() + raw_block(6, 8, b""),  # pcapng: then an impossible block length
], ids=["pcap", "pcapng"])
def test_reading_stops_at_a_fatal_problem_even_if_the_stream_never_ends(head: bytes) -> None:
    stream = Endless(head)
    reader = open_capture(io.BufferedReader(stream), chunk_size=4096)
    assert list(reader) == []
    assert reader.problems and ("impossible" in reader.problems[-1])
    assert stream.reads < 10


def test_a_huge_record_is_read_in_linear_work() -> None:
    from layerpeek.capture import frame as frame_module
    from layerpeek.capture import pcap as pcap_module

    copied = 0
    real = frame_module.append_chunk

    def counting(buf: bytes, pos: int, chunk: bytes) -> tuple[bytes, int]:
        nonlocal copied
        copied += len(buf) - pos + len(chunk)
        return real(buf, pos, chunk)

    size = 8 << 20
    data = huge_record(size)  # D-Bus: records up to 128 MiB
    with patch.object(pcap_module, "append_chunk", counting):
        reader = open_capture(io.BytesIO(data), chunk_size=64 << 10)
        (frame,) = list(reader)
    assert len(frame.data) == size
    assert copied < 3 * len(data)  # appending per 64 KiB chunk copied ~64x the record


@pytest.mark.parametrize(("linktype", "limit"), [(1, 262144), (113, 262144), (249, 1 << 20),
                                                 (279, 8 << 20)])
def test_a_record_over_its_link_types_maximum_is_reported_not_buffered(
    linktype: int, limit: int
) -> None:
    from layerpeek.columnar import table

    good = bytes(60)
    header = struct.pack("<IIII", 0, 0, limit + 1, limit + 1)  # ...and its bytes never come
    data = pcap_bytes([good], linktype=linktype) + header
    reader = open_capture(io.BytesIO(data))
    assert [f.data for f in reader] == [good]
    expected = (f"record 2 at byte 100: captured length {limit + 1} is more than the {limit} "
                f"bytes link type {linktype} allows; stopped reading")
    assert reader.problems == [expected]
    problems: list[str] = []
    assert table(io.BytesIO(data), problems=problems).num_rows == 1  # the table path agrees
    assert problems == [expected]
    exact = pcap_bytes([good, bytes(limit)], linktype=linktype)
    assert len(list(open_capture(io.BytesIO(exact)))) == 2  # the maximum itself is fine


def test_a_million_fins_keep_a_bounded_history_and_count_the_rest() -> None:
    from layerpeek.flows.zeek import MAX_HISTORY, ZeekTracker

    zeek = ZeekTracker()
    for seq in range(MAX_HISTORY * 4):
        zeek.packet(True, 0x01, seq, 0, 1000)  # a FIN with a new sequence number each time
    assert len(zeek.history_string) == MAX_HISTORY
    assert zeek.history_dropped == MAX_HISTORY * 3


def test_a_flood_of_fins_on_one_connection_reports_the_letters_dropped() -> None:
    w = Wire()
    packets = [w.c("S"), w.s("SA"), w.c("A")]
    packets += [w.send("c", "FA", seq=w.next["c"] + i, advance=False) for i in range(300)]
    tracker = TCPTracker()
    feed(tracker, iter(packets))
    (conv,) = tracker.conversations.values()
    record = conv.to_dict()
    assert len(record["history"]) == 256 and record["history_dropped"] > 0


def test_interface_blocks_past_the_cap_stop_the_reader_with_a_problem() -> None:
    from layerpeek.capture import pcapng as pcapng_module

    with patch.object(pcapng_module, "MAX_INTERFACES", 10):
        reader = open_capture(io.BytesIO(shb() + idb() * 20 + epb("<", 0, 0, b"x" * 20)))
        assert list(reader) == []
    assert "more than 10 interfaces" in reader.problems[-1]


def test_bodies_in_flight_on_many_connections_share_one_cap() -> None:
    from layerpeek.flows.events import ConnectionClosed, ConnectionOpened, StreamData
    from layerpeek.http.pairing import HTTPPairer

    pairer = HTTPPairer(max_inflight=10_000)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    for cid in range(5):  # five responses, each 6,000 bytes into a 100,000-byte body
        pairer.feed(ConnectionOpened(cid, "handshake", 0))  # type: ignore[call-arg]
        pairer.feed(StreamData(cid, "client", 0, b"GET / HTTP/1.1\r\n\r\n", (1,), 0))
        pairer.feed(StreamData(cid, "server", 0, head + bytes(6000), (2,), 0))
    assert pairer.budget.used <= 10_000
    out = []
    for cid in range(5):
        out += pairer.feed(ConnectionClosed(cid, "rst", 0))  # type: ignore[call-arg]
    assert pairer.budget.used == 0
    flagged = [ex for ex in out if ex.response is not None
               and any("in flight" in p for p in ex.response.problems)]
    assert len(flagged) >= 3


# ---------------------------------------------------------------------------
# Issue 16: a retransmission with different bytes is said where the content is used
# ---------------------------------------------------------------------------

from hostile_inputs import conflicting_retransmission  # noqa: E402


@pytest.fixture
def conflict_capture(tmp_path: Path) -> Path:
    path = tmp_path / "conflict.pcap"
    path.write_bytes(capture(conflicting_retransmission()))
    return path


def test_follow_shows_the_first_copy_and_both_frames_of_a_conflict(
    conflict_capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "follow", str(conflict_capture), "0")
    assert code == 0 and "the secret!" in out and "SECRET" not in out
    assert "[bytes 43–49 re-sent in #6 with different content; #5 shown]" in out
    assert "1 conflicting retransmission" in err


def test_dump_marks_the_conflicting_segment_in_lines_trees_and_json(
    conflict_capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _code, out, err = run_cli(capsys, "dump", str(conflict_capture))
    line = out.splitlines()[5]
    assert line.startswith("#6 ") and "[TCP retransmission with different data than #5]" in line
    assert "1 conflicting retransmission" in err
    _code, out, _err = run_cli(capsys, "dump", "--json", str(conflict_capture))
    assert json.loads(out.splitlines()[5])["flow"]["conflict_with"] == 5
    _code, out, _err = run_cli(capsys, "dump", "-V", str(conflict_capture))
    assert "Conflicting retransmission: bytes differ from #5" in out


def test_http_warns_of_a_conflict_in_a_message_it_read(
    conflict_capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run_cli(capsys, "http", str(conflict_capture))
    assert code == 0
    assert "stream 0 server: retransmission with different bytes: offset 43, 6 bytes in #6 " \
           "differ from #5 (first copy used)" in err


def test_a_conflict_inside_a_message_still_being_read_flags_it() -> None:
    from layerpeek.flows.events import StreamData, StreamInconsistency
    from layerpeek.http.pairing import HTTPPairer

    pairer = HTTPPairer()
    pairer.feed(StreamData(1, "client", 0, b"GET / HTTP/1.1\r\n\r\n", (1,), 0))
    pairer.feed(StreamData(1, "server", 0, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab",
                           (2,), 0))
    pairer.feed(StreamInconsistency(1, "server", 38, 2, 3, 0, 2))
    (exchange,) = pairer.feed(StreamData(1, "server", 40, b"cdefghij", (4,), 0))
    assert not exchange.complete and "differ from #2" in (exchange.problem or "")


def test_export_of_http_exchanges_holds_rows_not_every_body(tmp_path: Path) -> None:
    from hostile_inputs import http_connection

    from layerpeek.commands.export import Progress, _records

    body = bytes(range(256)) * 1600  # 400 kB
    response = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body

    def peak(count: int) -> int:
        path = tmp_path / f"bodies{count}.pcap"
        frames = http_connection([(b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n", response)] * count)
        path.write_bytes(capture(frames))
        tracemalloc.start()
        try:
            rows = _records(str(path), "http", Progress("export", 0, False), [])
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert len(rows) == count

    # Eight more bodies cost nothing more held (they cost 3.2 MB when all were kept).
    assert peak(12) - peak(4) < 1_000_000


@pytest.mark.parametrize("order", ["<", ">"])
def test_a_pcapng_packet_block_over_its_link_types_maximum_is_skipped_unread(order: str) -> None:
    """pcapng says each block's length, so an oversize packet block is reported
    and passed over as it streams by, and the packets after it are still read."""
    from layerpeek.capture import pcapng as pcapng_module
    from layerpeek.columnar import table

    huge = 4 << 20  # 16 times what an Ethernet packet may take (262,144 bytes)
    data = (shb(order) + idb(order) + epb(order, 0, 1, b"a" * 60)
            + epb(order, 0, 2, bytes(huge)) + epb(order, 0, 3, b"b" * 60))
    held = 0
    real = pcapng_module.append_chunk

    def measuring(buf: bytes, pos: int, chunk: bytes) -> tuple[bytes, int]:
        nonlocal held
        out = real(buf, pos, chunk)
        held = max(held, len(out[0]))
        return out

    with patch.object(pcapng_module, "append_chunk", measuring):
        reader = open_capture(io.BytesIO(data), chunk_size=64 << 10)
        assert [f.data for f in reader] == [b"a" * 60, b"b" * 60]
    assert held < 256 << 10  # a 64 KiB chunk plus what was left of the one before
    (problem,) = reader.problems
    assert problem.startswith("packet block at byte ") and problem.endswith(
        "more than a link type 1 packet may take (262144 bytes, as libpcap); skipped unread")
    problems: list[str] = []
    assert table(io.BytesIO(data), problems=problems).num_rows == 2  # the table path agrees
    assert [p.split(": ", 1)[-1] for p in problems] == [problem.split(": ", 1)[-1]]
    with patch.object(pcapng_module, "append_chunk", measuring):
        cut = open_capture(io.BytesIO(data[: len(data) // 2]), chunk_size=64 << 10)
        assert [f.data for f in cut] == [b"a" * 60]
    assert "cut by end of file" in cut.problems[-1]
