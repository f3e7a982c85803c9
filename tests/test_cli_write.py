"""``dump -w``, ``-T json`` and ``-T ek``: saving and exporting as tshark and tcpdump do.

``dump -w`` writes the packets the filters keep exactly as the input held
them: the records read back from the output equal the input's records
(bytes, original length, timestamp, link type), also against what
``tshark -r IN -Y EXPR -w OUT`` writes when tshark is installed.  ``-T json``
and ``-T ek`` give tshark's layouts; ``--json`` stays layerpeek's own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from builders import eth, ipv4, ipv4_tcp, ipv4_udp, pcap_bytes, tcp, udp
from conftest import CAPTURES
from pcapng_build import epb, idb, shb

from layerpeek.capture import open_capture
from layerpeek.cli import main

TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

Record = tuple[int, int, bytes, int]


def records(path: Path) -> list[Record]:
    """Every record of a capture as (ts_ns, wire_len, data, linktype)."""
    with open_capture(str(path)) as frames:
        return [(f.ts_ns, f.wire_len, f.data, f.linktype) for f in frames]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def listed(capsys: pytest.CaptureFixture[str], *argv: str) -> list[int]:
    """The frame numbers ``dump`` lists with these options."""
    code, out, _ = run(capsys, "dump", *argv)
    assert code == 0
    return [int(line.split()[0][1:]) for line in out.splitlines()]


# --------------------------------------------------------------------------- -w


def test_w_rewrites_a_pcap_byte_for_byte(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = CAPTURES / "page_load.pcap"
    out = tmp_path / "copy.pcap"
    assert run(capsys, "dump", str(source), "-w", str(out)) == (0, "", "")
    assert out.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("argv", [
    ["-Y", "http"],
    ["-Y", "tcp.stream == 0 && tcp.len > 0", "-c", "2"],
    ["-c", "3"],
    ["-Y", "dns.flags.response == 1"],
])
def test_w_keeps_what_the_listing_shows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    source = CAPTURES / "page_load.pcap"
    shown = listed(capsys, str(source), *argv)
    out = tmp_path / "kept.pcap"
    assert run(capsys, "dump", str(source), *argv, "-w", str(out))[0] == 0
    every = records(source)
    assert records(out) == [every[i - 1] for i in shown]
    assert shown  # the filters keep something, or the test says nothing


def test_w_honours_a_capture_filter(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("ctypes")
    source = CAPTURES / "page_load.pcap"
    code, _, err = run(capsys, "dump", str(source), "-c", "1", "udp", "port", "53")
    if code != 0 and "libpcap" in err:
        pytest.skip("libpcap is not installed")
    shown = listed(capsys, str(source), "udp", "port", "53")
    out = tmp_path / "dns.pcap"
    assert run(capsys, "dump", str(source), "-w", str(out), "udp", "port", "53")[0] == 0
    every = records(source)
    assert records(out) == [every[i - 1] for i in shown] and len(shown) == 4


def test_w_writes_fragments_as_captured_not_the_reassembled_datagram(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    payload = udp(b"x" * 60, sport=5000, dport=6000)
    first = ipv4(payload[:32], proto=17, ident=7, flags=1)  # MF
    second = ipv4(payload[32:], proto=17, ident=7, flags=0, frag_offset=32)
    source = tmp_path / "frag.pcap"
    source.write_bytes(pcap_bytes([eth(first), eth(second)]))
    listing = run(capsys, "dump", str(source))[1].splitlines()
    assert "reassembled: 68 bytes from #1,#2" in listing[1]  # frame 2 is decoded as the datagram
    out = tmp_path / "out.pcap"
    assert run(capsys, "dump", str(source), "-w", str(out))[0] == 0
    assert out.read_bytes() == source.read_bytes()


def test_w_pcapng_by_name_or_flag_keeps_interfaces_and_link_types(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    frame_eth = eth(ipv4_udp(udp(b"a", sport=1, dport=2)))
    frame_raw = ipv4_udp(udp(b"b", sport=3, dport=4))
    source = tmp_path / "two.pcapng"
    source.write_bytes(
        shb() + idb(linktype=1, name="eth0", tsresol=9) + idb(linktype=101, name="tun0")
        + epb("<", 0, 1_700_000_000_123_456_789, frame_eth)
        + epb("<", 1, 1_700_000_000_123_457, frame_raw, orig=200)
    )
    for name, flag in (("out.pcapng", []), ("out.bin", ["-F", "pcapng"])):
        out = tmp_path / name
        assert run(capsys, "dump", str(source), *flag, "-w", str(out))[0] == 0
        assert out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
        assert records(out) == records(source)
        with open_capture(str(out)) as frames:
            list(frames)
            assert [(i.linktype, i.name) for i in frames.interfaces] == [
                (1, "eth0"), (101, "tun0")]
    # a pcap file holds one link type: said, and no partial file is left
    out = tmp_path / "mixed.pcap"
    code, _, err = run(capsys, "dump", str(source), "-w", str(out))
    assert code == 1
    assert "frame 2 has link type 101 (raw IP)" in err and "-F pcapng" in err
    assert not out.exists()


def test_w_keeps_nanosecond_timestamps_in_pcap(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "ns.pcap"
    frames = [eth(ipv4_tcp(tcp(sport=1, dport=2, seq=n))) for n in range(3)]
    source.write_bytes(pcap_bytes(frames, nanos=True, start_ns=1_700_000_000_000_000_001,
                                  step_ns=7))
    out = tmp_path / "out.pcap"
    assert run(capsys, "dump", str(source), "-w", str(out))[0] == 0
    assert out.read_bytes() == source.read_bytes()


def test_w_with_nothing_kept_is_an_empty_capture(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "none.pcap"
    source = CAPTURES / "page_load.pcap"
    assert run(capsys, "dump", str(source), "-Y", "sip.Method", "-w", str(out))[0] == 2  # no field
    assert run(capsys, "dump", str(source), "-Y", "frame.number > 99", "-w", str(out))[0] == 0
    assert out.read_bytes() == source.read_bytes()[:24]
    assert records(out) == []


def test_w_lists_nothing_and_refuses_listing_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = str(CAPTURES / "page_load.pcap")
    out = str(tmp_path / "x.pcap")
    for argv in (["-V"], ["--json"], ["-T", "fields", "-e", "ip.src"], ["-A"]):
        code, _, err = run(capsys, "dump", source, "-w", out, *argv)
        assert code == 2 and "usage: layerpeek dump" in err, argv
    code, _, err = run(capsys, "dump", source, "-F", "pcapng")
    assert code == 2 and "-F gives the format of the -w file" in err


@needs_tshark
@pytest.mark.parametrize("flt", ["http", "tcp.flags.syn == 1", "dns || frame.number == 18"])
def test_w_writes_the_records_tshark_writes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flt: str
) -> None:
    source = CAPTURES / "page_load.pcap"
    theirs = tmp_path / "tshark.pcapng"
    subprocess.run([str(TSHARK), "-r", str(source), "-Y", flt, "-w", str(theirs)],
                   check=True, capture_output=True, timeout=120)
    ours = tmp_path / "ours.pcapng"
    assert run(capsys, "dump", str(source), "-Y", flt, "-w", str(ours))[0] == 0
    assert records(ours) == records(theirs)
    assert records(ours)


# --------------------------------------------------------------------------- -T json / ek


def test_t_json_is_one_array_in_tsharks_layout(capsys: pytest.CaptureFixture[str]) -> None:
    source = str(CAPTURES / "http_get_post.pcap")
    code, out, _ = run(capsys, "dump", source, "-T", "json", "-c", "4")
    assert code == 0
    docs = json.loads(out)
    assert isinstance(docs, list) and len(docs) == 4
    first = docs[0]
    assert first["_type"] == "doc" and first["_index"].startswith("packets-")
    layers = first["_source"]["layers"]
    assert list(layers)[:4] == ["frame", "eth", "ip", "tcp"]
    assert layers["frame"]["frame.number"] == "1"
    assert layers["ip"]["ip.src"] == "127.0.0.1"
    assert layers["ip"]["ip.addr"] == ["127.0.0.1", "127.0.0.1"]  # several values: a list
    assert layers["tcp"]["tcp.flags.syn"] == "1"
    http = docs[3]["_source"]["layers"]["http"]
    assert http["http.request.method"] == "GET"


def test_t_json_of_nothing_is_an_empty_array(capsys: pytest.CaptureFixture[str]) -> None:
    source = str(CAPTURES / "http_get_post.pcap")
    assert json.loads(run(capsys, "dump", source, "-T", "json", "-Y", "dns")[1]) == []


def test_t_json_honours_the_display_filter(capsys: pytest.CaptureFixture[str]) -> None:
    source = str(CAPTURES / "http_get_post.pcap")
    docs = json.loads(run(capsys, "dump", source, "-T", "json", "-Y", "http")[1])
    numbers = [int(d["_source"]["layers"]["frame"]["frame.number"]) for d in docs]
    assert numbers == listed(capsys, source, "-Y", "http")


def test_t_ek_is_elasticsearch_bulk_lines(capsys: pytest.CaptureFixture[str]) -> None:
    source = str(CAPTURES / "http_get_post.pcap")
    code, out, _ = run(capsys, "dump", source, "-T", "ek", "-c", "3")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 6
    actions, docs = lines[0::2], lines[1::2]
    assert all(a["index"]["_type"] == "doc" for a in actions)
    assert docs[0]["timestamp"] == "1795596245130"  # milliseconds, as a string
    assert docs[0]["layers"]["ip"]["ip_ip_src"] == "127.0.0.1"
    assert docs[0]["layers"]["tcp"]["tcp_tcp_flags_syn"] is True  # booleans stay booleans


def test_json_keeps_layerpeeks_own_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    source = str(CAPTURES / "http_get_post.pcap")
    out = run(capsys, "dump", source, "--json", "-c", "2")[1]
    assert [json.loads(line)["index"] for line in out.splitlines()] == [1, 2]
    code, _, err = run(capsys, "dump", source, "--json", "-T", "json")
    assert code == 2 and "give one" in err


@needs_tshark
@pytest.mark.parametrize("capture", ["page_load.pcap", "tcp_loss_reorder.pcap", "dns_query.pcap"])
def test_t_json_values_equal_tsharks(capsys: pytest.CaptureFixture[str], capture: str) -> None:
    """Every field both write, for every packet, has the same value (the fields layerpeek
    documents as different from tshark's left out)."""
    source = CAPTURES / capture
    theirs = json.loads(subprocess.run(
        [str(TSHARK), "-r", str(source), "-T", "json", "--no-duplicate-keys"],
        check=True, capture_output=True, text=True, timeout=120).stdout)
    ours = json.loads(run(capsys, "dump", str(source), "-T", "json")[1])
    assert len(ours) == len(theirs)

    def flat(tree: dict[str, object], into: dict[str, object]) -> dict[str, object]:
        for key, value in tree.items():
            if isinstance(value, dict):
                flat(value, into)
            else:
                into.setdefault(key, value)
        return into

    def mine_frame(doc: dict[str, dict[str, dict[str, dict[str, str]]]]) -> str:
        return doc["_source"]["layers"]["frame"]["frame.number"]

    # documented in layerpeek.filter.fields: layerpeek's protocol path, interface 0 for pcap,
    # the SACK-permitted option as a flag (tshark: its bytes)
    # and the TCP checksum verified (tshark: 2, unverified, unless -o tcp.check_checksum:TRUE)
    differ = {"frame.protocols", "frame.interface_id", "tcp.options.sack_perm",
              "tcp.checksum.status"}
    compared = 0
    for mine, other in zip(ours, theirs, strict=True):
        them = flat(other["_source"]["layers"], {})
        for proto, fields in mine["_source"]["layers"].items():
            for name, value in fields.items():
                if name in differ or name not in them or proto == "http":
                    continue
                other_value = them[name]
                if isinstance(value, list) and not isinstance(other_value, list):
                    # tshark spreads the occurrences over its *_tree objects
                    assert other_value in value, (mine_frame(mine), name)
                else:
                    assert value == other_value, (mine_frame(mine), name)
                compared += 1
    assert compared > 20 * len(ours)
