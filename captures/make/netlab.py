"""Network namespaces, captures and processes for the capture scripts (run as root).

Every scenario runs in namespaces created for it (names start with ``lp-cap-``),
so the capture holds nothing but the scenario's own traffic and no packet ever
reaches a real network.  Everything made here is removed again on the way out,
failure or not: processes we started are stopped by their pid, namespaces deleted,
a half-written capture discarded (the file is written beside the target and only
moved into place once the capture stopped cleanly with nothing dropped).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLONE_NEWNET = 0x40000000


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; raise with the output when it fails."""
    proc = subprocess.run(list(args), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}"
        )
    return proc


#: The programs the capture scripts run, and the Debian packages that have them.
TOOLS = {
    "ip": "iproute2", "tc": "iproute2", "taskset": "util-linux", "ethtool": "ethtool",
    "tcpdump": "tcpdump", "tshark": "tshark", "dumpcap": "tshark", "capinfos": "tshark",
    "curl": "curl", "dig": "dnsutils", "openssl": "openssl",
    "nghttp": "nghttp2-client",
}  # fmt: skip


def missing_tools(*names: str) -> str | None:
    """None when every program is on PATH, else a message naming the packages to install."""
    missing = [name for name in (names or TOOLS) if shutil.which(name) is None]
    if not missing:
        return None
    packages = sorted({TOOLS.get(name, name) for name in missing})
    return (
        f"missing program(s): {', '.join(missing)}; "
        f"install them first, e.g. apt-get install {' '.join(packages)}"
    )


def enter_netns(name: str) -> None:
    """Move the CALLING THREAD into namespace ``name`` (setns(2) is per thread for netns).

    Sockets and tap file descriptors opened afterwards belong to that namespace,
    and keep belonging to it whichever namespace the thread moves to next.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


#: Every program of a scenario runs on CPU 0.  Loopback delivers a packet on the
#: CPU that sent it; with sender and receiver on two CPUs, the packet socket sees
#: the two CPUs' packets interleaved, and some ACKs land in the file before ACKs
#: sent earlier.  On one CPU the file's order is the order things happened.
PIN = ["taskset", "--cpu-list", "0"]


def in_ns(ns: str, *argv: str, pin: bool = True) -> list[str]:
    return ["ip", "netns", "exec", ns, *(PIN if pin else []), *argv]


def py(script: str, *args: str) -> list[str]:
    """The command line that runs one of our programs in captures/make/."""
    return [sys.executable, str(HERE / script), *args]


@dataclass
class Namespace:
    """One namespace: ``ns.run(...)`` for clients, ``ns.start(...)`` for servers."""

    name: str
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    pin: bool = True

    def ip(self, *args: str) -> None:
        sh("ip", "-n", self.name, *args)

    def sysctl(self, *settings: str) -> None:
        sh(*in_ns(self.name, "sysctl", "-q", "-w", *settings))

    def ethtool_off(self, dev: str, *features: str) -> None:
        args: list[str] = []
        for feat in features:
            args += [feat, "off"]
        sh(*in_ns(self.name, "ethtool", "-K", dev, *args))

    def run(self, *argv: str, timeout: float = 120) -> str:
        """Run a client to completion inside the namespace; its stdout."""
        proc = subprocess.run(
            in_ns(self.name, *argv, pin=self.pin), capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}"
            )
        return proc.stdout

    def start(self, *argv: str) -> subprocess.Popen[str]:
        """Start a server inside the namespace and wait for it to print ``ready``."""
        proc = subprocess.Popen(
            in_ns(self.name, *argv, pin=self.pin),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            raise RuntimeError(
                f"{' '.join(argv)} did not start: "
                f"{line}{proc.stderr.read() if proc.stderr else ''}"
            )
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()


def stop_process(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def create_ns(
    name: str, *, loopback: bool = True, ipv6: bool = True, pin: bool = True
) -> Namespace:
    sh("ip", "netns", "del", name, check=False)  # a leftover from an interrupted run
    sh("ip", "netns", "add", name)
    ns = Namespace(name, pin=pin)
    if not ipv6:
        # Before any interface comes up: no router solicitations, DAD or MLD reports.
        ns.sysctl("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
    if loopback:
        ns.ip("link", "set", "lo", "up")
        if ipv6:
            ns.sysctl("net.ipv6.conf.lo.disable_ipv6=0")
            addrs = sh("ip", "-n", name, "-6", "addr", "show", "dev", "lo").stdout
            if "::1/128" not in addrs:
                ns.ip("-6", "addr", "add", "::1/128", "dev", "lo")
    return ns


@contextlib.contextmanager
def namespaces(*names: str, ipv6: bool = True, pin: bool = True) -> Iterator[list[Namespace]]:
    made: list[Namespace] = []
    try:
        for name in names:
            made.append(create_ns(name, ipv6=ipv6, pin=pin))
        yield made
    finally:
        for ns in made:
            ns.stop_all()
        for name in names:
            sh("ip", "netns", "del", name, check=False)


@contextlib.contextmanager
def namespace(name: str, *, ipv6: bool = True, pin: bool = True) -> Iterator[Namespace]:
    with namespaces(name, ipv6=ipv6, pin=pin) as (ns,):
        yield ns


def loopback_setup(ns: Namespace, *, mtu: int | None = None) -> None:
    """Loopback as a scenario wants it: ``mtu`` (1500) with TSO/GSO off makes bulk
    data leave as Ethernet-sized segments instead of the 64 kB segments loopback
    normally carries.

    (Transmit checksum offload is fixed on for loopback, so the TCP/UDP checksums
    in every loopback capture hold only the pseudo-header sum, as in any Linux
    loopback capture; the veth/tap captures have complete checksums.)
    """
    if mtu is not None:
        ns.ip("link", "set", "lo", "mtu", str(mtu))
        ns.ethtool_off("lo", "tso", "gso")


@dataclass
class CaptureStats:
    captured: int = 0
    dropped: int = 0


@contextlib.contextmanager
def capture(
    ns: str,
    iface: str,
    path: Path,
    *,
    nano: bool = False,
    pcapng: bool = False,
    comment: str | None = None,
    settle: float = 0.4,
    snaplen: int = 65600,
    pin: bool = True,
) -> Iterator[CaptureStats]:
    """Record ``iface`` (``any`` for the cooked link type) in ``ns`` into ``path``.

    tcpdump for pcap (``--immediate-mode -U``: each packet handed over and written
    as it arrives; without immediate mode the last packets can still sit in a
    kernel ring block when tcpdump stops), dumpcap for pcapng.  Started before the
    programs, stopped with SIGINT after ``settle`` seconds of quiet so the last
    packets and the file trailer are written.
    """
    stats = CaptureStats()
    tmpdir = Path(tempfile.mkdtemp(prefix="lp-cap-"))
    os.chmod(tmpdir, 0o777)  # tcpdump may write as its own user
    tmp = tmpdir / path.name
    if pcapng:
        cmd = ["dumpcap", "-i", iface, "-w", str(tmp)]
        if comment:
            cmd += ["--capture-comment", comment]
    else:
        # Immediate mode makes libpcap use a TPACKET_V2 ring of snaplen-sized slots:
        # snaplen 65600 (loopback's 64 kB frames plus a link header) and 128 MB of
        # buffer give about 2000 slots, so a burst on loopback is not dropped.
        cmd = ["tcpdump", "--immediate-mode", "-i", iface, "-U", "-n", "-Z", "root"]
        cmd += ["-s", str(snaplen), "-B", "131072", "-w", str(tmp)]
        if nano:
            cmd.insert(1, "--time-stamp-precision=nano")
    proc = subprocess.Popen(
        in_ns(ns, *cmd, pin=pin), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    err_lines: list[str] = []
    assert proc.stderr is not None
    stderr = proc.stderr

    def drain() -> None:
        for line in stderr:
            err_lines.append(line)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = stderr.readline()
        if not line:
            break
        err_lines.append(line)
        if "listening on" in line or "Capturing on" in line:
            break
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    time.sleep(0.3)
    ok = False
    try:
        if proc.poll() is not None:
            raise RuntimeError(f"capture did not start: {''.join(err_lines)}")
        yield stats
        time.sleep(settle)
        ok = True
    finally:
        stop_process(proc, signal.SIGINT)
        reader.join(5)
        text = "".join(err_lines)
        if pcapng:
            m = re.search(r"Packets received/dropped on interface '[^']*': (\d+)/(\d+)", text)
        else:
            m = re.search(r"(\d+) packets? captured.*?(\d+) packets? dropped by kernel", text, re.S)
        if m:
            stats.captured, stats.dropped = int(m.group(1)), int(m.group(2))
        try:
            if ok:
                if not m or stats.dropped or not tmp.exists():
                    raise RuntimeError(f"{path.name}: capture incomplete:\n{text}")
                shutil.move(str(tmp), path)
                os.chmod(path, 0o644)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)


def add_tap(ns: Namespace, dev: str, mac: str, addr: str) -> None:
    """A persistent tap device in ``ns`` (the relay attaches to it by name)."""
    ns.ip("tuntap", "add", "dev", dev, "mode", "tap")
    ns.ip("link", "set", dev, "address", mac)
    ns.ip("addr", "add", addr, "dev", dev)
    ns.ethtool_off(dev, "tso", "gso", "gro")


def start_relay(*args: str) -> subprocess.Popen[str]:
    """The frame relay (relay.py) runs in the root namespace; it setns()es to open each tap."""
    proc = subprocess.Popen(
        [*PIN, *py("relay.py", *args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise RuntimeError(
            f"relay did not start: {line}{proc.stderr.read() if proc.stderr else ''}"
        )
    return proc


def tshark(path: Path, *args: str) -> str:
    return sh("tshark", "-n", "-r", str(path), *args).stdout
