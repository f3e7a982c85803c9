"""Recreate the project's captures from the programs beside this script (run as root).

    sudo python3 captures/make/make_all.py            # every capture
    sudo python3 captures/make/make_all.py dns_query  # just some (names below)
    sudo python3 captures/make/make_all.py --list

Each capture is made the same way: fresh network namespace(s) named ``lp-cap-*``
(loopback up, ``::1`` present), the servers started inside and waited for, the
capture started (tcpdump, or dumpcap for pcapng), the clients run, a moment of
quiet, the capture stopped with SIGINT, the servers stopped, the namespaces
deleted (also when anything fails).  Every capture is then checked with tshark
for the thing it exists to show (four separate teardown segments, crossing
FINs, retransmissions, ...); timing-dependent ones are retried if a run came out
differently.  Addresses, ports (client ports included, where the program lets us
pick one) and payloads are fixed; timestamps, sequence numbers, IP IDs and DNS
ids differ from run to run.

No packet leaves the namespaces: loopback everywhere, except the loss and
simultaneous-close captures, whose namespaces are joined by a veth pair and by
tap devices under relay.py, with 10.77.x.y/30 addresses that exist only there.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from netlab import (
    PIN,
    Namespace,
    add_tap,
    capture,
    in_ns,
    loopback_setup,
    missing_tools,
    namespace,
    namespaces,
    py,
    sh,
    start_relay,
    stop_process,
    tshark,
)

OUT = Path(__file__).resolve().parent.parent
CURL = ["curl", "--silent", "--show-error", "--fail-with-body", "--output", "/dev/null"]


def web_server(ns: Namespace, *listen: str) -> None:
    args: list[str] = []
    for spec in listen or ("127.0.0.1:8080",):
        args += ["--listen", spec]
    ns.start(*py("web.py", "serve", *args))


def dig(*args: str) -> list[str]:
    return ["dig", "@127.0.0.1", "+tries=1", "+time=3", *args]


# --------------------------------------------------------------------------- checks


def fields(path: Path, filt: str, *names: str) -> list[list[str]]:
    args = ["-Y", filt] if filt else []
    out = tshark(path, *args, "-T", "fields", *[a for n in names for a in ("-e", n)])
    return [line.split("\t") for line in out.splitlines() if line]


def count(path: Path, filt: str) -> int:
    return len(tshark(path, "-Y", filt).splitlines())


class Unexpected(Exception):
    """The capture came out, but without what it is for (timing): try again."""


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise Unexpected(what)


def check_four_way(path: Path, client_port: int) -> None:
    """The last four segments: client FIN, server ACK, server FIN, client ACK."""
    rows = fields(path, "tcp", "tcp.srcport", "tcp.flags")[-4:]
    shape = [(int(p) == client_port, int(f, 16) & 0x17) for p, f in rows]
    expect(shape == [(True, 0x11), (False, 0x10), (False, 0x11), (True, 0x10)], f"teardown {shape}")


# --------------------------------------------------------------------------- issue 2


def greeting(file: str, host: str, **opts: object) -> Callable[[], None]:
    def make() -> None:
        with namespace(f"lp-cap-{Path(file).stem}") as ns:
            loopback_setup(ns)
            ns.start(*py("demo_tcp.py", "greeting-server", "--host", host))
            with capture(ns.name, "lo", OUT / file, settle=0.6, **opts):  # type: ignore[arg-type]
                ns.run(
                    *py("demo_tcp.py", "greeting-client", "--host", host, "--local-port", "41234")
                )
        check_four_way(OUT / file, 41234)
        expect(count(OUT / file, "tcp.analysis.flags") == 0, "analysis flags in a clean exchange")

    return make


def udp_12345() -> None:
    with namespace("lp-cap-udp") as ns:
        loopback_setup(ns)
        ns.start(*py("demo_udp.py", "server", "--count", "3"))
        with capture(ns.name, "lo", OUT / "udp_12345.pcap"):
            ns.run(*py("demo_udp.py", "client", "--local-port", "41235"))
    expect(count(OUT / "udp_12345.pcap", "udp") == 6, "six datagrams")


def http_get_post() -> None:
    form = "name=layerpeek&layer=http&message=hello+from+curl"
    with namespace("lp-cap-http-get-post") as ns:
        loopback_setup(ns)
        web_server(ns)
        with capture(ns.name, "lo", OUT / "http_get_post.pcap"):
            ns.run(*CURL, "--local-port", "41240", "http://127.0.0.1:8080/index.html")
            time.sleep(0.1)
            ns.run(*CURL, "--local-port", "41241", "--data", form, "http://127.0.0.1:8080/submit")


def http_sll2_any() -> None:
    """``tcpdump -i any``: Linux cooked v2 headers instead of Ethernet."""
    with namespace("lp-cap-http-any") as ns:
        loopback_setup(ns)
        web_server(ns)
        with capture(ns.name, "any", OUT / "http_sll2_any.pcap"):
            ns.run(*CURL, "--local-port", "41242", "http://127.0.0.1:8080/style.css")


def dns_query() -> None:
    with namespace("lp-cap-dns") as ns:
        loopback_setup(ns)
        ns.start(*py("dns_server.py", "serve"))
        with capture(ns.name, "lo", OUT / "dns_query.pcap"):
            for i, args in enumerate(
                [
                    ("example.test", "A"),
                    ("example.test", "AAAA"),
                    ("www.example.test", "A"),
                    ("missing.example.test", "A"),
                    ("+tcp", "example.test", "MX"),
                    ("+noedns", "+ignore", "big.example.test", "TXT"),  # TC, no retry
                    ("+noedns", "big.example.test", "TXT"),  # TC, then dig retries over TCP
                ]
            ):
                ns.run(*dig("-b", f"127.0.0.1#{41300 + i}", *args))
                time.sleep(0.05)
    path = OUT / "dns_query.pcap"
    expect(count(path, "dns.flags.response == 1") == 8, "eight answers")
    expect(count(path, "dns.flags.truncated == 1 && dns.flags.response == 1") == 2, "two truncated")
    expect(count(path, "dns.flags.rcode == 3") == 1, "one NXDOMAIN")


# --------------------------------------------------------------------------- issue 3


def tcp_refused() -> None:
    with namespace("lp-cap-refused") as ns:
        loopback_setup(ns)
        with capture(ns.name, "lo", OUT / "tcp_refused.pcap"):
            ns.run(*py("demo_tcp.py", "refused-client", "--port", "3041", "--times", "2"))
    expect(count(OUT / "tcp_refused.pcap", "tcp.flags.reset == 1") == 2, "two RSTs")


def tcp_rst_midtransfer() -> None:
    with namespace("lp-cap-rst") as ns:
        loopback_setup(ns, mtu=1500)
        ns.start(*py("demo_tcp.py", "flood-server"))
        with capture(ns.name, "lo", OUT / "tcp_rst_midtransfer.pcap"):
            ns.run(*py("demo_tcp.py", "abort-client", "--local-port", "41250"))
    path = OUT / "tcp_rst_midtransfer.pcap"
    expect(count(path, "tcp.flags.reset == 1 && tcp.srcport == 41250") == 1, "client RST")
    expect(count(path, "tcp.flags.fin == 1") == 0, "no FIN")


def tcp_half_close() -> None:
    with namespace("lp-cap-half-close") as ns:
        loopback_setup(ns)
        ns.start(*py("demo_tcp.py", "half-close-server"))
        with capture(ns.name, "lo", OUT / "tcp_half_close.pcap"):
            ns.run(*py("demo_tcp.py", "half-close-client", "--local-port", "41251"))
    rows = fields(OUT / "tcp_half_close.pcap", "tcp.flags.fin == 1 || tcp.len > 0", "tcp.srcport",
                  "tcp.flags.fin", "tcp.len")
    server_data_after_fin = [r for r in rows[rows.index(["41251", "1", "0"]) :] if r[0] == "3040"]
    expect(len(server_data_after_fin) == 4, f"server data after the client FIN: {rows}")


def mac(n: int) -> str:
    return f"02:00:0a:4d:{n >> 8:02x}:{n & 0xFF:02x}"


def static_neighbour(ns: Namespace, addr: str, lladdr: str, dev: str) -> None:
    """A permanent ARP entry: the captures then hold only the TCP conversation."""
    ns.ip("neigh", "replace", addr, "lladdr", lladdr, "dev", dev, "nud", "permanent")


def tcp_simultaneous_close() -> None:
    """Both ends close at once; a 20 ms relay between two namespaces lets the FINs cross."""
    path = OUT / "tcp_simultaneous_close.pcap"
    with namespaces("lp-cap-sc-client", "lp-cap-sc-server", ipv6=False) as (a, b):
        add_tap(a, "lpsa0", mac(0x0201), "10.77.2.1/30")
        add_tap(b, "lpsb0", mac(0x0202), "10.77.2.2/30")
        static_neighbour(a, "10.77.2.2", mac(0x0202), "lpsa0")
        static_neighbour(b, "10.77.2.1", mac(0x0201), "lpsb0")
        relay = start_relay(f"{a.name}:lpsa0", f"{b.name}:lpsb0", "--delay-ms", "20")
        try:
            for ns, dev in ((a, "lpsa0"), (b, "lpsb0")):
                ns.ip("link", "set", dev, "up")
            time.sleep(0.2)
            with capture(b.name, "lpsb0", path):
                sh(*PIN, *py("demo_tcp.py", "simultaneous-close", "--client-ns", a.name,
                             "--server-ns", b.name, "--host", "10.77.2.2", "--local-port",
                             "41260"))
                time.sleep(0.2)
        finally:
            stop_process(relay)
    rows = fields(path, "tcp.flags.fin == 1", "tcp.srcport", "tcp.seq", "tcp.ack")
    expect(len(rows) == 2 and rows[0][0] != rows[1][0], f"two FINs {rows}")
    # The second FIN does not acknowledge the first: it was sent before the first arrived.
    expect(int(rows[1][2]) == int(rows[0][1]), f"FINs did not cross {rows}")


def tcp_loss_reorder() -> None:
    """Sender -> router (htb bottleneck, 5-packet FIFO) -> relay (reorders) -> receiver."""
    path = OUT / "tcp_loss_reorder.pcap"
    names = ("lp-cap-loss-snd", "lp-cap-loss-rtr", "lp-cap-loss-rcv")
    with namespaces(*names, ipv6=False) as (a, r, b):
        sh("ip", "link", "add", "lpa0", "netns", a.name, "type", "veth", "peer", "name", "lpr0",
           "netns", r.name)
        for ns, dev, n, addr in (
            (a, "lpa0", 0x0001, "10.77.0.1/30"),
            (r, "lpr0", 0x0002, "10.77.0.2/30"),
        ):
            ns.ip("link", "set", dev, "address", mac(n))
            ns.ip("addr", "add", addr, "dev", dev)
            ns.ethtool_off(dev, "tso", "gso", "gro")
        add_tap(r, "lpr1", mac(0x0101), "10.77.1.1/30")
        add_tap(b, "lpb0", mac(0x0102), "10.77.1.2/30")
        static_neighbour(a, "10.77.0.2", mac(0x0002), "lpa0")
        static_neighbour(r, "10.77.0.1", mac(0x0001), "lpr0")
        static_neighbour(r, "10.77.1.2", mac(0x0102), "lpr1")
        static_neighbour(b, "10.77.1.1", mac(0x0101), "lpb0")
        r.sysctl("net.ipv4.ip_forward=1")
        # The bottleneck: 1 Mbit/s out of the router towards the receiver, 5-packet FIFO.
        sh("tc", "-n", r.name, "qdisc", "add", "dev", "lpr1", "root", "handle", "1:", "htb",
           "default", "1")
        sh("tc", "-n", r.name, "class", "add", "dev", "lpr1", "parent", "1:", "classid", "1:1",
           "htb", "rate", "1mbit", "ceil", "1mbit")
        sh("tc", "-n", r.name, "qdisc", "add", "dev", "lpr1", "parent", "1:1", "handle", "10:",
           "pfifo", "limit", "5")
        relay = start_relay(f"{r.name}:lpr1", f"{b.name}:lpb0", "--hold", "70,100,125")
        try:
            for ns, dev in ((a, "lpa0"), (r, "lpr0"), (r, "lpr1"), (b, "lpb0")):
                ns.ip("link", "set", dev, "up")
            a.ip("route", "add", "10.77.1.0/30", "via", "10.77.0.2")
            b.ip("route", "add", "10.77.0.0/30", "via", "10.77.1.1")
            time.sleep(0.3)
            sink = b.start(
                *py("demo_tcp.py", "sink-server", "--host", "10.77.1.2", "--port", "5001")
            )
            with capture(b.name, "lpb0", path, settle=0.5):
                a.run(*py("demo_tcp.py", "upload-client", "--host", "10.77.1.2", "--port", "5001",
                          "--local-port", "41270", "--bytes", "200000"))
                assert sink.stdout is not None
                expect(sink.stdout.readline().strip() == "received 200000", "byte count")
            print("   ", sh("tc", "-n", r.name, "-s", "qdisc", "show", "dev", "lpr1").stdout
                  .split("\n")[1].strip())
        finally:
            stop_process(relay)
            assert relay.stderr is not None
            print("    relay:", relay.stderr.read().strip())
    expect(count(path, "tcp.analysis.lost_segment") > 0, "loss")
    expect(count(path, "tcp.analysis.out_of_order") > 0, "reordering")
    expect(count(path, "tcp.analysis.fast_retransmission") > 0, "fast retransmission")


# --------------------------------------------------------------------------- issue 4


def http_simple(file: str, *curl_args: str, mtu: int | None = None) -> Callable[[], None]:
    def make() -> None:
        with namespace(f"lp-cap-{Path(file).stem}"[:40]) as ns:
            loopback_setup(ns, mtu=mtu)
            web_server(ns)
            with capture(ns.name, "lo", OUT / file):
                ns.run(*curl_args)

    return make


def web_client(file: str, program: str, port: int, mtu: int | None = None) -> Callable[[], None]:
    def make() -> None:
        with namespace(f"lp-cap-{Path(file).stem}") as ns:
            loopback_setup(ns, mtu=mtu)
            web_server(ns)
            with capture(ns.name, "lo", OUT / file):
                ns.run(*py("web.py", program, "--local-port", str(port)))

    return make


@contextlib.contextmanager
def resolv_conf(ns: str) -> Iterator[None]:
    """/etc/netns/NS/resolv.conf: ``ip netns exec`` mounts it over /etc/resolv.conf,
    so programs in the namespace (and only there) ask our DNS server."""
    base = Path("/etc/netns")
    made_base = not base.exists()
    d = base / ns
    d.mkdir(parents=True, exist_ok=True)
    try:
        (d / "resolv.conf").write_text("nameserver 127.0.0.1\noptions attempts:1 timeout:2\n")
        yield
    finally:
        shutil.rmtree(d, ignore_errors=True)
        if made_base:
            with contextlib.suppress(OSError):
                base.rmdir()


def page_load() -> None:
    path = OUT / "page_load.pcap"
    with namespace("lp-cap-page-load") as ns, resolv_conf(ns.name):
        loopback_setup(ns)
        ns.start(*py("dns_server.py", "serve"))
        web_server(ns)
        with capture(ns.name, "lo", path):
            ns.run(*py("web.py", "browser", "http://www.example.test:8080/"))
    rows = fields(path, "", "_ws.col.Protocol", "udp.srcport", "tcp.flags")
    expect(rows[0][0] == "DNS" and count(path, "dns") == 4, "DNS first: A and AAAA, answered")
    expect(
        count(path, "http.request") == 3 and count(path, "tcp.flags.fin == 1") == 2, "GETs, close"
    )



# --------------------------------------------------------------------------- issue 17: HTTPS

CURL_TLS = [*CURL, "--resolve", "example.test:8443:127.0.0.1", "--resolve",
            "example.test:8444:127.0.0.1"]


@contextlib.contextmanager
def tls_files(name: str) -> Iterator[Path]:
    """A scratch directory with fresh certificates (``certs/``) and the server's key log path."""
    tmp = Path(tempfile.mkdtemp(prefix="lp-tls-"))
    os.chmod(tmp, 0o755)
    try:
        sh(*py("tls_server.py", "certs", str(tmp / "certs")))
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def tls_serve(ns: Namespace, tmp: Path, *extra: str, port: int = 8443) -> None:
    ns.start(*py("tls_server.py", "serve", "--listen", f"127.0.0.1:{port}", "--certs",
                 str(tmp / "certs"), "--keylog", str(tmp / "server.keys"), *extra))


def curl_tls(tmp: Path, port: int, *args: str) -> list[str]:
    return [*CURL_TLS, "--cacert", str(tmp / "certs" / "ca.pem"), *args]


def keep_keys(tmp_keys: Path, name: str, drop: Callable[[str], bool] = lambda line: False
              ) -> None:
    lines = [ln for ln in tmp_keys.read_text().splitlines() if ln and not drop(ln)]
    (OUT / f"{name}.keys").write_text("\n".join(lines) + "\n")


def client_randoms(path: Path) -> list[str]:
    return [r[0] for r in fields(path, "tls.handshake.type == 1", "tls.handshake.random")]


def decrypted_count(path: Path, keys: Path, filt: str) -> int:
    return len(tshark(path, "-o", f"tls.keylog_file:{keys}", "-Y", filt).splitlines())


def tls13_http11() -> None:
    path = OUT / "tls13_http11.pcap"
    form = "name=layerpeek&layer=tls&message=hello+over+TLS+1.3"
    with tls_files("tls13") as tmp:
        with namespace("lp-cap-tls13") as ns:
            tls_serve(ns, tmp)
            with capture(ns.name, "lo", path):
                ns.run(*curl_tls(tmp, 8443, "--http1.1", "--tlsv1.3", "--tls13-ciphers",
                                 "TLS_AES_128_GCM_SHA256", "--local-port", "41400",
                                 "https://example.test:8443/index.html", "--output", "/dev/null",
                                 "https://example.test:8443/style.css"))
                time.sleep(0.1)
                ns.run(*curl_tls(tmp, 8443, "--http1.1", "--tlsv1.3", "--tls13-ciphers",
                                 "TLS_CHACHA20_POLY1305_SHA256", "--local-port", "41401",
                                 "--data", form, "https://example.test:8443/submit"))
        keep_keys(tmp / "server.keys", "tls13_http11")
    expect(decrypted_count(path, OUT / "tls13_http11.keys", "http.request") == 3, "3 requests")


def tls12_http11() -> None:
    """TLS 1.2 with AES-GCM, ChaCha20-Poly1305, AES-CBC encrypt-then-MAC (8443) and
    AES-CBC MAC-then-encrypt (8444: a server with encrypt_then_mac turned off)."""
    path = OUT / "tls12_http11.pcap"
    with tls_files("tls12") as tmp:
        with namespace("lp-cap-tls12") as ns:
            tls_serve(ns, tmp, "--max-version", "1.2")
            tls_serve(ns, tmp, "--max-version", "1.2", "--no-etm", port=8444)
            with capture(ns.name, "lo", path):
                for n, (port, cipher, url) in enumerate([
                    (8443, "ECDHE-ECDSA-AES128-GCM-SHA256", "/index.html"),
                    (8443, "ECDHE-ECDSA-CHACHA20-POLY1305", "/logo.png"),
                    (8443, "ECDHE-ECDSA-AES256-SHA384", "/style.css"),
                    (8444, "ECDHE-ECDSA-AES128-SHA256", "/data.json"),
                ]):
                    ns.run(*curl_tls(tmp, port, "--http1.1", "--tls-max", "1.2", "--ciphers",
                                     cipher, "--local-port", str(41410 + n),
                                     f"https://example.test:{port}{url}"))
                    time.sleep(0.1)
        keep_keys(tmp / "server.keys", "tls12_http11")
    expect(decrypted_count(path, OUT / "tls12_http11.keys", "http.response.code == 200") == 4,
           "four answers")


def tls_resumed() -> None:
    """Two connections per curl run (``Connection: close``): the second resumes the
    first's session, with a TLS 1.3 PSK ticket, then with a TLS 1.2 session ticket."""
    path = OUT / "tls_resumed.pcap"
    with tls_files("resumed") as tmp:
        with namespace("lp-cap-tls-resumed") as ns:
            tls_serve(ns, tmp)
            with capture(ns.name, "lo", path):
                for n, version in enumerate(("1.3", "1.2")):
                    ns.run(*curl_tls(tmp, 8443, "--http1.1", "--tls-max", version,
                                     "--header", "Connection: close", "--local-port",
                                     f"{41420 + 2 * n}-{41421 + 2 * n}",
                                     "https://example.test:8443/index.html", "--output",
                                     "/dev/null", "https://example.test:8443/style.css"))
                    time.sleep(0.1)
        keep_keys(tmp / "server.keys", "tls_resumed")
    expect(count(path, "tls.handshake.extensions.psk.identity.identity") >= 1, "a PSK offered")
    expect(decrypted_count(path, OUT / "tls_resumed.keys", "http.request") == 4, "4 requests")


def tls12_resumed() -> None:
    """TLS 1.2 resumed both ways (Python's ssl on both sides, tls_client.py): a full
    handshake then one resumed by its session ticket, a full one without tickets then
    one resumed by its session id; the client writes the key log."""
    path = OUT / "tls12_resumed.pcap"
    with tls_files("tls12-resumed") as tmp:
        keys = tmp / "client.keys"
        with namespace("lp-cap-tls12-resumed") as ns:
            tls_serve(ns, tmp, "--max-version", "1.2", "--close-notify")
            with capture(ns.name, "lo", path):
                ns.run(*py("tls_client.py", "resume", "--connect", "127.0.0.1:8443",
                           "--server-name", "example.test", "--cafile",
                           str(tmp / "certs" / "ca.pem"), "--keylog", str(keys),
                           "--local-port", "41470"))
                time.sleep(0.1)
        keep_keys(keys, "tls12_resumed")
    hellos = fields(path, "tls.handshake.type == 2", "frame.number", "tls.handshake.session_id")
    expect(len(hellos) == 4 and hellos[2][1] == hellos[3][1] != "",
           "four ServerHellos, the last echoing the third's session id")
    expect(count(path, "tls.handshake.type == 11") == 2, "certificates in the full handshakes only")
    expect(decrypted_count(path, OUT / "tls12_resumed.keys", "http.response.code == 200") == 4,
           "four answers decrypted")


def tls_alert() -> None:
    """curl does not trust the server's CA and says so with a fatal alert (TLS 1.3: the
    alert is encrypted under the client's handshake keys; TLS 1.2: in the clear)."""
    path = OUT / "tls_alert.pcap"
    with tls_files("alert") as tmp:
        with namespace("lp-cap-tls-alert") as ns:
            tls_serve(ns, tmp)
            with capture(ns.name, "lo", path):
                for n, version in enumerate(("1.3", "1.2")):
                    sh(*in_ns(ns.name, *CURL_TLS, "--http1.1", "--tls-max", version,
                              "--local-port", str(41430 + n),
                              "https://example.test:8443/index.html"), check=False)
                    time.sleep(0.1)
        keep_keys(tmp / "server.keys", "tls_alert")
    expect(decrypted_count(path, OUT / "tls_alert.keys", "tls.alert_message.desc == 48") == 2,
           "two unknown_ca alerts")


def tls_missing_keys() -> None:
    """Three TLS 1.3 connections; the key log committed beside the capture keeps the
    first one's secrets, none of the second's, and only the handshake secrets of the third."""
    path = OUT / "tls_missing_keys.pcap"
    with tls_files("missing") as tmp:
        with namespace("lp-cap-tls-missing") as ns:
            tls_serve(ns, tmp)
            with capture(ns.name, "lo", path):
                for n in range(3):
                    ns.run(*curl_tls(tmp, 8443, "--http1.1", "--local-port", str(41440 + n),
                                     "https://example.test:8443/index.html"))
                    time.sleep(0.1)
        randoms = client_randoms(path)
        expect(len(randoms) == 3, "three hellos")

        def drop(line: str) -> bool:
            if line.startswith("#"):
                return False
            label, random, _ = line.split()
            return random == randoms[1] or (random == randoms[2] and "HANDSHAKE" not in label)

        keep_keys(tmp / "server.keys", "tls_missing_keys", drop)
    expect(decrypted_count(path, OUT / "tls_missing_keys.keys", "http.request") == 1,
           "one request readable")


def https_h2() -> None:
    """curl --http2 against hypercorn: three requests multiplexed on one connection;
    the key log is curl's (SSLKEYLOGFILE)."""
    path = OUT / "https_h2.pcap"
    with tls_files("h2") as tmp:
        keys = tmp / "client.keys"
        with namespace("lp-cap-https-h2") as ns:
            ns.start(*py("h2_server.py", "--listen", "127.0.0.1:8443", "--certs",
                         str(tmp / "certs")))
            with capture(ns.name, "lo", path):
                ns.run("env", f"SSLKEYLOGFILE={keys}",
                       *[a for a in curl_tls(tmp, 8443, "--http2", "--local-port", "41450",
                                 "https://example.test:8443/index.html", "--output", "/dev/null",
                                 "https://example.test:8443/style.css", "--output", "/dev/null",
                                 "https://example.test:8443/no-such-page")
                         if a != "--fail-with-body"])  # the 404 is part of the scenario
        keep_keys(keys, "https_h2")
    expect(decrypted_count(path, OUT / "https_h2.keys", "http2.type == 1") >= 2, "h2 HEADERS")


def https_page_load() -> None:
    """The explainer's page load over HTTPS: curl looks www.example.test up (the system
    resolver asks dns_server.py), then fetches the page and the two files it refers to
    over HTTP/2 on one TLS 1.3 connection to hypercorn; the key log is curl's."""
    path = OUT / "https_page_load.pcap"
    with tls_files("page") as tmp:
        keys = tmp / "client.keys"
        with namespace("lp-cap-https-page") as ns, resolv_conf(ns.name):
            loopback_setup(ns)
            ns.start(*py("dns_server.py", "serve"))
            ns.start(*py("h2_server.py", "--listen", "127.0.0.1:8443", "--certs",
                         str(tmp / "certs")))
            with capture(ns.name, "lo", path):
                ns.run("env", f"SSLKEYLOGFILE={keys}", *CURL, "--ipv4", "--http2",
                       "--cacert", str(tmp / "certs" / "ca.pem"), "--local-port", "41460",
                       "https://www.example.test:8443/index.html",
                       "--output", "/dev/null", "https://www.example.test:8443/style.css",
                       "--output", "/dev/null", "https://www.example.test:8443/logo.png")
        keep_keys(keys, "https_page_load")
    rows = fields(path, "", "_ws.col.Protocol")
    expect(rows[0][0] == "DNS" and count(path, "dns.flags.response == 1") >= 1,
           "the DNS lookup first, answered")
    expect(decrypted_count(path, OUT / "https_page_load.keys", "http2.headers.method") == 3,
           "three requests decrypted")


def dns_over_tls() -> None:
    """dig +tls asks dns_server.py over TLS (port 853, ALPN dot) on one connection:
    two queries (+keepopen); the server writes the key log."""
    path = OUT / "dns_over_tls.pcap"
    with tls_files("dot") as tmp:
        keys = tmp / "server.keys"
        with namespace("lp-cap-dot") as ns:
            ns.start(*py("dns_server.py", "serve", "--tls-port", "853", "--certs",
                         str(tmp / "certs"), "--keylog", str(keys)))
            with capture(ns.name, "lo", path):
                ns.run(*dig("-p", "853", "+tls", "+keepopen", "www.example.test", "A",
                            "example.test", "MX"))
        keep_keys(keys, "dns_over_tls")
    expect(count(path, "tcp.port == 853 && tls.handshake.type == 1") == 1, "one TLS connection")
    expect(decrypted_count(path, OUT / "dns_over_tls.keys", "dns.flags.response == 1") == 2,
           "two answers decrypted")


def quic_capture(file: str, port: int, *get_args: str, retry: bool = False, only_v2: bool = False,
                 keys: bool = True, paths: tuple[str, ...] = ("/index.html",),
                 check: Callable[[Path, Path | None, list[str]], None] | None = None,
                 ) -> Callable[[], None]:
    """h3_peer.py's client against its server on UDP 443: one QUIC connection, every
    path requested at once; the key log is the client's (``keys=False``: none kept).
    The client's report (status, sha256, length per path) is checked against content.py."""
    def make() -> None:
        path = OUT / file
        name = file.removesuffix(".pcap")
        with tls_files(name) as tmp:
            with namespace(f"lp-cap-{name.replace('_', '-')}"[:15]) as ns:
                ns.start(*py("h3_peer.py", "serve", "--listen", "127.0.0.1:443", "--certs",
                             str(tmp / "certs"), *(["--retry"] if retry else []),
                             *(["--only-v2"] if only_v2 else [])))
                with capture(ns.name, "lo", path):
                    report = ns.run(*py("h3_peer.py", "get", "--connect", "127.0.0.1:443",
                                        "--cacert", str(tmp / "certs" / "ca.pem"), "--keylog",
                                        str(tmp / "client.keys"), "--local-port", str(port),
                                        *get_args, *paths)).splitlines()
            kept = None
            if keys:
                keep_keys(tmp / "client.keys", name)
                kept = OUT / f"{name}.keys"
            else:
                (OUT / f"{name}.keys").unlink(missing_ok=True)
        import hashlib

        import content
        for line, asked in zip(report, paths, strict=True):
            status, digest, _, got = line.split()
            want = content.FILES.get(asked)
            expect(got == asked and status == ("200" if want else "404"), f"{asked}: {line}")
            if want:
                expect(digest == hashlib.sha256(want[1]).hexdigest(), f"{asked}: body")
        expect(count(path, "quic.header_form == 1") >= 2, "long-header packets")
        if check:
            check(path, kept, report)
    return make


def expect_h3_requests(n: int) -> Callable[[Path, Path | None, list[str]], None]:
    def check(path: Path, keys: Path | None, report: list[str]) -> None:
        assert keys is not None
        got = decrypted_count(path, keys, "quic.frame_type == 0x08 || quic.frame_type == 0x0b"
                              " || quic.frame_type == 0x0f || quic.frame_type == 0x0a")
        expect(got >= n, f"{n} STREAM frames decrypted, got {got}")
    return check


def expect_retry(path: Path, keys: Path | None, report: list[str]) -> None:
    expect(count(path, "quic.long.packet_type == 3") == 1, "one Retry")


def expect_0rtt(path: Path, keys: Path | None, report: list[str]) -> None:
    expect(count(path, "quic.long.packet_type == 1") >= 1, "0-RTT packets")


def expect_key_update(path: Path, keys: Path | None, report: list[str]) -> None:
    assert keys is not None
    expect(decrypted_count(path, keys, "quic.key_phase == 1") >= 2, "packets in key phase 1")


def expect_vn(path: Path, keys: Path | None, report: list[str]) -> None:
    expect(count(path, "quic.version == 0") == 1, "one Version Negotiation")
    expect(count(path, "quic.version == 0x6b3343cf") >= 2, "then QUIC version 2")


def tls13_hrr() -> None:
    """The server accepts only secp256r1; curl's first key share is x25519, so the server
    answers with a HelloRetryRequest and curl sends a second ClientHello (same random)."""
    path = OUT / "tls13_hrr.pcap"
    with tls_files("hrr") as tmp:
        with namespace("lp-cap-tls-hrr") as ns:
            tls_serve(ns, tmp, "--curve", "prime256v1")
            with capture(ns.name, "lo", path):
                ns.run(*curl_tls(tmp, 8443, "--http1.1", "--local-port", "41460",
                                 "https://example.test:8443/style.css"))
        keep_keys(tmp / "server.keys", "tls13_hrr")
    expect(count(path, "tls.handshake.type == 1") == 2, "two ClientHellos")
    expect(decrypted_count(path, OUT / "tls13_hrr.keys", "http.response.code == 200") == 1,
           "the answer decrypts")


def tls13_keyupdate() -> None:
    """openssl s_client sends a KeyUpdate (its ``k`` command) before its request to
    openssl s_server -www; the key log is the server's (-keylogfile)."""
    path = OUT / "tls13_keyupdate.pcap"
    with tls_files("keyupdate") as tmp:
        with namespace("lp-cap-tls-ku") as ns:
            server = subprocess.Popen(
                in_ns(ns.name, "openssl", "s_server", "-accept", "127.0.0.1:4433", "-cert",
                      str(tmp / "certs" / "server.pem"), "-key", str(tmp / "certs" / "server.key"),
                      "-www", "-tls1_3", "-keylogfile", str(tmp / "server.keys")),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ns.procs.append(server)  # type: ignore[arg-type]
            time.sleep(0.5)
            with capture(ns.name, "lo", path):
                client = subprocess.Popen(
                    in_ns(ns.name, "openssl", "s_client", "-connect", "127.0.0.1:4433",
                          "-servername", "example.test", "-CAfile",
                          str(tmp / "certs" / "ca.pem")),
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                assert client.stdin is not None
                time.sleep(0.3)
                client.stdin.write(b"k\n")  # s_client's command: send a KeyUpdate
                client.stdin.flush()
                time.sleep(0.3)
                client.stdin.write(b"GET / HTTP/1.0\r\n\r\n")
                client.stdin.flush()
                time.sleep(1.0)
                client.stdin.close()
                client.wait(10)
        keep_keys(tmp / "server.keys", "tls13_keyupdate")
    expect(decrypted_count(path, OUT / "tls13_keyupdate.keys", "tls.handshake.type == 24") == 1,
           "one KeyUpdate")
# --------------------------------------------------------------------------- issue 17: HTTP/2

H2_URL = "http://127.0.0.1:8081"


def http2_capture(file: str, client: list[str], paths: tuple[str, ...],
                  check: Callable[[Path], None]) -> Callable[[], None]:
    """A client (curl or nghttp) against the hypercorn h2c server on 127.0.0.1:8081
    (h2c_server.py)."""

    def make() -> None:
        path = OUT / file
        with namespace(f"lp-cap-{Path(file).stem}"[:40]) as ns:
            loopback_setup(ns)
            ns.start(*py("h2c_server.py", "serve", "--listen", "127.0.0.1:8081"))
            with capture(ns.name, "lo", path):
                if client[0] == "curl":
                    urls = [a for p in paths for a in ("--output", "/dev/null", f"{H2_URL}{p}")]
                else:
                    urls = [f"{H2_URL}{p}" for p in paths]
                ns.run(*client, *urls)
        check(path)

    return make


def curl(port: int, *args: str) -> list[str]:
    return [*CURL[:-2], "--local-port", str(port), *args]


#: nghttp (Debian's nghttp2-client): HTTP/2 by prior knowledge on http:// URLs, all URLs
#: as concurrent streams of one connection, Accept-Encoding gzip, server push allowed.
NGHTTP = ["nghttp", "--null-out"]


def h2_fields(path: Path, filt: str, *names: str) -> list[list[str]]:
    """tshark's HTTP/2 fields; port 8081 read as HTTP, which hands over to HTTP/2 on the
    preface or after a 101 to Upgrade: h2c (the http2 heuristic is off by default)."""
    args = ["-d", "tcp.port==8081,http", "-Y", filt, "-T", "fields"]
    out = tshark(path, *args, *[a for n in names for a in ("-e", n)])
    return [line.split("\t") for line in out.splitlines() if line]


def expect_h2(streams: int, *, upgrade: bool = False, gzip: int = 0,
              pushed: int = 0) -> Callable[[Path], None]:
    """``streams`` responses over HTTP/2, all on one connection."""

    def check(path: Path) -> None:
        statuses = h2_fields(path, "http2.type == 1 && http2.header.name == \":status\"",
                             "http2.streamid")
        expect(len(statuses) == streams, f"{len(statuses)} HTTP/2 responses, not {streams}")
        expect(count(path, "tcp.flags.syn == 1 && tcp.flags.ack == 0") == 1, "one connection")
        if upgrade:
            expect(len(h2_fields(path, "http.response.code == 101", "frame.number")) == 1,
                   "101 Switching Protocols")
        if gzip:
            coded = h2_fields(path, 'http2.header.value == "gzip" && http2.type == 1',
                              "http2.streamid")
            expect(len(coded) >= gzip, f"gzip responses: {coded}")
        if pushed:
            promises = h2_fields(path, "http2.type == 5", "http2.push_promise.promised_stream_id")
            expect(len(promises) == pushed, f"PUSH_PROMISEs: {promises}")

    return check


CAPTURES: dict[str, Callable[[], None]] = {
    "tcp_3040_greeting": greeting("tcp_3040_greeting.pcap", "127.0.0.1", nano=True),
    "tcp_3040_greeting_pcapng": greeting(
        "tcp_3040_greeting.pcapng", "127.0.0.1", pcapng=True,
        comment="layerpeek: the port-3040 demo, recorded by dumpcap on lo",
    ),
    "tcp_3040_ipv6": greeting("tcp_3040_ipv6.pcap", "::1"),
    "udp_12345": udp_12345,
    "http_get_post": http_get_post,
    "http_sll2_any": http_sll2_any,
    "dns_query": dns_query,
    "tcp_refused": tcp_refused,
    "tcp_rst_midtransfer": tcp_rst_midtransfer,
    "tcp_half_close": tcp_half_close,
    "tcp_simultaneous_close": tcp_simultaneous_close,
    "tcp_loss_reorder": tcp_loss_reorder,
    "http_keepalive": http_simple(
        "http_keepalive.pcap", *CURL, "--local-port", "41280", "--output", "/dev/null",
        "--output", "/dev/null", "--output", "/dev/null",
        "http://127.0.0.1:8080/index.html", "http://127.0.0.1:8080/style.css",
        "http://127.0.0.1:8080/logo.png", "http://127.0.0.1:8080/data.json",
    ),
    "http_pipelined": web_client("http_pipelined.pcap", "pipelined", 41281),
    "http_chunked": http_simple(
        "http_chunked.pcap", *CURL, "--local-port", "41282", "--header", "TE: trailers",
        "http://127.0.0.1:8080/chunked",
    ),
    "http_gzip": http_simple(
        "http_gzip.pcap", *CURL, "--local-port", "41283", "--compressed",
        "http://127.0.0.1:8080/data.json",
    ),
    "http_status_mix": web_client("http_status_mix.pcap", "status-mix", 41284),
    "http_large_body": http_simple(
        "http_large_body.pcap", *CURL, "--local-port", "41285", "http://127.0.0.1:8080/large.bin",
        mtu=1500,
    ),
    "http_rst_cut": web_client("http_rst_cut.pcap", "rst-cut", 41286, mtu=1500),
    "page_load": page_load,
    "tls13_http11": tls13_http11,
    "tls12_http11": tls12_http11,
    "tls_resumed": tls_resumed,
    "tls12_resumed": tls12_resumed,
    "tls_alert": tls_alert,
    "tls_missing_keys": tls_missing_keys,
    "https_h2": https_h2,
    "https_page_load": https_page_load,
    "dns_over_tls": dns_over_tls,
    "tls13_keyupdate": tls13_keyupdate,
    "tls13_hrr": tls13_hrr,
    "quic_h3_page": quic_capture(
        "quic_h3_page.pcap", 41500,
        paths=("/index.html", "/style.css", "/logo.png", "/data.json", "/no-such-page"),
        check=expect_h3_requests(5)),
    "quic_no_keys": quic_capture("quic_no_keys.pcap", 41501, keys=False),
    "quic_0rtt": quic_capture(
        "quic_0rtt.pcap", 41506, "--early-data", paths=("/index.html", "/style.css"),
        check=expect_0rtt),
    "quic_key_update": quic_capture(
        "quic_key_update.pcap", 41504, "--key-update",
        paths=("/index.html", "/style.css", "/logo.png"), check=expect_key_update),
    "quic_retry": quic_capture("quic_retry.pcap", 41502, retry=True,
                               paths=("/index.html", "/style.css"), check=expect_retry),
    "quic_version_negotiation": quic_capture(
        "quic_version_negotiation.pcap", 41503, "--offer", "1", "--version", "2", only_v2=True,
        paths=("/style.css",), check=expect_vn),
    "http2_prior_knowledge": http2_capture(
        "http2_prior_knowledge.pcap", curl(41290, "--http2-prior-knowledge"),
        ("/index.html",), expect_h2(1),
    ),
    "http2_upgrade_h2c": http2_capture(
        "http2_upgrade_h2c.pcap", curl(41291, "--http2"), ("/index.html", "/style.css"),
        expect_h2(2, upgrade=True),
    ),
    "http2_parallel": http2_capture(
        "http2_parallel.pcap", curl(41292, "--http2", "--parallel"),
        ("/index.html", "/style.css", "/logo.png", "/data.json"), expect_h2(4, upgrade=True),
    ),
    "http2_gzip": http2_capture(
        "http2_gzip.pcap", NGHTTP, ("/index.html", "/data.json", "/logo.png"),
        expect_h2(3, gzip=2),
    ),
    "http2_push": http2_capture("http2_push.pcap", NGHTTP, ("/",), expect_h2(3, pushed=2)),
}

RETRIES = 3


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("names", nargs="*", help="captures to make (default: all)")
    ap.add_argument("--list", action="store_true", help="list the capture names")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(CAPTURES))
        return 0
    if os.geteuid() != 0:
        print("make_all.py needs root (network namespaces and packet capture)", file=sys.stderr)
        return 1
    problem = missing_tools()
    if problem:
        print(f"make_all.py: {problem}", file=sys.stderr)
        return 1
    unknown = [n for n in args.names if n not in CAPTURES]
    if unknown:
        print(f"unknown capture(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    for name in args.names or list(CAPTURES):
        for attempt in range(1, RETRIES + 1):
            try:
                CAPTURES[name]()
            except Unexpected as exc:
                print(f"{name}: attempt {attempt}: {exc}", file=sys.stderr)
                if attempt == RETRIES:
                    return 1
                continue
            break
        print(f"made {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
