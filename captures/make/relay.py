"""A wire made of software: copies Ethernet frames between two tap devices in two
namespaces, optionally late (a fixed delay) or out of order (held back frames).

``python3 relay.py NS_LEFT:TAP_LEFT NS_RIGHT:TAP_RIGHT [--delay-ms D]
[--hold N,M,...]``, run as root in the root namespace; prints ``ready`` once
both taps are open and relays until SIGTERM, then prints what it did on stderr.

Why: this kernel has no ``netem``, and a TCP proxy would terminate the
connection (two connections, no loss or reordering visible end to end).  The
relay works on frames, below IP: the kernels at both ends see one TCP
connection, with whatever the relay did to its packets on the way.

* ``--delay-ms``: every frame, in both directions, is delivered D ms after it
  was read (order kept): a long wire, for the simultaneous close.
* ``--hold``: a TCP segment carrying data from left to right is held back and
  delivered right after the next data segment: two segments swap places, a
  reordering with no loss (held at most 200 ms if nothing follows).  One such
  swap for each N given: at the Nth data segment (counted from 1 in the order
  the relay reads them), or later, once the stream is calm (the last
  ``CALM`` segments were all new data in order), so that the reordering
  does not disappear among the retransmissions of a loss episode.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import struct
import sys
import time
from collections import deque
from types import FrameType

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
HOLD_LIMIT = 0.2
CALM = 8


def open_tap(ns: str, dev: str) -> int:
    """Attach to tap ``dev`` of namespace ``ns`` (the lookup is by name, in our netns)."""
    from netlab import enter_netns

    enter_netns(ns)
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", dev.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def tcp_segment(frame: bytes) -> tuple[int, int]:
    """(sequence number, payload bytes) of an Ethernet/IPv4/TCP frame; (0, -1) otherwise."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return 0, -1
    ihl = (frame[14] & 0x0F) * 4
    total = struct.unpack_from("!H", frame, 16)[0]
    if len(frame) < 14 + ihl + 13:
        return 0, -1
    seq = struct.unpack_from("!I", frame, 14 + ihl + 4)[0]
    doff = (frame[14 + ihl + 12] >> 4) * 4
    return seq, total - ihl - doff


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("left")
    ap.add_argument("right")
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--hold", default="")
    a = ap.parse_args(argv)
    left = open_tap(*a.left.split(":"))
    right = open_tap(*a.right.split(":"))
    hold = sorted(int(n) for n in a.hold.split(",") if n)
    delay = a.delay_ms / 1000
    peer = {left: right, right: left}
    # Frames waiting for their delivery time, per destination (a fixed delay keeps order).
    queues: dict[int, deque[tuple[float, bytes]]] = {left: deque(), right: deque()}
    held: tuple[float, bytes] | None = None
    data_segments = 0
    next_seq: int | None = None  # one past the highest byte seen (one connection)
    calm = 0
    counts = {"left->right": 0, "right->left": 0, "reordered": 0}
    running = True

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print("ready", flush=True)

    def deliver(dst: int, frame: bytes) -> None:
        queues[dst].append((time.monotonic() + delay, frame))

    while running:
        now = time.monotonic()
        wakeups = [q[0][0] for q in queues.values() if q]
        if held is not None:
            wakeups.append(held[0])
        timeout = max(0.0, min(wakeups) - now) if wakeups else 0.2
        try:
            ready, _, _ = select.select([left, right], [], [], min(timeout, 0.2))
        except InterruptedError:
            continue
        for fd in ready:
            frame = os.read(fd, 65536)
            dst = peer[fd]
            counts["left->right" if fd == left else "right->left"] += 1
            seq, size = tcp_segment(frame) if fd == left else (0, -1)
            if size > 0:
                data_segments += 1
                calm = calm + 1 if next_seq in (None, seq) else 0
                end = (seq + size) & 0xFFFFFFFF
                if next_seq is None or 0 < (end - next_seq) & 0xFFFFFFFF < 0x80000000:
                    next_seq = end
                if hold and data_segments >= hold[0] and calm > CALM and held is None:
                    hold.pop(0)
                    held = (time.monotonic() + HOLD_LIMIT, frame)
                    continue
                deliver(dst, frame)
                if held is not None:
                    deliver(dst, held[1])  # the held segment now arrives after its successor
                    held = None
                    counts["reordered"] += 1
                continue
            deliver(dst, frame)
        now = time.monotonic()
        if held is not None and held[0] <= now:
            deliver(right, held[1])
            held = None
        for dst, q in queues.items():
            while q and q[0][0] <= now:
                os.write(dst, q.popleft()[1])
    print(" ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
