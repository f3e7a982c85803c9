"""Benchmark: layerpeek against dpkt and scapy on the same capture, in one run.

Every decoder reads the whole capture and does a *decode with field access*:
link layer, IPv4/IPv6, TCP or UDP, reading the addresses, ports, seq/ack and
flags of every packet (scapy, being ~20× slower, reads the first
``--scapy-limit`` packets).  The contestants run in ``--rounds`` rounds, one
after the other inside each round, and each row reports the *median* round:
the machine is shared, and interleaving plus a median keeps one noisy moment
from deciding a ratio.  Time is this process's CPU time (``time.process_time``)
unless ``--wall`` is given: another job taking the CPU then does not count
against whoever was running.  Ratios are against dpkt: median against
median, and best round against best round (noise only ever adds time, so the
fastest round of each is the least disturbed one).

Then, in child processes, peak memory (VmHWM) of a full-depth read of
the capture repeated 1×, 2× and 4×, to show it stays flat as the file grows;
and a micro-benchmark of what one layer object costs to build: the TCP
dataclass frozen, slots-only, plain, and layerpeek's own.

Usage:  python bench/bench.py [CAPTURE] [--rounds 5] [--scapy-limit 10000]
CAPTURE defaults to bench/bench.pcap (made by ``sudo python3 bench/make_bench_capture.py``).
bench/README.md explains the method and records the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

Runner = Callable[[Path, "int | None"], int]


def count_records(path: Path) -> int:
    import layerpeek

    return sum(1 for _ in layerpeek.open_capture(path))


def run_layerpeek(path: Path, limit: int | None, upto: str = "transport") -> int:
    """Walk each packet's chain the way the dpkt loop below walks ``.data``."""
    import layerpeek
    from layerpeek import TCP, UDP, IPv4, IPv6

    n = 0
    acc = 0
    ip_types = (IPv4, IPv6)
    for pkt in layerpeek.read(path, upto=upto):
        n += 1
        layers = pkt.layers
        if len(layers) > 1:
            ip = layers[1]
            if isinstance(ip, ip_types):
                acc ^= len(ip.src) + len(ip.dst)
                if len(layers) > 2:
                    t = layers[2]
                    if isinstance(t, TCP):
                        acc ^= t.src_port ^ t.dst_port ^ t.seq ^ t.ack ^ t.flags
                    elif isinstance(t, UDP):
                        acc ^= t.src_port ^ t.dst_port
        if limit is not None and n >= limit:
            break
    return n


def run_layerpeek_get(path: Path, limit: int | None, upto: str = "transport") -> int:
    """The same fields through the typed lookup ``packet.get(Layer)``."""
    import layerpeek
    from layerpeek import TCP, UDP, IPv4, IPv6

    n = 0
    acc = 0
    for pkt in layerpeek.read(path, upto=upto):
        n += 1
        ip = pkt.get(IPv4) or pkt.get(IPv6)
        if ip is not None:
            acc ^= len(ip.src) + len(ip.dst)
        tcp = pkt.get(TCP)
        if tcp is not None:
            acc ^= tcp.src_port ^ tcp.dst_port ^ tcp.seq ^ tcp.ack ^ tcp.flags
        else:
            udp = pkt.get(UDP)
            if udp is not None:
                acc ^= udp.src_port ^ udp.dst_port
        if limit is not None and n >= limit:
            break
    return n


def run_layerpeek_full(path: Path, limit: int | None) -> int:
    return run_layerpeek(path, limit, upto="application")


def run_layerpeek_records(path: Path, limit: int | None) -> int:
    import layerpeek

    n = 0
    for _frame in layerpeek.open_capture(path):
        n += 1
        if limit is not None and n >= limit:
            break
    return n


def run_dpkt(path: Path, limit: int | None) -> int:
    import dpkt

    n = 0
    acc = 0
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            n += 1
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
                acc ^= len(ip.src) + len(ip.dst)
                t = ip.data
                if isinstance(t, dpkt.tcp.TCP):
                    acc ^= t.sport ^ t.dport ^ t.seq ^ t.ack ^ t.flags
                elif isinstance(t, dpkt.udp.UDP):
                    acc ^= t.sport ^ t.dport
            if limit is not None and n >= limit:
                break
    return n


def run_scapy(path: Path, limit: int | None) -> int:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import RawPcapReader

    n = 0
    acc = 0
    for buf, _meta in RawPcapReader(str(path)):
        n += 1
        pkt = Ether(buf)
        ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
        if ip is not None:
            acc ^= len(ip.src) + len(ip.dst)
        t = pkt.getlayer(TCP)
        if t is not None:
            acc ^= t.sport ^ t.dport ^ t.seq ^ t.ack ^ int(t.flags)
        else:
            u = pkt.getlayer(UDP)
            if u is not None:
                acc ^= u.sport ^ u.dport
        if limit is not None and n >= limit:
            break
    return n


def run_struct_floor(path: Path, limit: int | None) -> int:
    """A hand-written struct loop that builds no objects: the floor to compare against.

    Reads the same fields as the others for IPv4 and IPv6 (no options, no
    extension headers: that is all the bench capture holds), TCP and UDP.
    """
    data = path.read_bytes()
    rec = struct.Struct("<IIII")
    ethertype = struct.Struct("!H").unpack_from
    ip4 = struct.Struct("!B8xB2x4s4s").unpack_from
    ip6 = struct.Struct("!6xB1x16s16s").unpack_from
    tcp = struct.Struct("!HHIIBB").unpack_from
    udp = struct.Struct("!HH").unpack_from
    off = 24
    n = 0
    acc = 0
    end = len(data)
    while off + 16 <= end:
        _s, _u, incl, _orig = rec.unpack_from(data, off)
        off += 16
        kind = ethertype(data, off + 12)[0]
        proto = -1
        if kind == 0x0800:
            vihl, proto, src, dst = ip4(data, off + 14)
            t = off + 14 + (vihl & 15) * 4
            acc ^= len(src) + len(dst)
        elif kind == 0x86DD:
            proto, src, dst = ip6(data, off + 14)
            t = off + 54
            acc ^= len(src) + len(dst)
        if proto == 6:
            sp, dp, seq, ack, _o, fl = tcp(data, t)
            acc ^= sp ^ dp ^ seq ^ ack ^ fl
        elif proto == 17:
            sp, dp = udp(data, t)
            acc ^= sp ^ dp
        off += incl
        n += 1
        if limit is not None and n >= limit:
            break
    return n


#: (row name, runner); the first row is the headline figure.
CONTESTANTS: list[tuple[str, Runner]] = [
    ("layerpeek, through L4 (`upto=\"transport\"`)", run_layerpeek),
    ("layerpeek, through L4, via `packet.get()`", run_layerpeek_get),
    ("layerpeek, full depth (DNS, HTTP too)", run_layerpeek_full),
    ("layerpeek, capture records only", run_layerpeek_records),
    ("dpkt", run_dpkt),
    ("scapy", run_scapy),
    ("struct loop (no objects)", run_struct_floor),
]


def measure(
    path: Path, rounds: int, scapy_limit: int, clock: Callable[[], float]
) -> dict[str, list[float]]:
    """packets/s of every contestant in every round (scapy: one round, on its limit)."""
    rates: dict[str, list[float]] = {name: [] for name, _ in CONTESTANTS}
    for r in range(rounds):
        for name, fn in CONTESTANTS:
            if fn is run_scapy and r > 0:
                continue
            limit = scapy_limit if fn is run_scapy else None
            t0 = clock()
            n = fn(path, limit)
            rates[name].append(n / (clock() - t0))
    return rates


#: Printed by a child process: its peak resident set.  VmHWM, not
#: ``ru_maxrss``: Linux carries ``ru_maxrss`` over from the parent across
#: fork and exec, so a child would report this (large) benchmark process.
_PRINT_PEAK = (
    "print(next(int(line.split()[1]) for line in open('/proc/self/status')"
    " if line.startswith('VmHWM:')))"
)


def _child_peak_kib(code: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", code + ";" + _PRINT_PEAK], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


def peak_rss_kib(path: Path, upto: str) -> int:
    """Peak RSS of a fresh process that decodes all of ``path`` (KiB)."""
    return _child_peak_kib(
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench;"
        f"bench.run_layerpeek(__import__('pathlib').Path({str(path)!r}), None, {upto!r})"
    )


def baseline_rss_kib() -> int:
    """Peak RSS of a fresh process after ``import layerpeek`` and one decoded frame."""
    return _child_peak_kib(
        f"import sys; sys.path.insert(0, {str(HERE.parent)!r}); import layerpeek;"
        "layerpeek.decode(bytes(60))"
    )


def repeated_capture(path: Path, times: int, dest: Path) -> Path:
    """``path``'s records ``times`` over, in one pcap file (streamed: nothing held in memory)."""
    with open(dest, "wb") as out:
        for i in range(times):
            with open(path, "rb") as f:
                if i:
                    f.seek(24)  # the file header once
                shutil.copyfileobj(f, out, 1 << 20)
    return dest


def construction_costs(
    clock: Callable[[], float], number: int = 200_000, repeat: int = 7
) -> list[tuple[str, float]]:
    """µs to build one TCP header object, by kind of class (median of ``repeat`` runs).

    The three dataclasses have exactly the fields of :class:`layerpeek.TCP`,
    so the only difference is how instances are built: ``frozen=True``
    assigns each field through ``object.__setattr__`` (its ``__setattr__``
    refuses), slots-only and plain ones store directly.
    """
    from layerpeek import TCP

    spec = [(f.name, f.type, f) for f in dataclasses.fields(TCP)]
    kinds: list[tuple[str, Callable[..., object]]] = [
        ("dataclass(frozen=True, slots=True)",
         dataclasses.make_dataclass("FrozenTCP", spec, frozen=True, slots=True)),
        ("dataclass(slots=True)", dataclasses.make_dataclass("SlotsTCP", spec, slots=True)),
        ("dataclass() (instance dict)", dataclasses.make_dataclass("PlainTCP", spec)),
        ("layerpeek.TCP (slots=True)", TCP),
        ("plain tuple (no class, for scale)", lambda *a: a),
    ]
    out = []
    for label, cls in kinds:
        timer = timeit.Timer(
            "cls(40000, 80, 123456789, 987654321, 32, 0x18, 502, 0xFE28, 0, (), 1448)",
            globals={"cls": cls},
            timer=clock,
        )
        runs = timer.repeat(repeat=repeat, number=number)
        out.append((label, statistics.median(runs) / number * 1e6))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("capture", nargs="?", default=str(HERE / "bench.pcap"))
    ap.add_argument("--rounds", type=int, default=5, help="rounds; each row is the median")
    ap.add_argument(
        "--scapy-limit",
        type=int,
        default=10000,
        help="scapy is slow: time it on the first N packets (rate is per packet)",
    )
    ap.add_argument("--wall", action="store_true", help="wall-clock time instead of CPU time")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    args = ap.parse_args()
    path = Path(args.capture)
    if not path.exists():
        print(
            f"{path} missing: run `sudo python3 bench/make_bench_capture.py` first",
            file=sys.stderr,
        )
        return 1
    if args.rounds < 1:
        print("--rounds must be at least 1", file=sys.stderr)
        return 1
    total = count_records(path)
    clock = time.perf_counter if args.wall else time.process_time
    print(
        f"capture: {path.name} ({total} packets, {path.stat().st_size / 1e6:.1f} MB), "
        f"python {sys.version.split()[0]}, median of {args.rounds} rounds, "
        f"{'wall-clock' if args.wall else 'CPU'} time"
    )
    rates = measure(path, args.rounds, args.scapy_limit, clock)
    base = statistics.median(rates["dpkt"])
    best_base = max(rates["dpkt"])
    print()
    print("| decoder | packets/s | µs/packet | × dpkt | × dpkt, best rounds | spread |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, runs in rates.items():
        rate = statistics.median(runs)
        spread = f"±{(max(runs) - min(runs)) / 2 / rate:.0%}" if len(runs) > 1 else "1 run"
        best = f"{max(runs) / best_base:.2f}" if len(runs) > 1 else "-"
        print(
            f"| {name} | {rate:,.0f} | {1e6 / rate:.2f} | {rate / base:.2f} | {best} | {spread} |"
        )

    print()
    print("| one TCP header object | µs to build |")
    print("|---|---:|")
    for label, us in construction_costs(clock):
        print(f"| {label} | {us:.3f} |")

    if not args.no_memory:
        print()
        print("| capture size | peak RSS, full depth | peak RSS, through L4 |")
        print("|---|---:|---:|")
        print(f"| nothing read (import only) | {baseline_rss_kib() / 1024:.1f} MiB | |")
        with tempfile.TemporaryDirectory() as tmp:
            for times in (1, 2, 4):
                p = (
                    path
                    if times == 1
                    else repeated_capture(path, times, Path(tmp) / f"x{times}.pcap")
                )
                full = peak_rss_kib(p, "application") / 1024
                l4 = peak_rss_kib(p, "transport") / 1024
                print(
                    f"| {times}× ({p.stat().st_size / 1e6:.0f} MB) | {full:.1f} MiB "
                    f"| {l4:.1f} MiB |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
