"""An HTTP/2 server over TLS (hypercorn, ALPN h2 and http/1.1) serving content.py's files.

``python3 h2_server.py --listen 127.0.0.1:8443 --certs DIR`` prints ``ready``
once the port accepts connections and serves until SIGTERM.  The ASGI app
answers GET of the fixed files (200, with Content-Type and Content-Length)
and 404 otherwise.  The session secrets of these captures come from the
client (curl with ``SSLKEYLOGFILE``), since hypercorn writes none.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import content


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    found = content.FILES.get(scope["path"])
    status, kind, body = (200, *found) if found else (404, "text/plain", b"not found\n")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind.encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str]) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:8443")
    ap.add_argument("--certs", type=Path, required=True)
    args = ap.parse_args(argv)
    config = Config()
    config.bind = [args.listen]
    config.certfile = str(args.certs / "server.pem")
    config.keyfile = str(args.certs / "server.key")
    config.accesslog = None
    config.errorlog = None
    stop = asyncio.Event()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        task = asyncio.ensure_future(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
        host, port = args.listen.rsplit(":", 1)
        for _ in range(100):
            try:
                socket.create_connection((host, int(port)), timeout=0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        print("ready", flush=True)
        await task

    asyncio.run(run())
    time.sleep(0.1)


if __name__ == "__main__":
    main(sys.argv[1:])
