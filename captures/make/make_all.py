"""Recreate every capture in ``captures/`` from the programs in ``programs.py``.

Run as root: ``sudo python3 captures/make/make_all.py [NAME ...]``.

Each capture is made in a network namespace created for it, so nothing but
the scenario's own traffic lands in the file: ``ip netns add``, loopback up,
tcpdump (or dumpcap, for pcapng) listening on ``lo``, the scenario's programs
run with ``ip netns exec``, then a clean stop (SIGINT, so the file is flushed
and complete) and the namespace deleted, even on failure.

The loss capture needs three namespaces (sender, router, receiver) joined by
veth pairs, with an ``htb`` bottleneck and a five-packet FIFO on the router
(this kernel has no ``netem``): a 200 kB transfer overflows the FIFO, and the
receiver-side capture shows the losses as gaps, duplicate ACKs with SACK
blocks and retransmissions.  The 10.77.0.0/30 and 10.77.1.0/30 addresses exist
only between those namespaces.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent
PROGRAMS = str(HERE / "programs.py")


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


@contextlib.contextmanager
def namespace(name: str) -> Iterator[str]:
    ns = f"lp-{name}"[:15]
    sh("ip", "netns", "del", ns, check=False)
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh(
            "ip",
            "netns",
            "exec",
            ns,
            "sysctl",
            "-q",
            "net.ipv6.conf.lo.disable_ipv6=0",
            check=False,
        )
        yield ns
    finally:
        sh("ip", "netns", "del", ns, check=False)


@contextlib.contextmanager
def capture(
    ns: str,
    iface: str,
    path: Path,
    *,
    nano: bool = False,
    pcapng: bool = False,
    any_iface: bool = False,
) -> Iterator[None]:
    path.unlink(missing_ok=True)
    if pcapng:
        cmd = ["dumpcap", "-q", "-i", iface, "-w", str(path)]
    else:
        cmd = ["tcpdump", "-i", "any" if any_iface else iface, "-U", "-w", str(path)]
        if nano:
            cmd.insert(1, "--time-stamp-precision=nano")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Wait until the capture says it is listening (startup takes a while on a busy machine).
    assert proc.stderr is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "listening on" in line or "Capturing on" in line or not line:
            break
    time.sleep(0.3)
    try:
        yield
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    if not path.exists() or path.stat().st_size < 24:
        raise RuntimeError(
            f"{path.name}: capture failed: {proc.stderr.read() if proc.stderr else ''}"
        )


def run_in(ns: str, *args: str) -> None:
    sh("ip", "netns", "exec", ns, sys.executable, PROGRAMS, *args)


def simple(name: str, scenario: str, **opts: bool) -> None:
    suffix = ".pcapng" if opts.get("pcapng") else ".pcap"
    with namespace(name) as ns, capture(ns, "lo", OUT / f"{name}{suffix}", **opts):
        run_in(ns, scenario)


def loss_reorder() -> None:
    """Sender, router and receiver namespaces; an htb bottleneck on the router: real loss.

    The bottleneck must be on a *forwarding* hop: at the sender's own qdisc,
    TCP Small Queues hold the socket back and nothing is ever dropped.  On the
    router, the 2 Mbit/s class with a five-packet FIFO overflows as soon as
    the sender's window grows, and the receiver-side capture shows gaps,
    duplicate ACKs with SACK blocks and retransmissions arriving after later
    data (out of order from the receiver's point of view).
    """
    a, r, b = "lp-loss-a", "lp-loss-r", "lp-loss-b"
    for ns in (a, r, b):
        sh("ip", "netns", "del", ns, check=False)
        sh("ip", "netns", "add", ns)
    try:
        sh(
            "ip",
            "link",
            "add",
            "lpa0",
            "netns",
            a,
            "type",
            "veth",
            "peer",
            "name",
            "lpr0",
            "netns",
            r,
        )
        sh(
            "ip",
            "link",
            "add",
            "lpr1",
            "netns",
            r,
            "type",
            "veth",
            "peer",
            "name",
            "lpb0",
            "netns",
            b,
        )
        for ns, dev, addr in (
            (a, "lpa0", "10.77.0.1/30"),
            (r, "lpr0", "10.77.0.2/30"),
            (r, "lpr1", "10.77.1.1/30"),
            (b, "lpb0", "10.77.1.2/30"),
        ):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh(
                "ip",
                "netns",
                "exec",
                ns,
                "ethtool",
                "-K",
                dev,
                "tso",
                "off",
                "gso",
                "off",
                "gro",
                "off",
                check=False,
            )
        for ns in (a, r, b):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", a, "route", "add", "10.77.1.0/30", "via", "10.77.0.2")
        sh("ip", "-n", b, "route", "add", "10.77.0.0/30", "via", "10.77.1.1")
        sh("ip", "netns", "exec", r, "sysctl", "-q", "net.ipv4.ip_forward=1")
        sh(
            "tc",
            "-n",
            r,
            "qdisc",
            "add",
            "dev",
            "lpr1",
            "root",
            "handle",
            "1:",
            "htb",
            "default",
            "1",
        )
        sh(
            "tc",
            "-n",
            r,
            "class",
            "add",
            "dev",
            "lpr1",
            "parent",
            "1:",
            "classid",
            "1:1",
            "htb",
            "rate",
            "2mbit",
            "ceil",
            "2mbit",
        )
        sh(
            "tc",
            "-n",
            r,
            "qdisc",
            "add",
            "dev",
            "lpr1",
            "parent",
            "1:1",
            "handle",
            "10:",
            "pfifo",
            "limit",
            "5",
        )
        receiver = subprocess.Popen(
            ["ip", "netns", "exec", b, sys.executable, PROGRAMS, "bulk_receiver"]
        )
        time.sleep(0.5)
        with capture(b, "lpb0", OUT / "tcp_loss_reorder.pcap"):
            run_in(a, "bulk_sender", "10.77.1.2")
            receiver.wait(30)
    finally:
        for ns in (a, r, b):
            sh("ip", "netns", "del", ns, check=False)


CAPTURES = {
    "tcp_3040_greeting": lambda: simple("tcp_3040_greeting", "greeting", nano=True),
    "tcp_3040_greeting_ng": lambda: simple("tcp_3040_greeting", "greeting", pcapng=True),
    "tcp_3040_ipv6": lambda: simple("tcp_3040_ipv6", "greeting6"),
    "udp_12345": lambda: simple("udp_12345", "udp"),
    "http_get_post": lambda: simple("http_get_post", "http_get_post"),
    "http_sll2_any": lambda: simple("http_sll2_any", "http_gzip", any_iface=True),
    "dns_query": lambda: simple("dns_query", "dns"),
    "tcp_refused": lambda: simple("tcp_refused", "refused"),
    "tcp_rst_midtransfer": lambda: simple("tcp_rst_midtransfer", "rst_midtransfer"),
    "tcp_half_close": lambda: simple("tcp_half_close", "half_close"),
    "tcp_loss_reorder": loss_reorder,
    "http_keepalive": lambda: simple("http_keepalive", "http_keepalive"),
    "http_pipelined": lambda: simple("http_pipelined", "http_pipelined"),
    "http_chunked": lambda: simple("http_chunked", "http_chunked"),
    "http_gzip": lambda: simple("http_gzip", "http_gzip"),
    "http_status_mix": lambda: simple("http_status_mix", "http_status_mix"),
    "http_large_body": lambda: simple("http_large_body", "http_large_body"),
    "http_rst_cut": lambda: simple("http_rst_cut", "http_rst_cut"),
    "page_load": lambda: simple("page_load", "page_load"),
}


def main() -> int:
    if os.geteuid() != 0:
        print("make_all.py needs root (network namespaces and packet capture)", file=sys.stderr)
        return 1
    names = sys.argv[1:] or list(CAPTURES)
    for name in names:
        CAPTURES[name]()
        print(f"made {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
