"""Conversations of real programs: handshake and teardown as the captures show them.

The project's own captures (captures/README.md says how each was made) and
the public ones beside the checkout; each test is skipped when its file is
absent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from layerpeek.flows.pipeline import conversations
from layerpeek.flows.records import initial_states
from layerpeek.flows.tcp_state import TCPState
from layerpeek.flows.tracker import TCPConversation
from layerpeek.flows.udp import UDPConversation

Find = Callable[[str], Path]


def tcp(path: Path, **kw: bool) -> list[TCPConversation]:
    return [c for c in conversations(path, **kw) if isinstance(c, TCPConversation)]


def path_of(conv: TCPConversation, side: str) -> list[str]:
    return [t.new.value for t in conv.transitions if t.endpoint == side]


def test_port_3040_greeting_is_the_textbook_open_and_close(capture: Find) -> None:
    for name in ("tcp_3040_greeting.pcap", "tcp_3040_greeting.pcapng", "tcp_3040_ipv6.pcap"):
        (conv,) = tcp(capture(name), keep_data=True)
        assert conv.server.port == 3040 and conv.client_by == "syn"
        assert conv.handshake.complete and conv.handshake.syn_count == 1
        assert (conv.close.kind, conv.close.initiator) == ("four-way", "client")
        assert path_of(conv, "client") == [
            "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"
        ]
        assert path_of(conv, "server") == [
            "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"
        ]
        assert initial_states(conv) == ("CLOSED", "LISTEN")  # it answered: it listened
        assert conv.conn_state == "SF"
        assert conv.server_stream is not None
        greeting = b"Welcome to the layerpeek demo server on port 3040!"
        assert conv.server_stream.data.startswith(greeting)
        assert conv.missed_bytes_client == conv.missed_bytes_server == 0
        assert conv.analysis == {}


def test_refused_connections_are_syn_answered_by_rst(capture: Find) -> None:
    convs = tcp(capture("tcp_refused.pcap"))
    assert len(convs) == 2
    for conv in convs:
        assert conv.close.kind == "refused" and conv.close.rst_by == "server"
        assert (conv.conn_state, conv.history) == ("REJ", "Sr")
        # Nothing listened: the server was CLOSED throughout (issue 15).
        assert path_of(conv, "server") == []
        assert conv.server_state.value == "CLOSED"
        assert initial_states(conv) == ("CLOSED", "CLOSED")


def test_rst_mid_transfer_is_an_abort_by_the_client(capture: Find) -> None:
    for name in ("tcp_rst_midtransfer.pcap", "http_rst_cut.pcap"):
        (conv,) = tcp(capture(name))
        assert (conv.close.kind, conv.close.rst_by) == ("rst", "client")
        assert conv.conn_state == "RSTO"
        assert (conv.client_state, conv.server_state) == (TCPState.CLOSED, TCPState.CLOSED)


def test_half_close_keeps_the_server_talking_after_the_client_fin(capture: Find) -> None:
    (conv,) = tcp(capture("tcp_half_close.pcap"), keep_data=True)
    assert (conv.close.kind, conv.close.initiator) == ("half-close", "client")
    assert conv.close.half_closed and conv.conn_state == "SF"
    assert conv.close.client_fin_frame is not None and conv.close.server_fin_frame is not None
    assert conv.close.client_fin_frame < conv.close.server_fin_frame
    assert path_of(conv, "server")[-3:] == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]


def test_real_loss_is_recovered_byte_for_byte(capture: Find) -> None:
    (conv,) = tcp(capture("tcp_loss_reorder.pcap"), keep_data=True)
    assert conv.client_stream is not None
    assert len(conv.client_stream.data) == 200_000  # the whole upload, holes refilled
    assert conv.missed_bytes_client == 0 and conv.client_stream.gaps == []
    # How many segments were lost varies from one recording to the next (the
    # counts are checked frame by frame against tshark in test_tshark_flows).
    flags = conv.analysis
    assert flags["tcp.analysis.lost_segment"] > 0  # captured on the receiver: holes
    assert flags.get("tcp.analysis.retransmission", 0) + flags.get(
        "tcp.analysis.fast_retransmission", 0
    ) > 0  # ... that retransmissions filled
    assert flags["tcp.analysis.duplicate_ack"] > 0
    assert conv.close.kind == "four-way"


def test_udp_demo_is_one_conversation_answered_each_time(capture: Find) -> None:
    (conv,) = conversations(capture("udp_12345.pcap"))
    assert isinstance(conv, UDPConversation)
    assert (conv.server.port, conv.packets_client, conv.packets_server) == (12345, 3, 3)
    assert conv.conn_state == "SF"


def test_page_load_lists_dns_then_the_http_connection(capture: Find) -> None:
    convs = conversations(capture("page_load.pcap"))
    assert [(c.proto, c.server.port) for c in convs] == [("udp", 53), ("tcp", 8080)]
    conv = convs[1]
    assert isinstance(conv, TCPConversation) and conv.handshake.complete
    # The browser closes when the page and its resources are in: FIN first.
    assert (conv.close.kind, conv.close.initiator) == ("four-way", "client")
    assert conv.conn_state == "SF"


def test_public_syn_then_rst_from_the_same_side(public: Find) -> None:
    (conv,) = tcp(public("tcp_syn_rst.pcap"))
    assert (conv.close.kind, conv.close.rst_by) == ("rst", "client")
    assert (conv.conn_state, conv.history) == ("RSTOS0", "SR")


def test_public_fast_retransmission_then_client_rst(public: Find) -> None:
    (conv,) = tcp(public("tcp_fast_retransmit_rst.pcap"))
    assert conv.analysis["tcp.analysis.fast_retransmission"] == 1
    assert conv.analysis["tcp.analysis.duplicate_ack"] == 5
    assert (conv.close.kind, conv.close.rst_by, conv.close.rst_frame) == ("rst", "client", 39)
    assert conv.conn_state == "RSTO"


def test_public_http_get_with_fin_close(public: Find) -> None:
    (conv,) = tcp(public("http_get_fin.pcap"))
    assert (conv.close.kind, conv.close.initiator) == ("four-way", "client")
    assert (conv.conn_state, conv.history) == ("SF", "ShADadFf")
    hs = conv.handshake
    assert (hs.rtt_server_ns, hs.rtt_client_ns, hs.rtt_ns) == (69_740_000, 294_000, 70_034_000)
    assert hs.client_options is not None and hs.server_options is not None
    assert (hs.client_options.window_scale, hs.server_options.window_scale) == (4, 7)
    assert hs.window_scaling and hs.sack and hs.timestamps


def test_public_out_of_order_segments_are_reordered(public: Find) -> None:
    (conv,) = tcp(public("http_range_keepalive_ooo.pcap"), keep_data=True)
    assert conv.analysis["tcp.analysis.out_of_order"] == 2
    assert conv.server_stream is not None and conv.server_stream.gaps == []
    assert conv.server_stream.data.startswith(b"HTTP/1.1 206")


def test_public_pipelined_scan_with_retransmissions(public: Find) -> None:
    (conv,) = tcp(public("http_pipelined_scan_retrans.pcap"))
    assert conv.close.initiator == "server"  # its FIN rode on the last response
    assert conv.analysis["tcp.analysis.retransmission"] == 7
    assert conv.missed_bytes_server == 0
