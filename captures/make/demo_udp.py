"""The explainer's UDP demo: a server on port 12345 answers every datagram.

``python3 demo_udp.py server [--count N]`` prints ``ready`` once bound, answers N
datagrams (forever when N is 0) and exits; ``python3 demo_udp.py client`` sends
three datagrams from a fixed port, each after the previous answer arrived.
"""

from __future__ import annotations

import argparse
import socket
import sys


def server(host: str, port: int, count: int) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    print("ready", flush=True)
    n = 0
    while count == 0 or n < count:
        data, peer = s.recvfrom(65535)
        s.sendto(b"server got " + str(len(data)).encode() + b" bytes: " + data.upper(), peer)
        n += 1


def client(host: str, port: int, local_port: int) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    if local_port:
        s.bind((host, local_port))
    for i in range(1, 4):
        s.sendto(f"datagram {i} of 3 for the udp demo".encode(), (host, port))
        reply, _ = s.recvfrom(65535)
        assert reply.startswith(b"server got ")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=12345)
    ap.add_argument("--local-port", type=int, default=0)
    ap.add_argument("--count", type=int, default=3)
    a = ap.parse_args(argv)
    if a.role == "server":
        server(a.host, a.port, a.count)
    else:
        client(a.host, a.port, a.local_port)


if __name__ == "__main__":
    main(sys.argv[1:])
