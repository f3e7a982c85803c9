"""An HTTP/3 server and client over QUIC (aioquic), for the QUIC captures.

``python3 h3_peer.py serve --listen 127.0.0.1:443 --certs DIR [--retry] [--only-v2]
[--keylog FILE]`` serves content.py's files over HTTP/3 (ALPN ``h3``), prints ``ready`` and
serves until SIGTERM.  ``--retry`` makes the server answer every first
Initial with a Retry packet (address validation, RFC 9000 §8.1.2).

``python3 h3_peer.py get --connect 127.0.0.1:443 --cacert CA [--keylog FILE]
[--local-port N] [--version 1|2] [--offer V] PATH...`` opens one QUIC
connection, asks for every PATH on its own request stream (all in flight at
once, as a browser does), and prints ``status sha256 length path`` per
answer, so a capture's bodies can be checked against what was sent.
``--offer`` makes the first Initial carry that version (``1`` to a server
started with ``--only-v2`` draws a Version Negotiation packet), ``--version
2`` makes the client accept version 2 (preferred) and 1.  ``--key-update``
fetches the first PATH, then updates the 1-RTT keys and moves to a new
connection id before asking for the rest.  ``--early-data`` first connects
from ``--local-port`` + 1 for a session ticket, then resumes from
``--local-port`` and sends its requests at once, in 0-RTT packets.  The secrets go to ``--keylog``
in the NSS key log format (aioquic's ``secrets_log_file``).

Written against aioquic's public API (QuicConnectionProtocol, H3Connection).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import signal
import sys
from pathlib import Path
from typing import Any

import content

ALPN = ["h3"]


def _h3() -> Any:
    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.h3.connection import H3Connection
    from aioquic.h3.events import DataReceived, HeadersReceived
    from aioquic.quic.events import ProtocolNegotiated

    class Server(QuicConnectionProtocol):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.h3: H3Connection | None = None

        def quic_event_received(self, event: Any) -> None:
            if isinstance(event, ProtocolNegotiated):
                self.h3 = H3Connection(self._quic)
            if self.h3 is None:
                return
            for h3_event in self.h3.handle_event(event):
                if isinstance(h3_event, HeadersReceived):
                    headers = dict(h3_event.headers)
                    path = headers.get(b":path", b"/").decode()
                    found = content.FILES.get(path)
                    status, kind, body = (200, *found) if found else (
                        404, "text/plain", b"not found\n")
                    self.h3.send_headers(h3_event.stream_id, [
                        (b":status", str(status).encode()),
                        (b"server", b"layerpeek-h3"),
                        (b"content-type", kind.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ])
                    self.h3.send_data(h3_event.stream_id, body, end_stream=True)
            self.transmit()

    class Client(QuicConnectionProtocol):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.h3 = H3Connection(self._quic)
            self.waiting: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
            self.status: dict[int, int] = {}
            self.bodies: dict[int, bytearray] = {}

        async def get(self, authority: str, path: str) -> tuple[int, bytes]:
            stream_id = self._quic.get_next_available_stream_id()
            self.h3.send_headers(stream_id, [
                (b":method", b"GET"), (b":scheme", b"https"),
                (b":authority", authority.encode()), (b":path", path.encode()),
                (b"user-agent", b"layerpeek-h3-client"),
            ], end_stream=True)
            future: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
            self.waiting[stream_id] = future
            self.bodies[stream_id] = bytearray()
            self.transmit()
            return await future

        def quic_event_received(self, event: Any) -> None:
            for h3_event in self.h3.handle_event(event):
                sid = getattr(h3_event, "stream_id", None)
                if sid not in self.waiting:
                    continue
                if isinstance(h3_event, HeadersReceived):
                    self.status[sid] = int(dict(h3_event.headers)[b":status"])
                elif isinstance(h3_event, DataReceived):
                    self.bodies[sid] += h3_event.data
                if getattr(h3_event, "stream_ended", False):
                    self.waiting.pop(sid).set_result(
                        (self.status.get(sid, 0), bytes(self.bodies.pop(sid))))

    return Server, Client


async def serve(args: argparse.Namespace) -> None:
    from aioquic.asyncio import serve as quic_serve
    from aioquic.quic.configuration import QuicConfiguration

    server_cls, _ = _h3()
    keylog = open(args.keylog, "a") if args.keylog else None  # noqa: SIM115
    config = QuicConfiguration(is_client=False, alpn_protocols=ALPN, secrets_log_file=keylog)
    if args.only_v2:
        from aioquic.quic.packet import QuicProtocolVersion

        config.supported_versions = [QuicProtocolVersion.VERSION_2]
    config.load_cert_chain(args.certs / "server.pem", args.certs / "server.key")
    host, port = args.listen.rsplit(":", 1)
    tickets: dict[bytes, Any] = {}  # session tickets issued, for resumption and 0-RTT
    server = await quic_serve(host, int(port), configuration=config,
                              create_protocol=server_cls, retry=args.retry,
                              session_ticket_fetcher=tickets.pop,
                              session_ticket_handler=lambda t: tickets.__setitem__(t.ticket, t))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    if keylog:
        keylog.close()


async def get(args: argparse.Namespace) -> None:
    from aioquic.asyncio import connect
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.packet import QuicProtocolVersion

    _, client_cls = _h3()
    keylog = open(args.keylog, "a") if args.keylog else None  # noqa: SIM115
    versions = {"1": [QuicProtocolVersion.VERSION_1],
                "2": [QuicProtocolVersion.VERSION_2, QuicProtocolVersion.VERSION_1]}
    config = QuicConfiguration(is_client=True, alpn_protocols=ALPN, secrets_log_file=keylog,
                               server_name=args.server_name,
                               supported_versions=versions[args.version])
    if args.offer:
        config.original_version = int(args.offer, 16)
    config.load_verify_locations(cafile=str(args.cacert))
    host, port = args.connect.rsplit(":", 1)
    if args.early_data:
        # A first connection for its session ticket (its key log lines are kept too), then
        # the real one: resumed, its requests sent at once in 0-RTT packets.
        tickets: list[Any] = []
        async with connect(host, int(port), configuration=config, create_protocol=client_cls,
                           local_port=args.local_port + 1,
                           session_ticket_handler=tickets.append) as first:
            await first.get(f"{args.server_name}", args.paths[0])
            first.close()
            await first.wait_closed()
        config.session_ticket = tickets[-1]
    async with connect(host, int(port), configuration=config, create_protocol=client_cls,
                       local_port=args.local_port,
                       wait_connected=not args.early_data) as client:
        authority = f"{args.server_name}:{port}" if port != "443" else args.server_name
        answers = []
        if args.key_update:
            # The first answer under the first keys, then a key update (RFC 9001 §6) and a
            # new connection id, and the rest under the next keys.
            answers.append(await client.get(authority, args.paths[0]))
            client._quic.request_key_update()
            client._quic.change_connection_id()
            rest = args.paths[1:]
        else:
            rest = args.paths
        answers += await asyncio.gather(*(client.get(authority, p) for p in rest))
        for path, (status, body) in zip(args.paths, answers, strict=True):
            print(status, hashlib.sha256(body).hexdigest(), len(body), path)
        client.close()
        await client.wait_closed()
    if keylog:
        keylog.close()


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--listen", default="127.0.0.1:443")
    s.add_argument("--certs", type=Path, required=True)
    s.add_argument("--keylog")
    s.add_argument("--retry", action="store_true")
    s.add_argument("--only-v2", action="store_true", help="accept QUIC version 2 only")
    g = sub.add_parser("get")
    g.add_argument("--connect", default="127.0.0.1:443")
    g.add_argument("--server-name", default="example.test")
    g.add_argument("--cacert", type=Path, required=True)
    g.add_argument("--keylog")
    g.add_argument("--local-port", type=int, default=0)
    g.add_argument("--version", choices=["1", "2"], default="1")
    g.add_argument("--offer", help="the version of the first Initial, in hex")
    g.add_argument("--early-data", action="store_true",
                   help="resume a first connection's session and send the requests as 0-RTT")
    g.add_argument("--key-update", action="store_true",
                   help="after the first answer: update the keys and change connection id")
    g.add_argument("paths", nargs="+")
    args = ap.parse_args(argv)
    asyncio.run(serve(args) if args.command == "serve" else get(args))


if __name__ == "__main__":
    main(sys.argv[1:])
