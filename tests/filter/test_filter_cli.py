"""The command line: ``dump -Y``, capture filters on files, ``-T fields``, ``-c``, ``-l``.

Captures: ``http_get_post.pcap`` is a GET (frames 1-10) and a POST (11-20)
to 127.0.0.1:8080; see captures/README.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from layerpeek.cli import main
from layerpeek.filter import FilterError
from layerpeek.filter.bpf import CaptureFilter

Finder = Callable[[str], Path]
Capsys = pytest.CaptureFixture[str]


def run(capsys: Capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def indexes(out: str) -> list[int]:
    return [int(line.split()[0].lstrip("#")) for line in out.splitlines() if line.startswith("#")]


def _libpcap() -> bool:
    try:
        CaptureFilter("tcp")
    except FilterError:
        return False
    return True


needs_libpcap = pytest.mark.skipif(not _libpcap(), reason="libpcap is not installed")


@pytest.fixture
def http(capture: Finder) -> str:
    return str(capture("http_get_post.pcap"))


def test_display_filter_keeps_matching_packets_with_their_frame_numbers(
    capsys: Capsys, http: str
) -> None:
    code, out, err = run(capsys, "dump", http, "-Y", "tcp.flags.syn == 1 && tcp.stream == 1")
    assert (code, err) == (0, "")
    assert indexes(out) == [11, 12]


def test_a_bad_display_filter_shows_the_column_and_exits_2(capsys: Capsys, http: str) -> None:
    code, out, err = run(capsys, "dump", http, "-Y", "tcp.port == 80 and ip.sorc == 1.2.3.4")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("layerpeek: bad display filter: 'ip.sorc' is neither a field")
    assert lines[1] == "tcp.port == 80 and ip.sorc == 1.2.3.4"
    assert lines[2] == " " * 19 + "^" * 7
    assert "Traceback" not in err


def test_count_counts_printed_packets_not_read_ones(capsys: Capsys, http: str) -> None:
    code, out, _ = run(capsys, "dump", http, "-Y", "tcp.len > 0", "-c", "3")
    assert code == 0
    assert indexes(out) == [4, 6, 14]


def test_json_lines_are_filtered_too(capsys: Capsys, http: str) -> None:
    code, out, _ = run(capsys, "dump", http, "--json", "-Y", "http")
    assert code == 0
    assert [json.loads(line)["index"] for line in out.splitlines()] == [4, 6, 14, 16]


def test_field_output_is_tab_separated_by_default(capsys: Capsys, http: str) -> None:
    code, out, _ = run(capsys, "dump", http, "-Y", "http.request", "-T", "fields",
                       "-e", "frame.number", "-e", "http.request.method", "-e", "tcp.port")
    assert code == 0
    assert out.splitlines() == ["4\tGET\t41240,8080", "14\tPOST\t41241,8080"]


def test_field_output_as_csv_with_a_header(capsys: Capsys, http: str) -> None:
    code, out, _ = run(capsys, "dump", http, "-c", "2", "-e", "frame.number", "-e", "tcp.stream",
                       "-E", "header=y", "-E", "separator=,", "-E", "quote=d")
    assert code == 0
    assert out.splitlines() == ['"frame.number","tcp.stream"', '"1","0"', '"2","0"']


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["-T", "fields"], "needs at least one -e"),
        (["-e", "ip.srcc"], "did you mean 'ip.src'"),
        (["-e", "ip.src", "-E", "quote=x"], "quote=x"),
        (["-e", "ip.src", "--json"], "cannot be combined"),
        (["-T", "json", "-V"], "cannot be combined"),
    ],
)
def test_field_output_mistakes_are_usage_errors(
    capsys: Capsys, http: str, argv: list[str], words: str
) -> None:
    code, out, err = run(capsys, "dump", http, *argv)
    assert code == 2 and out == ""
    assert words in err and "Traceback" not in err


def test_minus_t_json_is_tsharks_array(capsys: Capsys, http: str) -> None:
    # (issue 15: -T json is tshark's layout; layerpeek's JSON Lines are --json)
    code, out, _ = run(capsys, "dump", http, "-T", "json", "-c", "1")
    assert code == 0
    (doc,) = json.loads(out)
    assert doc["_source"]["layers"]["frame"]["frame.number"] == "1"


@needs_libpcap
def test_trailing_words_filter_a_file_like_tcpdump(capsys: Capsys, http: str) -> None:
    code, out, _ = run(capsys, "dump", http, "tcp[tcpflags]", "&", "tcp-syn", "!=", "0")
    assert code == 0
    assert indexes(out) == [1, 2, 11, 12]


@needs_libpcap
def test_capture_filter_with_f_and_with_r(capsys: Capsys, http: str) -> None:
    _, by_f, _ = run(capsys, "dump", http, "-f", "tcp[tcpflags] & tcp-fin != 0")
    _, by_r, _ = run(capsys, "dump", "-r", http, "tcp[tcpflags]", "&", "tcp-fin", "!=", "0")
    assert indexes(by_f) == indexes(by_r) == [8, 9, 18, 19]


@needs_libpcap
def test_capture_and_display_filters_combine(capsys: Capsys, http: str) -> None:
    code, out, _ = run(capsys, "dump", http, "-f", "tcp[tcpflags] & tcp-syn != 0",
                       "-Y", "tcp.flags.ack == 1")
    assert code == 0 and indexes(out) == [2, 12]


@needs_libpcap
def test_a_bad_capture_filter_is_a_usage_error(capsys: Capsys, http: str) -> None:
    code, out, err = run(capsys, "dump", http, "tcp", "prot", "80")
    assert code == 2 and out == ""
    assert err.startswith("layerpeek: bad capture filter 'tcp prot 80'")


@needs_libpcap
def test_one_filter_word_after_r_is_a_filter_not_a_second_file(capsys: Capsys, http: str) -> None:
    code, out, _ = run(capsys, "dump", "-r", http, "udp")
    assert code == 0 and out == ""  # http_get_post.pcap has no UDP


def test_display_filters_are_for_files_not_live_capture(capsys: Capsys) -> None:
    code, out, err = run(capsys, "dump", "-i", "lo", "-Y", "tcp")
    assert code == 2 and out == ""
    assert "-Y and -T fields work on capture files" in err


def test_f_and_trailing_words_together_are_refused(capsys: Capsys, http: str) -> None:
    code, _, err = run(capsys, "dump", http, "udp", "-f", "tcp")
    assert code == 2 and "either" in err


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
@needs_libpcap
def test_selected_frames_are_the_ones_tcpdump_prints(capsys: Capsys, capture: Finder) -> None:
    path = str(capture("page_load.pcap"))
    expression = "udp or tcp[tcpflags] & tcp-push != 0"
    done = subprocess.run(["tcpdump", "-r", path, "-n", "-tt", expression], capture_output=True,
                          text=True, check=True)
    _, out, _ = run(capsys, "dump", path, expression)
    assert len(indexes(out)) == len(done.stdout.splitlines()) > 0


def test_line_buffered_output_flushes_each_packet(http: str) -> None:
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "layerpeek", "dump", http, "-l", "-T", "fields", "-e",
         "frame.number", "-c", "2"], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.stdout.splitlines() == ["1", "2"]


def test_flows_keeps_conversations_with_a_matching_packet(capsys: Capsys, http: str) -> None:
    code, out, _ = run(capsys, "flows", http, "-Y", 'http.request.method == "POST"', "--json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["proto"], r["id"]) for r in records] == [("tcp", 1)]


def test_flows_reports_a_bad_filter_like_dump(capsys: Capsys, http: str) -> None:
    code, _, err = run(capsys, "flows", http, "-Y", "tcp.port = 80")
    assert code == 2 and "use == to compare" in err


def test_http_keeps_exchanges_with_a_matching_packet(capsys: Capsys, capture: Finder) -> None:
    path = str(capture("page_load.pcap"))
    code, out, _ = run(capsys, "http", path, "--json", "-Y", 'http.request.uri contains "png"')
    assert code == 0
    assert [json.loads(line)["target"] for line in out.splitlines()] == ["/logo.png"]


def test_fields_lists_every_field_with_type_and_description(capsys: Capsys) -> None:
    code, out, _ = run(capsys, "fields")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    for name in ("frame.number", "ip.addr", "tcp.port", "tcp.analysis.retransmission",
                 "dns.qry.name", "http.request.method", "_ws.malformed", "tcp"):
        assert name in names
    assert "IPv4 address" in next(line for line in out.splitlines() if line.startswith("ip.src "))


def test_fields_search_and_json(capsys: Capsys) -> None:
    code, out, _ = run(capsys, "fields", "--json", "dns.qry")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["name"] for r in records} == {"dns.qry.name", "dns.qry.type", "dns.qry.class"}
    assert all(r["protocol"] == "dns" for r in records)
    code, _, err = run(capsys, "fields", "no-such-thing")
    assert code == 1 and "no field matches" in err


@pytest.mark.parametrize("extra", [(), ("--no-flows",), ("-x",), ("-S",)])
def test_a_display_filter_keeps_the_capture_s_time_zero(
    capsys: Capsys, http: str, extra: tuple[str, ...]
) -> None:
    """``-Y`` hides lines, not time: frame 11 shows the same time as without the filter.

    tshark's ``frame.time_relative`` counts from the first frame whether or
    not the display filter shows it.
    """
    times = {}
    for line in run(capsys, "dump", http, *extra)[1].splitlines():
        if line.startswith("#"):
            frame, time = line.split()[:2]
            times[frame] = time
    _, out, _ = run(capsys, "dump", http, *extra, "-Y", "frame.number >= 11")
    shown = [line.split()[:2] for line in out.splitlines() if line.startswith("#")]
    assert shown and shown[0][0] == "#11" and shown[0][1] != "0.000000"
    assert all(times[frame] == time for frame, time in shown)


@needs_libpcap
def test_a_capture_filter_starts_time_at_its_first_frame(capsys: Capsys, http: str) -> None:
    """As ``tcpdump -r FILE EXPR``: frames the filter drops were never captured."""
    _, out, _ = run(capsys, "dump", http, "-f", "tcp[tcpflags] & tcp-fin != 0")
    assert out.splitlines()[0].split()[:2] == ["#8", "0.000000"]


@needs_libpcap
def test_damage_in_frames_a_capture_filter_drops_is_not_reported(
    capsys: Capsys, tmp_path: Path
) -> None:
    from builders import eth, ipv4, pcap_bytes, tcp, udp

    path = tmp_path / "mixed.pcap"
    bad_udp = eth(ipv4(udp(b"x", length=5), proto=17))  # UDP length below 8: malformed
    path.write_bytes(pcap_bytes([eth(ipv4(tcp(b"hi"), proto=6)), bad_udp]))
    _, _, err = run(capsys, "dump", str(path))
    assert "1 malformed" in err
    code, out, err = run(capsys, "dump", str(path), "tcp")
    assert code == 0 and indexes(out) == [1]
    assert "problems" not in err
