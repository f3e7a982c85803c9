"""``-T fields`` formatting: tshark's text for each type, and its ``-E`` options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import layerpeek
from layerpeek.filter import FIELDS, FilterError, Frame
from layerpeek.filter.fields import format_value
from layerpeek.filter.output import parse_format

Finder = Callable[[str], Path]


def rows(path: Path, names: list[str], options: list[str]) -> list[str]:
    fmt = parse_format(names, options)
    out = [fmt.header_line()] if fmt.header else []
    first = None
    with layerpeek.read(path) as reader:
        for packet in reader:
            out.append(fmt.row(Frame(packet, None, first)))
            first = packet.ts_ns if first is None else first
    return out


def test_values_print_as_tshark_prints_them() -> None:
    assert format_value(FIELDS["ip.src"], 0x7F000001) == "127.0.0.1"
    assert format_value(FIELDS["ipv6.src"], 1) == "::1"
    assert format_value(FIELDS["eth.src"], bytes.fromhex("00163e0a0b0c")) == "00:16:3e:0a:0b:0c"
    assert format_value(FIELDS["tcp.flags"], 0x12) == "0x0012"
    assert format_value(FIELDS["eth.type"], 0x800) == "0x0800"
    assert format_value(FIELDS["tcp.flags.syn"], True) == "1"
    assert format_value(FIELDS["frame.time_relative"], 1_500) == "0.000001500"
    assert format_value(FIELDS["tcp.payload"], b"GET") == "474554"
    assert format_value(FIELDS["tcp.analysis.retransmission"], True) == "1"
    assert format_value(FIELDS["tcp"], b"") == "tcp"


def test_tab_separated_by_default_with_multiple_values_joined_by_commas(capture: Finder) -> None:
    lines = rows(capture("http_get_post.pcap"), ["frame.number", "tcp.port", "ip.src"], [])
    assert lines[:2] == ["1\t41240,8080\t127.0.0.1", "2\t8080,41240\t127.0.0.1"]
    assert all(len(line.split("\t")) == 3 for line in lines)


def test_csv_with_header_and_double_quotes(capture: Finder) -> None:
    lines = rows(
        capture("http_get_post.pcap"),
        ["frame.number", "http.request.method", "http.user_agent"],
        ["header=y", "separator=,", "quote=d"],
    )
    assert lines[0] == '"frame.number","http.request.method","http.user_agent"'
    assert lines[4] == '"4","GET","curl/7.88.1"'
    assert lines[1] == '"1",,'  # absent fields are empty, unquoted


def test_several_options_fit_in_one_e_even_with_a_comma_separator() -> None:
    combined = parse_format(["ip.src"], ["header=y,separator=,,quote=d"])
    separate = parse_format(["ip.src"], ["header=y", "separator=,", "quote=d"])
    assert combined == separate
    assert combined.separator == "," and combined.quote == '"' and combined.header


def test_occurrence_and_aggregator_choose_and_join_values(capture: Finder) -> None:
    path = capture("http_get_post.pcap")
    first = rows(path, ["tcp.port"], ["occurrence=f"])
    last = rows(path, ["tcp.port"], ["occurrence=l"])
    both = rows(path, ["tcp.port"], ["aggregator=/s"])
    assert [f"{a} {b}" for a, b in zip(first, last, strict=True)] == both


def test_control_characters_in_strings_are_escaped(capture: Finder) -> None:
    lines = rows(capture("http_get_post.pcap"), ["http.request.line"], [])
    assert lines[3] == "Host: 127.0.0.1:8080\\r\\n,User-Agent: curl/7.88.1\\r\\n,Accept: */*\\r\\n"


@pytest.mark.parametrize(
    ("names", "options", "words"),
    [
        (["ip.srcc"], [], "did you mean 'ip.src'"),
        (["nothing.like.this"], [], "layerpeek fields"),
        ([], [], "at least one -e"),
        (["ip.src"], ["header=maybe"], "use y or n"),
        (["ip.src"], ["separator=ab"], "one character"),
        (["ip.src"], ["quote=x"], r"d \(double\)"),
        (["ip.src"], ["occurrence=0"], "a number from 1"),
        (["ip.src"], ["colour=y"], "unknown option"),
        (["ip.src"], ["header"], "key=value"),
    ],
)
def test_bad_field_options_are_clear_errors(
    names: list[str], options: list[str], words: str
) -> None:
    with pytest.raises(FilterError, match=words):
        parse_format(names, options)
