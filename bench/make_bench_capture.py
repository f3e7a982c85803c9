"""Make the large benchmark capture from real programs (run as root).

    sudo python3 bench/make_bench_capture.py [--connections 4000] [-o bench/bench.pcap]

Inside a network namespace of its own (``lp-bench``), with tcpdump on its
loopback: the project's demo web server (captures/make/web.py) listening on
ports 8000 and 8080 over IPv4 and IPv6, its DNS server (dns_server.py) on port
53 and its UDP echo server (demo_udp.py) on 12345; then N short HTTP/1.1
connections, each ONE request with ``Connection: close`` (a GET of a body of
some size, or a POST of a body of some size), made by 8 client threads at once
so the connections interleave; a DNS query before every fifth connection and a
UDP datagram (answered) before every third.  Sizes are drawn log-uniformly
(GET bodies 100 B to 200 kB, POST bodies 10 B to 64 kB) from a seeded generator,
so a run with the same N asks for the same things.  Loopback's MTU is set to
1500 and TSO/GSO off, so bodies travel as Ethernet-sized segments, as they would
on a real network.

The default (4000 connections) gives about 130 000 packets and 100 MB in under
a minute.  The file is not committed (bench/bench*.pcap is gitignored);
``bench/bench.py`` reads it.  Prints the packet count, the size and the mix.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAKE = HERE.parent / "captures" / "make"
sys.path.insert(0, str(MAKE))

import content  # noqa: E402
import dns_server  # noqa: E402
import netlab  # noqa: E402
import web  # noqa: E402

NAMESPACE = "lp-bench"
WORKERS = 8
DNS_QUESTIONS = [
    ("example.test", dns_server.A),
    ("example.test", dns_server.AAAA),
    ("www.example.test", dns_server.A),
    ("www.example.test", dns_server.AAAA),
    ("example.test", dns_server.MX),
    ("missing.example.test", dns_server.A),
]


def log_uniform(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def one_connection(i: int, udp: socket.socket) -> None:
    """Connection number ``i``: everything about it follows from ``i``."""
    rng = random.Random(i)
    if i % 5 == 0:
        name, qtype = DNS_QUESTIONS[(i // 5) % len(DNS_QUESTIONS)]
        dns_server.query(name, qtype)
    if i % 3 == 0:
        udp.sendto(f"bench datagram {i}".encode() * rng.randint(1, 20), ("127.0.0.1", 12345))
        udp.recvfrom(65535)
    host = "::1" if i % 3 == 2 else "127.0.0.1"
    port = 8000 if i % 2 else 8080
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    with socket.create_connection((host, port), timeout=30) as s:
        if rng.random() < 0.2:
            body = content.pseudo_random(log_uniform(rng, 10, 64_000), b"post %d" % i)
            head = (
                f"POST /upload HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: layerpeek-bench/1.0\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            s.sendall(head.encode() + body)
        else:
            size = log_uniform(rng, 100, 200_000)
            s.sendall(
                f"GET /bytes/{size} HTTP/1.1\r\nHost: {authority}\r\n"
                "User-Agent: layerpeek-bench/1.0\r\nAccept: */*\r\n"
                "Connection: close\r\n\r\n".encode()
            )
        f = s.makefile("rb")
        status, _, _ = web.read_response(f)
        assert status in (200, 201), status
        f.read()  # until the server's FIN
        f.close()


def traffic(connections: int) -> None:
    """The clients, run inside the namespace: WORKERS threads share the numbered connections."""
    numbers = iter(range(connections))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.settimeout(5)
        while not errors:
            with lock:
                i = next(numbers, None)
            if i is None:
                return
            try:
                one_connection(i, udp)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def summary(path: Path) -> str:
    """capinfos' view of the file: packets, size, duration."""
    out = subprocess.run(
        ["capinfos", "-c", "-s", "-u", "-E", "-M", str(path)], capture_output=True, text=True
    ).stdout
    lines = [" ".join(line.split()) for line in out.splitlines()[1:] if line.strip()]
    return "; ".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--connections", type=int, default=4000, help="HTTP connections (default 4000)")
    ap.add_argument("-o", "--output", default=str(HERE / "bench.pcap"))
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        traffic(args.connections)
        return 0
    if os.geteuid() != 0:
        print("make_bench_capture.py needs root (network namespace, capture)", file=sys.stderr)
        return 1
    problem = netlab.missing_tools("ip", "taskset", "ethtool", "tcpdump", "capinfos")
    if problem:
        print(f"make_bench_capture.py: {problem}", file=sys.stderr)
        return 1
    out = Path(args.output).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with netlab.namespace(NAMESPACE, pin=False) as ns:
        netlab.loopback_setup(ns, mtu=1500)
        ns.start(
            *netlab.py(
                "web.py", "serve",
                "--listen", "127.0.0.1:8000", "--listen", "127.0.0.1:8080",
                "--listen", "[::1]:8000", "--listen", "[::1]:8080",
            )
        )
        ns.start(*netlab.py("dns_server.py", "serve"))
        ns.start(*netlab.py("demo_udp.py", "server", "--count", "0"))
        with netlab.capture(ns.name, "lo", out, snaplen=1600, pin=False) as stats:
            ns.run(
                sys.executable, str(Path(__file__).resolve()), "--inside",
                "--connections", str(args.connections), timeout=1800,
            )
    took = time.monotonic() - started
    print(f"{out}: {stats.captured} packets, {out.stat().st_size / 1e6:.1f} MB, "
          f"{stats.dropped} dropped, made in {took:.0f} s")
    print(summary(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
