"""DNS transactions: each query paired with its answer, and what went wrong.

The project's ``dns_query.pcap`` is dig against the project's own server
(see captures/README.md): A, AAAA, a CNAME chain, NXDOMAIN, MX over TCP, and
a large TXT answer truncated twice over UDP, the second time retried over
TCP.  Hand-built captures cover what real traffic shows rarely: a DNS
message split across TCP segments, two in one segment, a hole in the
stream, retransmitted queries, duplicate and unsolicited responses, an ICMP
error quoting a query, LLMNR answered from another address.  Pairing and
response times are compared with tshark's ``dns.response_to``/``dns.time``.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import eth, ipv4, ipv4_tcp, ipv4_udp, pcap_bytes, tcp, udp
from conftest import CAPTURES, PUBLIC
from hypothesis import given, settings
from hypothesis import strategies as st

import layerpeek
import layerpeek.commands.dns as dns_command
from layerpeek.cli import main
from layerpeek.dnstx import DNSTransaction, follow_cnames, transactions
from layerpeek.layers.dns import DNSRecord

Find = Callable[[str], Path]
TSHARK = shutil.which("tshark")


def by_query(txs: list[DNSTransaction]) -> dict[int | None, DNSTransaction]:
    return {t.query_frame: t for t in txs}


# ---------------------------------------------------------------------------
# The project's dig capture
# ---------------------------------------------------------------------------


def test_every_query_of_the_dig_capture_is_answered_in_the_next_dns_frame(
    capture: Find,
) -> None:
    txs = transactions(capture("dns_query.pcap"))
    pairs = [(t.transport, t.query_frame, t.response_frame) for t in txs]
    assert pairs == [
        ("udp", 1, 2), ("udp", 3, 4), ("udp", 5, 6), ("udp", 7, 8),
        ("tcp", 12, 14), ("udp", 19, 20), ("udp", 21, 22), ("tcp", 26, 28),
    ]
    assert all(t.status == "answered" and t.response_time_ns for t in txs)
    assert all(t.server.port == 53 and not t.retransmissions for t in txs)


def test_a_and_aaaa_resolve_example_test_to_loopback(capture: Find) -> None:
    txs = by_query(transactions(capture("dns_query.pcap")))
    assert (txs[1].question_text, txs[1].rcode_name, txs[1].addresses) == (
        "A example.test", "NOERROR", ("127.0.0.1",))
    assert (txs[3].question_text, txs[3].addresses) == ("AAAA example.test", ("::1",))


def test_the_cname_chain_is_followed_to_the_address(capture: Find) -> None:
    tx = by_query(transactions(capture("dns_query.pcap")))[5]
    assert tx.cname_chain == ("www.example.test", "edge.example.test", "host1.example.test")
    assert tx.canonical_name == "host1.example.test"
    assert tx.addresses == ("127.0.0.1",)
    assert tx.describe() == (
        "www.example.test → edge.example.test → host1.example.test → 127.0.0.1")


def test_nxdomain_is_an_answer_with_an_rcode_and_the_zone_soa(capture: Find) -> None:
    tx = by_query(transactions(capture("dns_query.pcap")))[7]
    assert (tx.name, tx.rcode_name, tx.rcode, tx.answers, tx.addresses) == (
        "missing.example.test", "NXDOMAIN", 3, (), ())
    assert [r.type for r in tx.authorities] == [6]  # SOA of example.test
    assert tx.describe() == "NXDOMAIN (no such name)"


def test_mx_over_tcp_is_framed_from_the_stream_by_its_length_prefix(capture: Find) -> None:
    tx = by_query(transactions(capture("dns_query.pcap")))[12]
    assert (tx.transport, tx.stream, tx.question_text) == ("tcp", 0, "MX example.test")
    assert tx.describe() == "10 mail.example.test"
    assert tx.problems == []


def test_truncated_answers_and_the_tcp_retry_are_linked(capture: Find) -> None:
    txs = by_query(transactions(capture("dns_query.pcap")))
    first, second, retry = txs[19], txs[21], txs[26]
    assert first.truncated and second.truncated and not retry.truncated
    assert first.answers == () and second.answers == ()
    # dig ignored the first TC answer (+ignore) and retried only the second
    assert first.tcp_retry is None
    assert second.tcp_retry is retry and retry.retry_of is second
    assert retry.transport == "tcp" and retry.question_text == "TXT big.example.test"
    texts = [r.data for r in retry.answers]
    assert texts and all(isinstance(t, tuple) for t in texts)  # the whole TXT answer
    d = second.to_dict()
    assert (d["tcp_retry_frame"], retry.to_dict()["retry_of_frame"]) == (26, 21)


def test_page_load_lookups_follow_the_chain_and_find_no_ipv6_address(capture: Find) -> None:
    a, aaaa = transactions(capture("page_load.pcap"))
    assert (a.query_frame, a.response_frame, a.addresses) == (1, 2, ("127.0.0.1",))
    assert (aaaa.query_frame, aaaa.response_frame, aaaa.addresses) == (3, 4, ())
    assert aaaa.canonical_name == "host1.example.test"
    assert aaaa.describe().endswith("(no AAAA record)")


# ---------------------------------------------------------------------------
# Hand-built traffic
# ---------------------------------------------------------------------------

CLIENT, SERVER = "10.0.0.1", "10.0.0.53"


def qname(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def query(ident: int, name: str, qtype: int = 1) -> bytes:
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + qname(name) + struct.pack(
        "!HH", qtype, 1)


def answer(ident: int, name: str, address: str, *, flags: int = 0x8180) -> bytes:
    rdata = bytes(int(x) for x in address.split("."))
    return (
        struct.pack("!HHHHHH", ident, flags, 1, 1, 0, 0)
        + qname(name) + struct.pack("!HH", 1, 1)
        + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + rdata
    )


def read_frames(frames: list[bytes], step_ns: int = 1_000_000) -> list[layerpeek.Packet]:
    data = pcap_bytes(frames, step_ns=step_ns)
    with layerpeek.read(io.BytesIO(data)) as reader:
        return list(reader)


def udp_frame(payload: bytes, *, to_server: bool = True, sport: int = 40000,
              client: str = CLIENT, server: str = SERVER, dport: int = 53) -> bytes:
    if to_server:
        return eth(ipv4_udp(udp(payload, sport=sport, dport=dport), src=client, dst=server))
    return eth(ipv4_udp(udp(payload, sport=dport, dport=sport), src=server, dst=client))


class TCPDNS:
    """A DNS-over-TCP connection, built segment by segment."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.cseq, self.sseq = 1000, 5000

    def seg(self, payload: bytes, *, from_client: bool, flags: str = "PA") -> None:
        if from_client:
            t = tcp(payload, sport=40001, dport=53, seq=self.cseq, ack=self.sseq, flags=flags)
            self.frames.append(eth(ipv4_tcp(t, src=CLIENT, dst=SERVER)))
            self.cseq += len(payload) + ("S" in flags) + ("F" in flags)
        else:
            t = tcp(payload, sport=53, dport=40001, seq=self.sseq, ack=self.cseq, flags=flags)
            self.frames.append(eth(ipv4_tcp(t, src=SERVER, dst=CLIENT)))
            self.sseq += len(payload) + ("S" in flags) + ("F" in flags)

    def handshake(self) -> None:
        self.seg(b"", from_client=True, flags="S")
        self.seg(b"", from_client=False, flags="SA")
        self.seg(b"", from_client=True, flags="A")


def prefixed(message: bytes) -> bytes:
    return struct.pack("!H", len(message)) + message


def test_a_tcp_message_split_across_segments_belongs_to_the_frame_completing_it() -> None:
    c = TCPDNS()
    c.handshake()  # frames 1-3
    q1, q2 = prefixed(query(0x1111, "a.test")), prefixed(query(0x2222, "b.test"))
    c.seg(q1 + q2, from_client=True)  # frame 4: two queries in one segment (RFC 7766)
    r1, r2 = prefixed(answer(0x1111, "a.test", "192.0.2.1")), prefixed(
        answer(0x2222, "b.test", "192.0.2.2"))
    c.seg(r1[:1], from_client=False)  # frame 5: one byte of the length prefix
    c.seg(r1[1:20], from_client=False)  # frame 6
    c.seg(r1[20:] + r2[:10], from_client=False)  # frame 7: end of r1, start of r2
    c.seg(r2[10:], from_client=False)  # frame 8
    txs = transactions(read_frames(c.frames))
    assert [(t.dns_id, t.query_frame, t.response_frame) for t in txs] == [
        (0x1111, 4, 7), (0x2222, 4, 8)]
    assert txs[0].response is not None and txs[0].response.frames == (5, 6, 7)
    assert txs[1].response is not None and txs[1].response.frames == (7, 8)
    assert [t.addresses for t in txs] == [("192.0.2.1",), ("192.0.2.2",)]
    assert all(t.transport == "tcp" and not t.problems for t in txs)


def test_splitting_the_server_stream_at_any_byte_gives_the_same_transactions() -> None:
    q = prefixed(query(0x1212, "split.test")) + prefixed(query(0x3434, "two.test"))
    r = prefixed(answer(0x1212, "split.test", "192.0.2.9")) + prefixed(
        answer(0x3434, "two.test", "192.0.2.10"))
    seen = set()
    for cut in range(1, len(r)):
        c = TCPDNS()
        c.handshake()
        c.seg(q, from_client=True)
        c.seg(r[:cut], from_client=False)
        c.seg(r[cut:], from_client=False)
        txs = transactions(read_frames(c.frames))
        seen.add(tuple((t.dns_id, t.query_frame, t.addresses, t.rcode) for t in txs))
    assert seen == {((0x1212, 4, ("192.0.2.9",), 0), (0x3434, 4, ("192.0.2.10",), 0))}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=80), min_size=1, max_size=6), st.booleans())
def test_any_bytes_on_port_53_never_raise(payloads: list[bytes], over_tcp: bool) -> None:
    if over_tcp:
        c = TCPDNS()
        c.handshake()
        for i, data in enumerate(payloads):
            c.seg(data, from_client=i % 2 == 0)
        frames = c.frames
    else:
        frames = [udp_frame(data, to_server=i % 2 == 0) for i, data in enumerate(payloads)]
    for tx in transactions(read_frames(frames)):
        json.dumps(tx.to_dict())
        assert tx.describe()


def test_a_hole_in_a_tcp_dns_stream_is_reported_not_guessed_across() -> None:
    c = TCPDNS()
    c.handshake()
    q = prefixed(query(0x3333, "hole.test"))
    c.seg(q[:6], from_client=True)  # frame 4
    c.cseq += 6  # bytes 6-11 never captured
    c.seg(q[12:], from_client=True)  # frame 5
    c.seg(b"", from_client=False, flags="A")  # the server acknowledges all of it
    c.seg(prefixed(answer(0x3333, "hole.test", "192.0.2.3")), from_client=False)
    pipe_packets = read_frames(c.frames)
    from layerpeek.analysis import Analysis
    from layerpeek.dnstx import DNSTracker, DNSTransaction

    tracker = DNSTracker()
    analysis = Analysis(["defrag", tracker])
    txs = [e for e in analysis.events(pipe_packets) if isinstance(e, DNSTransaction)]
    assert any("never captured" in p and "tcp.stream 0 (client)" in p for p in tracker.problems)
    # the query was lost in the hole; the answer still stands, without it
    assert [(t.status, t.response_frame) for t in txs] == [("unsolicited", 7)]


def test_a_tcp_stream_on_port_53_that_is_not_dns_is_given_up_with_a_reason() -> None:
    c = TCPDNS()
    c.handshake()
    c.seg(b"\x00\x05hello" + prefixed(query(0x4545, "after.test")), from_client=True)
    packets = read_frames(c.frames)
    from layerpeek.analysis import Analysis
    from layerpeek.dnstx import DNSTracker, DNSTransaction
    from layerpeek.flows.events import Problem

    tracker = DNSTracker()
    events = list(Analysis(["defrag", tracker]).events(packets))
    assert [e for e in events if isinstance(e, DNSTransaction)] == []
    assert [e.text for e in events if isinstance(e, Problem)] == tracker.problems
    assert tracker.problems == [
        "tcp.stream 0 (client): a DNS length prefix of 5 bytes (less than a DNS header); "
        "the rest of this direction is not DNS"]


def test_a_repeated_query_within_five_seconds_is_a_retransmission() -> None:
    frames = [
        udp_frame(query(0x4444, "slow.test")),  # 1
        udp_frame(query(0x4444, "slow.test")),  # 2, 1 s later
        udp_frame(answer(0x4444, "slow.test", "192.0.2.4"), to_server=False),  # 3
        udp_frame(answer(0x4444, "slow.test", "192.0.2.4"), to_server=False),  # 4
    ]
    (tx,) = transactions(read_frames(frames, step_ns=1_000_000_000))
    assert (tx.query_frame, [m.frame for m in tx.retransmissions]) == (1, [2])
    assert tx.response_frame == 3
    assert [m.frame for m in tx.duplicate_responses] == [4]
    assert tx.response_time_ns == 2_000_000_000  # from the first copy, as dns.time


def test_a_query_repeated_after_five_seconds_is_a_new_transaction() -> None:
    frames = [
        udp_frame(query(0x5555, "late.test")),  # 1
        udp_frame(query(0x5555, "late.test")),  # 2, 6 s later
        udp_frame(answer(0x5555, "late.test", "192.0.2.5"), to_server=False),  # 3
    ]
    first, second = transactions(read_frames(frames, step_ns=6_000_000_000))
    assert (first.status, first.query_frame) == ("unanswered", 1)
    assert (second.query_frame, second.response_frame) == (2, 3)
    assert first.describe() == "no answer"


def test_same_id_different_endpoints_are_different_transactions() -> None:
    frames = [
        udp_frame(query(0x6666, "a.test"), sport=40000),
        udp_frame(query(0x6666, "b.test"), sport=40001),
        udp_frame(answer(0x6666, "b.test", "192.0.2.6"), to_server=False, sport=40001),
        udp_frame(answer(0x6666, "a.test", "192.0.2.7"), to_server=False, sport=40000),
    ]
    txs = transactions(read_frames(frames))
    assert [(t.name, t.response_frame, t.addresses) for t in txs] == [
        ("a.test", 4, ("192.0.2.7",)), ("b.test", 3, ("192.0.2.6",))]


def test_a_response_without_its_query_is_kept_as_unsolicited() -> None:
    frames = [udp_frame(answer(0x7777, "orphan.test", "192.0.2.8"), to_server=False)]
    (tx,) = transactions(read_frames(frames))
    assert (tx.status, tx.query_frame, tx.response_frame, tx.response_time_ns) == (
        "unsolicited", None, 1, None)
    assert tx.addresses == ("192.0.2.8",)
    assert (str(tx.client), str(tx.server)) == ("10.0.0.1:40000", "10.0.0.53:53")


def test_a_query_quoted_in_an_icmp_error_is_not_a_query() -> None:
    quoted = ipv4_udp(udp(query(0x8888, "gone.test"), sport=40000, dport=53),
                      src=CLIENT, dst=SERVER)
    icmp = struct.pack("!BBHI", 3, 3, 0, 0) + quoted  # port unreachable
    frames = [
        udp_frame(query(0x8888, "gone.test")),
        eth(ipv4(icmp, src=SERVER, dst=CLIENT, proto=1)),
    ]
    (tx,) = transactions(read_frames(frames))
    assert (tx.status, tx.query_frame, tx.retransmissions) == ("unanswered", 1, [])


def test_a_multicast_query_pairs_with_a_unicast_answer_from_the_responder() -> None:
    frames = [
        udp_frame(query(0x9999, "printer"), server="224.0.0.252", dport=5355),  # LLMNR
        eth(ipv4_udp(udp(answer(0x9999, "printer", "10.0.0.9"), sport=5355, dport=40000),
                     src="10.0.0.9", dst=CLIENT)),
    ]
    (tx,) = transactions(read_frames(frames))
    assert (str(tx.server), tx.response_frame, tx.addresses) == (
        "224.0.0.252:5355", 2, ("10.0.0.9",))


def test_cname_loops_end_instead_of_looping() -> None:
    loop = (DNSRecord("a.test", 5, 1, 60, "b.test"), DNSRecord("B.test", 5, 1, 60, "a.test"))
    assert follow_cnames("A.test", loop) == ("A.test", "b.test")


def test_transactions_accepts_a_path_a_file_object_and_packets(capture: Find) -> None:
    path = capture("page_load.pcap")
    with open(path, "rb") as f:
        from_file = transactions(f)
    with layerpeek.read(path) as reader:
        from_packets = transactions(list(reader))
    want = [t.to_dict() for t in transactions(str(path))]
    assert [t.to_dict() for t in from_file] == want == [t.to_dict() for t in from_packets]


# ---------------------------------------------------------------------------
# Public captures
# ---------------------------------------------------------------------------


def test_an_answer_in_ipv6_fragments_is_reassembled_before_pairing(public: Find) -> None:
    txs = transactions(public("ipv6_frag_dns.pcap"))
    assert [(t.query_frame, t.response_frame) for t in txs] == [(1, 2), (3, None), (5, 8)]
    big = txs[2]
    assert big.response is not None and big.response.frames == (6, 7, 8)
    assert big.problems == [] and big.answers[0].type == 16  # TXT, whole


def test_an_answer_cut_by_the_snaplen_keeps_what_was_decoded(public: Find) -> None:
    (tx,) = transactions(public("truncated_file_dns.pcap"))
    assert tx.status == "unsolicited"
    assert tx.addresses  # the answer section came before the cut
    assert tx.problems and "authorities" in tx.problems[0]


def test_mdns_announcements_are_not_answers_to_the_probes(public: Find) -> None:
    txs = by_query(transactions(public("dns_mixed_a_aaaa_cname_mdns.pcap")))
    probe = txs[418]  # first probe for Yaels-iPhone.local (QU bit set), then two more
    assert [m.frame for m in probe.retransmissions] == [419, 420]
    assert probe.status == "unanswered"
    unsolicited = txs[None]
    assert unsolicited.server.port == 5353


# ---------------------------------------------------------------------------
# tshark agreement
# ---------------------------------------------------------------------------

TSHARK_CAPTURES = [
    CAPTURES / "dns_query.pcap",
    CAPTURES / "page_load.pcap",
    PUBLIC / "dns_mixed_a_aaaa_cname_mdns.pcap",
    PUBLIC / "dns_multi_interface.pcapng",
    PUBLIC / "linktype_ipv4_dns.pcap",
    PUBLIC / "ipv6_frag_dns.pcap",
    PUBLIC / "rawip_mixed.pcap",
    PUBLIC / "pcapng_11_interfaces.pcapng",
]


def tshark_dns(path: Path) -> tuple[dict[int, tuple[int, int]], dict[int, int], dict[int, int]]:
    """response frame → (query frame, dns.time in µs); retransmitted query → original;
    retransmitted response → original.  Unicast DNS (port 53) only: for mDNS
    Wireshark pairs packets travelling the same way, which we deliberately do not."""
    assert TSHARK is not None
    done = subprocess.run(
        [TSHARK, "-2", "-r", str(path), "-Y", "dns && (udp.port == 53 || tcp.port == 53)",
         "-T", "fields", "-e", "frame.number", "-e", "dns.response_to", "-e", "dns.time",
         "-e", "dns.retransmit_request_in", "-e", "dns.retransmit_response_in"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode in (0, 2), done.stderr
    pairs, requests, responses = {}, {}, {}
    for line in done.stdout.splitlines():
        frame, to, time, req_in, resp_in = line.split("\t")
        if to:
            pairs[int(frame)] = (int(to), round(float(time) * 1e6))
        if req_in:
            requests[int(frame)] = int(req_in)
        if resp_in:
            responses[int(frame)] = int(resp_in)
    return pairs, requests, responses


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
@pytest.mark.parametrize("path", TSHARK_CAPTURES, ids=lambda p: p.name)
def test_pairing_response_times_and_retransmissions_match_tshark(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is absent")
    pairs, requests, responses = {}, {}, {}
    for tx in transactions(path):
        if 53 not in (tx.client.port, tx.server.port):
            continue
        if tx.query is not None and tx.response is not None:
            assert tx.response_time_ns is not None
            pairs[tx.response.frame] = (tx.query.frame, round(tx.response_time_ns / 1e3))
        for m in tx.retransmissions:
            requests[m.frame] = tx.query_frame
        for m in tx.duplicate_responses:
            responses[m.frame] = tx.response_frame
    assert (pairs, requests, responses) == tshark_dns(path)
    assert pairs  # every capture here has answered queries


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def test_dns_lists_one_row_per_query_with_answer_rcode_and_time(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    assert main(["dns", str(capture("dns_query.pcap"))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["QUERY", "RESP", "PROTO", "CLIENT", "SERVER", "ID", "QUESTION",
                                "RCODE", "TIME", "ANSWER"]
    assert len(lines) == 9
    cname = next(line for line in lines if "www.example.test" in line)
    assert cname.split()[:3] == ["5", "6", "udp"]
    assert "www.example.test → edge.example.test → host1.example.test → 127.0.0.1" in cname
    assert "NXDOMAIN" in next(line for line in lines if "missing.example.test" in line)
    assert "retried over TCP in 26" in next(line for line in lines if line.split()[0] == "21")
    assert "TCP retry of truncated 21" in next(line for line in lines if line.split()[0] == "26")
    first = transactions(capture("dns_query.pcap"))[0]
    assert first.response_time_ns is not None
    time = next(line for line in lines if line.split()[0] == "1").split()[9]
    assert time == f"{first.response_time_ns / 1e6:.3f}ms"


def test_dns_json_lines_carry_exactly_the_documented_keys(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    assert main(["dns", "--json", str(capture("dns_query.pcap"))]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 8
    doc = dns_command.__doc__ or ""
    for key in records[0]:
        assert key in doc, f"{key} is not documented in layerpeek/commands/dns.py"
    tcp_retry = records[-1]
    assert (tcp_retry["transport"], tcp_retry["query_frame"], tcp_retry["response_frame"],
            tcp_retry["retry_of_frame"], tcp_retry["rcode"]) == ("tcp", 26, 28, 21, "NOERROR")
    assert records[2]["cname_chain"] == ["www.example.test", "edge.example.test",
                                         "host1.example.test"]
    assert records[2]["addresses"] == ["127.0.0.1"]


@pytest.mark.parametrize("content", [b"", b"this is not a capture at all\n"])
def test_a_bad_file_is_one_clear_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(content)
    assert main(["dns", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith("layerpeek: ")
    assert main(["dns", str(tmp_path / "missing.pcap")]) == 1
    assert "No such file" in capsys.readouterr().err


def test_a_capture_without_dns_says_so(capsys: pytest.CaptureFixture[str], capture: Find) -> None:
    path = capture("udp_12345.pcap")
    assert main(["dns", str(path)]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"layerpeek: {path}: no DNS transactions in this capture\n")
