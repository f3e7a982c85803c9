"""The TCP programs of the captures: the explainer's port-3040 demo and the ways a
connection can end.  ``python3 demo_tcp.py NAME [options]``; servers print ``ready``
once they listen and serve exactly one connection.

* ``greeting-server`` / ``greeting-client``: the explainer's demo.  The server greets,
  the client sends a message, the server answers ("You said: ..."), the client
  closes; the server closes 250 ms after it read the end of the stream, so the
  teardown shows as four separate segments (FIN, ACK, FIN, ACK): the server's
  kernel acknowledges the client's FIN with a delayed ACK (40 ms) long before
  the server's own FIN leaves.
* ``refused-client``: connects to a port nobody listens on (SYN answered by RST).
* ``flood-server`` / ``abort-client``: the server sends 400 kB; the client reads
  about 20 kB and closes with unread data in its receive queue, which makes Linux
  abort the connection with RST (RFC 2525, section 2.17) instead of a FIN.
* ``half-close-server`` / ``half-close-client``: the client sends its request and
  shuts down its sending side (FIN); the server still answers in three parts
  over 60 ms, then closes.
* ``sink-server`` / ``upload-client``: the bulk upload of the loss capture.
* ``simultaneous-close``: both ends of one connection close at the same instant;
  run in the root namespace, it puts each end in its own namespace (see there).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import threading
import time

GREETING = b"Welcome to the layerpeek demo server on port 3040!\n"
MESSAGE = b"Hello server, this is the client speaking.\n"


def family_of(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listen(host: str, port: int) -> socket.socket:
    srv = socket.socket(family_of(host), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(8)
    print("ready", flush=True)
    return srv


def connect(host: str, port: int, local_port: int = 0, rcvbuf: int = 0) -> socket.socket:
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if local_port:
        s.bind(("", local_port))  # any local address, fixed port
    s.connect((host, port))
    return s


def read_line(s: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        more = s.recv(4096)
        if not more:
            break
        data += more
    return data


def greeting_server(host: str, port: int) -> None:
    srv = listen(host, port)
    conn, _ = srv.accept()
    srv.close()
    conn.sendall(GREETING)
    message = read_line(conn)
    conn.sendall(b"You said: " + message)
    while conn.recv(4096):
        pass
    time.sleep(0.25)
    conn.close()


def greeting_client(host: str, port: int, local_port: int) -> None:
    s = connect(host, port, local_port)
    assert read_line(s) == GREETING
    time.sleep(0.02)
    s.sendall(MESSAGE)
    assert read_line(s) == b"You said: " + MESSAGE
    time.sleep(0.02)
    s.close()


def refused_client(host: str, port: int, times: int) -> None:
    for i in range(times):
        try:
            connect(host, port).close()
        except ConnectionRefusedError:
            pass
        else:
            raise SystemExit(f"port {port} unexpectedly accepted")
        if i + 1 < times:
            time.sleep(0.1)


def flood_server(host: str, port: int) -> None:
    from content import pseudo_random

    srv = listen(host, port)
    conn, _ = srv.accept()
    srv.close()
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
        conn.sendall(pseudo_random(400_000, b"layerpeek flood"))
    conn.close()


def abort_client(host: str, port: int, local_port: int) -> None:
    s = connect(host, port, local_port, rcvbuf=32768)
    got = 0
    while got < 20_000:
        data = s.recv(min(4096, 20_000 - got))
        assert data
        got += len(data)
    time.sleep(0.05)  # more data arrives meanwhile and stays unread
    s.close()  # unread data: RST, not FIN


def half_close_server(host: str, port: int) -> None:
    srv = listen(host, port)
    conn, _ = srv.accept()
    srv.close()
    request = b""
    while True:
        data = conn.recv(4096)
        if not data:
            break  # the client's FIN: it will send no more, but still reads
        request += data
    for i in range(3):
        time.sleep(0.03)
        conn.sendall(f"answer part {i + 1} of 3, sent after your FIN\n".encode())
    conn.close()


def half_close_client(host: str, port: int, local_port: int) -> None:
    s = connect(host, port, local_port)
    s.sendall(b"here is my whole request; I will send nothing more\n")
    s.shutdown(socket.SHUT_WR)
    received = b""
    while True:
        data = s.recv(4096)
        if not data:
            break
        received += data
    assert received.count(b"\n") == 3, received
    s.close()


def sink_server(host: str, port: int) -> None:
    """Read everything until the sender's FIN, report the byte count, close."""
    srv = listen(host, port)
    conn, _ = srv.accept()
    srv.close()
    total = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        total += len(data)
    conn.close()
    print(f"received {total}", flush=True)


def upload_client(host: str, port: int, local_port: int, size: int) -> None:
    from content import pseudo_random

    s = connect(host, port, local_port)
    s.sendall(pseudo_random(size, b"layerpeek upload"))
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()


def simultaneous_close(
    client_ns: str, server_ns: str, host: str, port: int, local_port: int
) -> None:
    """Both ends call close() at the same moment; their FINs cross on the wire.

    The two ends live in two namespaces joined by relay.py with a 20 ms one-way
    delay.  One process, two threads: each thread setns()es into its namespace
    before making its socket, and a barrier releases both close() calls
    together, so each FIN is sent before the other arrives (both ends go
    FIN_WAIT_1 -> CLOSING -> TIME_WAIT, RFC 793 figure 14).  On plain loopback
    a FIN is delivered within microseconds, too fast to cross reliably.
    """
    from netlab import enter_netns

    ready = threading.Event()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def server() -> None:
        try:
            enter_netns(server_ns)
            srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind((host, port))
            srv.listen(1)
            ready.set()
            conn, _ = srv.accept()
            srv.close()
            conn.sendall(GREETING)
            conn.sendall(b"You said: " + read_line(conn))
            barrier.wait(5)
            conn.close()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()

    def client() -> None:
        try:
            enter_netns(client_ns)
            ready.wait(5)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("0.0.0.0", local_port))
            s.connect((host, port))
            assert read_line(s) == GREETING
            s.sendall(MESSAGE)
            read_line(s)
            time.sleep(0.1)  # every ACK delivered: only the FINs are in flight at the close
            barrier.wait(5)
            s.close()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=server), threading.Thread(target=client)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    if errors:
        raise errors[0]


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3040)
    ap.add_argument("--local-port", type=int, default=0)
    ap.add_argument("--times", type=int, default=2)
    ap.add_argument("--bytes", type=int, default=200_000)
    ap.add_argument("--client-ns", default="")
    ap.add_argument("--server-ns", default="")
    a = ap.parse_args(argv)
    servers = {
        "greeting-server": greeting_server,
        "flood-server": flood_server,
        "half-close-server": half_close_server,
        "sink-server": sink_server,
    }
    clients = {
        "greeting-client": greeting_client,
        "abort-client": abort_client,
        "half-close-client": half_close_client,
    }
    if a.name in servers:
        servers[a.name](a.host, a.port)
    elif a.name in clients:
        clients[a.name](a.host, a.port, a.local_port)
    elif a.name == "refused-client":
        refused_client(a.host, a.port, a.times)
    elif a.name == "upload-client":
        upload_client(a.host, a.port, a.local_port, a.bytes)
    elif a.name == "simultaneous-close":
        simultaneous_close(a.client_ns, a.server_ns, a.host, a.port, a.local_port)
    else:
        raise SystemExit(f"unknown program {a.name}")


if __name__ == "__main__":
    main(sys.argv[1:])
