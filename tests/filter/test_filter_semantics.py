"""What display filters mean, frame by frame, on the project's own captures.

The captures are described in captures/README.md: ``http_get_post.pcap`` is
two curl connections to 127.0.0.1:8080 (a GET, then a POST), frames 1-10 and
11-20; ``dns_query.pcap`` is dig against 127.0.0.1:53.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import layerpeek
from layerpeek import filter as lpf
from layerpeek.flows import annotate

Finder = Callable[[str], Path]


def select(path: Path, expression: str, *, flows: bool = True) -> list[int]:
    keep = lpf.compile(expression)
    with layerpeek.read(path) as reader:
        if flows:
            return [p.index for p, info in annotate(reader) if keep(p, info)]
        return [p.index for p in reader if keep(p)]


ALL = list(range(1, 21))


@pytest.fixture
def http(capture: Finder) -> Path:
    return capture("http_get_post.pcap")


def test_a_two_valued_field_matches_on_either_value(http: Path) -> None:
    assert select(http, "tcp.port == 8080") == ALL
    assert select(http, "tcp.srcport == 8080") == select(http, "tcp.dstport != 8080")


def test_not_equal_needs_the_field_and_no_value_equal(http: Path, capture: Finder) -> None:
    assert select(http, "ip.addr != 127.0.0.1") == []  # every packet has it on both sides
    assert select(http, "ipv6.addr != ::1") == []  # absent: not selected either
    assert select(http, "!(ipv6.addr == ::1)") == ALL
    assert select(capture("tcp_3040_ipv6.pcap"), "ipv6.addr != ::2") == list(range(1, 13))


def test_all_equal_and_any_different(http: Path) -> None:
    assert select(http, "ip.addr === 127.0.0.1") == ALL
    assert select(http, "tcp.port !== 8080") == ALL
    assert select(http, "tcp.port === 8080") == []


def test_addresses_match_cidr_blocks(http: Path) -> None:
    assert select(http, "ip.src == 127.0.0.0/8") == ALL
    assert select(http, "ip.src == 10.0.0.0/8") == []
    assert select(http, "ip.dst in {10.0.0.0/8, 127.0.0.1/32}") == ALL


def test_a_field_compares_with_another_field(http: Path) -> None:
    assert select(http, "ip.src == ip.dst") == ALL  # loopback
    # the client's ephemeral port is the higher one (same frames as tshark selects)
    assert select(http, "tcp.srcport > tcp.dstport") == [1, 3, 4, 7, 8, 10, 11, 13, 14, 17, 18, 20]


def test_booleans_take_one_zero_true_false(http: Path) -> None:
    syn = select(http, "tcp.flags.syn == 1")
    assert syn == [1, 2, 11, 12]
    assert select(http, "tcp.flags.syn == true") == syn
    assert select(http, "tcp.flags.syn == True") == syn
    assert select(http, "tcp.flags.syn == 0") == [i for i in ALL if i not in syn]
    assert select(http, "tcp.flags.syn") == ALL  # a flag field alone tests presence


def test_integers_in_hex_octal_and_sets_with_ranges(http: Path) -> None:
    assert select(http, "tcp.port == 0x1f90") == ALL
    assert select(http, "tcp.port == 017620") == ALL  # leading 0: octal, as in Wireshark
    assert select(http, "frame.number in {2, 5..7, 20}") == [2, 5, 6, 7, 20]
    assert select(http, "frame.number >= 19 or frame.number < 2") == [1, 19, 20]


def test_contains_and_matches_on_strings_bytes_and_protocols(http: Path) -> None:
    assert select(http, 'http.request.method == "GET"') == [4]
    assert select(http, "http.request.method == POST") == [14]
    assert select(http, 'http.request.uri contains "index"') == [4]
    assert select(http, 'http.request.uri matches "^/(sub|ind)"') == [4, 14]
    assert select(http, 'http.request.uri matches "^/INDEX"') == []  # case-sensitive
    assert select(http, 'http.request.uri matches "(?i)^/INDEX"') == [4]
    assert select(http, 'tcp.payload contains "curl"') == [4, 14]
    assert select(http, "tcp.payload contains 63:75:72:6c") == [4, 14]
    assert select(http, 'frame contains "POST /submit"') == [14]


def test_bare_protocol_names_test_presence(http: Path, capture: Finder) -> None:
    assert select(http, "http") == [4, 6, 14, 16]
    assert select(http, "tcp && ip && eth && !udp && !ipv6") == ALL
    dns = capture("dns_query.pcap")
    assert select(dns, "udp.port == 53 and not dns") == []
    assert select(dns, "dns and not udp") == [12, 14, 26, 28]  # DNS over TCP, as tshark finds


def test_flow_fields_need_the_flow_stage(http: Path) -> None:
    assert select(http, "tcp.stream == 1") == list(range(11, 21))
    assert select(http, "tcp.stream") == ALL
    assert select(http, "tcp.stream", flows=False) == []
    assert select(http, "tcp.seq == 1 and tcp.len > 0") == [4, 6, 14, 16]
    assert select(http, "tcp.seq == 1", flows=False) == []  # raw numbers without flows


def test_time_fields_count_from_the_first_packet_the_filter_saw(http: Path) -> None:
    keep = lpf.compile("frame.time_relative == 0")
    with layerpeek.read(http) as reader:
        assert [p.index for p in reader if keep(p)] == [1]
    keep.reset()
    with layerpeek.read(http) as reader:
        assert [p.index for p in reader if keep(p)] == [1]


def test_dns_fields_are_multi_valued_over_questions_and_records(capture: Finder) -> None:
    dns = capture("dns_query.pcap")
    cname = select(dns, "dns.cname")
    assert cname and set(cname) <= set(select(dns, 'dns.qry.name == "www.example.test"'))
    assert select(dns, "dns.flags.rcode == 3") == select(
        dns, 'dns.qry.name == "missing.example.test" && dns.flags.response == 1'
    )
    assert select(dns, "dns.a == 127.0.0.1") == select(dns, "dns.a")


def test_the_library_predicate_reprints_canonically() -> None:
    keep = lpf.compile("tcp.port==80&&!udp||dns")
    assert str(keep) == "tcp.port == 80 and not udp or dns"
    assert repr(keep) == "DisplayFilter('tcp.port==80&&!udp||dns')"
