"""Display filters select the frames ``tshark -Y`` selects; ``-T fields`` prints what tshark does.

Each filter is checked on captures where it selects something interesting
(and usually also leaves something out).  layerpeek evaluates filters on the
output of the flow stage (``layerpeek.flows.annotate``), as ``dump`` does, so
``tcp.stream``, relative numbers and ``tcp.analysis.*`` are comparable.

Known, documented differences keep some pairs out: HTTP fields come from the
head in each segment (Wireshark shows them on the segment completing the
reassembled message), and ``data`` means "no decoder claimed these bytes"
in layerpeek's terms.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import layerpeek
from layerpeek import filter as lpf
from layerpeek.filter.fields import FIELDS, Frame
from layerpeek.filter.output import FieldsFormat
from layerpeek.flows import annotate

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

Finder = Callable[[str], Path]

#: (display filter, capture) pairs; "public/" names live in /work/shared/captures/public.
CASES: list[tuple[str, str]] = [
    ("tcp", "tcp_3040_greeting.pcap"),
    ("tcp", "public/malformed_tcp.pcap"),
    ("udp", "public/icmpv6_mix.pcap"),
    ("tcp.port == 8080", "http_get_post.pcap"),
    ("tcp.srcport == 3040 || udp.dstport == 12345", "tcp_3040_greeting.pcap"),
    ("tcp.srcport == 3040 || udp.dstport == 12345", "udp_12345.pcap"),
    ("tcp.flags.syn == 1 && tcp.flags.ack == 0", "tcp_refused.pcap"),
    ("tcp.flags.syn == 1 && !(tcp.flags.ack == 1)", "http_get_post.pcap"),
    ("tcp.flags.reset == 1", "tcp_rst_midtransfer.pcap"),
    ("tcp.flags.fin == 1 and tcp.flags.ack == 1", "tcp_simultaneous_close.pcap"),
    ("tcp.analysis.retransmission", "tcp_loss_reorder.pcap"),
    ("tcp.analysis.duplicate_ack || tcp.analysis.out_of_order", "tcp_loss_reorder.pcap"),
    ("tcp.analysis.lost_segment", "tcp_loss_reorder.pcap"),
    ("tcp.analysis.zero_window or tcp.analysis.window_full", "tcp_rst_midtransfer.pcap"),
    ("tcp.stream == 1", "http_get_post.pcap"),
    ("tcp.len > 0 and tcp.seq == 1", "http_keepalive.pcap"),
    ("tcp.ack > 100 && tcp.len == 0", "http_large_body.pcap"),
    ('http.request.method == "POST"', "http_get_post.pcap"),
    ('http.request.uri contains "css"', "http_keepalive.pcap"),
    (r'http.host matches "^127\\.0\\.0\\.1"', "page_load.pcap"),
    ("http.request", "http_status_mix.pcap"),
    ('dns.qry.name contains "example"', "dns_query.pcap"),
    ("dns.flags.response == 1 && dns.flags.rcode == 3", "dns_query.pcap"),
    ("dns.qry.type == 28", "dns_query.pcap"),
    ("dns.a == 127.0.0.1", "page_load.pcap"),
    ("dns.cname", "dns_query.pcap"),
    ("dns.flags.truncated == 1", "dns_query.pcap"),
    ("ip.addr == 127.0.0.0/8 and not tcp", "dns_query.pcap"),
    ("ip.src != 10.0.0.1", "public/rawip_mixed.pcap"),
    ("ipv6.addr == ::1 && tcp.dstport == 3040", "tcp_3040_ipv6.pcap"),
    ("ipv6", "public/rawip_mixed.pcap"),
    ("vlan.id == 10", "public/vlan_ids_icmp_cdp.pcap"),
    ("icmp.type == 8", "public/vlan_ids_icmp_cdp.pcap"),
    ("icmpv6.type in {135, 136}", "public/icmpv6_mix.pcap"),
    ("frame.len >= 100 && frame.len < 200", "http_get_post.pcap"),
    ("frame.number in {1, 3..5}", "http_get_post.pcap"),
    ("frame.time_relative >= 0.1", "http_get_post.pcap"),
    ("ip.ttl == 64 && ip.flags.df == 1", "page_load.pcap"),
    ("_ws.malformed", "public/malformed_tcp.pcap"),
    ('tcp contains "GET"', "http_keepalive.pcap"),
    ("eth.addr == 00:00:00:00:00:00 and udp", "udp_12345.pcap"),
    ("udp.port in {53, 5353}", "public/dns_mixed_a_aaaa_cname_mdns.pcap"),
    ("mdns", "public/dns_mixed_a_aaaa_cname_mdns.pcap"),
    ("ip.flags.mf == 1 and ip.frag_offset >= 18", "public/ipv4_frag_http_get.pcap"),
    ("ip.proto == 17 and not dns", "public/rawip_mixed.pcap"),
]


def _path(name: str, capture: Finder, public: Finder) -> Path:
    if name.startswith("public/"):
        return public(name.removeprefix("public/"))
    return capture(name)


def _tshark(path: Path, *args: str) -> str:
    assert TSHARK is not None
    done = subprocess.run(
        [TSHARK, "-n", "-r", str(path), *args], capture_output=True, text=True, check=True,
        timeout=120,
    )
    return done.stdout


def _selected(path: Path, expression: str) -> list[int]:
    keep = lpf.compile(expression)
    with layerpeek.read(path) as reader:
        return [packet.index for packet, info in annotate(reader) if keep(packet, info)]


@pytest.mark.parametrize(("expression", "name"), CASES)
def test_display_filter_selects_the_frames_tshark_selects(
    expression: str, name: str, capture: Finder, public: Finder
) -> None:
    path = _path(name, capture, public)
    theirs = [int(n) for n in _tshark(path, "-Y", expression, "-T", "fields",
                                      "-e", "frame.number").split()]
    assert _selected(path, expression) == theirs


def test_the_cases_are_not_trivial() -> None:
    """Most cases select some frames but not all (checked without tshark's help)."""
    assert len(CASES) >= 30
    assert len({expression for expression, _ in CASES}) >= 30


#: Fields compared with ``tshark -T fields`` on each capture.
OUTPUT_FIELDS = (
    "frame.number", "frame.len", "frame.time_relative", "frame.time_delta", "eth.src",
    "eth.type", "ip.src", "ip.dst", "ip.ttl", "ip.flags", "ip.dsfield", "ipv6.src",
    "tcp.srcport", "tcp.dstport", "tcp.port", "tcp.stream", "tcp.seq", "tcp.ack", "tcp.len",
    "tcp.flags", "tcp.flags.syn", "tcp.window_size_value", "udp.port", "udp.stream",
    "dns.qry.name", "dns.qry.type", "dns.a", "dns.aaaa", "dns.cname", "dns.id",
    "dns.flags.response", "vlan.id", "icmp.type", "eth.addr", "ip.version", "ip.addr",
    "ipv6.flow", "ipv6.addr", "tcp.nxtseq", "tcp.hdr_len", "tcp.checksum", "tcp.payload",
    "tcp.analysis.flags", "tcp.analysis.lost_segment", "tcp.analysis.retransmission",
    "tcp.analysis.out_of_order", "udp.length", "udp.payload", "dns.qry.class", "dns.resp.name",
    "dns.resp.ttl", "dns.flags.rcode", "dns.flags.authenticated", "dns.flags.recdesired",
    "dns.count.answers", "icmpv6.type", "icmpv6.echo.identifier", "http.request.method",
    "http.request.uri", "http.host", "_ws.malformed",
)


@pytest.mark.parametrize(
    "name",
    ["dns_query.pcap", "page_load.pcap", "tcp_3040_ipv6.pcap", "tcp_loss_reorder.pcap",
     "http_get_post.pcap", "public/vlan_ids_icmp_cdp.pcap", "public/dns_multi_interface.pcapng",
     "public/sll_tcp_handshake_nsec.pcap"],
)
def test_field_output_matches_tshark(name: str, capture: Finder, public: Finder) -> None:
    path = _path(name, capture, public)
    args = [arg for field in OUTPUT_FIELDS for arg in ("-e", field)]
    theirs = _tshark(path, "-T", "fields", *args, "-E", "header=y").splitlines()
    fmt = FieldsFormat(tuple(FIELDS[f] for f in OUTPUT_FIELDS), header=True)
    ours = [fmt.header_line()]
    first: int | None = None
    prev: int | None = None
    with layerpeek.read(path) as reader:
        for packet, info in annotate(reader):
            ours.append(fmt.row(Frame(packet, info, first, prev)))
            first = packet.ts_ns if first is None else first
            prev = packet.ts_ns
    assert ours == theirs
