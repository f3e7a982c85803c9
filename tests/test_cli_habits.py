"""tshark and tcpdump habits the CLI keeps (issue 15, "Habits from tshark and tcpdump").

A user who knows those tools types ``-r FILE``, ``-n``, ``-t ad``, ``-q``,
``-v``, ``-X``, ``-A`` and ``-Y`` without thinking; each works here as there,
or is accepted and documented as changing nothing (``-n``: layerpeek never
resolves names).  Usage errors show the usage of the command that was typed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from builders import eth, ipv4_tcp, ipv4_udp, pcap_bytes, tcp, udp

from layerpeek.cli import main
from layerpeek.commands import common, dns

#: 2023-11-14 22:13:20 UTC, the builders' first timestamp; frames 1 ms apart.
START_NS = 1_700_000_000_000_000_000

FILE_COMMANDS = ("dump", "flows", "follow", "handshake", "dns", "http", "explain")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def http_frames() -> list[bytes]:
    """A handshake, a GET and its answer, and a UDP datagram: every command has something."""
    get = b"GET /hello HTTP/1.1\r\nHost: example.test\r\n\r\n"
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    server = {"src": "10.0.0.2", "dst": "10.0.0.1"}
    return [
        eth(ipv4_tcp(tcp(sport=40000, dport=80, flags="S", seq=100))),
        eth(ipv4_tcp(tcp(sport=80, dport=40000, flags="SA", seq=900, ack=101), **server)),
        eth(ipv4_tcp(tcp(sport=40000, dport=80, flags="A", seq=101, ack=901))),
        eth(ipv4_tcp(tcp(get, sport=40000, dport=80, flags="PA", seq=101, ack=901))),
        eth(ipv4_tcp(tcp(ok, sport=80, dport=40000, flags="PA", seq=901, ack=101 + len(get)),
                     **server)),
        eth(ipv4_udp(udp(b"ping", sport=5000, dport=6000))),
    ]


@pytest.fixture
def web(tmp_path: Path) -> Path:
    path = tmp_path / "web.pcap"
    path.write_bytes(pcap_bytes(http_frames(), start_ns=START_NS))
    return path


# --------------------------------------------------------------------------- -r and -n


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_every_command_reads_a_capture_given_with_r(
    capsys: pytest.CaptureFixture[str], web: Path, command: str
) -> None:
    plain = run(capsys, command, str(web))
    assert plain[0] == 0
    assert run(capsys, command, "-r", str(web)) == plain


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_n_and_nn_are_accepted_and_change_nothing(
    capsys: pytest.CaptureFixture[str], web: Path, command: str
) -> None:
    plain = run(capsys, command, str(web))
    assert run(capsys, command, "-n", str(web)) == plain
    assert run(capsys, command, "-nn", "-r", str(web)) == plain


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_help_says_names_are_never_resolved(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert "never resolves names" in " ".join(out.split())


def test_r_with_a_stream_number_keeps_the_stream(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    assert run(capsys, "handshake", "-r", str(web), "0") == run(capsys, "handshake", str(web), "0")
    code, _, err = run(capsys, "follow", "-r", str(web), "seven")
    assert code == 2 and "not a stream number: 'seven'" in err


def test_neither_file_nor_r_is_a_usage_error_of_that_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "flows")
    assert code == 2
    assert err.startswith("usage: layerpeek flows")
    assert "a capture file is required" in err


def test_a_capture_without_a_command_suggests_dump(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    code, _, err = run(capsys, "-r", str(web))
    assert code == 2
    assert f"layerpeek dump -r {web}" in err
    code, _, err = run(capsys, str(web), "-c", "2")
    assert code == 2
    assert f"layerpeek dump {web} -c 2" in err


@pytest.mark.parametrize("command", ["dns", "flows", "http", "explain", "dump"])
def test_unknown_options_print_the_commands_usage(
    capsys: pytest.CaptureFixture[str], web: Path, command: str
) -> None:
    code, _, err = run(capsys, command, str(web), "--no-such-option")
    assert code == 2
    assert err.startswith(f"usage: layerpeek {command} ")
    assert "unrecognized arguments: --no-such-option" in err


# --------------------------------------------------------------------------- -t


def times(out: str) -> list[str]:
    """The time column of each line of a default listing ("#1 TIME …"; dates have a space)."""
    return [line.split(" eth:")[0].split(" ", 1)[1] for line in out.splitlines()]


@pytest.mark.parametrize(("fmt", "first", "second"), [
    ("r", "0.000000", "0.001000"),
    ("u", "22:13:20.000000", "22:13:20.001000"),
    ("ud", "2023-11-14 22:13:20.000000", "2023-11-14 22:13:20.001000"),
    ("udoy", "2023/318 22:13:20.000000", "2023/318 22:13:20.001000"),
    ("e", "1700000000.000000", "1700000000.001000"),
    ("d", "0.000000", "0.001000"),
    ("dd", "0.000000", "0.001000"),
])
def test_time_formats_as_tshark(
    capsys: pytest.CaptureFixture[str], web: Path, fmt: str, first: str, second: str
) -> None:
    code, out, _ = run(capsys, "dump", "-t", fmt, "-c", "2", str(web))
    assert code == 0
    assert times(out) == [first, second]


def test_local_time_formats_follow_the_time_zone(
    capsys: pytest.CaptureFixture[str], web: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Etc/GMT-2")  # POSIX sign: two hours east of UTC
    time.tzset()
    try:
        assert times(run(capsys, "dump", "-t", "a", "-c", "1", str(web))[1]) == [
            "00:13:20.000000"]
        assert times(run(capsys, "dump", "-t", "ad", "-c", "1", str(web))[1]) == [
            "2023-11-15 00:13:20.000000"]
        assert times(run(capsys, "dump", "-t", "adoy", "-c", "1", str(web))[1]) == [
            "2023/319 00:13:20.000000"]
    finally:
        monkeypatch.undo()
        time.tzset()


def test_delta_captured_and_delta_displayed_differ_under_a_display_filter(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    # -Y shows frames 1 and 4 of six frames 1 ms apart.
    flt = "frame.number == 1 || frame.number == 4"
    assert times(run(capsys, "dump", "-t", "d", "-Y", flt, str(web))[1]) == [
        "0.000000", "0.001000"]
    assert times(run(capsys, "dump", "-t", "dd", "-Y", flt, str(web))[1]) == [
        "0.000000", "0.003000"]


def test_time_format_applies_to_the_line_above_a_hex_dump(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    out = run(capsys, "dump", "-t", "e", "-x", "-c", "1", str(web))[1]
    assert out.startswith("#1 1700000000.000000 eth:ipv4:tcp ")


def test_an_unknown_time_format_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    code, _, err = run(capsys, "dump", "-t", "x", str(web))
    assert code == 2 and "usage: layerpeek dump" in err


# --------------------------------------------------------------------------- -q -v -X -A


def test_q_lists_nothing_and_still_exits_cleanly(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    assert run(capsys, "dump", "-q", str(web)) == (0, "", "")


def test_v_is_the_tree_of_capital_v(capsys: pytest.CaptureFixture[str], web: Path) -> None:
    tree = run(capsys, "dump", "-V", str(web))
    assert tree[1].startswith("Frame 1:")
    assert run(capsys, "dump", "-v", str(web)) == tree


def test_capital_x_is_the_hex_and_ascii_dump(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    hexed = run(capsys, "dump", "-x", str(web))
    assert "GET /hello HTTP/1." in hexed[1]  # the ASCII column
    assert run(capsys, "dump", "-X", str(web)) == hexed


def test_capital_a_prints_the_packet_after_the_link_header_as_ascii(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    out = run(capsys, "dump", "-A", "-Y", "http.request", str(web))[1]
    line, *text = out.split("\n")
    assert line.startswith("#4 ") and "GET /hello" in line
    body = "\n".join(text)
    assert "GET /hello HTTP/1.1\nHost: example.test\n" in body  # CR LF read as one line end
    assert "\r" not in body
    assert body.startswith("E")  # IPv4's first byte 0x45: the Ethernet header is left out


def test_listing_options_that_cannot_mix_are_refused(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    for argv in (("-q", "-V"), ("--json", "-A"), ("--json", "-t", "ad")):
        code, _, err = run(capsys, "dump", *argv, str(web))
        assert code == 2 and err.startswith("usage: layerpeek dump"), argv


# --------------------------------------------------------------------------- -Y elsewhere


def test_handshake_y_draws_only_matching_segments_and_keeps_states(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    out = run(capsys, "handshake", "-Y", "tcp.flags.syn == 1", str(web))[1]
    arrows = [line for line in out.splitlines() if "|" in line and ("->" in line or "<-" in line)]
    assert len(arrows) == 2
    assert "SYN seq=0" in arrows[0] and "SYN, ACK seq=0" in arrows[1]


def test_handshake_y_without_a_match_says_so(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    assert run(capsys, "handshake", "-Y", "tcp.flags.reset == 1", str(web)) == (
        0, "", f"layerpeek: {web}: no TCP conversations match -Y\n")


def test_explain_y_tells_only_steps_with_a_matching_packet(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    whole = run(capsys, "explain", "--json", str(web))[1]
    only = run(capsys, "explain", "--json", "-Y", "http.request", str(web))[1]
    import json

    steps = json.loads(whole)["steps"]
    kept = json.loads(only)["steps"]
    assert len(kept) < len(steps)
    assert kept and all(4 in step["frames"] for step in kept)


def test_dns_y_keeps_transactions_with_a_matching_frame(
    capsys: pytest.CaptureFixture[str], capture: object
) -> None:
    path = str(capture("page_load.pcap"))  # type: ignore[operator]
    rows = run(capsys, "dns", path)[1].splitlines()
    assert len(rows) == 3  # header, A, AAAA
    only = run(capsys, "dns", "-Y", "dns.qry.type == 28", path)[1].splitlines()
    assert only == [rows[0], rows[2]]


# --------------------------------------------------------------------------- follow


def test_follow_without_a_stream_follows_stream_0(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    default = run(capsys, "follow", str(web))
    assert default[0] == 0 and "GET /hello" in default[1]
    assert run(capsys, "follow", str(web), "0") == default


def test_follow_hex_shows_offsets_per_direction(
    capsys: pytest.CaptureFixture[str], web: Path
) -> None:
    out = run(capsys, "follow", "--hex", str(web))[1]
    lines = out.splitlines()
    assert "00000000  47 45 54 20 2f 68 65 6c  6c 6f 20 48 54 54 50 2f  GET /hello HTTP/" in lines
    assert "00000010  31 2e 31 0d 0a 48 6f 73  74 3a 20 65 78 61 6d 70  1.1..Host: examp" in lines
    # the server's bytes count from 0 again
    assert any(line.startswith("00000000  48 54 54 50 2f 31 2e 31") for line in lines)
    code, _, err = run(capsys, "follow", "--hex", "--raw", "--direction", "client", str(web))
    assert code == 2 and "usage: layerpeek follow" in err


# --------------------------------------------------------------------------- empty results


@pytest.mark.parametrize(("command", "what"), [
    ("handshake", "TCP conversations"),
    ("http", "HTTP exchanges"),
    ("dns", "DNS transactions"),
])
def test_empty_results_are_said_one_way(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, what: str
) -> None:
    path = tmp_path / "udp.pcap"
    path.write_bytes(pcap_bytes([eth(ipv4_udp(udp(b"x", sport=1000, dport=2000)))]))
    for json_flag in ([], ["--json"]) if command != "handshake" else ([],):
        assert run(capsys, command, *json_flag, str(path)) == (
            0, "", f"layerpeek: {path}: no {what} in this capture\n")


def test_dns_answers_are_cut_on_a_terminal_only(
    capsys: pytest.CaptureFixture[str], capture: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(capture("page_load.pcap"))  # type: ignore[operator]
    piped = run(capsys, "dns", path)[1]
    assert "host1.example.test" in piped and "…" not in piped
    monkeypatch.setattr(dns, "MAX_ANSWER", 30)
    monkeypatch.setattr(common, "is_terminal", lambda stream: True)
    cut = run(capsys, "dns", path)[1]
    assert "…" in cut
    assert run(capsys, "dns", "--wide", path)[1] == piped


# --------------------------------------------------------------------------- link types


def test_an_undecoded_link_type_is_named_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "zigbee.pcap"
    path.write_bytes(pcap_bytes([b"\x41\x88" + bytes(30)] * 3, linktype=195))
    code, out, err = run(capsys, "dump", str(path))
    assert code == 0 and len(out.splitlines()) == 3
    assert err == (f"layerpeek: warning: {path}: link type 195 (IEEE 802.15.4 with FCS) is not "
                   "decoded: its frames are shown as undecoded data\n")
