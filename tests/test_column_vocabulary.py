"""One column vocabulary: ``layerpeek.table`` and ``packets_frame`` mean the same by a name.

Both producers take their names, types and meanings from
:mod:`layerpeek.columnar.vocabulary`; where both give a column, its type and
its value in every row agree, on every capture the project has.  Lengths are
lengths on the wire (``tcp_len`` agrees with tshark's ``tcp.len``), with the
captured length in a column of its own.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("numpy")
pytest.importorskip("pyarrow")
pytest.importorskip("pandas")

from builders import eth, ipv4, ipv6, pcap_bytes, tcp
from conftest import ROOT, own_captures, public_captures

import layerpeek
from layerpeek.columnar import SCHEMA
from layerpeek.columnar.vocabulary import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    PACKET_FRAME_COLUMNS,
    VOCABULARY,
    arrow_type,
)
from layerpeek.flows.pipeline import annotate
from layerpeek.notebook.frames import PACKET_COLUMNS, packets_arrow, packets_frame

ALL_CAPTURES = own_captures() + public_captures()
SHARED = [name for name in PACKET_FRAME_COLUMNS if name in COLUMNS]


def test_each_producer_takes_its_columns_from_the_vocabulary() -> None:
    assert SCHEMA.names == [*COLUMNS, *OPTIONAL_COLUMNS]
    for field in SCHEMA:
        assert field.type == arrow_type(VOCABULARY[field.name].type), field.name
    assert list(PACKET_COLUMNS) == list(PACKET_FRAME_COLUMNS)
    for name, (kind, meaning) in PACKET_COLUMNS.items():
        assert (kind, meaning) == (VOCABULARY[name].type, VOCABULARY[name].meaning)
    assert set(VOCABULARY) == {*COLUMNS, *OPTIONAL_COLUMNS, *PACKET_FRAME_COLUMNS}


def test_the_names_the_two_producers_share() -> None:
    """The ones issue 14 found disagreeing (tcp_flags, tcp_len) among them."""
    assert SHARED == ["frame", "wire_len", "cap_len", "protocols", "src_port", "dst_port",
                      "tcp_flags", "tcp_len", "tcp_cap_len", "malformed"]


@pytest.mark.parametrize("path", ALL_CAPTURES, ids=lambda p: p.name)
def test_the_table_and_the_packet_frame_agree_on_every_shared_column(path: Path) -> None:
    table = layerpeek.table(path, SHARED)
    frame = packets_arrow(path)
    assert table.num_rows == frame.num_rows
    for name in SHARED:
        assert table.schema.field(name).type == frame.schema.field(name).type, name
        got, want = table.column(name).to_pylist(), frame.column(name).to_pylist()
        differ = [i + 1 for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b]
        assert not differ, f"{name}: frames {differ[:10]} differ"


def _cut_segments(path: Path) -> list[dict[str, Any]]:
    """A 1000-byte segment captured with a 100-byte snap length, through IPv4 (the
    vectorised path), IPv4 with options and IPv6 (a payload length, then 0)."""
    payload = bytes(range(250)) * 4
    frames = [
        eth(ipv4(tcp(payload, flags="PA"))),
        eth(ipv4(tcp(payload, flags="PA"), options=b"\x01\x01\x01\x00")),  # per-packet path
        eth(ipv6(tcp(payload, flags="PA"))),
        eth(ipv6(tcp(b"x" * 40, flags="PA"), payload_len=0)),  # declares nothing: the frame
    ]
    path.write_bytes(pcap_bytes([f[:100] for f in frames], wire_lens=[len(f) for f in frames]))
    return layerpeek.table(path, ["tcp_len", "tcp_cap_len", "cap_len", "wire_len"]).to_pylist()


def test_tcp_len_is_the_payload_on_the_wire_and_tcp_cap_len_what_was_captured(
    tmp_path: Path,
) -> None:
    path = tmp_path / "snapped.pcap"
    rows = _cut_segments(path)
    assert [(r["tcp_len"], r["tcp_cap_len"]) for r in rows] == [
        (1000, 100 - 54), (1000, 100 - 58), (1000, 100 - 74), (100 - 74, 100 - 74)
    ]
    frame = packets_frame(path, flows=False)
    assert frame["tcp_len"].tolist() == [r["tcp_len"] for r in rows]
    assert frame["tcp_cap_len"].tolist() == [r["tcp_cap_len"] for r in rows]
    # the conversation stage counts the same length (dump's len=, flows' bytes)
    seglens = [info.seglen for _packet, info in annotate(layerpeek.read(path))]
    assert seglens == [r["tcp_len"] for r in rows]


def test_tcp_flags_is_the_number_and_tcp_flag_names_spells_it(capture: Any) -> None:
    frame = packets_frame(capture("tcp_3040_greeting.pcap"), flows=False)
    first = frame.iloc[:3]
    assert first["tcp_flags"].tolist() == [0x02, 0x12, 0x10]
    assert first["tcp_flag_names"].tolist() == ["SYN", "SYN, ACK", "ACK"]
    assert str(frame["tcp_flags"].dtype) == "UInt16"


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize(
    "path",
    # tshark numbers pcapng_be_multisection's non-packet blocks as frames too (11 against 8);
    # in malformed_tcp the IP datagram ends inside the TCP header: tshark stops before
    # tcp.len, layerpeek keeps the fixed header (tcp_len 0, the rest marked invalid)
    [p for p in ALL_CAPTURES
     if p.name not in ("pcapng_be_multisection.pcapng", "malformed_tcp.pcap")],
    ids=lambda p: p.name,
)
def test_tcp_len_is_tsharks_tcp_len(path: Path) -> None:
    """IP reassembly off: the table decodes each frame alone (defrag is a flow stage)."""
    out = subprocess.run(
        ["tshark", "-n", "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
         "-r", str(path), "-T", "fields", "-e", "tcp.len"],
        capture_output=True, text=True,  # exit 2 on a file cut short, after every frame
    ).stdout.splitlines()
    ours = layerpeek.table(path, ["tcp_len"]).column(0).to_pylist()
    theirs = [int(v.split(",")[0]) if v else None for v in out]
    assert ours == theirs


def test_the_readme_documents_the_vocabulary() -> None:
    """The README's column table is the vocabulary: every name, its type and its producers."""
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| `([^`]+)` \| (table|frame|both) \| .+ \|$", text, re.M)
    documented = {name: (kind, where) for name, kind, where in rows}
    want = {}
    for name, column in VOCABULARY.items():
        in_table = name in COLUMNS or name in OPTIONAL_COLUMNS
        in_frame = name in PACKET_FRAME_COLUMNS
        want[name] = (column.type, "both" if in_table and in_frame else
                      "table" if in_table else "frame")
    assert documented == want


def test_export_help_lists_the_table_columns() -> None:
    from layerpeek.commands.export import DESCRIPTION

    listed = DESCRIPTION.split("Packet columns", 1)[1].split("and on request")[0].split()
    assert [w.strip(",.") for w in listed if w.strip(",.") in VOCABULARY] == list(COLUMNS)

