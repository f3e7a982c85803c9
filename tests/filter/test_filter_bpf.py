"""Capture filters on files select exactly what ``tcpdump -r FILE EXPR`` selects.

The classic BPF interpreter is tested on hand-written programs first (each
instruction class, and the rules that make a frame fail: loads past the
captured bytes, division by zero), then against tcpdump itself: tcpdump
writes the frames it keeps with ``-w``, and those must be the frames, in
order, that :class:`CaptureFilter` keeps.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import layerpeek
from layerpeek.filter import FilterError
from layerpeek.filter.bpf import CaptureFilter, Instruction, run, validate

TCPDUMP = shutil.which("tcpdump")

Finder = Callable[[str], Path]

# opcodes used below (struct bpf_insn codes)
LD_W_ABS, LD_H_ABS, LD_B_ABS = 0x20, 0x28, 0x30
LD_B_IND, LDX_MSH, LD_LEN, LD_IMM, LDX_IMM = 0x50, 0xB1, 0x80, 0x00, 0x01
ST, LD_MEM = 0x02, 0x60
ALU_ADD_K, ALU_DIV_K, ALU_DIV_X, ALU_AND_K, ALU_LSH_K, ALU_NEG = 0x04, 0x34, 0x3C, 0x54, 0x64, 0x84
JEQ_K, JGT_K, JSET_K, JA = 0x15, 0x25, 0x45, 0x05
RET_K, RET_A, TAX, TXA = 0x06, 0x16, 0x07, 0x87


def prog(*insns: Instruction) -> tuple[Instruction, ...]:
    program = tuple(insns)
    validate(program)
    return program


def test_loads_read_big_endian_words_halves_and_bytes() -> None:
    data = bytes([0x12, 0x34, 0x56, 0x78, 0x9A])
    assert run(prog((LD_W_ABS, 0, 0, 0), (RET_A, 0, 0, 0)), data, 5) == 0x12345678
    assert run(prog((LD_H_ABS, 0, 0, 3), (RET_A, 0, 0, 0)), data, 5) == 0x789A
    assert run(prog((LD_B_ABS, 0, 0, 4), (RET_A, 0, 0, 0)), data, 5) == 0x9A


def test_a_load_past_the_captured_bytes_rejects_the_frame() -> None:
    assert run(prog((LD_H_ABS, 0, 0, 4), (RET_K, 0, 0, 1)), b"\x00" * 5, 100) == 0


def test_len_is_the_length_on_the_wire_not_the_captured_length() -> None:
    assert run(prog((LD_LEN, 0, 0, 0), (RET_A, 0, 0, 0)), b"\x00" * 10, 1514) == 1514


def test_msh_and_indexed_loads_find_the_byte_after_an_ipv4_header() -> None:
    packet = bytes([0x46]) + bytes(23) + b"\x42"  # IHL 6: header of 24 bytes, then 0x42
    program = prog((LDX_MSH, 0, 0, 0), (LD_B_IND, 0, 0, 0), (RET_A, 0, 0, 0))
    assert run(program, packet, len(packet)) == 0x42


def test_alu_jumps_scratch_memory_and_register_moves() -> None:
    program = prog(
        (LD_IMM, 0, 0, 5),
        (ALU_ADD_K, 0, 0, 3),  # 8
        (ALU_LSH_K, 0, 0, 2),  # 32
        (ST, 0, 0, 7),
        (LD_IMM, 0, 0, 0),
        (LD_MEM, 0, 0, 7),  # 32 again
        (JGT_K, 0, 1, 31),
        (JA, 0, 0, 1),
        (RET_K, 0, 0, 0),
        (ALU_AND_K, 0, 0, 0x30),
        (JSET_K, 1, 0, 0x20),
        (RET_K, 0, 0, 0),
        (TAX, 0, 0, 0),
        (TXA, 0, 0, 0),
        (JEQ_K, 0, 1, 32),
        (RET_A, 0, 0, 0),
        (RET_K, 0, 0, 0),
    )
    assert run(program, b"", 0) == 32


def test_negation_wraps_to_32_bits() -> None:
    assert run(prog((LD_IMM, 0, 0, 1), (ALU_NEG, 0, 0, 0), (RET_A, 0, 0, 0)), b"", 0) == 0xFFFFFFFF


def test_division_by_zero_rejects_the_frame() -> None:
    program = prog((LDX_IMM, 0, 0, 0), (LD_IMM, 0, 0, 9), (ALU_DIV_X, 0, 0, 0), (RET_K, 0, 0, 1))
    assert run(program, b"", 0) == 0
    assert run(prog((LD_IMM, 0, 0, 9), (ALU_DIV_K, 0, 0, 3), (RET_A, 0, 0, 0)), b"", 0) == 3


@pytest.mark.parametrize(
    ("program", "words"),
    [
        ((), "empty"),
        (((JA, 0, 0, 5), (RET_K, 0, 0, 1)), "jumps past its end"),
        (((LD_IMM, 0, 0, 1),), "does not end with a return"),
        (((ST, 0, 0, 16), (RET_K, 0, 0, 1)), "scratch memory slot 16"),
        (((LD_W_ABS, 0, 0, 0xFFFFF000), (RET_A, 0, 0, 0)), "kernel data"),
    ],
)
def test_programs_the_interpreter_cannot_run_faithfully_are_refused(
    program: tuple[Instruction, ...], words: str
) -> None:
    with pytest.raises(FilterError, match=words):
        validate(program)


# ------------------------------------------------------------------ with libpcap and tcpdump

needs_tcpdump = pytest.mark.skipif(TCPDUMP is None, reason="tcpdump is not installed")


def _libpcap() -> bool:
    try:
        CaptureFilter("tcp")
    except FilterError:
        return False
    return True


needs_libpcap = pytest.mark.skipif(not _libpcap(), reason="libpcap is not installed")


@needs_libpcap
def test_a_bad_expression_is_reported_with_libpcaps_reason() -> None:
    with pytest.raises(FilterError, match="bad capture filter 'tcp prot 80'"):
        CaptureFilter("tcp prot 80")


@needs_libpcap
def test_an_empty_expression_keeps_every_frame(capture: Finder) -> None:
    keep = CaptureFilter("")
    with layerpeek.read(capture("udp_12345.pcap")) as reader:
        assert all(keep(p) for p in reader)


BPF_CASES: list[tuple[str, str]] = [
    ("tcp port 8080", "http_get_post.pcap"),
    ("tcp port 8080", "http_sll2_any.pcap"),
    ("udp", "dns_query.pcap"),
    ("tcp and greater 100", "http_keepalive.pcap"),
    ("tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "tcp_half_close.pcap"),
    ("tcp[tcpflags] & tcp-rst != 0", "tcp_refused.pcap"),
    ("host 127.0.0.1 and not port 53", "page_load.pcap"),
    ("ip6 and tcp", "tcp_3040_ipv6.pcap"),
    ("less 80", "tcp_loss_reorder.pcap"),
    ("ip[8] == 64", "udp_12345.pcap"),
    ("vlan and tcp port 80", "public/vlan_http.pcap"),
    ("vlan 118 and vlan 10 and icmp", "public/vlan_ids_icmp_cdp.pcap"),
    ("udp or icmp", "public/rawip_mixed.pcap"),
    ("ip6", "public/ipv6_http_null_loopback.pcap"),
    ("ip and tcp", "public/null_loopback_http_post_chunked.pcap"),
    ("tcp dst port 80", "public/sll_tcp_handshake_nsec.pcap"),
    ("ip[6:2] & 0x1fff != 0", "public/ipv4_frag_http_get.pcap"),
    ("icmp6", "public/icmpv6_mix.pcap"),
]


def _path(name: str, capture: Finder, public: Finder) -> Path:
    if name.startswith("public/"):
        return public(name.removeprefix("public/"))
    return capture(name)


@needs_tcpdump
@needs_libpcap
@pytest.mark.parametrize(("expression", "name"), BPF_CASES)
def test_capture_filter_keeps_exactly_the_frames_tcpdump_keeps(
    expression: str, name: str, capture: Finder, public: Finder, tmp_path: Path
) -> None:
    assert TCPDUMP is not None
    path = _path(name, capture, public)
    out = tmp_path / "kept.pcap"
    subprocess.run([TCPDUMP, "-r", str(path), "-w", str(out), expression], check=True,
                   capture_output=True, timeout=120)
    with layerpeek.read(out) as reader:
        theirs = [(p.ts_ns // 1000, p.data) for p in reader]  # tcpdump -w writes microseconds
    native, python = CaptureFilter(expression), CaptureFilter(expression, native=False)
    with layerpeek.read(path) as reader:
        packets = list(reader)
    assert [(p.ts_ns // 1000, p.data) for p in packets if native(p)] == theirs
    assert [(p.ts_ns // 1000, p.data) for p in packets if python(p)] == theirs
    assert theirs  # every case keeps something
