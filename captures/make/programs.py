"""The real programs whose traffic the project's captures record.

Each scenario is a small server and client run inside a fresh network
namespace by ``make_all.py`` while tcpdump listens on its loopback.  They are
written for this project (after the explainer's socket demos: a TCP server on
port 3040 that greets its client, a UDP server on port 12345), deterministic
in content, and bounded in time.

Run one by hand (as root, inside a namespace): ``python3 programs.py greeting``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable

GREETING = b"Welcome to the layerpeek demo server on port 3040!\n"
MESSAGE = b"Hello server, this is the client speaking.\n"


def serve_once(
    family: int, addr: str, port: int, handler: Callable[[socket.socket], None]
) -> threading.Thread:
    """Listen, accept one connection in a thread, run ``handler`` on it."""
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(8)

    def run() -> None:
        conn, _ = srv.accept()
        try:
            handler(conn)
        finally:
            srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def greeting_exchange(family: int = socket.AF_INET, addr: str = "127.0.0.1") -> None:
    """The explainer's TCP demo: greet, receive a message, echo it back, close.

    The client closes first; the server waits briefly after reading EOF before
    closing, so the teardown shows as four separate segments: FIN, ACK, FIN, ACK.
    """

    def server(conn: socket.socket) -> None:
        conn.sendall(GREETING)
        data = conn.recv(4096)
        conn.sendall(b"You said: " + data)
        while conn.recv(4096):
            pass
        time.sleep(0.05)
        conn.close()

    t = serve_once(family, addr, 3040, server)
    cli = socket.socket(family, socket.SOCK_STREAM)
    cli.connect((addr, 3040))
    assert cli.recv(4096) == GREETING
    time.sleep(0.02)
    cli.sendall(MESSAGE)
    cli.recv(4096)
    time.sleep(0.02)
    cli.close()
    t.join(5)


def udp_12345() -> None:
    """The explainer's UDP demo: a server on 12345 answers each datagram."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 12345))

    def run() -> None:
        for _ in range(3):
            data, peer = srv.recvfrom(2048)
            srv.sendto(b"ECHO " + data.upper(), peer)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(3):
        cli.sendto(f"datagram {i + 1} to the udp demo".encode(), ("127.0.0.1", 12345))
        cli.recvfrom(2048)
        time.sleep(0.01)
    t.join(5)


# --------------------------------------------------------------------------- HTTP

PAGE = (
    b"<!doctype html>\n<html><head><title>layerpeek demo</title>"
    b'<link rel="stylesheet" href="/style.css"></head>\n<body><h1>Layers all the way down'
    b'</h1><img src="/logo.png" alt="logo"></body></html>\n'
)
CSS = b"body { font-family: sans-serif; margin: 2em; }\nh1 { color: #246; }\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db40000000049454e44ae426082"
)
JSON = b'{"layers": ["ethernet", "ipv4", "tcp", "http"], "demo": true}\n' * 40
LARGE = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(200_000))
FILES = {
    "/": PAGE,
    "/index.html": PAGE,
    "/style.css": CSS,
    "/logo.png": PNG,
    "/data.json": JSON,
    "/large.bin": LARGE,
}
TYPES = {
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
    ".bin": "application/octet-stream",
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "layerpeek-demo/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _type(self) -> str:
        for ext, kind in TYPES.items():
            if self.path.endswith(ext):
                return kind
        return "text/html"

    def do_HEAD(self) -> None:
        self._get(head=True)

    def do_GET(self) -> None:
        self._get(head=False)

    def _get(self, head: bool) -> None:
        if self.path == "/empty":
            self.send_response(204)
            self.end_headers()
            return
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Checksum")
            self.end_headers()
            body = b""
            for i in range(4):
                chunk = f"chunk {i}: the body arrives in pieces\n".encode()
                body += chunk
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
                time.sleep(0.01)
            digest = hashlib.sha256(body).hexdigest()
            self.wfile.write(b"0\r\nX-Checksum: " + digest.encode() + b"\r\n\r\n")
            return
        body = FILES.get(self.path)
        if body is None:
            msg = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            if not head:
                self.wfile.write(msg)
            return
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        if "gzip" in (self.headers.get("Accept-Encoding") or "") and self.path.endswith(".json"):
            payload = gzip.compress(body, mtime=0)
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
        else:
            payload = body
            self.send_response(200)
        self.send_header("Content-Type", self._type())
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("ETag", etag)
        self.end_headers()
        if not head:
            self.wfile.write(payload)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length)
        reply = (
            b"received "
            + str(len(data)).encode()
            + b" bytes: "
            + hashlib.sha256(data).hexdigest().encode()
            + b"\n"
        )
        self.send_response(201)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def http_server(addr: str = "127.0.0.1", port: int = 8080) -> http.server.ThreadingHTTPServer:
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET

    class Server(http.server.ThreadingHTTPServer):
        address_family = family
        allow_reuse_address = True

    srv = Server((addr, port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def request(sock: socket.socket, raw: bytes) -> None:
    sock.sendall(raw)


def read_response(f, method: str = "GET") -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    """Read one response from a socket file (client side of our own programs)."""
    status = int(f.readline().split()[1])
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return status, b""
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b""):
                    pass
                return status, body
            body += f.read(size)
            f.readline()
    return status, f.read(int(headers.get("content-length", 0)))


def get(path: str, host: str = "127.0.0.1", port: int = 8080, extra: str = "") -> tuple[int, bytes]:
    with socket.create_connection((host, port)) as s:
        hh = f"[{host}]" if ":" in host else host
        s.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {hh}:{port}\r\nUser-Agent: layerpeek-demo\r\n"
            f"{extra}Connection: close\r\n\r\n".encode()
        )
        return read_response(s.makefile("rb"))


def http_get_post() -> None:
    srv = http_server()
    get("/index.html")
    time.sleep(0.05)
    form = b"name=layerpeek&layer=tcp&message=hello+from+the+client"
    with socket.create_connection(("127.0.0.1", 8080)) as s:
        s.sendall(
            b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: layerpeek-demo\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
            + str(len(form)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + form
        )
        read_response(s.makefile("rb"))
    time.sleep(0.05)
    srv.shutdown()


def http_keepalive() -> None:
    srv = http_server()
    with socket.create_connection(("127.0.0.1", 8080)) as s:
        f = s.makefile("rb")
        for path in ("/index.html", "/style.css", "/logo.png", "/data.json"):
            s.sendall(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                "User-Agent: layerpeek-demo\r\n\r\n".encode()
            )
            read_response(f)
            time.sleep(0.01)
    time.sleep(0.05)
    srv.shutdown()


def http_pipelined() -> None:
    srv = http_server()
    with socket.create_connection(("127.0.0.1", 8080)) as s:
        reqs = b"".join(
            f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n".encode()
            for p in ("/style.css", "/logo.png", "/missing")
        )
        s.sendall(reqs)  # three requests in one write
        f = s.makefile("rb")
        for _ in range(3):
            read_response(f)
    time.sleep(0.05)
    srv.shutdown()


def http_chunked() -> None:
    srv = http_server()
    get("/chunked")
    time.sleep(0.05)
    srv.shutdown()


def http_gzip() -> None:
    srv = http_server()
    get("/data.json", extra="Accept-Encoding: gzip\r\n")
    time.sleep(0.05)
    srv.shutdown()


def http_status_mix() -> None:
    srv = http_server()
    etag = '"' + hashlib.sha256(CSS).hexdigest()[:16] + '"'
    with socket.create_connection(("127.0.0.1", 8080)) as s:
        f = s.makefile("rb")
        for method, path, extra in (
            ("GET", "/empty", ""),
            ("GET", "/style.css", f"If-None-Match: {etag}\r\n"),
            ("GET", "/nothing-here", ""),
            ("HEAD", "/index.html", ""),
        ):
            s.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n{extra}\r\n".encode())
            read_response(f, method)
    time.sleep(0.05)
    srv.shutdown()


def http_large_body() -> None:
    srv = http_server()
    get("/large.bin")
    time.sleep(0.05)
    srv.shutdown()


def http_rst_cut() -> None:
    """The client reads part of a large body, then aborts with RST (SO_LINGER 0)."""
    srv = http_server()
    s = socket.create_connection(("127.0.0.1", 8080))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.sendall(b"GET /large.bin HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
    got = 0
    while got < 30000:
        got += len(s.recv(4096))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    time.sleep(0.1)
    srv.shutdown()


# --------------------------------------------------------------------------- DNS

ZONE_A = {"example.test": "127.0.0.1", "www.example.test": None, "cdn.example.test": "127.0.0.1"}
ZONE_AAAA = {"example.test": "::1"}
CNAMES = {"www.example.test": "cdn.example.test"}


def _qname(msg: bytes, pos: int) -> tuple[str, int]:
    labels = []
    while msg[pos]:
        n = msg[pos]
        labels.append(msg[pos + 1 : pos + 1 + n].decode())
        pos += 1 + n
    return ".".join(labels), pos + 1


def _encode(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\x00"


def dns_answer(query: bytes) -> bytes:
    """Answer a query from the tiny zone: A/AAAA, a CNAME chain, NXDOMAIN otherwise."""
    ident, flags = struct.unpack_from("!HH", query)
    name, pos = _qname(query, 12)
    qtype = struct.unpack_from("!H", query, pos)[0]
    question = query[12 : pos + 4]
    answers = []
    rcode = 0
    target = name
    if target in CNAMES:
        answers.append(
            b"\xc0\x0c"
            + struct.pack("!HHIH", 5, 1, 300, len(_encode(CNAMES[target])))
            + _encode(CNAMES[target])
        )
        target = CNAMES[target]
    if qtype == 1 and ZONE_A.get(target):
        answers.append(
            _encode(target) + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(ZONE_A[target])
        )  # type: ignore[arg-type]
    elif qtype == 28 and target in ZONE_AAAA:
        answers.append(
            _encode(target)
            + struct.pack("!HHIH", 28, 1, 300, 16)
            + socket.inet_pton(socket.AF_INET6, ZONE_AAAA[target])
        )
    if name not in ZONE_A and name not in ZONE_AAAA:
        rcode = 3
    head = struct.pack("!HHHHHH", ident, 0x8180 | (flags & 0x0100) | rcode, 1, len(answers), 0, 0)
    return head + question + b"".join(answers)


def dns_server(stop: threading.Event) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 53))
    udp.settimeout(0.1)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", 53))
    tcp.listen(4)
    tcp.settimeout(0.1)
    while not stop.is_set():
        try:
            q, peer = udp.recvfrom(2048)
            udp.sendto(dns_answer(q), peer)
        except TimeoutError:
            pass
        try:
            conn, _ = tcp.accept()
        except TimeoutError:
            continue
        with conn:
            n = struct.unpack("!H", conn.recv(2))[0]
            q = b""
            while len(q) < n:
                q += conn.recv(n - len(q))
            a = dns_answer(q)
            conn.sendall(struct.pack("!H", len(a)) + a)


def dns_query(name: str, qtype: int, ident: int, tcp: bool = False) -> bytes:
    q = (
        struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
        + _encode(name)
        + struct.pack("!HH", qtype, 1)
    )
    if tcp:
        with socket.create_connection(("127.0.0.1", 53)) as s:
            s.sendall(struct.pack("!H", len(q)) + q)
            n = struct.unpack("!H", s.recv(2))[0]
            data = b""
            while len(data) < n:
                data += s.recv(n)
            return data
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(q, ("127.0.0.1", 53))
    return s.recvfrom(2048)[0]


def with_dns(body: Callable[[], None]) -> None:
    stop = threading.Event()
    t = threading.Thread(target=dns_server, args=(stop,), daemon=True)
    t.start()
    time.sleep(0.1)
    try:
        body()
    finally:
        stop.set()
        t.join(2)


def dns_scenario() -> None:
    def body() -> None:
        dns_query("example.test", 1, 0x1001)
        dns_query("example.test", 28, 0x1002)
        dns_query("www.example.test", 1, 0x1003)
        dns_query("missing.example.test", 1, 0x1004)
        dns_query("example.test", 1, 0x1005, tcp=True)

    with_dns(body)


def page_load() -> None:
    """The explainer's six steps: resolve, connect, request, answer, more requests, done."""

    def body() -> None:
        answer = dns_query("www.example.test", 1, 0x2001)
        address = socket.inet_ntoa(answer[-4:])
        srv = http_server()
        with socket.create_connection((address, 8080)) as s:
            f = s.makefile("rb")
            for path in ("/index.html", "/style.css", "/logo.png"):
                s.sendall(
                    f"GET {path} HTTP/1.1\r\nHost: www.example.test:8080\r\n"
                    "User-Agent: layerpeek-demo\r\n\r\n".encode()
                )
                read_response(f)
        time.sleep(0.05)
        srv.shutdown()

    with_dns(body)


# --------------------------------------------------------------------------- TCP endings


def refused() -> None:
    for _ in range(2):
        with contextlib.suppress(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", 3041), timeout=1).close()
        time.sleep(0.02)


def rst_midtransfer() -> None:
    """The server sends 300 kB; the client reads some and closes with unread data: RST."""

    def server(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(LARGE + LARGE)
        conn.close()

    t = serve_once(socket.AF_INET, "127.0.0.1", 3040, server)
    cli = socket.create_connection(("127.0.0.1", 3040))
    cli.recv(20000)
    time.sleep(0.05)
    cli.close()  # unread data in the receive queue: Linux answers with RST
    t.join(5)


def half_close() -> None:
    """The client shuts down its sending side; the server keeps talking, then closes."""

    def server(conn: socket.socket) -> None:
        request = b""
        while True:
            data = conn.recv(4096)
            if not data:
                break
            request += data
        for i in range(3):
            conn.sendall(f"reply part {i + 1} after your FIN\n".encode())
            time.sleep(0.03)
        conn.close()

    t = serve_once(socket.AF_INET, "127.0.0.1", 3040, server)
    cli = socket.create_connection(("127.0.0.1", 3040))
    cli.sendall(b"request, then I stop sending\n")
    cli.shutdown(socket.SHUT_WR)
    while cli.recv(4096):
        pass
    cli.close()
    t.join(5)


def bulk_receiver(port: int = 5001) -> None:
    """Server side of the loss capture: read everything, then close."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    conn, _ = srv.accept()
    while conn.recv(65536):
        pass
    conn.close()


def bulk_sender(addr: str, port: int = 5001) -> None:
    s = socket.create_connection((addr, port), timeout=20)
    s.sendall(LARGE)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()


SCENARIOS: dict[str, Callable[[], None]] = {
    "greeting": greeting_exchange,
    "greeting6": lambda: greeting_exchange(socket.AF_INET6, "::1"),
    "udp": udp_12345,
    "http_get_post": http_get_post,
    "http_keepalive": http_keepalive,
    "http_pipelined": http_pipelined,
    "http_chunked": http_chunked,
    "http_gzip": http_gzip,
    "http_status_mix": http_status_mix,
    "http_large_body": http_large_body,
    "http_rst_cut": http_rst_cut,
    "dns": dns_scenario,
    "page_load": page_load,
    "refused": refused,
    "rst_midtransfer": rst_midtransfer,
    "half_close": half_close,
    "bulk_receiver": bulk_receiver,
}

if __name__ == "__main__":
    name = sys.argv[1]
    if name == "bulk_sender":
        bulk_sender(sys.argv[2])
    else:
        SCENARIOS[name]()
