"""The analysis pipeline: stages chosen by name, one shape, events out, one pass.

What is specified here is the pipeline's own contract (how stages are chosen
and chained, what comes out at the end); each stage's behaviour is specified
by its own tests (tests/flows, tests/http, test_dns_transactions, test_explain).
"""

from __future__ import annotations

import gc
import io
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from builders import eth, ipv4_tcp, pcap_bytes, tcp

import layerpeek
from layerpeek.analysis import STAGES, Analysis, Step
from layerpeek.dnstx import DNSTracker, DNSTransaction
from layerpeek.flows.defrag import Defragmenter
from layerpeek.flows.events import (
    ConnectionClosed,
    ConnectionOpened,
    ConversationSummary,
    Problem,
    StreamData,
)
from layerpeek.flows.tracker import TCPConversation, TCPTracker
from layerpeek.flows.udp import UDPTracker
from layerpeek.http.message import HTTPExchange
from layerpeek.http.pairing import HTTPPairer
from layerpeek.story import Story

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = sorted((ROOT / "captures").glob("*.pcap*"))


def syn_flood(n: int, *, step_ns: int = 1_000_000) -> bytes:
    """``n`` SYNs from distinct ports, never answered: ``n`` conversations."""
    frames = [eth(ipv4_tcp(tcp(sport=10000 + i, dport=80, seq=i, flags="S")))
              for i in range(n)]
    return pcap_bytes(frames, step_ns=step_ns)


# -- choosing stages ---------------------------------------------------------


def test_a_stage_brings_the_stages_it_needs_and_they_run_in_the_listed_order() -> None:
    analysis = Analysis(["dns", "http"])
    assert [s.stage_name for s in analysis.stages] == ["tcp", "udp", "http", "dns"]
    assert "defrag" not in analysis, "the defragmenter runs only when named (--no-defrag)"
    assert [s.stage_name for s in Analysis(["story", "defrag"]).stages] == [
        "defrag", "tcp", "udp", "tls", "quic", "http", "dns", "story"]


def test_every_listed_stage_has_the_one_shape() -> None:
    for name, _ in STAGES:
        cls = type(Analysis([name])[name])
        assert cls.stage_name == name
        assert callable(cls.on_packet) and callable(cls.on_finish)


def test_an_unknown_stage_is_refused_with_the_list_of_stages() -> None:
    with pytest.raises(ValueError, match=r"unknown analysis stage 'gopher' .*defrag, tcp, udp"):
        Analysis(["gopher"])


def test_settings_reach_the_stage_and_requirements_add_theirs() -> None:
    analysis = Analysis(["story"], settings={"tcp": {"max_connections": 7}})
    tcp_stage = analysis.get(TCPTracker)
    assert tcp_stage is not None and tcp_stage._max_connections == 7
    assert tcp_stage._keep_frames, "the story asks the tracker to keep frame numbers"


def test_a_stage_object_given_by_the_caller_is_used_as_is() -> None:
    tracker = TCPTracker(max_connections=3)
    analysis = Analysis(["defrag", tracker, "http"])
    assert analysis.get(TCPTracker) is tracker
    assert [s.stage_name for s in analysis.stages] == ["defrag", "tcp", "http"]


class PacketCounter:
    """A stage written outside the package: it counts packets per protocol path."""

    stage_name: ClassVar[str] = "tcp"  # takes the tracker's place: sees what the defragmenter left
    requires: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def on_packet(self, step: Step) -> Sequence[object]:
        path = step.packet.protocols
        self.seen[path] = self.seen.get(path, 0) + 1
        return [f"packet {step.packet.index}"]

    def on_finish(self, events: Sequence[object]) -> Sequence[object]:
        return [dict(self.seen)]


def test_any_object_of_the_stage_shape_plugs_in_and_its_events_come_out() -> None:
    counter = PacketCounter()
    events = list(Analysis(["defrag", counter]).events(ROOT / "captures/udp_12345.pcap"))
    packets = list(layerpeek.read(ROOT / "captures/udp_12345.pcap"))
    assert events[:-1] == [f"packet {p.index}" for p in packets]
    assert events[-1] == {"eth:ipv4:udp:data": len(packets)}


# -- events ------------------------------------------------------------------


def test_later_stages_see_the_events_of_earlier_ones_in_the_same_step() -> None:
    analysis = Analysis(["defrag", "http"])
    for step in analysis.run(ROOT / "captures/http_keepalive.pcap"):
        for i, event in enumerate(step.events):
            if isinstance(event, HTTPExchange):
                before = step.events[:i]
                assert any(isinstance(e, StreamData) for e in before), (
                    "an exchange comes after the stream bytes that completed it")


def test_finish_hands_the_trackers_final_events_to_the_stages_after_them() -> None:
    # A capture cut in the middle of a response body: the tracker closes the connection
    # as "eof" in finish(), and only then can the HTTP stage give out the cut exchange.
    cut = list(layerpeek.read(ROOT / "captures/http_large_body.pcap"))[:20]
    analysis = Analysis(["http"])
    during = [e for s in analysis.run(cut) for e in s.events]
    final = analysis.finish()
    assert analysis.finish() == [], "finish() gives the final events once"
    closed = [e for e in final if isinstance(e, ConnectionClosed)]
    assert closed, "the connection is still open when the capture ends"
    late = [e for e in final if isinstance(e, HTTPExchange)]
    assert late and final.index(late[0]) > final.index(closed[0])
    exchanges = [e for e in [*during, *final] if isinstance(e, HTTPExchange)]
    assert [(x.stream, x.index, x.status, x.complete) for x in exchanges] == [
        (x.stream, x.index, x.status, x.complete) for x in layerpeek.http.exchanges(cut)]
    assert not exchanges[0].complete


def test_connection_opened_names_both_endpoints() -> None:
    events = list(Analysis(["tcp"]).events(ROOT / "captures/tcp_3040_greeting.pcap"))
    (opened,) = [e for e in events if isinstance(e, ConnectionOpened)]
    assert (str(opened.client), str(opened.server)) == ("127.0.0.1:41234", "127.0.0.1:3040")


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_each_conversation_summary_is_raised_exactly_once(path: Path) -> None:
    events = list(Analysis(["defrag", "tcp", "udp"]).events(path))
    summaries = [e.summary for e in events if isinstance(e, ConversationSummary)]
    expected = layerpeek.flows.conversations(path)
    assert sorted((c.proto, c.id) for c in summaries) == sorted(
        (c.proto, c.id) for c in expected)
    opened = {e.conversation for e in events if isinstance(e, ConnectionOpened)}
    closed = [e.conversation for e in events if isinstance(e, ConnectionClosed)]
    assert sorted(closed) == sorted(opened)


def test_a_conversation_is_raised_when_it_leaves_the_table_not_at_the_end() -> None:
    analysis = Analysis(["tcp"], settings={"tcp": {"max_connections": 10,
                                                   "keep_conversations": False}})
    tracker = analysis.get(TCPTracker)
    assert tracker is not None
    raised_while_reading = 0
    for step in analysis.run(io.BytesIO(syn_flood(200))):
        raised_while_reading += sum(isinstance(e, ConversationSummary) for e in step.events)
        assert len(tracker.conversations) <= 10
    assert raised_while_reading == 190
    assert sum(isinstance(e, ConversationSummary) for e in analysis.finish()) == 10


def test_the_http_and_dns_stages_report_problems_as_events_too() -> None:
    path = ROOT / "captures/http_rst_cut.pcap"
    events = list(Analysis(["http"]).events(path))
    pairer_problems: list[str] = []
    layerpeek.http.exchanges(path, problems=pairer_problems)
    assert [e.text for e in events if isinstance(e, Problem) and e.stage == "http"] == (
        pairer_problems)


def test_dns_transactions_come_out_at_the_end_sorted() -> None:
    path = ROOT / "captures/page_load.pcap"
    analysis = Analysis(["dns"])
    during = [e for s in analysis.run(path) for e in s.events]
    assert not any(isinstance(e, DNSTransaction) for e in during)
    txs = [e for e in analysis.finish() if isinstance(e, DNSTransaction)]
    assert [t.query_frame for t in txs] == [1, 3]
    assert [(t.query_frame, t.addresses) for t in txs] == [
        (t.query_frame, t.addresses) for t in layerpeek.dnstx.transactions(path)]


# -- the library entry points are a few lines over it ---------------------------


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_the_deprecated_flow_pipeline_gives_what_the_analysis_gives(path: Path) -> None:
    from layerpeek.flows.pipeline import FlowPipeline

    with pytest.warns(DeprecationWarning, match="use layerpeek.analysis.Analysis"):
        pipe = FlowPipeline()
    old = []
    for packet in layerpeek.read(path):
        packet, info, events = pipe.process(packet)
        old.append((packet.index, None if info is None else info.to_dict(), events))
    old_final = pipe.finish()
    analysis = Analysis(["defrag", "tcp", "udp"])
    new = []
    for step in analysis.run(path):
        events = [e for e in step.events if not isinstance(e, ConversationSummary)]
        new.append((step.packet.index, None if step.flow is None else step.flow.to_dict(),
                    events))
    assert repr(new) == repr(old)
    assert repr([e for e in analysis.finish() if not isinstance(e, ConversationSummary)]) == (
        repr(old_final))


def test_explain_reads_its_input_once() -> None:
    reads = 0

    def once() -> Any:
        nonlocal reads
        reads += 1
        yield from layerpeek.read(ROOT / "captures/page_load.pcap")

    story = layerpeek.story.explain(once())
    assert reads == 1
    assert story.to_dict() == layerpeek.story.explain(
        list(layerpeek.read(ROOT / "captures/page_load.pcap"))).to_dict()
    assert [type(s).__name__ for s in [story]] == [Story.__name__]


def test_explain_of_a_fifo_tells_the_same_story_as_of_the_file(tmp_path: Path) -> None:
    source = ROOT / "captures/page_load.pcap"
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as f:
            f.write(source.read_bytes())

    writer = threading.Thread(target=feed)
    writer.start()
    run = [sys.executable, "-m", "layerpeek", "explain", "--json"]
    via_fifo = subprocess.run([*run, str(fifo)], capture_output=True, timeout=60)
    writer.join(timeout=10)
    via_file = subprocess.run([*run, str(source)], capture_output=True, timeout=60)
    assert via_fifo.returncode == 0, via_fifo.stderr
    assert via_fifo.stdout == via_file.stdout
    assert b'"steps": [{' in via_fifo.stdout


# -- memory bounded by --max-connections where conversations are summarised -------


def _conversations_alive() -> int:
    gc.collect()
    return sum(isinstance(o, TCPConversation) for o in gc.get_objects())


@pytest.mark.parametrize("argv", [
    ["handshake"], ["follow", "0"], ["flows"], ["dump"], ["http"], ["dns"],
], ids=lambda a: a[0])
def test_commands_hold_at_most_max_connections_conversations(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from layerpeek import cli
    from layerpeek.commands import common

    path = tmp_path / "flood.pcap"
    path.write_bytes(syn_flood(600))
    most = 0
    real = common.iter_packets

    def sampled(reader: Any, name: str) -> Any:
        nonlocal most
        for n, packet in enumerate(real(reader, name)):
            if n % 100 == 99:
                most = max(most, _conversations_alive())
            yield packet

    monkeypatch.setattr(common, "iter_packets", sampled)
    before = _conversations_alive()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        code = cli.main([*argv[:1], str(path), *argv[1:], "--max-connections", "20"])
    capsys.readouterr()
    assert code == 0
    # the table's 20, the one just let go (its summary on its way out), and for
    # follow the followed conversation; without the bound all 600 were kept
    assert most - before <= 20 + 2


def test_the_defragmenter_alone_notes_fragments_without_trackers() -> None:
    analysis = Analysis(["defrag"])
    assert isinstance(analysis.stages[0], Defragmenter)
    assert analysis.get(UDPTracker) is None and analysis.get(HTTPPairer) is None
    assert analysis.get(DNSTracker) is None
