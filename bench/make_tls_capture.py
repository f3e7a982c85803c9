"""Make the HTTPS benchmark capture and its key log from real programs (run as root).

    sudo python3 bench/make_tls_capture.py [--connections 600] [-o bench/bench_tls.pcap]

Inside a network namespace of its own (``lp-bench-tls``), with tcpdump on its
loopback (MTU 1500, TSO/GSO off: Ethernet-sized segments): the project's demo
web server over TLS (captures/make/tls_server.py, Python's ``ssl``) on
127.0.0.1:8443, writing the session secrets to ``bench/bench_tls.keys``; then
N TLS connections from 8 client threads at once, each with 1 to 5 keep-alive
GETs of ``/bytes/SIZE`` (sizes drawn log-uniformly from 100 B to 200 kB by a
seeded generator).  Every third connection is TLS 1.2 (ECDHE with AES-GCM or
ChaCha20-Poly1305), the others TLS 1.3 (AES-128-GCM, AES-256-GCM or
ChaCha20-Poly1305), so every AEAD decryption path is exercised.  The files
are not committed (gitignored); ``bench/bench_tls.py`` reads them.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAKE = HERE.parent / "captures" / "make"
sys.path.insert(0, str(MAKE))

import netlab  # noqa: E402
import web  # noqa: E402

NAMESPACE = "lp-bench-tls"
WORKERS = 8
TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256")
TLS12_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                 "ECDHE-ECDSA-CHACHA20-POLY1305")


def one_connection(i: int, ca: str) -> None:
    rng = random.Random(i)
    ctx = ssl.create_default_context(cafile=ca)
    if i % 3 == 0:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(TLS12_CIPHERS[(i // 3) % 3])
    with socket.create_connection(("127.0.0.1", 8443), timeout=30) as raw, \
            ctx.wrap_socket(raw, server_hostname="example.test") as s:
        f = s.makefile("rb")
        requests = rng.randint(1, 5)
        for n in range(requests):
            size = int(math.exp(rng.uniform(math.log(100), math.log(200_000))))
            close = "Connection: close\r\n" if n == requests - 1 else ""
            s.sendall(f"GET /bytes/{size} HTTP/1.1\r\nHost: example.test:8443\r\n"
                      f"User-Agent: layerpeek-bench/1.0\r\n{close}\r\n".encode())
            status, _, body = web.read_response(f)
            assert status == 200 and len(body) == size, (status, len(body), size)
        f.close()


def traffic(connections: int, ca: str) -> None:
    numbers = iter(range(connections))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        while not errors:
            with lock:
                i = next(numbers, None)
            if i is None:
                return
            try:
                one_connection(i, ca)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=600, help="TLS connections (default 600)")
    ap.add_argument("-o", "--output", default=str(HERE / "bench_tls.pcap"))
    ap.add_argument("--inside", metavar="CA", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        traffic(args.connections, args.inside)
        return 0
    if os.geteuid() != 0:
        print("make_tls_capture.py needs root (network namespace, capture)", file=sys.stderr)
        return 1
    problem = netlab.missing_tools("ip", "ethtool", "tcpdump")
    if problem:
        print(f"make_tls_capture.py: {problem}", file=sys.stderr)
        return 1
    out = Path(args.output).resolve()
    keys = out.with_suffix(".keys")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lp-bench-tls-") as tmp:
        os.chmod(tmp, 0o755)
        certs = Path(tmp) / "certs"
        netlab.sh(*netlab.py("tls_server.py", "certs", str(certs)))
        server_keys = Path(tmp) / "server.keys"
        with netlab.namespace(NAMESPACE, pin=False) as ns:
            netlab.loopback_setup(ns, mtu=1500)
            ns.start(*netlab.py("tls_server.py", "serve", "--certs", str(certs), "--keylog",
                                str(server_keys)))
            with netlab.capture(ns.name, "lo", out, snaplen=1600, pin=False) as stats:
                ns.run(sys.executable, str(Path(__file__).resolve()), "--inside",
                       str(certs / "ca.pem"), "--connections", str(args.connections),
                       timeout=1800)
        keys.write_text(server_keys.read_text())
    print(f"{out}: {stats.captured} packets, {out.stat().st_size / 1e6:.1f} MB, "
          f"{stats.dropped} dropped, made in {time.monotonic() - started:.0f} s; key log {keys}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
