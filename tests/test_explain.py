"""``layerpeek explain``: the capture told as the explainer tells a page load.

The page-load capture must come out as the explainer's six steps, in order,
with the right packet numbers: DNS lookup of www.example.test → 127.0.0.1,
the three-way handshake (both ISNs, the RTT), the GET of the page, the GETs
of the .css and .png it references, and the four-way teardown with each
side's states.  Captures that are not page loads must get a sensible story
too, and no capture may make the command fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import own_captures, public_captures

import layerpeek
from layerpeek import TCP
from layerpeek.cli import main
from layerpeek.flows.pipeline import conversations
from layerpeek.story import Story, explain

Find = Callable[[str], Path]


def story_of(path: Path) -> Story:
    with layerpeek.read(path) as reader:
        return explain(reader)


def test_the_page_load_is_told_in_the_explainers_order_with_its_frames(capture: Find) -> None:
    story = story_of(capture("page_load.pcap"))
    assert story.kind == "page load"
    assert [(s.kind, s.frames) for s in story.steps] == [
        ("dns", (1, 2)),
        ("dns", (3, 4)),
        ("handshake", (5, 6, 7)),
        ("request", (8,)),
        ("response", (10,)),
        ("request", (12,)),
        ("response", (13,)),
        ("request", (14,)),
        ("response", (15,)),
        ("teardown", (16, 17, 18)),
    ]


def test_the_dns_step_says_which_name_resolved_to_which_address(capture: Find) -> None:
    lookup = story_of(capture("page_load.pcap")).steps[0]
    assert lookup.facts["name"] == "www.example.test"
    assert lookup.facts["addresses"] == ["127.0.0.1"]
    assert lookup.facts["cname_chain"] == [
        "www.example.test", "edge.example.test", "host1.example.test"]
    assert "www.example.test is an alias (CNAME) of edge.example.test" in lookup.text
    assert "host1.example.test has the address 127.0.0.1" in lookup.text


def test_the_handshake_step_gives_both_isns_the_rtt_and_the_dns_link(capture: Find) -> None:
    path = capture("page_load.pcap")
    step = story_of(path).steps[2]
    (conv,) = [c for c in conversations(path) if c.proto == "tcp"]
    hs = conv.handshake  # type: ignore[union-attr]
    assert hs.client_isn is not None and hs.server_isn is not None and hs.rtt_ns is not None
    assert f"initial sequence number {hs.client_isn}" in step.text
    assert f"initial sequence number {hs.server_isn}" in step.text
    assert f"{hs.rtt_ns / 1e6:.3f} ms" in step.text
    assert "127.0.0.1 is the address www.example.test resolved to in frame 2" in step.text
    assert step.facts["handshake"]["client_isn"] == hs.client_isn


def test_handshake_frames_really_are_syn_synack_ack(capture: Find) -> None:
    path = capture("page_load.pcap")
    step = next(s for s in story_of(path).steps if s.kind == "handshake")
    with layerpeek.read(path) as reader:
        flags = {p.index: p[TCP].flags & 0x12 for p in reader if TCP in p}
    assert [flags[f] for f in step.frames] == [0x02, 0x12, 0x10]


def test_requests_name_the_resources_and_later_ones_are_keep_alive(capture: Find) -> None:
    steps = story_of(capture("page_load.pcap")).steps
    requests = [s for s in steps if s.kind == "request"]
    assert [r.facts["target"] for r in requests] == ["/", "/style.css", "/logo.png"]
    assert [r.title for r in requests] == [
        "HTTP request", "Further HTTP request", "Further HTTP request"]
    assert all("refers to this resource" in r.text for r in requests[1:])
    responses = [s for s in steps if s.kind == "response"]
    assert [r.facts["status"] for r in responses] == [200, 200, 200]
    assert "The page refers to /style.css, /logo.png" in responses[0].text


def test_the_teardown_names_the_kind_and_every_state_each_side_went_through(
    capture: Find,
) -> None:
    teardown = story_of(capture("page_load.pcap")).steps[-1]
    assert teardown.title == "Teardown: four-way close"
    assert teardown.facts["close"]["kind"] == "four-way"
    assert teardown.facts["close"]["initiator"] == "client"
    moves = [(t["frame"], t["endpoint"], t["to"]) for t in teardown.facts["transitions"]]
    assert moves == [
        (16, "client", "FIN_WAIT_1"),
        (17, "server", "CLOSE_WAIT"),
        (17, "server", "LAST_ACK"),
        (17, "client", "FIN_WAIT_2"),
        (18, "client", "TIME_WAIT"),
        (18, "server", "CLOSED"),
    ]
    assert "Final states: client TIME_WAIT, server CLOSED." in teardown.text


def test_the_conclusion_is_what_the_browser_ended_up_with(capture: Find) -> None:
    conclusion = story_of(capture("page_load.pcap")).conclusion
    # the bodies served, as captures/README.md lists them: 341 + 155 + 852 bytes
    assert conclusion.startswith("In the end the client has 3 responses: / (200, text/html, "
                                 "341 bytes), /style.css (200, text/css, 155 bytes), /logo.png "
                                 "(200, image/png, 852 bytes); 1348 bytes of content over 1 TCP")
    assert "from the first DNS query" in conclusion
    assert story_of(capture("tcp_3040_greeting.pcap")).conclusion == ""


def test_the_udp_demo_is_told_as_datagrams_without_a_connection(capture: Find) -> None:
    story = story_of(capture("udp_12345.pcap"))
    assert story.kind == "udp"
    (step,) = story.steps
    assert step.kind == "udp" and step.frames == (1, 2, 3, 4, 5, 6)
    assert "no connection, no handshake and no teardown" in step.text
    assert '"datagram 1 of 3 for the udp demo"' in step.text


def test_a_refused_connection_is_a_syn_answered_by_rst(capture: Find) -> None:
    steps = story_of(capture("tcp_refused.pcap")).steps
    assert [(s.kind, s.frames) for s in steps] == [("refused", (1, 2)), ("refused", (3, 4))]
    assert "answered by RST (frame 2)" in steps[0].text
    assert "port 3041" in steps[0].text


def test_a_reset_mid_transfer_is_told_as_an_abort_by_its_sender(capture: Find) -> None:
    steps = story_of(capture("tcp_rst_midtransfer.pcap")).steps
    assert [s.kind for s in steps] == ["handshake", "data", "reset"]
    reset = steps[-1]
    assert reset.frames == (62,) and reset.facts["close"]["rst_by"] == "client"
    assert "zero window" in reset.text


def test_the_greeting_demo_shows_who_said_what_between_handshake_and_teardown(
    capture: Find,
) -> None:
    steps = story_of(capture("tcp_3040_greeting.pcap")).steps
    assert [(s.kind, s.facts.get("direction")) for s in steps] == [
        ("handshake", None), ("data", "server"), ("data", "client"), ("data", "server"),
        ("teardown", None)]
    assert steps[-1].frames == (9, 10, 11, 12)
    assert '"Welcome to the layerpeek demo' in steps[1].text


@pytest.mark.parametrize(
    ("name", "title", "phrase"),
    [
        ("tcp_simultaneous_close.pcap", "Teardown: simultaneous close", "CLOSING"),
        ("tcp_half_close.pcap", "Teardown: half-close", "kept sending data"),
    ],
)
def test_the_other_ways_to_close_are_named(
    capture: Find, name: str, title: str, phrase: str
) -> None:
    teardown = story_of(capture(name)).steps[-1]
    assert (teardown.kind, teardown.title) == ("teardown", title)
    assert phrase in teardown.text


def test_dns_over_tcp_and_the_truncation_retry_are_told(capture: Find) -> None:
    story = story_of(capture("dns_query.pcap"))
    assert story.kind == "dns"
    truncated = next(s for s in story.steps if s.kind == "dns" and s.frames == (21, 22))
    assert "asked again over TCP (frame 26)" in truncated.text
    retry = next(s for s in story.steps if s.kind == "dns" and s.frames == (26, 28))
    assert "retry over TCP of the query in frame 21" in retry.text
    handshake = next(s for s in story.steps if s.kind == "handshake")
    assert "DNS over TCP" in handshake.text
    assert "resolved to" not in handshake.text  # the resolver's address is not a lookup result


def test_a_capture_without_tcp_or_udp_says_so(public: Find) -> None:
    story = story_of(public("icmpv6_mix.pcap"))
    assert (story.kind, story.steps) == ("other", [])
    assert "No TCP or UDP traffic" in story.overview and "icmpv6 49" in story.overview


ALL = [*own_captures(), *public_captures()]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_capture_gets_a_story_with_real_frame_numbers_in_order(path: Path) -> None:
    with layerpeek.read(path) as reader:
        packets = list(reader)
    story = explain(packets)
    assert story.overview
    frames = {p.index for p in packets}
    firsts = [s.first_frame for s in story.steps]
    assert firsts == sorted(firsts)
    for step in story.steps:
        assert step.text and step.title
        assert set(step.frames) <= frames, step
    json.dumps(story.to_dict())  # plain data all the way down


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def test_explain_prints_numbered_steps_with_their_frames(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    assert main(["explain", str(capture("page_load.pcap"))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("A page load")
    heads = [line for line in out.splitlines() if line[:1].isdigit()]
    assert heads[0].startswith("1. DNS lookup: www.example.test (A)  (frames 1, 2,")
    assert heads[2].startswith("3. TCP three-way handshake  (frames 5, 6, 7,")
    assert heads[3].startswith("4. HTTP request  (frame 8,")
    assert heads[-1].startswith("10. Teardown: four-way close  (frames 16, 17, 18,")


def test_explain_json_is_one_object_with_numbered_steps(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    assert main(["explain", "--json", str(capture("page_load.pcap"))]) == 0
    story = json.loads(capsys.readouterr().out)
    assert set(story) == {"kind", "overview", "steps", "conclusion", "notes"}
    assert [s["number"] for s in story["steps"]] == list(range(1, 11))
    assert set(story["steps"][0]) == {
        "number", "kind", "title", "text", "frames", "time", "stream", "facts"}
    assert story["steps"][2]["stream"] == "tcp 0"


def test_max_steps_shortens_the_text_and_says_how_much_is_left(
    capsys: pytest.CaptureFixture[str], capture: Find
) -> None:
    assert main(["explain", "--max-steps", "2", str(capture("page_load.pcap"))]) == 0
    out = capsys.readouterr().out
    assert "3. " not in out and "… 8 more steps not shown" in out


def test_bad_input_is_a_clear_message_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, capture: Find
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert main(["explain", str(text)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("layerpeek: ") and len(err.splitlines()) == 1
    assert main(["explain", "--max-steps", "-1", str(capture("page_load.pcap"))]) == 2
    assert "must be 0 or more" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["page_load.pcap", "http_gzip.pcap", "http_chunked.pcap", "http_get_post.pcap",
             "http_large_body.pcap", "http_pipelined.pcap", "http_rst_cut.pcap"],
)  # fmt: skip
def test_the_story_is_the_same_told_from_exchanges_without_their_bodies(
    capture: Find, name: str
) -> None:
    """What ``explain`` keeps of HTTP (sizes, decoded sizes, a page's references) suffices."""
    from layerpeek.http import iter_exchanges
    from layerpeek.story import told_exchanges

    path = capture(name)
    problems: list[str] = []
    told = told_exchanges(iter_exchanges(path, problems=problems))
    assert told and all(
        m is None or (m.body == b"" and m.decoded_body == b"")
        for t in told
        for m in (t.exchange.request, t.exchange.response)
    )
    assert any(t.response is not None and t.response.length for t in told)
    with layerpeek.read(path) as reader:
        slim = explain(reader, http=told, http_problems=problems)
    assert slim.to_dict() == story_of(path).to_dict()


def test_a_compressed_body_is_told_with_its_decoded_size(capture: Find) -> None:
    from layerpeek.http import exchanges

    path = capture("http_gzip.pcap")
    (ex,) = exchanges(path)
    assert ex.response is not None and ex.response.content_encoding == "gzip"
    sent, decoded = len(ex.response.body), len(ex.response.decoded_body)
    assert sent < decoded
    (step,) = [s for s in story_of(path).steps if s.kind == "response"]
    assert f"The body is {sent} bytes" in step.text
    assert f"sent gzip-compressed ({decoded} bytes once decoded)" in step.text
