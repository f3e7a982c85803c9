"""Make the large benchmark capture from real programs (run as root).

``sudo python3 bench/make_bench_capture.py [--connections N] [-o bench/bench.pcap]``

Inside a network namespace of its own, with tcpdump on loopback: the
project's HTTP server (``captures/make/programs.py``) on ports 8000 and 8080,
over IPv4 and IPv6; N client connections, each making one to three GETs or
POSTs of varied sizes (keep-alive); the project's DNS server answering a
query before every tenth connection; and UDP datagrams to port 12345.  The
file is not committed (it is large); ``bench/bench.py`` uses it.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "captures" / "make"))


def traffic(connections: int) -> None:
    """The client and server side, run inside the namespace."""
    import programs as p

    stop = threading.Event()
    threading.Thread(target=p.dns_server, args=(stop,), daemon=True).start()
    servers = [
        p.http_server("127.0.0.1", 8000),
        p.http_server("127.0.0.1", 8080),
        p.http_server("::1", 8000),
        p.http_server("::1", 8080),
    ]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 12345))
    time.sleep(0.2)
    rng = random.Random(3040)
    paths = ["/index.html", "/style.css", "/logo.png", "/data.json", "/missing"]
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(connections):
        host = "::1" if i % 4 == 3 else "127.0.0.1"
        port = 8000 if i % 2 else 8080
        if i % 10 == 0:
            p.dns_query("www.example.test", 1 if i % 20 else 28, i & 0xFFFF)
            sender.sendto(f"datagram {i}".encode(), ("127.0.0.1", 12345))
        with socket.create_connection((host, port)) as s:
            f = s.makefile("rb")
            hh = f"[{host}]" if ":" in host else host
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.25:
                    body = os.urandom(rng.choice((10, 200, 3000)))
                    s.sendall(
                        f"POST /upload HTTP/1.1\r\nHost: {hh}:{port}\r\nContent-Length: "
                        f"{len(body)}\r\n\r\n".encode()
                        + body
                    )
                    p.read_response(f)
                else:
                    path = rng.choice(paths)
                    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {hh}:{port}\r\n\r\n".encode())
                    p.read_response(f)
    stop.set()
    for srv in servers:
        srv.shutdown()


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--connections", type=int, default=4000)
    ap.add_argument("-o", "--output", default=str(HERE / "bench.pcap"))
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        traffic(args.connections)
        return 0
    if os.geteuid() != 0:
        print("needs root (network namespace and packet capture)", file=sys.stderr)
        return 1
    ns = "lp-bench"
    out = Path(args.output).resolve()
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        tmp = Path("/tmp/layerpeek-bench.pcap")
        tmp.unlink(missing_ok=True)
        cap = subprocess.Popen(
            ["ip", "netns", "exec", ns, "tcpdump", "-i", "lo", "-w", str(tmp), "-B", "65536"],
            stderr=subprocess.PIPE,
            text=True,
        )
        assert cap.stderr is not None
        cap.stderr.readline()
        time.sleep(0.3)
        subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                sys.executable,
                __file__,
                "--inside",
                "--connections",
                str(args.connections),
            ],
            check=True,
        )
        time.sleep(0.5)
        cap.send_signal(2)
        print(cap.communicate(timeout=30)[1].strip())
        out.write_bytes(tmp.read_bytes())
        tmp.unlink()
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
