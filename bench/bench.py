"""Benchmark: layerpeek against dpkt and scapy on the same capture, in one run.

Each contestant does a *full decode with field access*: link layer, IPv4/IPv6,
TCP or UDP, reading the addresses, ports, seq/ack and flags of every packet.
Timings are best-of-N wall clock in this process; ratios are against dpkt.
Peak memory is measured in child processes over the same capture repeated
1×, 2× and 4×, to show it stays flat as the file grows.

Usage:  python bench/bench.py [CAPTURE] [--repeat 3] [--scapy-limit 20000]
CAPTURE defaults to bench/bench.pcap (made by bench/make_bench_capture.py).
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def count_records(path: Path) -> int:
    import layerpeek

    return sum(1 for _ in layerpeek.open_capture(path))


def run_layerpeek(path: Path, limit: int | None) -> int:
    import layerpeek
    from layerpeek import TCP, UDP, IPv4, IPv6

    n = 0
    acc = 0
    for pkt in layerpeek.read(path):
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
    """A hand-written struct loop that builds no objects: the floor to compare against."""
    data = path.read_bytes()
    rec = struct.Struct("<IIII")
    eth = struct.Struct("!H")
    ip4 = struct.Struct("!BBHHHBBH4s4s")
    tcp = struct.Struct("!HHIIBB")
    off = 24
    n = 0
    acc = 0
    end = len(data)
    while off + 16 <= end:
        _s, _u, incl, _orig = rec.unpack_from(data, off)
        off += 16
        if eth.unpack_from(data, off + 12)[0] == 0x0800:
            vihl, _tos, _tl, _id, _fr, _ttl, proto, _c, _src, _dst = ip4.unpack_from(data, off + 14)
            t = off + 14 + (vihl & 15) * 4
            if proto == 6:
                sp, dp, seq, ack, _o, fl = tcp.unpack_from(data, t)
                acc ^= sp ^ dp ^ seq ^ ack ^ fl
        off += incl
        n += 1
        if limit is not None and n >= limit:
            break
    return n


CONTESTANTS: dict[str, Callable[[Path, int | None], int]] = {
    "layerpeek (full decode)": run_layerpeek,
    "layerpeek (records only)": run_layerpeek_records,
    "dpkt": run_dpkt,
    "scapy": run_scapy,
    "struct loop (no objects)": run_struct_floor,
}


def best_rate(
    fn: Callable[[Path, int | None], int], path: Path, limit: int | None, repeat: int
) -> tuple[float, int]:
    best = float("inf")
    n = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn(path, limit)
        best = min(best, time.perf_counter() - t0)
    return n / best, n


def peak_rss_kib(path: Path) -> int:
    code = (
        f"import resource, sys; sys.path.insert(0, {str(HERE)!r}); import bench;"
        f"bench.run_layerpeek(__import__('pathlib').Path({str(path)!r}), None);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def repeated_capture(path: Path, times: int, dest: Path) -> Path:
    raw = path.read_bytes()
    header, body = raw[:24], raw[24:]
    with open(dest, "wb") as f:
        f.write(header)
        for _ in range(times):
            f.write(body)
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("capture", nargs="?", default=str(HERE / "bench.pcap"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--scapy-limit",
        type=int,
        default=20000,
        help="scapy is slow: time it on the first N packets (rate is per packet)",
    )
    ap.add_argument("--no-memory", action="store_true")
    args = ap.parse_args()
    path = Path(args.capture)
    if not path.exists():
        print(
            f"{path} missing: run `sudo python bench/make_bench_capture.py` first", file=sys.stderr
        )
        return 1
    total = count_records(path)
    print(
        f"capture: {path} ({total} packets, {path.stat().st_size / 1e6:.1f} MB), "
        f"python {sys.version.split()[0]}, best of {args.repeat}"
    )
    rates: dict[str, float] = {}
    for name, fn in CONTESTANTS.items():
        limit = args.scapy_limit if name == "scapy" else None
        rate, _n = best_rate(fn, path, limit, 1 if name == "scapy" else args.repeat)
        rates[name] = rate
    base = rates["dpkt"]
    print()
    print("| decoder | packets/s | µs/packet | × dpkt |")
    print("|---|---:|---:|---:|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.0f} | {1e6 / rate:.2f} | {rate / base:.2f} |")
    if not args.no_memory:
        print()
        print("| capture size | layerpeek peak RSS |")
        print("|---|---:|")
        with tempfile.TemporaryDirectory() as tmp:
            for times in (1, 2, 4):
                p = (
                    path
                    if times == 1
                    else repeated_capture(path, times, Path(tmp) / f"x{times}.pcap")
                )
                size_mb = p.stat().st_size / 1e6
                print(f"| {times}× ({size_mb:.0f} MB) | {peak_rss_kib(p) / 1024:.1f} MiB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
