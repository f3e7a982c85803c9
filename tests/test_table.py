"""``layerpeek.table``: a capture as an Arrow table with the per-packet decoders' values.

The specification is the per-packet decoder: for every frame of every capture
the project has, each column equals what ``layerpeek.read`` says about that
frame (:func:`expected_rows` spells the correspondence out).  Mutated frames
check that the vectorised path hands every frame it cannot model exactly to
the per-packet decoder.
"""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("numpy")

from builders import eth, ipv4, ipv4_tcp, ipv4_udp, ipv6, pcap_bytes, tcp, udp
from conftest import own_captures, public_captures

import layerpeek
from layerpeek import ICMP, TCP, UDP, Ethernet, ICMPv6, IPv4, IPv6
from layerpeek.cli import main
from layerpeek.columnar import COLUMNS, community_id, table
from layerpeek.errors import CaptureFormatError
from layerpeek.wire import ip_str

ALL_CAPTURES = own_captures() + public_captures()
INT64_MAX = (1 << 63) - 1


def _first(packet: layerpeek.Packet, kinds: tuple[type, ...]) -> Any:
    for layer in packet.layers:
        if isinstance(layer, kinds):
            return layer
    return None


def _tcp_wire_len(p: layerpeek.Packet, t: TCP) -> int:
    """The segment's payload on the wire: the IP length's end past the TCP header."""
    at = p.layers.index(t)
    ip = next(layer for layer in reversed(p.layers[:at]) if isinstance(layer, (IPv4, IPv6)))
    ip_start = p.spans[p.layers.index(ip)][0]
    declared = ip.total_len if isinstance(ip, IPv4) else ip.payload_len and 40 + ip.payload_len
    end = ip_start + declared if declared else p.cap_len
    return max(0, end - p.spans[at][0] - t.header_len)


def expected_row(p: layerpeek.Packet) -> dict[str, Any]:
    """One frame as the table must show it, from the per-packet objects."""
    e = p.get(Ethernet)
    ip = _first(p, (IPv4, IPv6))
    l4 = _first(p, (TCP, UDP))
    t = l4 if isinstance(l4, TCP) else None
    u = l4 if isinstance(l4, UDP) else None
    v4 = ip if isinstance(ip, IPv4) else None
    m = p.malformed
    return {
        "frame": p.index,
        "ts_ns": p.ts_ns if p.ts_ns <= INT64_MAX else None,
        "cap_len": p.cap_len,
        "wire_len": p.wire_len,
        "interface": p.interface,
        "link_type": p.linktype,
        "eth_src": e.src_mac if e else None,
        "eth_dst": e.dst_mac if e else None,
        "eth_type": e.type if e else None,
        "ip_version": ip.version if ip else None,
        "ip_src": ip_str(ip.src) if ip else None,  # the text of dump --json
        "ip_dst": ip_str(ip.dst) if ip else None,
        "ip_id": v4.id if v4 else None,
        "ip_ttl": (v4.ttl if v4 else ip.hop_limit) if ip else None,
        "ip_flags": v4.flags if v4 else None,
        "ip_proto": ip.protocol if ip else None,
        "src_port": l4.src_port if l4 else None,
        "dst_port": l4.dst_port if l4 else None,
        "tcp_seq": t.seq if t else None,
        "tcp_ack": t.ack if t else None,
        "tcp_flags": t.flags if t else None,
        "tcp_window": t.window if t else None,
        "tcp_len": _tcp_wire_len(p, t) if t else None,
        "tcp_cap_len": t.payload_len if t else None,
        "udp_length": u.length if u else None,
        "protocols": p.protocols,
        "malformed": m.reason if m else None,
    }


def expected_rows(source: Any) -> list[dict[str, Any]]:
    return [expected_row(p) for p in layerpeek.read(source)]


def assert_same(rows: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert len(rows) == len(want)
    for got, exp in zip(rows, want, strict=True):
        if got != exp:
            diff = {k: (got[k], exp[k]) for k in exp if got.get(k) != exp[k]}
            pytest.fail(f"frame {exp['frame']} ({exp['protocols']}): table vs read {diff}")


@pytest.mark.parametrize("path", ALL_CAPTURES, ids=lambda p: p.name)
def test_every_column_equals_the_per_packet_decoders(path: Path) -> None:
    got = table(path, [*COLUMNS, "community_id"])
    got.validate(full=True)  # buffers, bitmaps and null counts agree (columns are made by hand)
    assert_same(got.drop_columns(["community_id"]).to_pylist(), expected_rows(path))


def test_the_captures_reach_each_vectorised_link_path() -> None:
    """The comparison above is only meaningful if the captures reach every path."""
    paths = {p for path in ALL_CAPTURES for p in table(path, ["protocols"]).column(0).to_pylist()}
    for needed in ("eth:ipv4:tcp:http", "eth:ipv4:udp:dns", "sll2:ipv4:tcp", "ipv6:tcp:http",
                   "eth:vlan:vlan:ipv4:tcp"):
        if not public_captures() and not needed.startswith("eth:ipv4"):
            continue
        assert needed in paths


def test_pcapng_blocks_of_every_kind_give_the_per_packet_values(tmp_path: Path) -> None:
    """Sections, interfaces with their own link type and time unit, EPB, SPB, obsolete PB."""
    from pcapng_build import epb, idb, obsolete_pb, shb, spb

    frame = eth(ipv4_tcp(tcp(b"GET / HTTP/1.1\r\n\r\n")))
    raw_ip = ipv4_udp(udp(b"x" * 20, sport=5000, dport=6000))
    data = (
        shb() + idb(linktype=1, name="eth0") + idb(linktype=101, tsresol=9)
        + epb("<", 0, 1_000_000, frame) + epb("<", 1, 7_000_000_000, raw_ip)
        + spb("<", frame) + obsolete_pb("<", 0, 2_000_000, frame)
        + epb("<", 5, 1, frame)  # undefined interface: skipped by both readers
        + shb(">") + idb(">", linktype=101) + epb(">", 0, 3_000_000, raw_ip)
    )
    path = tmp_path / "blocks.pcapng"
    path.write_bytes(data)
    rows = table(path).to_pylist()
    assert_same(rows, expected_rows(path))
    assert [r["interface"] for r in rows] == [0, 1, 0, 0, 2]


def test_columns_are_chosen_and_ordered_by_the_caller(capture: Any) -> None:
    t = table(capture("http_get_post.pcap"), ["protocols", "frame", "community_id"])
    assert t.column_names == ["protocols", "frame", "community_id"]
    assert t.column("frame").to_pylist() == list(range(1, t.num_rows + 1))
    assert table(capture("http_get_post.pcap")).column_names == list(COLUMNS)


def test_an_unknown_column_is_a_clear_error(capture: Any) -> None:
    with pytest.raises(ValueError, match=r"unknown column.*'tcp_sport'.*choose from"):
        table(capture("http_get_post.pcap"), ["frame", "tcp_sport"])


def test_gzip_bytes_and_file_objects_read_like_the_file(capture: Any, tmp_path: Path) -> None:
    path = capture("http_chunked.pcap")
    want = table(path).to_pylist()
    gz = tmp_path / "c.pcap.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert table(gz).to_pylist() == want
    assert table(path.read_bytes()).to_pylist() == want
    with open(path, "rb") as f:
        assert table(f).to_pylist() == want


def test_the_package_attribute_is_the_table_function(capture: Any) -> None:
    assert layerpeek.table(capture("udp_12345.pcap")).num_rows == 6


@pytest.mark.parametrize(
    "data, message",
    [(b"", "empty file"), (b"hello, not a capture", "not a pcap or pcapng file")],
)
def test_something_else_than_a_capture_raises_capture_format_error(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(data)
    with pytest.raises(CaptureFormatError, match=message):
        table(path)


def test_a_missing_file_raises_capture_format_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureFormatError, match="No such file"):
        table(tmp_path / "absent.pcap")


def test_a_record_cut_by_the_end_of_the_file_is_a_problem_not_an_error(
    capture: Any, tmp_path: Path
) -> None:
    data = capture("http_get_post.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-10])
    problems: list[str] = []
    rows = table(cut, problems=problems).to_pylist()
    assert_same(rows, expected_rows(cut))
    assert len(rows) == 19
    assert len(problems) == 1 and "cut by end of file" in problems[0]


def test_a_cut_anywhere_in_the_last_records_reads_like_the_streaming_reader(
    capture: Any, tmp_path: Path
) -> None:
    """Cut inside a record header, inside its data, on a boundary: same rows, same message."""
    data = capture("tcp_3040_greeting.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    for size in range(len(data) - 200, len(data) + 1):
        cut.write_bytes(data[:size])
        problems: list[str] = []
        rows = table(cut, problems=problems).to_pylist()
        with layerpeek.open_capture(cut) as reader:
            frames = list(reader)
            streamed = list(reader.problems)
        assert [r["cap_len"] for r in rows] == [len(f.data) for f in frames], size
        assert problems == streamed, size


def _frames(path: Path) -> list[tuple[bytes, int]]:
    return [(f.data, f.linktype) for f in layerpeek.open_capture(path)]


def test_mutated_frames_give_the_per_packet_values(capture: Any, tmp_path: Path) -> None:
    """Flip bytes in the headers of real frames: odd values must fall back, not mislead."""
    rng = random.Random(7)
    sources = [capture(n) for n in ("http_get_post.pcap", "dns_query.pcap",
                                    "tcp_3040_ipv6.pcap", "http_sll2_any.pcap")]
    for source in sources:
        frames = _frames(source)
        linktype = frames[0][1]
        mutated = []
        for _ in range(150):
            data = bytearray(rng.choice(frames)[0])
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(min(len(data), 80))
                data[at] = rng.randrange(256)
            if rng.random() < 0.3:
                data = data[: rng.randrange(len(data) + 1)]
            mutated.append(bytes(data))
        path = tmp_path / f"mutated-{source.stem}.pcap"
        path.write_bytes(pcap_bytes(mutated, linktype=linktype))
        assert_same(table(path).to_pylist(), expected_rows(path))


def test_crafted_corner_cases_match_the_per_packet_decoders(tmp_path: Path) -> None:
    payload = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    tag = b"\x00\x05\x81\x00"  # TCI (VID 5), then the next TPID
    frames = [
        eth(ipv4_tcp(tcp(payload, dport=9999))),  # HTTP by the heuristic, on any port
        eth(ipv4_tcp(tcp(b"PUT", dport=80))),  # shorter than "PUT ": data
        eth(ipv4_tcp(tcp(b"", dport=80, flags="SA"))),  # no payload
        eth(ipv4_udp(udp(b"\x00" * 4, sport=53, dport=5000))),  # DNS too short: malformed
        eth(ipv4_udp(udp(b"x" * 30, sport=1234, dport=5000))),  # plain data
        eth(ipv4_tcp(tcp(b"\x00\x0c" + b"\x00" * 12, sport=53))),  # DNS over TCP
        eth(ipv4(tcp(b"", options=b"\x02\x04\x05\xb4\x01\x03\x03\x07"),
                 options=b"\x01\x01\x01\x00")),  # IPv4 options, TCP options
        eth(ipv4(tcp(b"", options=b"\x02\x00\x00\x00"))),  # TCP option length 0
        eth(ipv4(tcp(b"", options=b"\x02\x04\x05"))),  # TCP option cut by the header end
        eth(ipv4(tcp(b"abc"), frag_offset=8, flags=0)),  # a later fragment
        eth(ipv4(udp(b"x", length=5), proto=17)),  # UDP length below 8
        eth(tag + tag + b"\x00\x05\x08\x00" + ipv4_udp(udp(b"x")), ethertype=0x8100),
        eth(tag + b"\x00\x05\x08\x00" + ipv4_udp(udp(b"x")), ethertype=0x8100),
        eth(b"", ethertype=0x0800),  # nothing after Ethernet
        b"\x00" * 10,  # shorter than Ethernet
    ]
    path = tmp_path / "corners.pcap"
    path.write_bytes(pcap_bytes(frames))
    rows = table(path).to_pylist()
    assert_same(rows, expected_rows(path))
    assert rows[0]["protocols"] == "eth:ipv4:tcp:http"
    assert rows[3]["malformed"] is not None


def test_an_ipv6_address_laid_out_like_an_ipv4_one_keeps_its_own_text(tmp_path: Path) -> None:
    """32.1.13.184 is 0x20010db8, the first words of 2001:db8::; one dictionary must not merge them.

    With rows of both versions, ARP rows without addresses between them,
    and the IPv6 address in either column.
    """
    arp = eth(bytes(28), ethertype=0x0806)
    frames = [
        eth(ipv4(tcp(b""), src="32.1.13.184", dst="10.0.0.2")),
        eth(ipv6(tcp(b""), src="2001:db8::", dst="::1")),
        arp,
        eth(ipv6(tcp(b""), src="::1", dst="2001:db8::")),
        eth(ipv4(tcp(b""), src="10.0.0.2", dst="32.1.13.184")),
        eth(ipv6(tcp(b""), src="2001:db8::7", dst="::1")),
    ]
    path = tmp_path / "lookalikes.pcap"
    path.write_bytes(pcap_bytes(frames))
    rows = table(path).to_pylist()
    assert_same(rows, expected_rows(path))
    assert [r["ip_src"] for r in rows] == [
        "32.1.13.184", "2001:db8::", None, "::1", "10.0.0.2", "2001:db8::7"
    ]
    assert [r["ip_dst"] for r in rows] == ["10.0.0.2", "::1", None, "2001:db8::", "32.1.13.184",
                                           "::1"]


def test_addresses_of_one_version_with_rows_without_any(tmp_path: Path) -> None:
    arp = eth(bytes(28), ethertype=0x0806)
    for frames in (
        [arp, eth(ipv4(tcp(b""), src="192.0.2.1", dst="192.0.2.2")), arp],
        [arp, eth(ipv6(tcp(b""), src="2001:db8::9", dst="fe80::1")), arp],
    ):
        path = tmp_path / "one-version.pcap"
        path.write_bytes(pcap_bytes(frames))
        assert_same(table(path).to_pylist(), expected_rows(path))


def test_a_timestamp_past_int64_nanoseconds_is_null(tmp_path: Path) -> None:
    from pcapng_build import epb, idb, shb

    frame = eth(ipv4_udp(udp(b"x", sport=1, dport=2)))
    data = shb() + idb(tsresol=0) + epb("<", 0, 1 << 62, frame) + epb("<", 0, 5, frame)
    path = tmp_path / "far.pcapng"
    path.write_bytes(data)
    assert table(path, ["ts_ns"]).column(0).to_pylist() == [None, 5_000_000_000]


# -- Community ID ------------------------------------------------------------------

#: From the Community ID spec's baseline (corelight/community-id-spec,
#: baseline/baseline_deflt.json): (proto, src, dst, sport, dport, id).
SPEC_VECTORS = [
    (6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    (6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    (17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
    (17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
    (6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
    (132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
    (46, "10.1.12.1", "10.1.12.2", None, None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
    (46, "10.1.12.2", "10.1.12.1", None, None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
]

#: ICMP vectors of the same baseline, given there as (type, code-or-answer-type);
#: here as the (type, code) the packets carried.
SPEC_ICMP_VECTORS = [
    (1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),  # echo
    (1, "192.168.0.1", "192.168.0.89", 0, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),  # its reply
    (1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="),  # time exceeded
    (58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 0,
     "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="),  # neighbour solicitation
    (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 0,
     "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="),  # its advertisement
    (58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4,
     "1:hLZd0XGWojozrvxqE0dWB1iM6R0="),  # destination unreachable: one-way
    (58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 0, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="),
]


def _raw(text: str) -> bytes:
    import ipaddress

    return ipaddress.ip_address(text).packed


@pytest.mark.parametrize("proto, src, dst, sport, dport, want", SPEC_VECTORS + SPEC_ICMP_VECTORS)
def test_community_id_matches_the_spec_baseline(
    proto: int, src: str, dst: str, sport: int | None, dport: int | None, want: str
) -> None:
    assert community_id(_raw(src), _raw(dst), proto, sport, dport) == want


def test_community_id_seed_changes_the_hash() -> None:
    a, b = _raw("10.0.0.1"), _raw("10.0.0.2")
    assert community_id(a, b, 6, 1, 2) != community_id(a, b, 6, 1, 2, seed=1)


@pytest.mark.parametrize("path", ALL_CAPTURES, ids=lambda p: p.name)
def test_the_community_id_column_hashes_each_packets_flow(path: Path) -> None:
    got = table(path, ["community_id"]).column(0).to_pylist()
    for packet, cid in zip(layerpeek.read(path), got, strict=True):
        ip = _first(packet, (IPv4, IPv6))
        l4 = _first(packet, (TCP, UDP))
        icmp = _first(packet, (ICMP, ICMPv6))
        if ip is None:
            want = None
        elif l4 is not None:
            want = community_id(ip.src, ip.dst, ip.protocol, l4.src_port, l4.dst_port)
        elif icmp is not None:
            want = community_id(ip.src, ip.dst, ip.protocol, icmp.type, icmp.code)
        elif ip.protocol in (1, 58, 6, 17, 132):
            want = None  # a fragment or a cut header: no ports to hash
        else:
            want = community_id(ip.src, ip.dst, ip.protocol)
        assert cid == want, f"frame {packet.index}"


def test_both_directions_of_a_connection_share_one_community_id(capture: Any) -> None:
    t = table(capture("http_keepalive.pcap"), ["src_port", "community_id"]).to_pylist()
    assert len({r["src_port"] for r in t}) == 2
    assert len({r["community_id"] for r in t}) == 1


# -- layerpeek export --------------------------------------------------------------


def test_export_packets_writes_the_table_as_parquet(
    capture: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow.parquet as pq

    path = capture("http_large_body.pcap")
    out = tmp_path / "p.parquet"
    assert main(["export", str(path), "--parquet", str(out), "--chunk-mb", "1"]) == 0
    assert pq.read_table(out).to_pylist() == table(path).to_pylist()
    assert "wrote 187 packets" in capsys.readouterr().err


def test_export_shows_progress_by_the_chunk(
    capture: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow.parquet as pq

    from layerpeek.columnar import split

    path = capture("http_large_body.pcap")
    out = tmp_path / "p.parquet"
    assert len(split(path, chunk_bytes=1 << 20)) == 1
    code = main(["export", str(path), "--parquet", str(out), "--progress",
                 "--columns", "frame,protocols"])
    assert code == 0
    err = capsys.readouterr().err
    assert "export packets: 100% (187 frames)" in err
    assert pq.read_table(out).column_names == ["frame", "protocols"]


def test_export_conversations_and_http_exchanges(capture: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = capture("http_keepalive.pcap")
    conv = tmp_path / "c.parquet"
    assert main(["export", str(path), "--parquet", str(conv), "--what", "conversations"]) == 0
    rows = pq.read_table(conv).to_pylist()
    assert len(rows) == 1 and rows[0]["proto"] == "tcp" and rows[0]["packets"] == 16
    http = tmp_path / "h.parquet"
    assert main(["export", str(path), "--parquet", str(http), "--what", "http", "-q"]) == 0
    exchanges = pq.read_table(http).to_pylist()
    assert [e["method"] for e in exchanges] == ["GET"] * len(exchanges)
    assert len(exchanges) >= 2


def test_export_errors_are_one_line_and_leave_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"definitely not a capture file")
    out = tmp_path / "o.parquet"
    assert main(["export", str(bad), "--parquet", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("layerpeek: ") and "not a pcap or pcapng file" in err
    assert "Traceback" not in err
    assert not out.exists() and not Path(str(out) + ".part").exists()
    assert main(["export", str(tmp_path / "none.pcap"), "--parquet", str(out)]) == 1
    assert "No such file" in capsys.readouterr().err
    assert main(["export", str(bad), "--parquet", str(tmp_path / "no" / "o.parquet")]) == 1
    assert "cannot write" in capsys.readouterr().err


def test_export_usage_errors_exit_2(capture: Any, tmp_path: Path) -> None:
    path = str(capture("http_keepalive.pcap"))
    out = str(tmp_path / "o.parquet")
    assert main(["export", path, "--parquet", out, "--columns", "frame,nope"]) == 2
    assert main(["export", path, "--parquet", out, "--what", "http", "--columns", "frame"]) == 2
    assert main(["export", path]) == 2


def test_export_reads_standard_input(
    capture: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    path = capture("udp_12345.pcap")
    fake = io.TextIOWrapper(io.BytesIO(path.read_bytes()))
    monkeypatch.setattr("sys.stdin", fake)
    out = tmp_path / "s.parquet"
    assert main(["export", "-", "--parquet", str(out)]) == 0
    assert pq.read_table(out).to_pylist() == table(path).to_pylist()


@pytest.mark.parametrize("what", ["packets", "conversations"])
def test_export_warns_about_a_record_cut_by_the_end_of_the_file(
    capture: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(capture("http_get_post.pcap").read_bytes()[:-10])
    out = tmp_path / "o.parquet"
    assert main(["export", str(cut), "--parquet", str(out), "--what", what]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "cut by end of file" in err
    assert out.exists()


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_a_capture_without_frames_gives_an_empty_table_with_every_column(
    tmp_path: Path, kind: str
) -> None:
    from pcapng_build import idb, shb

    path = tmp_path / f"empty.{kind}"
    path.write_bytes(pcap_bytes([]) if kind == "pcap" else shb() + idb())
    t = table(path, [*COLUMNS, "community_id"])
    assert t.num_rows == 0
    assert t.column_names == [*COLUMNS, "community_id"]


def test_a_table_does_not_import_pandas(capture: Any) -> None:
    """pyarrow's ``pa.array`` and ``to_numpy`` import pandas on first use (~0.25 s before a
    table of a small capture); the table is built without them."""
    pytest.importorskip("pandas")
    import subprocess
    import sys

    code = (
        "import sys, layerpeek\n"
        "from layerpeek.columnar import COLUMNS\n"
        f"for path in {[str(capture(n)) for n in ('tcp_3040_ipv6.pcap', 'dns_query.pcap')]!r}:\n"
        "    layerpeek.table(path, [*COLUMNS, 'community_id'])\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_block_reader_reads_what_the_capture_holds() -> None:
    """Reads served from the copied block equal reads of the buffer itself.

    Inside a frame's window, before it, past it, and for frames too near the
    end of the buffer to have a whole window (those always read the buffer).
    """
    import numpy as np

    from layerpeek.columnar.decoder import BEFORE, BLOCK, EVERY_ROW, Reader, Windows

    rng = np.random.default_rng(3)
    buf = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    frames = np.sort(rng.choice(np.arange(8, len(buf) - 1), 60, replace=False)).astype(np.int64)
    frames[-1] = len(buf) - 20  # no whole window fits after it
    block = Reader(buf, Windows.copy(buf, frames))
    plain = Reader(buf)
    assert block.block_views and not plain.block_views
    for width in (1, 2, 4, 8):
        after = BLOCK - BEFORE - width  # the last position a window still holds
        for delta in (-BEFORE - 1, -BEFORE, 0, 13, after, after + 1, 400):
            pos = np.minimum(frames + delta, len(buf) - width)
            assert (block(width, pos, EVERY_ROW) == plain(width, pos)).all(), (width, delta)
            rows = np.flatnonzero(rng.random(len(frames)) < 0.5)
            assert (block(width, pos[rows], rows) == plain(width, pos[rows])).all()
            mask = rng.random(len(frames)) < 0.5
            wide = np.minimum(pos, len(buf) - 8)[mask]
            assert (block.u64(wide, mask) == plain.u64(wide)).all(), (width, delta)
            two = np.minimum(np.where(mask, pos, frames + 20), len(buf) - width)  # two offsets
            assert (block(width, two, EVERY_ROW) == plain(width, two)).all(), (width, delta)
    block.close()
    plain.close()
