"""A TLS 1.2 client that resumes its sessions, both ways TLS 1.2 allows (for tls12_resumed).

``python3 tls_client.py resume --connect 127.0.0.1:8443 --server-name example.test
--cafile ca.pem --keylog FILE --local-port 41470`` makes four HTTPS connections
with Python's ``ssl`` (TLS 1.2 at most, ``keylog_filename`` writing the NSS key
log), one ``GET`` each with ``Connection: close``:

1. a full handshake, the server giving a session ticket (RFC 5077);
2. resumed with that ticket (``session=`` the first connection's session);
3. a full handshake without tickets (``OP_NO_TICKET``): the server keeps the
   session in its cache under a session id;
4. resumed by that session id.

It checks ``SSLSocket.session_reused`` for each and exits non-zero if the
server did not do what the scenario needs.  Client ports are ``--local-port``
and the three after it.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys

PATHS = ("/index.html", "/style.css", "/logo.png", "/data.json")


def fetch(ctx: ssl.SSLContext, host: str, port: int, name: str, local_port: int, path: str,
          session: ssl.SSLSession | None) -> tuple[ssl.SSLSession | None, bool]:
    raw = socket.create_connection((host, port), source_address=(host, local_port))
    with ctx.wrap_socket(raw, server_hostname=name, session=session) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {name}:{port}\r\n"
                    "User-Agent: layerpeek-tls-client/1.0\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        if not answer.startswith(b"HTTP/1.1 200 "):
            raise SystemExit(f"{path}: unexpected answer {answer[:40]!r}")
        return tls.session, tls.session_reused


def resume(connect: str, name: str, cafile: str, keylog: str, local_port: int) -> None:
    host, _, port_text = connect.rpartition(":")
    port = int(port_text)
    results = []
    for n, tickets in enumerate((True, False)):
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.keylog_filename = keylog
        if not tickets:
            ctx.options |= ssl.OP_NO_TICKET
        session, reused = fetch(ctx, host, port, name, local_port + 2 * n, PATHS[2 * n], None)
        results.append(reused)
        _, reused = fetch(ctx, host, port, name, local_port + 2 * n + 1, PATHS[2 * n + 1],
                          session)
        results.append(reused)
    if results != [False, True, False, True]:
        raise SystemExit(f"session_reused per connection: {results} (wanted full, resumed, "
                         "full, resumed)")
    print("full, resumed (ticket), full, resumed (session id)")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("resume")
    p.add_argument("--connect", default="127.0.0.1:8443")
    p.add_argument("--server-name", default="example.test")
    p.add_argument("--cafile", required=True)
    p.add_argument("--keylog", required=True)
    p.add_argument("--local-port", type=int, default=41470)
    args = ap.parse_args(argv)
    resume(args.connect, args.server_name, args.cafile, args.keylog, args.local_port)


if __name__ == "__main__":
    main(sys.argv[1:])
