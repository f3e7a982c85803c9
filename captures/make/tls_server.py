"""The demo web server over TLS, and the certificates it presents.

``python3 tls_server.py certs DIR`` writes a small CA (``ca.pem``) and a
certificate for ``example.test`` (SAN ``example.test``, ``www.example.test``,
``127.0.0.1``) signed by it (``server.pem``, ``server.key``), made with
``cryptography`` afresh each time.

``python3 tls_server.py serve --listen 127.0.0.1:8443 --certs DIR --keylog FILE
[--max-version 1.2] [--ciphers SPEC]`` serves ``web.py``'s routes over TLS with
Python's ``ssl`` module, writing the session secrets to FILE in the NSS key log
format (``SSLContext.keylog_filename``), prints ``ready``, and serves until
SIGTERM.  ALPN offers ``http/1.1`` only.  ``--close-notify`` ends each
connection with a TLS close_notify (``unwrap()``) before closing the socket:
OpenSSL drops a session from its cache when the connection ends without one,
so resumption by session id needs it (tickets do not).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.server
import ipaddress
import signal
import ssl
import sys
import threading
from pathlib import Path
from types import FrameType

import web


def certs(out: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    out.mkdir(parents=True, exist_ok=True)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    end = datetime.datetime(2036, 1, 1, tzinfo=datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "layerpeek demo"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "layerpeek demo CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(0x1A7E)
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "layerpeek demo"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "example.test")])
    san = x509.SubjectAlternativeName([x509.DNSName("example.test"),
                                       x509.DNSName("www.example.test"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(0x5E4F)
            .not_valid_before(start).not_valid_after(end)
            .add_extension(san, critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (out / "ca.pem").write_bytes(ca.public_bytes(pem))
    (out / "server.pem").write_bytes(cert.public_bytes(pem) + ca.public_bytes(pem))
    (out / "server.key").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


#: OpenSSL's SSL_OP_NO_ENCRYPT_THEN_MAC (Python's ssl has no name for it).
OP_NO_ENCRYPT_THEN_MAC = 1 << 19


def serve(listen: str, cert_dir: Path, keylog: str, max_version: str | None,
          ciphers: str | None, etm: bool = True, curve: str | None = None,
          close_notify: bool = False) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_dir / "server.pem", cert_dir / "server.key")
    ctx.keylog_filename = keylog
    ctx.set_alpn_protocols(["http/1.1"])
    if max_version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if ciphers:
        ctx.set_ciphers(ciphers)
    if not etm:  # CBC suites then MAC before encrypting (RFC 5246), not after (RFC 7366)
        ctx.options |= OP_NO_ENCRYPT_THEN_MAC
    if curve:  # one group only: a client whose first key share is another gets a HelloRetryRequest
        ctx.set_ecdh_curve(curve)
    family, host, port = web.parse_listen(listen)

    class Server(http.server.ThreadingHTTPServer):
        address_family = family
        allow_reuse_address = True
        daemon_threads = True

        def get_request(self):  # type: ignore[no-untyped-def]
            sock, addr = self.socket.accept()
            return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

        def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
            """Quiet: a client that rejects our certificate is one of the scenarios."""

        def shutdown_request(self, request):  # type: ignore[no-untyped-def]
            if close_notify:
                with contextlib.suppress(OSError, ValueError):  # the client went first, or left
                    request.unwrap()
            super().shutdown_request(request)

    server = Server((host, port), web.DemoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print("ready", flush=True)
    stop.wait()
    server.shutdown()
    server.server_close()


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("certs")
    p.add_argument("dir", type=Path)
    p = sub.add_parser("serve")
    p.add_argument("--listen", default="127.0.0.1:8443")
    p.add_argument("--certs", type=Path, required=True)
    p.add_argument("--keylog", required=True)
    p.add_argument("--max-version", choices=("1.2", "1.3"))
    p.add_argument("--ciphers")
    p.add_argument("--no-etm", action="store_true", help="refuse encrypt_then_mac")
    p.add_argument("--curve", help="the only key exchange group, e.g. prime256v1")
    p.add_argument("--close-notify", action="store_true",
                   help="end each connection with close_notify (keeps sessions resumable)")
    args = ap.parse_args(argv)
    if args.cmd == "certs":
        certs(args.dir)
    else:
        serve(args.listen, args.certs, args.keylog, args.max_version, args.ciphers,
              not args.no_etm, args.curve, args.close_notify)


if __name__ == "__main__":
    main(sys.argv[1:])
