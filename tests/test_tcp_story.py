"""One TCP story in every view (issue 15): dump's state column, ``handshake``'s
ladder, ``explain`` and the notebook's ladder tell the same states.

The rules (``layerpeek/flows/tcp_state.py``, stated in the README and in
``handshake --help``): a FIN that crosses the peer's FIN takes both sides
through CLOSING (RFC 9293 figure 13); a responder's state is unknown (``?``)
until it answers, and a refusal means it was CLOSED throughout; a
conversation the capture joined late is "joined mid-stream".
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

import layerpeek
from layerpeek import notebook as lpn
from layerpeek.cli import main
from layerpeek.flows.records import TCPConversation
from layerpeek.story import explain

Find = Callable[[str], Path]
STATES = re.compile(r"\[stream \d+: ([A-Z_0-9?]+)/([A-Z_0-9?]+)\]")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def dump_states(capsys: pytest.CaptureFixture[str], path: Path) -> list[tuple[str, str]]:
    out = run(capsys, "dump", str(path))
    found = [STATES.search(line) for line in out.splitlines()]
    return [(m.group(1), m.group(2)) for m in found if m is not None]


def ladder_rows(capsys: pytest.CaptureFixture[str], path: Path) -> list[list[str]]:
    """The state rows under the arrows of ``handshake``'s ladder (initial row first)."""
    out = run(capsys, "handshake", str(path))
    return [line.split() for line in out.splitlines() if line.startswith(" " * 18) and
            line.strip()]


def told(path: Path) -> str:
    with layerpeek.read(path) as reader:
        return " ".join(" ".join(s.text.split()) for s in explain(reader).steps)


def notebook_states(conv: TCPConversation) -> dict[str, list[str]]:
    from layerpeek.notebook.ladder import ladder_svg

    svg = ladder_svg(conv)
    return {
        side: re.findall(rf'data-side="{side}" data-state="([^"]*)"', svg)
        for side in ("client", "server")
    }


def test_a_simultaneous_close_goes_through_closing_on_both_sides_in_every_view(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    path = capture("tcp_simultaneous_close.pcap")
    # Frame 10: the server's FIN; 11: the client's, not acknowledging it (the
    # FINs crossed); 12 and 13: each FIN acknowledged.
    assert dump_states(capsys, path)[-4:] == [
        ("ESTABLISHED", "FIN_WAIT_1"),
        ("CLOSING", "CLOSING"),
        ("TIME_WAIT", "CLOSING"),
        ("TIME_WAIT", "TIME_WAIT"),
    ]
    rows = ladder_rows(capsys, path)
    assert rows[-4:] == [
        ["ESTABLISHED", "FIN_WAIT_1"],
        ["FIN_WAIT_1", ">", "CLOSING", "CLOSING"],
        ["TIME_WAIT", "CLOSING"],
        ["TIME_WAIT", "TIME_WAIT"],
    ]
    text = told(path)
    assert "each went through CLOSING" in text
    assert ("client CLOSED → SYN_SENT → ESTABLISHED → FIN_WAIT_1 → CLOSING → TIME_WAIT; "
            "server LISTEN → SYN_RCVD → ESTABLISHED → FIN_WAIT_1 → CLOSING → TIME_WAIT") in text
    assert "FIN_WAIT_2" not in text
    (conv,) = [c for c in lpn.conversations(path) if c.proto == "tcp"]
    states = notebook_states(conv)
    for side in ("client", "server"):
        words = " ".join(states[side]).split()
        assert words[-3:] == ["FIN_WAIT_1", "CLOSING", "TIME_WAIT"] and "FIN_WAIT_2" not in words


def test_a_refused_connection_never_shows_a_listening_server(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    path = capture("tcp_refused.pcap")
    assert dump_states(capsys, path)[:2] == [("SYN_SENT", "?"), ("CLOSED", "CLOSED")]
    rows = ladder_rows(capsys, path)
    assert rows[:3] == [["CLOSED", "CLOSED"], ["SYN_SENT", "CLOSED"], ["CLOSED", "CLOSED"]]
    text = told(path)
    assert "Nothing accepts connections on port 3041" in text
    assert "server CLOSED throughout" in text
    assert "LISTEN" not in text and "LISTEN" not in " ".join(map(" ".join, rows))


def test_an_unanswered_syn_leaves_the_server_unknown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, capture: Find
) -> None:
    path = tmp_path / "syn_only.pcap"
    path.write_bytes(_records(capture("tcp_3040_greeting.pcap"), keep=lambda i: i == 0))
    assert dump_states(capsys, path) == [("SYN_SENT", "?")]
    assert ladder_rows(capsys, path) == [["CLOSED", "?"], ["SYN_SENT", "?"]]


def _records(pcap: Path, keep: Callable[[int], bool]) -> bytes:
    """A classic pcap file with only the records ``keep`` accepts (by 0-based index)."""
    data = pcap.read_bytes()
    out = [data[:24]]
    pos, i = 24, 0
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    while pos + 16 <= len(data):
        incl = struct.unpack_from(f"{endian}I", data, pos + 8)[0]
        if keep(i):
            out.append(data[pos : pos + 16 + incl])
        pos += 16 + incl
        i += 1
    return b"".join(out)


def test_a_conversation_joined_mid_stream_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, capture: Find
) -> None:
    path = tmp_path / "midstream.pcap"
    path.write_bytes(_records(capture("tcp_3040_greeting.pcap"), keep=lambda i: i >= 3))
    rows = ladder_rows(capsys, path)
    assert rows[0] == ["joined", "mid-stream", "joined", "mid-stream"]
    assert rows[1] == ["ESTABLISHED", "ESTABLISHED"]
    text = told(path)
    assert "joined mid-stream: ESTABLISHED → FIN_WAIT_1" in text
    assert "CLOSED → ESTABLISHED" not in text
    (conv,) = [c for c in lpn.conversations(path) if c.proto == "tcp"]
    states = notebook_states(conv)
    assert states["client"][:2] == ["joined mid-stream", "ESTABLISHED"]
    assert states["server"][:2] == ["joined mid-stream", "ESTABLISHED"]


def test_one_segment_has_the_same_numbers_and_byte_ranges_in_every_view(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    from layerpeek.render.html import packet_html

    path = capture("tcp_3040_greeting.pcap")
    # Frame 2, the SYN-ACK: relative numbers by default, the raw ones labelled.
    line = run(capsys, "dump", "-c", "2", str(path)).splitlines()[1]
    assert " [SA] seq=0 ack=1 " in line
    tree = run(capsys, "dump", "-V", "-c", "2", str(path))
    syn_ack = tree[tree.index("Frame 2:"):]
    assert "Transmission Control Protocol  [SA] seq=0 ack=1 " in syn_ack
    assert re.search(r"\n +seq: \d+ \(raw; relative 0\)\n", syn_ack)
    assert re.search(r"\n +ack: \d+ \(raw; relative 1\)\n", syn_ack)
    assert "seq=0 ack=1" in next(r for r in run(capsys, "handshake", str(path)).splitlines()
                                 if "handshake 2/3" in r)
    packets = lpn.packets(path)
    assert packets.flows is not None
    box = packet_html(packets[1], packets.flows[1])
    assert "[SA] seq=0 ack=1 " in box and "(raw; relative 1)" in box
    # Byte ranges: half-open, the same in dump -x and in the notebook's boxes.
    hexed = run(capsys, "dump", "-x", "-c", "1", str(path))
    assert "-- ipv4: Internet Protocol v4, bytes 14–34 (20 bytes)" in hexed
    assert "bytes 14–34 · header 20 B" in packet_html(packets[0], packets.flows[0])


def test_a_frame_has_one_time_in_dump_handshake_and_the_notebook_ladder(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    # page_load: the TCP conversation starts at frame 5, after the DNS lookups,
    # so a conversation-relative clock would disagree with dump's.
    path = capture("page_load.pcap")
    dumped = run(capsys, "dump", str(path)).splitlines()
    when = {int(line.split()[0][1:]): line.split()[1] for line in dumped}
    ladder = run(capsys, "handshake", str(path))
    assert "  time: seconds since the first packet of the capture\n" in ladder
    rows = [r.split() for r in ladder.splitlines() if re.match(r" +\d+ +\d+\.\d{6} +\|", r)]
    assert rows and all(when[int(r[0])] == r[1] for r in rows)
    conv = next(c for c in lpn.conversations(path) if c.proto == "tcp")
    svg = lpn.ladder_svg(conv)
    assert re.search(r"since the capture(&#x27;|')s first packet", svg)
    shown = re.findall(r">\s*(\d+)  (\d+\.\d{6})<", svg)
    assert shown and all(when[int(frame)] == t for frame, t in shown)


def test_the_capture_point_assumptions_are_stated_where_the_states_are_shown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["handshake", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "States are read at the capture point" in text
    assert "take both sides through CLOSING" in text
    assert "seconds since the first packet of the capture" in text
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    assert "The states are read at the capture point" in readme
    assert "A state the capture has not shown yet is `?`" in readme
