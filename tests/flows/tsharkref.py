"""Test helper: what tshark says about a capture's TCP streams, for comparison.

Runs the installed ``tshark`` (skipped by the callers when absent) with
relative sequence numbers, out-of-order reassembly on, and reads back per
frame: ``tcp.stream``, ``tcp.seq``, ``tcp.ack``, ``tcp.len`` and which
``tcp.analysis.*`` flags are set; and per stream the bytes of
``-z follow,tcp,raw,N`` for each node.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

TSHARK = shutil.which("tshark")

#: The flag fields compared (the names layerpeek uses, see analysis.wireshark_field).
ANALYSIS_FIELDS = (
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order",
    "tcp.analysis.lost_segment",
    "tcp.analysis.ack_lost_segment",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.zero_window",
    "tcp.analysis.zero_window_probe",
    "tcp.analysis.zero_window_probe_ack",
    "tcp.analysis.window_full",
    "tcp.analysis.window_update",
    "tcp.analysis.keep_alive",
    "tcp.analysis.keep_alive_ack",
    "tcp.analysis.reused_ports",
)

PREFS = ["-o", "tcp.relative_sequence_numbers:TRUE", "-o", "tcp.reassemble_out_of_order:TRUE",
         "-o", "tcp.analyze_sequence_numbers:TRUE"]


@dataclass
class Frame:
    stream: int
    seq: int
    ack: int | None
    len: int
    flags: set[str] = field(default_factory=set)
    dupack_num: int | None = None
    dupack_frame: int | None = None


def _run(args: list[str]) -> str:
    assert TSHARK is not None
    # tshark exits 2 on a capture cut short but still prints every whole frame.
    done = subprocess.run([TSHARK, *args], capture_output=True, text=True, timeout=600)
    if done.returncode not in (0, 2):
        raise RuntimeError(f"tshark failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def numbering(path: Path) -> dict[int, int]:
    """tshark frame number → layerpeek's (1-based, packets only).

    tshark 4.0 also numbers pcapng Custom Blocks as frames (they have no
    encapsulation type); layerpeek's reader yields packet blocks only.  So
    frames without an encapsulation are dropped and the rest renumbered.
    """
    out: dict[int, int] = {}
    ours = 0
    for line in _run(["-r", str(path), "-T", "fields", "-e", "frame.number",
                      "-e", "frame.encap_type"]).splitlines():
        number, _, encap = line.partition("\t")
        if encap.strip():
            ours += 1
            out[int(number)] = ours
    return out


def frames(path: Path) -> dict[int, Frame]:
    """frame number → tshark's view, for frames with exactly one TCP header outside ICMP.

    Frame numbers (also in ``dupack_frame``) are layerpeek's, see :func:`numbering`.
    """
    renumber = numbering(path)
    fields = ["frame.number", "tcp.stream", "tcp.seq", "tcp.ack", "tcp.len", "tcp.flags.ack",
              "icmp.type", "icmpv6.type", "tcp.analysis.duplicate_ack_num",
              "tcp.analysis.duplicate_ack_frame", *ANALYSIS_FIELDS]
    args = ["-r", str(path), *PREFS, "-T", "fields", "-E", "occurrence=a"]
    for f in fields:
        args += ["-e", f]
    out: dict[int, Frame] = {}
    for line in _run(args).splitlines():
        cols = line.split("\t")
        if len(cols) < len(fields) or "," in cols[1] or cols[6] or cols[7]:
            continue  # no TCP, TCP inside a tunnel twice, or a header quoted by ICMP
        if not (cols[1] and cols[2] and cols[4]):
            continue  # a TCP header too short to analyse
        number = renumber[int(cols[0])]
        ack = int(cols[3]) if cols[5] == "1" else None
        frame = Frame(int(cols[1]), int(cols[2]), ack, int(cols[4]))
        frame.dupack_num = int(cols[8]) if cols[8] else None
        frame.dupack_frame = renumber[int(cols[9])] if cols[9] else None
        values = zip(ANALYSIS_FIELDS, cols[10:], strict=True)
        frame.flags = {name for name, value in values if value}
        out[number] = frame
    return out


def follow(path: Path, stream: int) -> tuple[str, str, bytes, bytes]:
    """(node 0 "addr:port", node 1, node 0's bytes, node 1's bytes) of a TCP stream."""
    text = _run(["-r", str(path), *PREFS, "-q", "-z", f"follow,tcp,raw,{stream}"])
    node0 = node1 = ""
    data = {0: bytearray(), 1: bytearray()}
    body = False
    for line in text.splitlines():
        if line.startswith("Node 0: "):
            node0 = line[8:]
        elif line.startswith("Node 1: "):
            node1 = line[8:]
            body = True
        elif line.startswith("====="):
            body = False
        elif body and line.strip():
            data[1 if line.startswith("\t") else 0] += bytes.fromhex(line.strip())
    return node0, node1, bytes(data[0]), bytes(data[1])


def udp_streams(path: Path) -> dict[int, int]:
    """frame number → ``udp.stream`` (frames with one UDP header outside ICMP)."""
    renumber = numbering(path)
    args = ["-r", str(path), "-T", "fields", "-E", "occurrence=a", "-e", "frame.number",
            "-e", "udp.stream", "-e", "icmp.type", "-e", "icmpv6.type"]
    out: dict[int, int] = {}
    for line in _run(args).splitlines():
        cols = line.split("\t")
        if len(cols) == 4 and cols[1] and "," not in cols[1] and not cols[2] and not cols[3]:
            out[renumber[int(cols[0])]] = int(cols[1])
    return out


def initial_rtts(path: Path) -> dict[int, int]:
    """tcp.stream → ``tcp.analysis.initial_rtt`` in nanoseconds, where tshark has one."""
    args = ["-r", str(path), *PREFS, "-T", "fields", "-E", "occurrence=f", "-e", "tcp.stream",
            "-e", "tcp.analysis.initial_rtt", "-Y", "tcp.analysis.initial_rtt"]
    out: dict[int, int] = {}
    for line in _run(args).splitlines():
        stream, _, rtt = line.partition("\t")
        if stream and rtt and int(stream) not in out:
            seconds, _, frac = rtt.partition(".")
            out[int(stream)] = int(seconds) * 10**9 + int(frac.ljust(9, "0")[:9])
    return out
