"""The cleartext HTTP/2 (h2c) demo server: hypercorn (pip install hypercorn) serving content.py.

    python3 h2c_server.py serve [--listen 127.0.0.1:8081]

Hypercorn reads a cleartext connection as HTTP/2 when it begins with the
connection preface (``curl --http2-prior-knowledge``) and upgrades an
HTTP/1.1 request with ``Upgrade: h2c`` (``curl --http2`` on an http:// URL),
answering it in HTTP/2 on stream 1.  A request for ``/`` gets the page and,
when the client allows server push, PUSH_PROMISEs of the stylesheet and the
image it refers to.  The app serves the same bodies as
web.py (content.py), gzip-compressed when the client accepts it, so the
bodies in the HTTP/2 captures can be checked against the README's digests.
Prints ``ready`` once listening (netlab.Namespace.start waits for it).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from content import FILES

Scope = dict[str, Any]
Message = dict[str, Any]

#: What a request for / pushes along with the page: the resources it refers to.
PUSHED = ("/style.css", "/logo.png")
#: Types sent gzip-compressed when the request accepts gzip (text compresses; PNG does not).
COMPRESSIBLE = ("text/", "application/json")


async def app(scope: Scope, receive: Callable[[], Awaitable[Message]],
              send: Callable[[Message], Awaitable[None]]) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    while True:  # read the request body, if any, to its end
        message = await receive()
        if not message.get("more_body"):
            break
    headers = {k.lower(): v for k, v in scope["headers"]}
    found = FILES.get("/index.html" if scope["path"] == "/" else scope["path"])
    if found is None:
        status, ctype, body = 404, "text/plain", b"no such page\n"
    else:
        status, (ctype, body) = 200, found
    out = [(b"content-type", ctype.encode())]
    if b"gzip" in headers.get(b"accept-encoding", b"") and ctype.startswith(COMPRESSIBLE):
        body = gzip.compress(body, compresslevel=6, mtime=0)
        out += [(b"content-encoding", b"gzip"), (b"vary", b"accept-encoding")]
    out.append((b"content-length", str(len(body)).encode()))
    if scope["path"] == "/" and "http.response.push" in scope.get("extensions", {}):
        for pushed in PUSHED:  # server push (RFC 9113 §8.4), when the client allows it
            await send({"type": "http.response.push", "path": pushed, "headers": []})
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


def serve(listen: str) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    host, _, port = listen.rpartition(":")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), int(port)))
    sock.listen(16)
    sock.set_inheritable(True)
    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    config.accesslog = None
    config.errorlog = None
    config.keep_alive_timeout = 30
    print("ready", flush=True)
    asyncio.run(hypercorn_serve(app, config))  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve content.py over cleartext HTTP/2 (and HTTP/1.1)")
    s.add_argument("--listen", default="127.0.0.1:8081", metavar="ADDR:PORT")
    args = ap.parse_args(argv)
    serve(args.listen)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
