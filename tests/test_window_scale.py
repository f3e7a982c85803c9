"""The TCP window in bytes: scaled by the handshake's shift wherever layerpeek shows it.

A window field of 64 after a handshake that agreed on shift 10 means 65,536
bytes (RFC 7323 §2.2).  Wireshark shows the bytes as ``tcp.window_size`` and
the field as ``tcp.window_size_value``; ``dump`` shows ``win=65536 (raw 64)``,
``-V`` explains it, the DataFrame has both, and a window whose scale cannot
be known (the handshake was not captured) stays as sent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from builders import eth, ipv4_tcp, pcap_bytes, tcp
from conftest import CAPTURES, public_captures

from layerpeek.cli import main

TSHARK = shutil.which("tshark")
#: kind 3, length 3, shift
WSCALE10 = b"\x01\x03\x03\x0a"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def lines(capsys: pytest.CaptureFixture[str], path: Path, *argv: str) -> list[str]:
    code, out, _ = run(capsys, "dump", str(path), *argv)
    assert code == 0
    return out.splitlines()


def handshake(tmp_path: Path, *, client_scale: bool = True, server_scale: bool = True,
              with_syns: bool = True) -> Path:
    """SYN, SYN-ACK (both with window 65495), then an ACK and data with window 64."""
    server = {"src": "10.0.0.2", "dst": "10.0.0.1"}
    syn = tcp(sport=40000, dport=80, flags="S", seq=100, window=65495,
              options=WSCALE10 if client_scale else b"")
    synack = tcp(sport=80, dport=40000, flags="SA", seq=900, ack=101, window=65495,
                 options=WSCALE10 if server_scale else b"")
    frames = [eth(ipv4_tcp(syn)), eth(ipv4_tcp(synack, **server))] if with_syns else []
    frames += [
        eth(ipv4_tcp(tcp(sport=40000, dport=80, flags="A", seq=101, ack=901, window=64))),
        eth(ipv4_tcp(tcp(b"hi", sport=80, dport=40000, flags="PA", seq=901, ack=101,
                         window=3), **server)),
    ]
    path = tmp_path / "hs.pcap"
    path.write_bytes(pcap_bytes(frames))
    return path


def test_dump_shows_the_window_in_bytes_with_the_field_beside_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listing = lines(capsys, handshake(tmp_path))
    assert " win=65495 len=0" in listing[0]  # a SYN's window is never scaled
    assert " win=65495 len=0" in listing[1]
    assert " win=65536 (raw 64) len=0" in listing[2]
    assert " win=3072 (raw 3) len=2" in listing[3]
    # raw sequence numbers (-S) do not change the window
    assert " win=65536 (raw 64) " in lines(capsys, handshake(tmp_path), "-S")[2]


def test_no_scaling_unless_both_syns_carry_the_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listing = lines(capsys, handshake(tmp_path, server_scale=False))
    assert " win=64 len=0" in listing[2] and "raw" not in listing[2]


def test_a_window_whose_scale_is_unknown_stays_as_sent(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listing = lines(capsys, handshake(tmp_path, with_syns=False))
    assert " win=64 len=0" in listing[0] and "raw" not in listing[0]
    tree = run(capsys, "dump", "-V", str(handshake(tmp_path, with_syns=False)))[1]
    assert "[Window: 64 (scale unknown: the handshake was not captured; as sent)]" in tree


def test_the_tree_explains_the_window(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    tree = run(capsys, "dump", "-V", str(handshake(tmp_path)))[1]
    assert "[Window: 65495 (not scaled: a SYN's window never is)]" in tree
    assert "[Window: 65536 (raw 64 × 1024, scale from the handshake)]" in tree
    tree = run(capsys, "dump", "-V", str(handshake(tmp_path, client_scale=False)))[1]
    assert "[Window: 64 (not scaled: the handshake agreed on no scaling)]" in tree


def test_json_flow_has_the_shift(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = run(capsys, "dump", "--json", str(handshake(tmp_path)))[1]
    shifts = [json.loads(line)["flow"]["window_shift"] for line in out.splitlines()]
    assert shifts == [0, 0, 10, 10]
    out = run(capsys, "dump", "--json", str(handshake(tmp_path, with_syns=False)))[1]
    assert [json.loads(line)["flow"]["window_shift"] for line in out.splitlines()] == [None, None]


def test_fields_window_size_is_scaled_and_window_size_value_raw(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = run(capsys, "dump", str(handshake(tmp_path)), "-T", "fields",
              "-e", "tcp.window_size", "-e", "tcp.window_size_value")[1]
    assert out.splitlines() == ["65495\t65495", "65495\t65495", "65536\t64", "3072\t3"]
    _, out, _ = run(capsys, "dump", str(handshake(tmp_path)), "-Y", "tcp.window_size > 60000",
                       "-T", "fields", "-e", "frame.number")
    assert out.split() == ["1", "2", "3"]


def test_the_packet_dataframe_has_the_window_in_bytes(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    from layerpeek.notebook import packets_frame

    df = packets_frame(str(handshake(tmp_path)))
    assert list(df["window"]) == [65495, 65495, 64, 3]
    assert list(df["window_size"]) == [65495, 65495, 65536, 3072]


CAPTURE_FILES = sorted(CAPTURES.glob("*.pcap")) + [
    p for p in public_captures() if p.name != "malformed_tcp.pcap"  # tcp not decoded there
]


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.name)
def test_window_size_equals_tsharks(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    argv = ["-Y", "tcp", "-T", "fields", "-e", "frame.number", "-e", "tcp.window_size",
            "-e", "tcp.window_size_value"]
    theirs = subprocess.run([str(TSHARK), "-r", str(path), *argv], capture_output=True,
                            text=True, timeout=300).stdout
    assert run(capsys, "dump", str(path), *argv)[1] == theirs
