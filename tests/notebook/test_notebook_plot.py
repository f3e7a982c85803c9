"""The time-sequence graph: one bar per data segment, analysis flags marked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from layerpeek import notebook as lpn
from layerpeek.flows.pipeline import conversations as summaries

os.environ.setdefault("MPLBACKEND", "Agg")
plt = pytest.importorskip("matplotlib.pyplot")

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


@pytest.fixture(scope="module")
def upload() -> lpn.RecordedConversation:
    return lpn.conversations(CAPTURES / "tcp_loss_reorder.pcap").tcp(0)


def _legend(ax: object) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]  # type: ignore[attr-defined]


def test_the_uploads_losses_and_reordering_are_marked(upload: lpn.RecordedConversation) -> None:
    ax = lpn.time_sequence(upload)
    try:
        assert _legend(ax) == [
            "client data segments",
            "server acknowledgements",
            "retransmission (31)",
            "out-of-order (3)",
            "previous segment not captured (15)",
        ]
        bars = ax.collections[0]
        sent = [s for s in upload.segments if s.direction == "client"]
        drawn = [s for s in sent if s.seglen or s.flags & 0x03]  # data, SYN or FIN
        assert len(bars.get_segments()) == len(drawn)
        assert len(drawn) < len(sent)  # the client's pure ACKs are not bars
        top = max(y for seg in bars.get_segments() for _, y in seg)
        assert top == 200_000 + 1  # the FIN's sequence number, after 200 000 bytes
    finally:
        plt.close("all")


def test_the_default_direction_is_the_one_that_sent_data() -> None:
    conv = lpn.conversations(CAPTURES / "http_large_body.pcap").tcp(0)
    ax = lpn.time_sequence(conv)
    try:
        assert ax.get_title().startswith("TCP stream 0: server 127.0.0.1:8080 sending")
        assert _legend(ax)[:2] == ["server data segments", "client acknowledgements"]
    finally:
        plt.close("all")


def test_drawing_into_a_given_axes(upload: lpn.RecordedConversation) -> None:
    fig, (left, right) = plt.subplots(1, 2)
    try:
        assert lpn.time_sequence(upload, "client", ax=right) is right
        assert not left.collections
    finally:
        plt.close(fig)


def test_an_unrecorded_conversation_or_a_bad_direction_is_refused(
    upload: lpn.RecordedConversation,
) -> None:
    plain = summaries(CAPTURES / "tcp_loss_reorder.pcap")[0]
    with pytest.raises(ValueError, match=r"layerpeek.notebook.conversations\(path\)"):
        lpn.time_sequence(plain)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="direction must be 'client' or 'server'"):
        lpn.time_sequence(upload, "both")
