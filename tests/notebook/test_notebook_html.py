"""The notebook displays: nested layer boxes, the SVG ladder, tables, HTTP exchanges.

HTML is parsed with the standard library's parser into a small element tree,
so the tests check structure (which box is inside which, how many arrows,
which states in which order) rather than strings.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from builders import eth, ipv4_tcp, pcap_bytes, tcp
from htmltree import Element, parse

import layerpeek
from layerpeek import notebook as lpn
from layerpeek.flows.pipeline import conversations as summaries
from layerpeek.flows.records import initial_states
from layerpeek.notebook.html import esc, packet_html
from layerpeek.notebook.ladder import ladder_svg

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures"
def packets_of(name: str) -> list[layerpeek.Packet]:
    return list(layerpeek.read(CAPTURES / name))


# --------------------------------------------------------------------------- packet boxes


def test_each_layer_is_a_box_inside_the_layer_that_carries_it() -> None:
    request = packets_of("page_load.pcap")[7]  # GET / on port 8080
    tree = parse(request._repr_html_())
    outer = tree.find_all("div", class_="lp-layer")[0]
    chain = []
    box: Element | None = outer
    while box is not None:
        chain.append(box.attrs["data-layer"])
        inner = [c for c in box.children if "lp-layer" in c.attrs.get("class", "")]
        assert len(inner) <= 1
        box = inner[0] if inner else None
    assert chain == ["ethernet", "ipv4", "tcp", "http"]
    assert request.protocols == "eth:ipv4:tcp:http"


def test_each_box_shows_its_key_fields_and_byte_span() -> None:
    request = packets_of("page_load.pcap")[7]
    text = parse(packet_html(request)).all_text()
    for expected in ("Ethernet II", "Internet Protocol v4", "Transmission Control Protocol",
                     "Hypertext Transfer Protocol", "dst_port 8080", "ttl 64",
                     "flags 0x018 (PSH, ACK)", "GET / HTTP/1.1", "bytes 34–66 · header 32 B",
                     "Host: www.example.test:8080"):
        assert expected in text, expected


def test_flow_facts_go_into_the_tcp_box() -> None:
    packets = lpn.packets(CAPTURES / "tcp_3040_greeting.pcap")
    assert packets.flows is not None
    tree = parse(packet_html(packets[0], packets.flows[0]))
    tcp_box = tree.find_all("div", class_="lp-layer", **{"data-layer": "tcp"})[0]
    assert "State after: client SYN_SENT, server ?" in tcp_box.all_text()


def test_a_cut_packet_ends_in_a_visibly_malformed_box() -> None:
    frame = eth(ipv4_tcp(tcp(b"hello", sport=40000, dport=3040, flags="PA")))
    cut = layerpeek.decode(frame[:40])  # the TCP header is cut after 6 bytes
    tree = parse(cut._repr_html_())
    boxes = tree.find_all("div", class_="lp-layer")
    assert [b.attrs["data-layer"] for b in boxes] == ["ethernet", "ipv4", "malformed"]
    bad = boxes[-1]
    assert bad.attrs["data-malformed"] == "true"
    assert "dashed" in bad.attrs["style"]
    assert "Truncated Packet" in bad.all_text()
    assert "ran out of captured bytes" in bad.all_text()


def test_text_from_the_packet_is_escaped() -> None:
    hostile = (
        b"GET /<script>alert(1)</script>\x1b[2J HTTP/1.1\r\n"
        b"X-Evil: <img src=x onerror=1>\r\n\r\n"
    )
    frame = eth(ipv4_tcp(tcp(hostile, sport=40000, dport=80, flags="PA")))
    html = packet_html(layerpeek.decode(frame))
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\\x1b[2J" in html and "\x1b" not in html
    parse(html)  # still well formed


def test_esc_keeps_lines_only_when_asked() -> None:
    assert esc("a\r\nb\x00") == "a\\x0d\\x0ab\\x00"
    assert esc("a\r\nb\x00<", lines=True) == "a\nb\\x00&lt;"


def test_packet_table_has_a_row_per_packet_and_counts_the_rest() -> None:
    packets = lpn.packets(CAPTURES / "page_load.pcap")
    tree = parse(packets._repr_html_())
    rows = tree.find_all("tbody")[0].find_all("tr")
    assert len(rows) == len(packets) == 18
    assert rows[6].find_all("td")[-1].all_text() == (
        "[A] seq=1 ack=1 win=65536 (raw 64) len=0 [stream 0: ESTABLISHED/ESTABLISHED]"
    )
    assert rows[7].find_all("td")[-1].all_text() == (
        "GET / HTTP/1.1 [stream 0: ESTABLISHED/ESTABLISHED]"
    )
    short = parse(lpn.packets_table(packets, packets.flows, limit=5)._repr_html_())
    rows = short.find_all("tbody")[0].find_all("tr")
    assert len(rows) == 6 and "13 more packets not shown" in rows[-1].all_text()


def test_lists_print_as_text_in_a_terminal() -> None:
    from IPython.lib.pretty import pretty

    packets = lpn.packets(CAPTURES / "tcp_3040_greeting.pcap")
    assert pretty(packets).splitlines()[0].startswith("#1 0.000000 eth:ipv4:tcp")
    convs = lpn.conversations(CAPTURES / "tcp_3040_greeting.pcap")
    assert "four-way" in pretty(convs)
    assert pretty(convs.tcp(0)).startswith("TCP stream 0: client 127.0.0.1:")


# --------------------------------------------------------------------------- ladder


@pytest.mark.parametrize("name", [
    "tcp_3040_greeting.pcap", "tcp_simultaneous_close.pcap", "tcp_refused.pcap",
    "tcp_half_close.pcap", "tcp_rst_midtransfer.pcap", "page_load.pcap",
])
def test_every_segment_is_an_arrow_and_every_state_change_a_label_in_order(name: str) -> None:
    for conv in lpn.conversations(CAPTURES / name):
        if conv.proto != "tcp":
            continue
        svg = parse(conv._repr_html_()).find_all("svg", class_="lp-ladder")[0]
        arrows = svg.find_all("g", class_="lp-seg")
        assert [int(a.attrs["data-frame"]) for a in arrows] == conv.frames
        for arrow, seg in zip(arrows, conv.segments, strict=True):
            assert arrow.attrs["data-dir"] == seg.direction
            assert seg.label in arrow.all_text()
        for side in ("client", "server"):
            labels = svg.find_all("text", class_="lp-state", **{"data-side": side})
            shown = [s for label in labels for s in label.attrs["data-state"].split()]
            changes = [t for t in conv.transitions if t.endpoint == side]
            first = initial_states(conv)[0 if side == "client" else 1]
            assert shown == [*first.split(), *(t.new.value for t in changes)]


def test_the_greeting_ladder_has_the_textbook_states() -> None:
    conv = lpn.conversations(CAPTURES / "tcp_3040_greeting.pcap").tcp(0)
    svg = parse(lpn.ladder_svg(conv))
    states = svg.find_all("text", class_="lp-state")
    client = [t.all_text() for t in states if t.attrs["data-side"] == "client"]
    server = [t.all_text() for t in states if t.attrs["data-side"] == "server"]
    assert client == ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert server == ["LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    labels = [g.all_text() for g in svg.find_all("g", class_="lp-seg")]
    assert "SYN seq=0 len=0" in labels[0]
    assert "SYN, ACK seq=0 ack=1 len=0" in labels[1]
    assert "PSH, ACK seq=1 ack=1 len=51" in labels[3]


def test_handshake_and_teardown_are_shaded_over_their_segments() -> None:
    conv = lpn.conversations(CAPTURES / "tcp_3040_greeting.pcap").tcp(0)
    svg = parse(ladder_svg(conv))
    phases = {r.attrs["data-phase"]: r for r in svg.find_all("rect", class_="lp-phase")}
    assert set(phases) == {"handshake", "teardown"}
    ys = [float(g.find_all("line")[0].attrs["y1"]) for g in svg.find_all("g", class_="lp-seg")]

    def covers(rect: Element, rows: range) -> bool:
        top = float(rect.attrs["y"])
        bottom = top + float(rect.attrs["height"])
        return all(top <= ys[i] <= bottom for i in rows) and not any(
            top <= ys[i] <= bottom for i in range(len(ys)) if i not in rows
        )

    assert covers(phases["handshake"], range(0, 3))  # frames 1-3
    assert covers(phases["teardown"], range(8, 12))  # frames 9-12


def test_flagged_segments_are_dashed_and_labelled() -> None:
    conv = lpn.conversations(CAPTURES / "tcp_loss_reorder.pcap").tcp(0)
    svg = parse(ladder_svg(conv, max_segments=1000))
    arrows = svg.find_all("g", class_="lp-seg")
    flagged = [g for g in arrows if "[TCP Out-Of-Order]" in g.all_text()]
    assert len(flagged) == 3
    assert all("stroke-dasharray" in g.find_all("line")[0].attrs for g in flagged)


def test_a_long_conversation_is_cut_with_a_note() -> None:
    conv = lpn.conversations(CAPTURES / "tcp_loss_reorder.pcap").tcp(0)
    svg = parse(ladder_svg(conv, max_segments=20))
    assert len(svg.find_all("g", class_="lp-seg")) == 20
    assert f"… {len(conv.segments) - 20} more segments" in svg.all_text()


def test_an_unrecorded_conversation_shows_its_transitions() -> None:
    conv = summaries(CAPTURES / "tcp_refused.pcap")[0]
    tree = parse(conv._repr_html_())
    assert not tree.find_all("svg")
    rows = tree.find_all("table", class_="lp-transitions")[0].find_all("tbody")[0].find_all("tr")
    # The server refused: CLOSED throughout, no state change of its own.
    assert [r.find_all("td")[3].all_text() for r in rows] == ["SYN_SENT", "CLOSED"]
    assert "layerpeek.notebook.conversations(path)" in tree.all_text()


def test_recorded_conversations_keep_the_summary_values() -> None:
    recorded = lpn.conversations(CAPTURES / "page_load.pcap")
    plain = summaries(CAPTURES / "page_load.pcap", keep_frames=True)
    assert [c.to_dict() for c in recorded] == [c.to_dict() for c in plain]
    assert recorded.services == {("udp", 0): ("dns",), ("tcp", 0): ("http",)}


def test_asking_for_a_missing_stream_says_which_exist() -> None:
    convs = lpn.conversations(CAPTURES / "tcp_refused.pcap")
    with pytest.raises(KeyError, match=r"no TCP stream 7 \(this capture has streams 0-1\)"):
        convs.tcp(7)


def test_conversations_accept_packets_and_file_objects() -> None:
    path = CAPTURES / "tcp_3040_greeting.pcap"
    from_list = lpn.conversations(packets_of("tcp_3040_greeting.pcap"))
    with path.open("rb") as f:
        from_file = lpn.conversations(f)
    assert len(from_list.tcp(0).segments) == len(from_file.tcp(0).segments) == 12
    frames = [eth(ipv4_tcp(tcp(b"", flags="S", seq=100)))]
    assert lpn.conversations(io.BytesIO(pcap_bytes(frames))).tcp(0).segments[0].label == (
        "SYN seq=0 len=0"
    )


# --------------------------------------------------------------------------- import cost


def test_importing_layerpeek_and_displaying_a_packet_loads_no_dataframe_library() -> None:
    code = (
        "import sys, layerpeek\n"
        "p = next(iter(layerpeek.read('captures/page_load.pcap')))\n"
        "p._repr_html_()\n"
        "import layerpeek.notebook as n\n"
        "n.conversations('captures/page_load.pcap').tcp(0)._repr_html_()\n"
        "bad = [m for m in ('pandas', 'pyarrow', 'matplotlib', 'IPython') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
