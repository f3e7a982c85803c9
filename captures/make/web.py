"""The demo web server and the small HTTP clients whose traffic the captures record.

Server: ``python3 web.py serve --listen 127.0.0.1:8080 [--listen [::1]:8000 ...]``
prints ``ready`` once every socket listens, then serves until SIGTERM.  It is
``http.server`` underneath (threaded, HTTP/1.1, keep-alive and sequential
handling of pipelined requests come from there) with routes of our own:

* ``/index.html`` (also ``/``), ``/style.css``, ``/logo.png``, ``/data.json``,
  ``/large.bin``: the fixed files of ``content.py``, with an ETag; a matching
  ``If-None-Match`` gets 304; ``/data.json`` is gzipped for clients that accept it;
* ``/empty``: 204; ``/chunked``: a chunked body with a chunk extension and a trailer;
* ``/bytes/N``: N reproducible bytes (the benchmark capture's varied sizes);
* ``POST /submit`` (201) and ``POST /upload`` (200) answer with the size and sha256
  of what they received; anything else is 404.

The clock in the ``Date`` header is pinned, so a regenerated capture carries the
same header bytes.  Responses are written with one ``send`` each where they fit
in the buffer (headers and a small body in one segment, as most servers do);
the chunked one is flushed chunk by chunk.

Clients (``python3 web.py NAME ...``): ``pipelined``, ``status-mix``,
``rst-cut`` and ``browser``; see each function.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html.parser
import http.client
import http.server
import io
import signal
import socket
import struct
import sys
import threading
import time
from types import FrameType
from urllib.parse import urljoin, urlsplit

import content

PINNED_DATE = "Wed, 25 Nov 2026 12:00:00 GMT"


class DemoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "layerpeek-demo/1.0"
    sys_version = ""
    # Buffered writes: headers and a small body leave in one send().
    wbufsize = 65536

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the capture is the log."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        return PINNED_DATE

    def _finish_headers(self) -> None:
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def _simple(
        self, status: int, body: bytes, kind: str = "text/plain", head: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self._finish_headers()
        if not head:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._get(head=False)

    def do_HEAD(self) -> None:
        self._get(head=True)

    def _get(self, head: bool) -> None:
        path = urlsplit(self.path).path
        if path == "/":
            path = "/index.html"
        if path == "/empty":
            self.send_response(204)
            self._finish_headers()
            return
        if path == "/chunked":
            self._chunked(head)
            return
        if path.startswith("/bytes/") and path[7:].isdigit():
            size = int(path[7:])
            self._simple(
                200, content.pseudo_random(size, b"bytes"), "application/octet-stream", head
            )
            return
        entry = content.FILES.get(path)
        if entry is None:
            self._simple(404, b"404: no such page on the layerpeek demo server\n", head=head)
            return
        kind, body = entry
        tag = content.etag(body)
        if self.headers.get("If-None-Match") == tag:
            self.send_response(304)
            self.send_header("ETag", tag)
            self._finish_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("ETag", tag)
        if path == "/data.json" and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=6, mtime=0)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self._finish_headers()
        if not head:
            self.wfile.write(body)

    def _chunked(self, head: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Trailer", "X-Body-SHA256")
        self._finish_headers()
        self.wfile.flush()
        if head:
            return
        for i, chunk in enumerate(content.CHUNKS):
            time.sleep(0.02)
            ext = ";note=extension" if i == 2 else ""
            self.wfile.write(f"{len(chunk):x}{ext}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        digest = hashlib.sha256(b"".join(content.CHUNKS)).hexdigest()
        time.sleep(0.02)
        self.wfile.write(b"0\r\nX-Body-SHA256: " + digest.encode() + b"\r\n\r\n")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length)
        if path not in ("/submit", "/upload"):
            self._simple(404, b"404: no such page on the layerpeek demo server\n")
            return
        reply = f"received {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}\n"
        self._simple(201 if path == "/submit" else 200, reply.encode())


def parse_listen(spec: str) -> tuple[int, str, int]:
    """``127.0.0.1:8080`` or ``[::1]:8080`` -> (family, host, port)."""
    host, _, port = spec.rpartition(":")
    if host.startswith("["):
        return socket.AF_INET6, host[1:-1], int(port)
    return socket.AF_INET, host, int(port)


def serve(listen: list[str]) -> None:
    servers: list[http.server.ThreadingHTTPServer] = []
    for spec in listen:
        family, host, port = parse_listen(spec)

        class Server(http.server.ThreadingHTTPServer):
            address_family = family
            allow_reuse_address = True
            daemon_threads = True
            request_queue_size = 128

        servers.append(Server((host, port), DemoHandler))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print("ready", flush=True)
    stop.wait()
    for s in servers:
        s.shutdown()
        s.server_close()


# --------------------------------------------------------------------------- clients


def connect(host: str, port: int, local_port: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    if local_port:
        s.bind(("", local_port))  # any local address, fixed port
    s.connect((host, port))
    return s


def read_response(f: io.BufferedIOBase, head: bool = False) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response from a binary file object (client side)."""
    rd = f.readline
    status = int(rd().split()[1])
    headers: dict[str, str] = {}
    while True:
        line = rd()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if head or status in (204, 304) or status < 200:
        return status, headers, b""
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int(rd().split(b";")[0], 16)
            if size == 0:
                while rd() not in (b"\r\n", b""):
                    pass
                return status, headers, body
            body += f.read(size)
            rd()
    return status, headers, f.read(int(headers.get("content-length", "0")))


def pipelined(host: str, port: int, local_port: int) -> None:
    """Three requests in ONE write; the last asks the server to close after answering.

    The server reads them from its buffer one after the other and answers in
    order; the client reads the three responses, then sees the server's FIN.
    """
    s = connect(host, port, local_port)
    reqs = [
        ("/style.css", ""),
        ("/logo.png", ""),
        ("/no-such-page", "Connection: close\r\n"),
    ]
    s.sendall(
        b"".join(
            f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: layerpeek-pipeline/1.0\r\n"
            f"{extra}\r\n".encode()
            for p, extra in reqs
        )
    )
    f = s.makefile("rb")
    statuses = [read_response(f)[0] for _ in reqs]
    assert statuses == [200, 200, 404], statuses
    assert f.read() == b""  # the server's FIN
    f.close()
    s.close()


def status_mix(host: str, port: int, local_port: int) -> None:
    """One keep-alive connection (``http.client``): 204, 304, 404 and a HEAD."""
    conn = http.client.HTTPConnection(host, port, source_address=(host, local_port))
    tag = content.etag(content.CSS)
    plan = [
        ("GET", "/empty", {}, 204),
        ("GET", "/style.css", {"If-None-Match": tag}, 304),
        ("GET", "/no-such-page", {}, 404),
        ("HEAD", "/index.html", {}, 200),
    ]
    for method, path, headers, want in plan:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == want, (path, resp.status)
        time.sleep(0.01)
    conn.close()


def rst_cut(host: str, port: int, local_port: int) -> None:
    """GET /large.bin, read about 30 kB, then abort: SO_LINGER 0 makes close() send RST."""
    s = connect(host, port, local_port)
    s.sendall(f"GET /large.bin HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    got = 0
    while got < 30_000:
        data = s.recv(4096)
        assert data
        got += len(data)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        want = {"link": "href", "img": "src", "script": "src"}.get(tag)
        for name, value in attrs:
            if name == want and value:
                self.links.append(value)


def browser(url: str) -> None:
    """A tiny browser: resolve the name (the system resolver, so a real DNS query),
    connect, GET the page, GET what it references on the same connection, close."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    conn = http.client.HTTPConnection(host, port)  # getaddrinfo() happens in connect()
    headers = {"User-Agent": "layerpeek-browser/1.0", "Accept": "*/*"}
    conn.request("GET", parts.path or "/", headers=headers)
    resp = conn.getresponse()
    page = resp.read()
    assert resp.status == 200
    parser = _Links()
    parser.feed(page.decode())
    for link in parser.links:
        conn.request("GET", urlsplit(urljoin(url, link)).path, headers=headers)
        sub = conn.getresponse()
        sub.read()
        assert sub.status == 200, link
    conn.close()


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--listen", action="append", required=True)
    for name in ("pipelined", "status-mix", "rst-cut"):
        p = sub.add_parser(name)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8080)
        p.add_argument("--local-port", type=int, default=0)
    p = sub.add_parser("browser")
    p.add_argument("url")
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        serve(args.listen)
    elif args.cmd == "browser":
        browser(args.url)
    else:
        fn = {"pipelined": pipelined, "status-mix": status_mix, "rst-cut": rst_cut}[args.cmd]
        fn(args.host, args.port, args.local_port)


if __name__ == "__main__":
    main(sys.argv[1:])
