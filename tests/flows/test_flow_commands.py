"""The flows, follow and handshake commands, end to end through ``cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import eth, ipv4_udp, pcap_bytes, udp
from flowwire import Wire, script

from layerpeek.cli import main

HS = ["c S", "s SA", "c A"]


def capture(tmp_path: Path, w: Wire, packets: list) -> Path:  # type: ignore[type-arg]
    path = tmp_path / "conv.pcap"
    path.write_bytes(pcap_bytes([p.data for p in packets], step_ns=w.step_ns))
    return path


@pytest.fixture
def greeting(tmp_path: Path) -> Path:
    """A client says hello, the server answers, the client closes first."""
    w = Wire(("10.0.0.1", 40000), ("10.0.0.2", 3040))
    packets = script(w, *HS)
    packets.append(w.c("PA", b"hello\r\n"))
    packets.append(w.s("PA", b"hi there\r\n"))
    packets += script(w, "c A", "c FA", "s FA", "c A")
    return capture(tmp_path, w, packets)


@pytest.fixture
def lossy(tmp_path: Path) -> Path:
    """The capture missed 4 of the server's bytes; the client acknowledged them."""
    w = Wire()
    packets = script(w, *HS)
    packets.append(w.s("PA", b"abcd"))
    w.lost("s", b"LOST")
    packets.append(w.s("PA", b"efgh"))
    packets += script(w, "c A", "s FA", "c FA", "s A")
    return capture(tmp_path, w, packets)


def test_flows_lists_one_row_per_conversation(
    greeting: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["flows", str(greeting)]) == 0
    header, row, *rest = capsys.readouterr().out.splitlines()
    assert rest == []
    assert header.split() == ["ID", "PROTO", "CLIENT", "SERVER", "PACKETS", "BYTES", "DURATION",
                              "RTT", "STATE", "HISTORY", "END"]
    cells = row.split()
    assert cells[:6] == ["0", "tcp", "10.0.0.1:40000", "10.0.0.2:3040", "6/3", "7/10"]
    # "d" without an "a": the server never sent a bare ACK, only data.
    assert cells[-4:] == ["SF", "ShADdFf", "four-way", "(client)"]


def test_flows_json_lines_carry_the_documented_keys(
    greeting: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["flows", "--json", str(greeting)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    for key in ("id", "proto", "client", "server", "packets", "bytes_client", "bytes_server",
                "conn_state", "history", "handshake", "close"):
        assert key in record
    assert record["handshake"]["complete"] is True
    assert record["handshake"]["rtt_ms"] == pytest.approx(2.0)
    assert record["close"]["kind"] == "four-way"
    assert record["transitions"][0] == {
        "frame": 1, "endpoint": "client", "from": "CLOSED", "to": "SYN_SENT", "why": "sent SYN"
    }


def test_follow_interleaves_both_directions(
    greeting: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["follow", str(greeting), "0"]) == 0
    out = capsys.readouterr().out
    assert "── client → server ──\nhello\n" in out
    assert "── server → client ──\nhi there\n" in out
    assert out.index("hello") < out.index("hi there")
    assert out.rstrip().endswith(
        "client sent 7 bytes, server 10 bytes; four-way close begun by the client"
    )


def test_follow_marks_missing_bytes(lossy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["follow", str(lossy), "0"]) == 0
    out = capsys.readouterr().out
    assert "abcd[4 bytes missing]efgh" in out
    assert "server 8 bytes (4 missing)" in out


def test_follow_raw_writes_exact_bytes_and_reports_holes_on_stderr(
    lossy: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["follow", str(lossy), "0", "--raw", "--direction", "server"]) == 0
    captured = capsysbinary.readouterr()
    assert captured.out == b"abcdefgh"
    assert b"4 bytes missing" in captured.err


def test_follow_raw_needs_a_direction(greeting: Path) -> None:
    assert main(["follow", str(greeting), "0", "--raw"]) == 2


def test_follow_a_stream_the_capture_lacks_is_a_usage_error(
    greeting: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["follow", str(greeting), "7"]) == 2
    assert "no TCP stream 7 (it has streams 0-0)" in capsys.readouterr().err


def test_handshake_draws_the_ladder_with_each_state(
    greeting: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["handshake", str(greeting), "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    text = "\n".join(lines)
    assert "TCP stream 0: client 10.0.0.1:40000, server 10.0.0.2:3040" in lines[0]
    syn = next(line for line in lines if "handshake 1/3" in line)
    assert "|---- SYN seq=0 len=0 " in syn and syn.split()[0] == "1"
    assert "|<" in next(line for line in lines if "handshake 2/3" in line)
    states = [line.split() for line in lines if line.startswith(" " * 18) and line.strip()]
    assert states[0] == ["CLOSED", "LISTEN"]  # the server answered the SYN: it listened
    assert ["SYN_SENT", "LISTEN"] in states
    assert ["FIN_WAIT_2", "CLOSE_WAIT", ">", "LAST_ACK"] in states
    assert states[-1] == ["TIME_WAIT", "CLOSED"]
    assert "teardown: client FIN" in text and "teardown: server FIN" in text


def test_handshake_without_stream_draws_every_stream(
    greeting: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["handshake", str(greeting)]) == 0
    assert capsys.readouterr().out.count("TCP stream ") == 1


def test_commands_refuse_a_file_that_is_not_a_capture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    for command in (["flows"], ["follow"], ["handshake"]):
        argv = [*command, str(junk)] + (["0"] if command == ["follow"] else [])
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "notes.txt" in err


def test_flows_lists_conversations_it_forgot_along_the_way_exactly_as_kept_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``flows`` turns each conversation into its row when the tracker forgets
    it (closed for 120 s of capture time) instead of keeping every summary;
    the listing is the one the library gives with every summary kept."""
    from layerpeek.capture.frame import RawFrame
    from layerpeek.capture.writer import PcapWriter
    from layerpeek.flows import conversations

    packets = []
    for n in range(3):  # three connections, five minutes apart, the last left open
        w = Wire(client=(f"10.0.0.{n + 1}", 40000 + n), first_frame=len(packets) + 1,
                 t0_ns=1_700_000_000_000_000_000 + n * 300 * 10**9)
        packets += [w.c("S"), w.s("SA"), w.c("A"), w.c("PA", b"hello")]
        if n < 2:
            packets += [w.c("FA"), w.s("FA"), w.c("A")]
    udp_frame = eth(ipv4_udp(udp(b"x", sport=5000, dport=53)))
    path = tmp_path / "spread.pcap"
    with open(path, "wb") as f:
        writer = PcapWriter(f, 1)
        for p in packets:
            writer.write(RawFrame(p.ts_ns, len(p.data), p.data, 1))
        writer.write(RawFrame(packets[-1].ts_ns + 1, len(udp_frame), udp_frame, 1))
    assert main(["flows", "--json", str(path)]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed == [c.to_dict() for c in conversations(path)]
    assert [(c["proto"], c["id"]) for c in listed] == [("tcp", 0), ("tcp", 1), ("tcp", 2),
                                                       ("udp", 0)]
    assert main(["flows", str(path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5
