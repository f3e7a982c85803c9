"""One table per vocabulary: TCP flag names, HTTP methods, the filter error, typed state names.

Each of these once had up to four copies that had drifted apart (the flag
names in two orders and two spellings of "none"; the method list three
times).  These tests check that every user goes through the one table, by
behaviour where that is visible and by identity where it is not.
"""

from __future__ import annotations

import importlib
import typing
from types import SimpleNamespace

import pytest

from layerpeek import errors
from layerpeek.capture import live
from layerpeek.filter import FilterError
from layerpeek.http import message, pairing, reader
from layerpeek.layers import http, tcp


class TestTCPFlagNames:
    @pytest.mark.parametrize(
        ("flags", "names"),
        [
            (0x02, "SYN"),
            (0x12, "SYN, ACK"),
            (0x03, "FIN, SYN"),  # Wireshark's order: lowest bit first
            (0x11, "FIN, ACK"),
            (0x1C0, "ECE, CWR, NS"),
            (0, "<None>"),
        ],
    )
    def test_one_spelling_and_order(self, flags: int, names: str) -> None:
        assert tcp.flag_names(flags) == names
        layer = tcp.TCP(1, 2, 0, 0, 20, flags, 0, 0, 0)
        assert layer.flag_names == names

    def test_the_ladder_and_the_handshake_command_use_it(self) -> None:
        for name in ("layerpeek.notebook.ladder", "layerpeek.render.ladder"):
            assert importlib.import_module(name).flag_names is tcp.flag_names
        # The command imports it when it draws (its module loads for `--help` too).
        handshake = importlib.import_module("layerpeek.commands.handshake")
        info = SimpleNamespace(seq=0, ack=1, seglen=0, analysis=None, direction="client")
        row = handshake._row(3, 0, 0xD2, info)  # SYN, ACK, ECE, CWR
        assert row.label == f"{tcp.flag_names(0xD2)} seq=0 ack=1 len=0"

    def test_every_flag_bit_has_a_name(self) -> None:
        # __members__: iterating a Flag class skips multi-bit members such as
        # RESERVED (0xE00, the three reserved bits), which the table names too.
        members = list(tcp.TCPFlags.__members__.values())
        assert [bit for bit, _ in tcp.FLAG_NAMES] == [f.value for f in members]
        assert [name.upper() for _, name in tcp.FLAG_NAMES] == [f.name for f in members]


class TestHTTPMethods:
    def test_the_sniff_and_the_stream_reader_start_from_the_one_list(self) -> None:
        starts = tuple(m.encode() + b" " for m in http.METHODS)
        assert starts == http.REQUEST_STARTS
        assert (*starts, b"HTTP/1.") == http.STARTS
        assert reader.METHODS is http.REQUEST_STARTS

    @pytest.mark.parametrize("method", http.METHODS)
    def test_the_pairer_knows_every_method(self, method: str) -> None:
        assert pairing._REQUEST_LINE.search(f"{method} / HTTP/1.1\r\n".encode())
        assert http.sniff(f"{method} / HTTP/1.1\r\n\r\n".encode(), 0, 20 + len(method))

    def test_nothing_else_is_a_method(self) -> None:
        assert not pairing._REQUEST_LINE.search(b"FETCH / HTTP/1.1\r\n")


class TestOneFilterError:
    def test_every_filter_error_is_the_same_class(self) -> None:
        assert FilterError is errors.FilterError is live.FilterError

    def test_live_captures_filter_error_is_one_too(self) -> None:
        assert issubclass(live.CaptureFilterError, FilterError)
        assert issubclass(live.CaptureFilterError, live.LiveCaptureError)
        e = live.CaptureFilterError("bad capture filter 'tcp port': syntax error")
        assert str(e) == "bad capture filter 'tcp port': syntax error"


class TestTypedVocabularies:
    def test_every_reader_state_constant_is_in_the_state_type(self) -> None:
        states = set(typing.get_args(reader.ReaderState))
        constants = {
            value
            for name, value in vars(reader).items()
            if name.isupper() and isinstance(value, str) and value in states
        }
        assert constants == states

    def test_framing_names(self) -> None:
        assert typing.get_args(message.Framing) == (
            "none", "length", "chunked", "close", "tunnel", "http2", "http3"
        )
        assert message.HTTPMessage.__dataclass_fields__["framing"].default == "none"


class TestCloseVocabulary:
    """How a connection closed: one spelling per word, one table of texts."""

    def test_the_http_readers_and_pairer_read_the_one_table(self) -> None:
        from layerpeek.flows import events

        assert reader.ENDED is events.CLOSE_TEXTS
        assert set(message.NO_RESPONSE) == set(events.CLOSE_TEXTS)
        for how, text in events.CLOSE_TEXTS.items():
            assert message.NO_RESPONSE[how].endswith(text)

    def test_every_close_word_has_a_text(self) -> None:
        from layerpeek.flows import events

        assert set(typing.get_args(events.CloseHow)) == set(events.CLOSE_TEXTS)
        assert set(events.CLOSE_LABELS) <= set(typing.get_args(events.CloseKind))

    def test_the_records_and_events_are_typed_by_the_vocabularies(self) -> None:
        from layerpeek.flows import events, records

        hints = typing.get_type_hints(records.Teardown)
        assert hints["kind"] == events.CloseKind
        assert hints["rst_by"] == events.Direction | None
        assert typing.get_type_hints(events.ConnectionClosed)["how"] == events.CloseHow
        assert typing.get_type_hints(events.StateChanged)["endpoint"] == events.Direction

    def test_the_ladders_label_a_refused_connection_alike(self) -> None:
        from layerpeek.commands import handshake
        from layerpeek.flows import events
        from layerpeek.render import ladder

        assert ladder.CLOSE_LABELS is events.CLOSE_LABELS
        # The command imports the table when it draws (its module loads for `--help` too).
        for kind, label in events.CLOSE_LABELS.items():
            close = SimpleNamespace(client_fin_frame=None, server_fin_frame=None, rst_frame=7,
                                    kind=kind, rst_by="server")
            handshake_ = SimpleNamespace(syn_frame=1, synack_frame=None, ack_frame=None)
            conv = SimpleNamespace(handshake=handshake_, close=close)
            row = SimpleNamespace(frame=7)
            assert handshake._phase(conv, row) == f"{label} by the server"
