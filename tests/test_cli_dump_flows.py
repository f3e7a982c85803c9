"""``layerpeek dump`` with the conversation stage: stream, relative numbers, states, analysis.

By default every packet passes the defragmenter and the TCP/UDP trackers
before it is shown, so a TCP line reads as Wireshark's does (``seq=1 ack=1``,
relative to each side's ISN) and ends with the stream index and both
endpoints' states after the packet; ``-S`` keeps the raw numbers and
``--no-flows`` skips the stage.  The values themselves are compared with
tshark frame by frame in ``tests/flows/test_tshark_flows.py``; these tests
check that ``dump`` shows them, in the line, the tree and the JSON.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import own_captures, public_captures

import layerpeek
from layerpeek import TCP
from layerpeek.cli import main
from layerpeek.layers.tcp import SACK

Find = Callable[[str], Path]
STREAM = re.compile(r"\[stream (\d+)(?:: ([A-Z_0-9?]+)/([A-Z_0-9?]+))?\]")


def dump(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(["dump", *argv]) == 0
    return capsys.readouterr().out.splitlines()


def test_the_greeting_reads_like_the_explainers_state_diagram(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    lines = dump(capsys, str(capture("tcp_3040_greeting.pcap")))
    states = [STREAM.search(line).groups()[1:] for line in lines]  # type: ignore[union-attr]
    assert states[:3] == [
        ("SYN_SENT", "?"),  # SYN: the server's state is not known until it answers
        ("ESTABLISHED", "SYN_RCVD"),  # SYN-ACK
        ("ESTABLISHED", "ESTABLISHED"),  # ACK
    ]
    assert states[-4:] == [
        ("FIN_WAIT_1", "ESTABLISHED"),  # client FIN
        ("FIN_WAIT_2", "CLOSE_WAIT"),  # server ACK
        ("FIN_WAIT_2", "LAST_ACK"),  # server FIN
        ("TIME_WAIT", "CLOSED"),  # client ACK
    ]
    # Relative numbers: SYN seq=0, SYN-ACK seq=0 ack=1, then the first data at seq=1.
    assert " [S] seq=0 " in lines[0]
    assert " [SA] seq=0 ack=1 " in lines[1]
    assert " [A] seq=1 ack=1 " in lines[2]


def test_absolute_seq_shows_the_raw_numbers(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    path = capture("tcp_3040_greeting.pcap")
    lines = dump(capsys, "-S", str(path))
    for line, packet in zip(lines, layerpeek.read(path), strict=True):
        tcp = packet[TCP]
        assert f" seq={tcp.seq} " in line
        assert "[stream 0:" in line  # the conversation facts stay


def test_no_flows_is_the_plain_per_packet_listing(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    path = capture("tcp_3040_greeting.pcap")
    lines = dump(capsys, "--no-flows", str(path))
    assert len(lines) == 12 and not any("[stream" in line for line in lines)
    first = next(iter(layerpeek.read(path)))
    assert f" seq={first[TCP].seq} " in lines[0]


def test_loss_capture_lines_carry_wiresharks_analysis_labels(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    path = str(capture("tcp_loss_reorder.pcap"))
    lines = dump(capsys, path)
    records = [json.loads(line) for line in dump(capsys, "--json", path)]
    labelled = [i for i, line in enumerate(lines) if "[TCP Previous segment not captured]" in line]
    flagged = [i for i, r in enumerate(records)
               if "tcp.analysis.lost_segment" in r["flow"]["analysis"]]
    assert labelled and labelled == flagged
    assert any("[TCP Dup ACK " in line for line in lines)
    assert any("[TCP Fast Retransmission]" in line for line in lines)


def test_tree_adds_generated_fields_under_the_tcp_header(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    text = "\n".join(dump(capsys, "-V", "-c", "4", str(capture("tcp_3040_greeting.pcap"))))
    frames = text.split("\n\nFrame ")
    assert len(frames) == 4
    fourth = frames[3]
    assert "      [Stream index: 0 (server → peer)]" in fourth
    assert "[Relative seq: 1  next: 52  ack: 1  len: 51]" in fourth
    assert "[State after: client ESTABLISHED, server ESTABLISHED]" in fourth
    # the generated lines sit after the TCP fields and before the layer TCP carries
    assert fourth.index("[Stream index") < fourth.index("Data  51 bytes")


def test_json_flow_object(capsys: pytest.CaptureFixture[str], capture: Find) -> None:
    records = [json.loads(line) for line in
               dump(capsys, "--json", str(capture("tcp_3040_greeting.pcap")))]
    first, last = records[0]["flow"], records[-1]["flow"]
    assert first == {
        "proto": "tcp", "stream": 0, "direction": "client", "seq": 0, "ack": None,
        "next_seq": 1, "len": 0, "client_state": "SYN_SENT", "server_state": "?",
        "analysis": [], "window_shift": 0,
    }
    assert (last["client_state"], last["server_state"]) == ("TIME_WAIT", "CLOSED")
    no_flows = dump(capsys, "--json", "--no-flows", str(capture("tcp_3040_greeting.pcap")))
    assert all("flow" not in json.loads(line) for line in no_flows)


def test_udp_packets_get_their_stream(capsys: pytest.CaptureFixture[str], capture: Find) -> None:
    lines = dump(capsys, str(capture("udp_12345.pcap")))
    assert all(line.endswith("[stream 0]") for line in lines)


def test_fragments_are_reassembled_by_default_and_shown_raw_on_request(
    capsys: pytest.CaptureFixture[str], public: Find
) -> None:
    path = str(public("ipv4_frag_http_get.pcap"))
    lines = dump(capsys, path)
    assert all("IPv4 fragment id=0x425f" in line for line in lines[:10])
    assert lines[10].split()[2] == "eth:ipv4:tcp:http"
    assert "GET /convert_data.js?partner_id=29 HTTP/1.1" in lines[10]
    assert "reassembled: 1480 bytes from #1,#2,#3,#4,#5,#6,#7,#8,#9,#10,#11" in lines[10]
    raw = dump(capsys, "--no-defrag", path)
    assert raw[10].split()[2] == "eth:ipv4:data"
    assert "reassembled" not in "\n".join(raw)


CAPTURES = own_captures() + public_captures()


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_json_with_flows_validates_against_the_schema(
    capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = Path(layerpeek.__file__).parent / "schema" / "packet.schema.json"
    validator: Any = jsonschema.Draft202012Validator(json.loads(schema_path.read_text()))
    lines = dump(capsys, "--json", str(path))
    assert lines
    for line in lines:
        record = json.loads(line)
        errors = list(validator.iter_errors(record))
        assert not errors, f"{path.name} #{record['index']}: {errors[0].message}"


def test_sack_edges_are_relative_like_the_acknowledgement(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    """``ack=10137 sack=20273-21721``: the edges on the ack's scale, ``-S`` keeps them raw."""
    path = capture("tcp_loss_reorder.pcap")
    lines = dump(capsys, str(path))
    raw_lines = dump(capsys, "-S", str(path))
    seen = 0
    for line, raw_line, packet in zip(lines, raw_lines, layerpeek.read(path), strict=True):
        tcp = packet[TCP]
        sack = tcp.option(SACK)
        if sack is None:
            continue
        seen += 1
        ack = int(re.search(r" ack=(\d+)", line).group(1))  # type: ignore[union-attr]
        base = (tcp.ack - ack) & 0xFFFF_FFFF
        relative = ",".join(
            f"{(a - base) & 0xFFFF_FFFF}-{(b - base) & 0xFFFF_FFFF}" for a, b in sack.blocks
        )
        assert f" sack={relative} " in line
        # every edge lies beyond the cumulative acknowledgement, within the data sent
        assert all(ack < int(edge) < 1 << 20 for edge in re.split("[-,]", relative))
        assert f" sack={','.join(f'{a}-{b}' for a, b in sack.blocks)} " in raw_line
    assert seen >= 3


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_sack_edges_equal_tsharks_relative_sle_sre(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    path = capture("tcp_loss_reorder.pcap")
    out = subprocess.run(
        ["tshark", "-r", str(path), "-Y", "tcp.options.sack_le", "-T", "fields",
         "-e", "frame.number", "-e", "tcp.options.sack_le", "-e", "tcp.options.sack_re"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    expected = {}
    for row in out.splitlines():
        frame, left, right = row.split("\t")
        expected[int(frame)] = ",".join(
            f"{a}-{b}" for a, b in zip(left.split(","), right.split(","), strict=True)
        )
    lines = dump(capsys, str(path))
    shown = {
        int(line.split()[0][1:]): re.search(r" sack=(\S+)", line).group(1)  # type: ignore[union-attr]
        for line in lines
        if " sack=" in line
    }
    assert expected and shown == expected
