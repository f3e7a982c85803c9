"""Live capture (issue 5): the explainer's exchange watched on ``lo`` as it happens.

Every capture here listens on loopback with a BPF filter on a port the test
owns, or inside a network namespace the test creates (``unshare --net``), so
nothing else on the machine is seen or sent.  Capturing needs root or
CAP_NET_RAW; those tests are skipped otherwise (the error tests that do not
open a socket, such as a bad filter or an unknown interface, always run).
Everything is bounded: sockets have timeouts, captures a ``duration``,
subprocesses a ``timeout``; waits are on events ("listening on …", the last
ACK), never on sleeps long enough to hope.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from builders import pcap_bytes
from conftest import ROOT

import layerpeek
from layerpeek import TCP, UDP, Packet
from layerpeek.capture import live
from layerpeek.capture.live import (
    FilterError,
    LiveCapture,
    NoSuchInterface,
    UnsupportedInterface,
    compile_filter,
    live_packets,
)
from layerpeek.cli import main
from layerpeek.commands import common
from layerpeek.flows.events import ConnectionClosed, ConnectionOpened, StreamData
from layerpeek.flows.tracker import TCPTracker
from layerpeek.render.json import packet_to_dict
from layerpeek.render.text import packet_line

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "AF_PACKET"), reason="live capture uses Linux AF_PACKET"
)

#: What the explainer's C server sends: ``send(fd, msg, sizeof(msg))`` includes the NUL.
GREETING = "这是服务器接收成功后发回的信息!".encode() + b"\x00"
MESSAGE = b"hello from the client\n"
TIMEOUT = 60.0  #: upper bound for anything that waits; normal runs take well under a second
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def _can_capture() -> bool:
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
    except (PermissionError, OSError):
        return False
    return True


needs_capture = pytest.mark.skipif(not _can_capture(), reason="needs root or CAP_NET_RAW")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


# --------------------------------------------------------------------------- traffic


@dataclass
class Exchange:
    server_port: int
    client_port: int = 0


def listening_socket() -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(TIMEOUT)
    return server


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise AssertionError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def explainer_exchange(server: socket.socket) -> Exchange:
    """The explainer's socket demo over loopback, with a deterministic close order.

    The server accepts and sends its greeting; the client reads it, sends a
    message and closes; the server reads the message, sees the client's FIN
    (recv returns b"") and closes.  So the client's FIN always comes first.
    """
    exchange = Exchange(server.getsockname()[1])
    problems: list[BaseException] = []

    def serve() -> None:
        try:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                conn.sendall(GREETING)
                assert _recv_exactly(conn, len(MESSAGE)) == MESSAGE
                assert conn.recv(1) == b""
        except BaseException as e:  # re-raised in the caller's thread
            problems.append(e)

    thread = threading.Thread(target=serve)
    thread.start()
    with socket.create_connection(("127.0.0.1", exchange.server_port), timeout=TIMEOUT) as client:
        exchange.client_port = client.getsockname()[1]
        assert _recv_exactly(client, len(GREETING)) == GREETING
        client.sendall(MESSAGE)
    thread.join(TIMEOUT)
    if problems:
        raise problems[0]
    return exchange


def in_background(fn: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    problems: list[BaseException] = []

    def body() -> None:
        try:
            fn()
        except BaseException as e:
            problems.append(e)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, problems


def tcp_of(packet: Packet) -> TCP:
    tcp = packet.get(TCP)
    assert tcp is not None, packet
    return tcp


def is_final_ack(packet: Packet, exchange: Exchange, server_fin_seq: int | None) -> bool:
    """The client's ACK of the server's FIN: the last packet of the exchange."""
    tcp = tcp_of(packet)
    return (
        server_fin_seq is not None
        and tcp.src_port == exchange.client_port
        and tcp.is_ack
        and tcp.ack == (server_fin_seq + 1) % 2**32
    )


def capture_exchange(cap: LiveCapture, server: socket.socket) -> tuple[list[Packet], Exchange]:
    """Run the exchange in a thread and collect packets until its last ACK."""
    result: list[Exchange] = []
    thread, problems = in_background(lambda: result.append(explainer_exchange(server)))
    packets: list[Packet] = []
    server_fin: int | None = None
    port = server.getsockname()[1]
    for packet in cap.packets(duration=TIMEOUT):
        packets.append(packet)
        tcp = tcp_of(packet)
        if tcp.fin and tcp.src_port == port:
            server_fin = tcp.seq + len(packet.payload_after(TCP))
        if result and is_final_ack(packet, result[0], server_fin):
            break
    thread.join(TIMEOUT)
    if problems:
        raise problems[0]
    assert result, "the exchange did not finish"
    return packets, result[0]


# --------------------------------------------------------------------------- the exchange


@needs_capture
def test_the_explainer_exchange_is_decoded_in_order_each_packet_once() -> None:
    server = listening_socket()
    before = time.time_ns()
    with server, LiveCapture("lo", f"tcp port {server.getsockname()[1]}") as cap:
        packets, ex = capture_exchange(cap, server)
    after = time.time_ns()

    def side(p: Packet) -> str:
        return "client" if tcp_of(p).src_port == ex.client_port else "server"

    assert [p.index for p in packets] == list(range(1, len(packets) + 1))
    assert all(p.protocols.startswith("eth:ipv4:tcp") for p in packets)
    assert all(p.interface_name == "lo" and p.linktype == 1 for p in packets)
    # Real time stamps: the kernel's receive times, in order, inside the test's window.
    stamps = [p.ts_ns for p in packets]
    assert stamps == sorted(stamps) and before <= stamps[0] and stamps[-1] <= after

    # The three-way handshake opens the capture: SYN, SYN-ACK, ACK.
    syn, syn_ack, ack = (tcp_of(p) for p in packets[:3])
    assert (side(packets[0]), syn.syn, syn.is_ack) == ("client", True, False)
    assert (side(packets[1]), syn_ack.syn, syn_ack.is_ack) == ("server", True, True)
    assert syn_ack.ack == (syn.seq + 1) % 2**32
    assert (side(packets[2]), ack.syn, ack.is_ack) == ("client", False, True)
    assert ack.ack == (syn_ack.seq + 1) % 2**32 and packets[2].payload_after(TCP) == b""

    # Each packet once: exactly one SYN, one SYN-ACK, one FIN per side, and
    # the data of each direction exactly once (a loopback duplicate would
    # repeat bytes or flags).
    assert sum(tcp_of(p).syn for p in packets) == 2
    fins = [side(p) for p in packets if tcp_of(p).fin]
    assert fins == ["client", "server"]
    data = {"client": b"", "server": b""}
    for p in packets:
        data[side(p)] += p.payload_after(TCP)
    assert data == {"client": MESSAGE, "server": GREETING}

    # In the explainer's order: greeting, then message, then the FINs, then the last ACK.
    first_greeting = next(i for i, p in enumerate(packets) if side(p) == "server" and
                          p.payload_after(TCP))
    first_message = next(i for i, p in enumerate(packets) if side(p) == "client" and
                         p.payload_after(TCP))
    fin_at = [i for i, p in enumerate(packets) if tcp_of(p).fin]
    assert 2 < first_greeting < first_message < fin_at[0] < fin_at[1] < len(packets) - 1
    assert side(packets[-1]) == "client" and not tcp_of(packets[-1]).fin


@needs_capture
@pytest.mark.parametrize("where", ["kernel", "user space"])
def test_loopback_shows_each_datagram_once(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On lo the tap sees every packet leave and arrive; only one copy is shown.

    "user space" makes PACKET_IGNORE_OUTGOING unknown to the kernel (as on
    Linux < 4.20), so the pkttype check on each ring frame must do the work.
    """
    if where == "user space":
        monkeypatch.setattr(live, "PACKET_IGNORE_OUTGOING", 0x7FFF)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    payloads = [f"datagram {i}".encode() for i in range(20)]
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sink, tx, LiveCapture("lo", f"udp dst port {port}") as cap:
        for payload in payloads:
            tx.sendto(payload, ("127.0.0.1", port))
        got = [p.payload_after(UDP) for p in cap.packets(count=20, duration=TIMEOUT)]
        # Anything still in flight would be a second copy.
        got += [p.payload_after(UDP) for p in cap.packets(duration=0.3)]
    assert got == payloads


@needs_capture
def test_count_stops_and_the_next_call_carries_on_where_it_stopped() -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sink, tx, LiveCapture("lo", f"udp dst port {port}") as cap:
        for i in range(5):
            tx.sendto(bytes([i]), ("127.0.0.1", port))
        first = [p.payload_after(UDP) for p in cap.packets(count=2, duration=TIMEOUT)]
        rest = [(p.index, p.payload_after(UDP)) for p in cap.packets(count=3, duration=TIMEOUT)]
        stats = cap.stats()
    assert first == [b"\x00", b"\x01"]
    assert rest == [(3, b"\x02"), (4, b"\x03"), (5, b"\x04")]
    assert (stats.interface, stats.captured, stats.dropped) == ("lo", 5, 0)


@needs_capture
def test_snaplen_cuts_the_frame_and_keeps_its_length_on_the_wire() -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sink, tx, LiveCapture("lo", f"udp dst port {port}", snaplen=60) as cap:
        tx.sendto(b"x" * 200, ("127.0.0.1", port))
        (packet,) = cap.packets(count=1, duration=TIMEOUT)
    assert (len(packet.data), packet.wire_len, packet.truncated) == (60, 14 + 20 + 8 + 200, True)
    assert packet.get(UDP) is not None


@needs_capture
def test_an_idle_capture_ends_at_its_duration_and_at_stop_from_another_thread() -> None:
    with LiveCapture("lo", "udp port 9 and host 127.0.0.9") as cap:
        t = time.monotonic()
        assert list(cap.packets(duration=0.2)) == []
        assert 0.2 <= time.monotonic() - t < 10
        timer = threading.Timer(0.2, cap.stop)
        timer.start()
        t = time.monotonic()
        assert list(cap.packets()) == []  # no count, no duration: only stop() ends it
        assert time.monotonic() - t < 10
        timer.join()


@needs_capture
def test_live_packets_generator_yields_the_exchange_with_real_times() -> None:
    """The generator opens its capture at the first ``next()``, which cannot be
    observed from outside; so a thread pings a UDP port (in the filter too)
    until the first ping comes through, and only then runs the exchange."""
    server = listening_socket()
    port = server.getsockname()[1]
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    ping_port = sink.getsockname()[1]
    opened = threading.Event()

    def ping() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            while not opened.wait(0.05):
                tx.sendto(b"ping", ("127.0.0.1", ping_port))

    pinger, _ = in_background(ping)
    before = time.time_ns()
    gen = live_packets("lo", f"udp dst port {ping_port} or tcp port {port}", duration=TIMEOUT)
    tracker = TCPTracker()  # fed as the packets arrive, as `live --handshake` does
    events: list[object] = []
    tcp_packets: list[Packet] = []
    result: list[Exchange] = []
    server_fin: int | None = None
    with sink, server:
        for packet in gen:
            if UDP in packet:
                if not opened.is_set():
                    opened.set()
                    pinger.join(TIMEOUT)
                    in_background(lambda: result.append(explainer_exchange(server)))
                continue
            tcp_packets.append(packet)
            events += tracker.feed(packet)
            tcp = tcp_of(packet)
            if tcp.fin and tcp.src_port == port:
                server_fin = tcp.seq + len(packet.payload_after(TCP))
            if result and is_final_ack(packet, result[0], server_fin):
                break
    gen.close()
    events += tracker.finish()
    assert tcp_of(tcp_packets[0]).syn and not tcp_of(tcp_packets[0]).is_ack
    assert all(before <= p.ts_ns <= time.time_ns() and p.interface_name == "lo"
               for p in tcp_packets)
    streams = {"client": b"", "server": b""}
    for e in events:
        if isinstance(e, StreamData):
            streams[e.direction] += e.data
    assert streams == {"client": MESSAGE, "server": GREETING}
    opened_how = [e.how for e in events if isinstance(e, ConnectionOpened)]
    closed_how = [e.how for e in events if isinstance(e, ConnectionClosed)]
    assert (opened_how, closed_how) == (["handshake"], ["fin"])


# --------------------------------------------------------------------------- errors


def test_a_bad_filter_is_reported_with_libpcaps_reason() -> None:
    with pytest.raises(FilterError, match=r"bad capture filter 'tcp port': .*syntax error"):
        LiveCapture("lo", "tcp port")


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed")
@needs_root
@pytest.mark.parametrize("expression", ["tcp port 3040", "udp and dst host 127.0.0.1", "vlan 10"])
def test_filters_compile_to_the_same_bpf_as_tcpdump(expression: str) -> None:
    out = subprocess.run(
        ["tcpdump", "-ddd", "-y", "EN10MB", expression],
        capture_output=True, text=True, timeout=TIMEOUT, check=True,
    ).stdout.split("\n")
    expected = [tuple(int(x) for x in line.split()) for line in out[1 : 1 + int(out[0])]]
    assert list(compile_filter(expression)) == expected


def test_any_is_refused_with_the_list_of_interfaces() -> None:
    with pytest.raises(UnsupportedInterface, match=r"one interface at a time .*: lo"):
        LiveCapture("any")


def test_an_unknown_interface_lists_the_available_ones() -> None:
    names = [name for _, name in sorted(socket.if_nameindex())]
    with pytest.raises(NoSuchInterface) as info:
        LiveCapture("nosuch0")
    assert info.value.available == names
    listed = ", ".join(names)
    assert str(info.value) == f"no such interface 'nosuch0'; available interfaces: {listed}"


class CLI:
    """``python -m layerpeek …`` in a subprocess, both output streams read as they come."""

    def __init__(self, *argv: str, preexec_fn: Callable[[], None] | None = None,
                 prefix: tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "layerpeek", *argv],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=ROOT,
            preexec_fn=preexec_fn,
        )
        self._changed = threading.Condition()
        self._out = b""
        self._err = b""
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, "_out"), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, "_err"), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream: io.BufferedReader, attr: str) -> None:
        while chunk := stream.read1(65536):
            with self._changed:
                setattr(self, attr, getattr(self, attr) + chunk)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        """Wait until ``predicate()`` holds (or the process ends: then fail with its output)."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: predicate() or self.proc.poll() is not None, TIMEOUT
            )
        if not (ok and predicate()):
            self.proc.kill()
            self.finish()
            raise AssertionError(f"{what}: stdout {self._out!r}, stderr {self.stderr!r}")

    def wait_listening(self) -> None:
        self.wait_for(lambda: b"listening on" in self._err, "never started listening")

    def wait_stdout(self, text: str) -> None:
        self.wait_for(lambda: text.encode() in self._out, f"never printed {text!r}")

    def finish(self) -> tuple[int, bytes]:
        code = self.proc.wait(TIMEOUT)
        for reader in self._readers:
            reader.join(TIMEOUT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code, self._out

    @property
    def stderr(self) -> str:
        return self._err.decode()

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)


def test_cli_bad_filter_and_unknown_interface_exit_1_with_one_clear_line() -> None:
    bad = CLI("live", "-i", "lo", "-f", "tcp port")
    code, out = bad.finish()
    assert (code, out) == (1, b"")
    # libpcap's own wording (1.10: "can't parse filter expression: syntax error")
    assert re.fullmatch(r"layerpeek: bad capture filter 'tcp port': [^\n]*syntax error\n",
                        bad.stderr)

    unknown = CLI("live", "-i", "nosuch0")
    code, out = unknown.finish()
    assert (code, out) == (1, b"")
    names = ", ".join(name for _, name in sorted(socket.if_nameindex()))
    assert unknown.stderr == (
        f"layerpeek: no such interface 'nosuch0'; available interfaces: {names}\n"
    )


def _drop_to_nobody() -> None:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)  # root → nobody: the capability sets are cleared


@needs_capture
def test_an_unwritable_w_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "out.pcapng"
    cli = CLI("live", "-i", "lo", "-w", str(target), "-c", "1", "--duration", "5")
    code, out = cli.finish()
    assert (code, out) == (1, b"")
    assert cli.stderr == (f"layerpeek: {target}: cannot write: no directory "
                          f"{target.parent}\n")


def test_w_to_a_full_device_is_one_line_and_exit_1() -> None:
    cli = CLI("live", "-i", "lo", "-w", "/dev/full", "-c", "1", "--duration", "5")
    code, out = cli.finish()
    assert (code, out) == (1, b"")
    assert cli.stderr == "layerpeek: /dev/full: cannot write: No space left on device\n"


def test_w_writes_a_part_file_and_names_it_when_the_capture_stops(tmp_path: Path) -> None:
    target = tmp_path / "out.pcapng"
    cli = CLI("live", "-i", "lo", "-w", str(target), "-c", "1", "--duration", "1")
    code, _out = cli.finish()
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pcapng"]


@needs_root
@pytest.mark.parametrize("how", ["setpriv without CAP_NET_RAW", "setuid nobody"])
def test_without_cap_net_raw_the_error_says_what_to_do(how: str) -> None:
    """Privileges are dropped in the child only: root with CAP_NET_RAW removed
    from its bounding set (exactly the missing capability), or uid nobody."""
    try:
        if how.startswith("setpriv"):
            if shutil.which("setpriv") is None:
                pytest.skip("setpriv not installed")
            cli = CLI("live", "-i", "lo", "-c", "1", "--duration", "5",
                      prefix=("setpriv", "--bounding-set=-net_raw"))
        else:
            cli = CLI("live", "-i", "lo", "-c", "1", "--duration", "5",
                      preexec_fn=_drop_to_nobody)
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"cannot drop privileges here: {e}")
    code, out = cli.finish()
    if code != 1 and "Permission denied" in cli.stderr and "python" in cli.stderr:
        pytest.skip(f"the interpreter is not usable without root: {cli.stderr.strip()}")
    assert (code, out) == (1, b""), cli.stderr
    message = cli.stderr
    assert message.startswith("layerpeek: no permission to capture on 'lo': ")
    assert "CAP_NET_RAW" in message and "Run as root" in message
    assert "setcap cap_net_raw,cap_net_admin=eip" in message and "Traceback" not in message
    assert message.count("\n") == 1


def _in_new_netns(script: str) -> subprocess.CompletedProcess[str]:
    """Run a Python script as root in a fresh network namespace (only a down ``lo`` in it)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs root, unshare and ip")
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, timeout=TIMEOUT)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {probe.stderr.decode().strip()}")
    return subprocess.run(
        ["unshare", "--net", sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True, text=True, timeout=TIMEOUT, env=ENV, cwd=ROOT,
    )


def test_an_interface_that_is_down_says_how_to_bring_it_up() -> None:
    result = _in_new_netns(
        """
        from layerpeek.cli import main
        raise SystemExit(main(["live", "-i", "lo", "-c", "1"]))
        """
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        "layerpeek: interface 'lo' is down; bring it up with: ip link set lo up\n"
    )


def test_an_interface_going_down_mid_capture_ends_it_with_that_error() -> None:
    result = _in_new_netns(
        """
        import subprocess, threading
        from layerpeek.capture.live import InterfaceDown, LiveCapture
        from layerpeek.cli import main

        def down_soon():
            timer = threading.Timer(
                0.3, subprocess.run, (["ip", "link", "set", "lo", "down"],), {"check": True})
            timer.start()
            return timer

        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        with LiveCapture("lo") as cap:
            timer = down_soon()
            try:
                for _ in cap.packets(duration=30):
                    pass
            except InterfaceDown as e:
                print(e)
            timer.join()
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        timer = down_soon()
        code = main(["live", "-i", "lo", "--duration", "30"])
        timer.join()
        print("exit", code)
        """
    )
    message = "interface 'lo' is down (or went down); bring it up with: ip link set lo up"
    assert result.stdout == f"{message}\nexit 1\n", result.stderr
    assert result.stderr.endswith(
        f"layerpeek: 0 packets captured on lo, 0 dropped by the kernel\nlayerpeek: {message}\n"
    )


def test_vlan_tags_stripped_by_the_kernel_are_put_back_and_tun_gives_raw_ip() -> None:
    """A tagged frame written into a tap device reaches the tap with its tag in
    metadata (the kernel untags before the taps see it); the frame we yield
    must be byte-identical to what was written.  A tun device has no link
    header: its frames are raw IP (LINKTYPE_RAW, 101)."""
    result = _in_new_netns(
        """
        import fcntl, json, os, struct, subprocess
        from layerpeek.capture.live import LiveCapture
        TUNSETIFF, IFF_TUN, IFF_TAP, IFF_NO_PI = 0x400454CA, 1, 2, 0x1000
        ip_udp = bytes.fromhex(
            "4500001d00014000401100000a0000010a000002" "9c400009000900007a")
        tagged = bytes.fromhex("020000000002" "020000000001" "8100" "200a" "0800") + ip_udp
        out = {}
        for name, mode, frame in (("tap0", IFF_TAP, tagged), ("tun0", IFF_TUN, ip_udp)):
            fd = os.open("/dev/net/tun", os.O_RDWR)
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), mode | IFF_NO_PI))
            subprocess.run(["ip", "link", "set", name, "up"], check=True)
            with LiveCapture(name) as cap:
                os.write(fd, frame)
                got = []
                for p in cap.packets(duration=30):  # the kernel adds its own IPv6 chatter
                    if p.data.endswith(b"z"):
                        got.append(p)
                        break
                got += [p for p in cap.packets(duration=0.2) if p.data.endswith(b"z")]
            out[name] = [
                (p.data.hex(), p.wire_len, p.linktype, p.protocols, p.interface_name) for p in got]
            out[name + " sent"] = frame.hex()
            if name == "tap0":
                # Known limit (module docstring): the tag is metadata in the
                # kernel, so a "vlan" filter compiled as for a file misses it.
                with LiveCapture(name, "vlan 10") as cap:
                    os.write(fd, frame)
                    out["vlan filter"] = len(list(cap.packets(duration=0.3)))
        print(json.dumps(out))
        """
    )
    if "/dev/net/tun" in result.stderr:
        pytest.skip("no /dev/net/tun")
    out = json.loads(result.stdout or "null") if result.returncode == 0 else result.stderr
    assert isinstance(out, dict), out
    assert out["tap0"] == [[out["tap0 sent"], 47, 1, "eth:vlan:ipv4:udp:data", "tap0"]]
    assert out["tun0"] == [[out["tun0 sent"], 29, 101, "ipv4:udp:data", "tun0"]]
    assert out["vlan filter"] == 0


# --------------------------------------------------------------------------- the CLI


@needs_capture
def test_cli_shows_the_handshake_lines_and_stops_after_count() -> None:
    server = listening_socket()
    port = server.getsockname()[1]
    cli = CLI("live", "-i", "lo", "-f", f"tcp port {port}", "-c", "3", "--duration", str(TIMEOUT))
    cli.wait_listening()
    with server:
        ex = explainer_exchange(server)
    code, out = cli.finish()
    assert code == 0, cli.stderr
    lines = out.decode().splitlines()
    client = f"127.0.0.1:{ex.client_port}"
    srv = f"127.0.0.1:{port}"
    assert len(lines) == 3
    assert re.match(rf"#1 0\.000000 eth:ipv4:tcp {client} → {srv} ", lines[0])
    assert re.match(rf"#2 \d\.\d{{6}} eth:ipv4:tcp {srv} → {client} ", lines[1])
    assert re.match(rf"#3 \d\.\d{{6}} eth:ipv4:tcp {client} → {srv} ", lines[2])
    assert " [S] " in lines[0] and " [SA] " in lines[1] and " [A] " in lines[2]
    assert cli.stderr.endswith("layerpeek: 3 packets captured on lo, 0 dropped by the kernel\n")


def exchange_listed(out: bytes) -> bool:
    """Both FINs, and the packet after the second (the last ACK), are in a listing."""
    lines = out.decode().splitlines()
    fins = [i for i, line in enumerate(lines) if re.search(r" \[[A-Z]*F[A-Z]*\] seq=", line)]
    return len(fins) == 2 and fins[1] < len(lines) - 1


@needs_capture
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_cleanly_with_a_summary_and_a_complete_pcapng(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """Ctrl-C (or a SIGTERM from `timeout` or a service manager) is the normal stop."""
    out_file = tmp_path / "live.pcapng"
    server = listening_socket()
    port = server.getsockname()[1]
    cli = CLI("live", "-i", "lo", "-f", f"tcp port {port}", "-w", str(out_file),
              "--duration", str(TIMEOUT))
    cli.wait_listening()
    with server:
        explainer_exchange(server)
    # The exchange is 10 packets or more (the last is the client's ACK of the
    # server's FIN); stop once they are all shown, as a person would.
    cli.wait_for(lambda: exchange_listed(cli._out), "the exchange was not shown whole")
    cli.proc.send_signal(signum)
    code, out = cli.finish()
    assert code == 0, cli.stderr
    shown = out.decode().splitlines()
    match = re.search(r"layerpeek: (\d+) packets captured on lo, 0 dropped by the kernel\n$",
                      cli.stderr)
    assert match and int(match.group(1)) == len(shown) >= 10, cli.stderr
    with layerpeek.read(out_file) as reader:
        packets = list(reader)
        assert (reader.format, reader.problems) == ("pcapng", [])
    assert [packet_line(p, packets[0].ts_ns) for p in packets] == shown
    assert {(p.interface_name, p.linktype) for p in packets} == {("lo", 1)}
    assert "Traceback" not in cli.stderr


@needs_capture
def test_w_file_reread_equals_what_was_shown_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process: ``main()`` captures while a thread runs the exchange, watches
    the growing file, and then "presses Ctrl-C" (SIGINT to the main thread)."""
    out_file = tmp_path / "live.pcapng"
    server = listening_socket()
    port = server.getsockname()[1]
    listening = threading.Event()
    real_error = common.error

    def spy(message: str) -> None:
        real_error(message)
        if message.startswith("listening on"):
            listening.set()

    monkeypatch.setattr(common, "error", spy)
    main_thread = threading.get_ident()

    def recorded() -> list[Packet]:
        # While capturing, the file grows as live.pcapng.part (renamed at the stop).
        with layerpeek.read(out_file.with_name(out_file.name + ".part")) as reader:
            return list(reader)  # a block being written is reported as a problem, not raised

    def traffic() -> None:
        assert listening.wait(TIMEOUT)
        with server:
            explainer_exchange(server)
        # The file is flushed per packet: wait until it holds the whole
        # exchange (both FINs and the last ACK after them), then "press Ctrl-C".
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            fins = [i for i, p in enumerate(recorded()) if tcp_of(p).fin]
            if len(fins) == 2 and fins[1] < len(recorded()) - 1:
                break
            time.sleep(0.05)
        signal.pthread_kill(main_thread, signal.SIGINT)

    thread, problems = in_background(traffic)
    code = main(["live", "-i", "lo", "-f", f"tcp port {port}", "--json", "-w", str(out_file),
                 "--duration", str(TIMEOUT)])
    thread.join(TIMEOUT)
    assert not problems and code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["live.pcapng"]  # named once complete
    out, err = capsys.readouterr()
    shown = [json.loads(line) for line in out.splitlines()]
    with layerpeek.read(out_file) as reader:
        reread = [packet_to_dict(p) for p in reader]
    assert len(shown) >= 10 and reread == shown
    payload = b"".join(bytes.fromhex(d["layers"][-1].get("data", "")) for d in shown
                       if d["layers"][-1]["layer"] == "data")
    assert payload == GREETING + MESSAGE
    assert f"{len(shown)} packets captured on lo" in err


@needs_capture
def test_w_dash_writes_pcapng_to_stdout_and_lists_nothing() -> None:
    server = listening_socket()
    port = server.getsockname()[1]
    cli = CLI("live", "-i", "lo", "-w", "-", "-c", "3", "--duration", str(TIMEOUT),
              "tcp", "port", str(port))
    cli.wait_listening()
    with server:
        explainer_exchange(server)
    code, out = cli.finish()
    assert code == 0, cli.stderr
    with layerpeek.read(io.BytesIO(out)) as reader:
        packets = list(reader)
    assert [tcp_of(p).syn for p in packets] == [True, True, False]


@needs_capture
def test_handshake_option_draws_the_ladder_as_the_packets_arrive() -> None:
    server = listening_socket()
    port = server.getsockname()[1]
    cli = CLI("live", "-i", "lo", "--handshake", "-f", f"tcp port {port}",
              "--duration", str(TIMEOUT))
    cli.wait_listening()
    with server:
        ex = explainer_exchange(server)
    cli.wait_stdout("  end: ")
    cli.interrupt()
    code, out = cli.finish()
    assert code == 0, cli.stderr
    text = out.decode()
    assert text.startswith(
        f"TCP stream 0: client 127.0.0.1:{ex.client_port}, server 127.0.0.1:{port}\n"
    )
    marks = ["handshake 1/3", "handshake 2/3", "handshake 3/3", "RTT ",
             "PSH, ACK seq=1 ack=1 len=47", "PSH, ACK seq=1 ack=48 len=22",
             "teardown: client FIN", "teardown: server FIN", "TIME_WAIT", "  end: "]
    at = [text.find(mark) for mark in marks]
    assert -1 not in at and at == sorted(at), text
    assert re.search(r"\|---- SYN seq=0 len=0 -+>\| handshake 1/3", text)


@needs_capture
@pytest.mark.parametrize("json_output", [False, True])
def test_dump_dash_i_captures_live_as_tcpdump_users_type_it(json_output: bool) -> None:
    server = listening_socket()
    port = server.getsockname()[1]
    extra = ["--json"] if json_output else []
    cli = CLI("dump", "-i", "lo", *extra, "-c", "3", "tcp", "port", str(port))
    cli.wait_listening()
    with server:
        ex = explainer_exchange(server)
    code, out = cli.finish()
    assert code == 0, cli.stderr
    lines = out.decode().splitlines()
    assert len(lines) == 3
    if json_output:
        first = json.loads(lines[0])
        assert (first["index"], first["interface_name"], first["protocols"]) == (1, "lo",
                                                                                 "eth:ipv4:tcp")
        assert first["layers"][2]["src_port"] == ex.client_port
    else:
        assert lines[0].startswith(f"#1 0.000000 eth:ipv4:tcp 127.0.0.1:{ex.client_port} → ")


@pytest.mark.parametrize(
    "argv",
    [
        ["live"],  # -i is required
        ["live", "-i", "lo", "-f", "tcp", "port", "80"],  # filter given twice
        ["live", "-i", "lo", "--json", "-V"],
        ["live", "-i", "lo", "-c", "0"],
        ["live", "-i", "lo", "--duration", "-1"],
        ["live", "-i", "lo", "-w", "-", "--json"],
        ["dump", "x.pcap", "-f", "tcp", "port", "80"],  # capture filter given twice (-f and words)
        ["dump", "-i", "lo", "-r", "x.pcap"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_dump_of_a_file_does_not_load_the_live_backend(tmp_path: Path) -> None:
    """Import cost: reading files must not pay for live capture (nor for scapy)."""
    path = tmp_path / "one.pcap"
    path.write_bytes(pcap_bytes([bytes(14)]))
    code = textwrap.dedent(
        f"""
        import sys
        from layerpeek.cli import main
        assert main(["dump", {str(path)!r}]) == 0
        heavy = ("layerpeek.capture.live", "scapy")
        print(sorted(m for m in heavy if m in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=ENV, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"

