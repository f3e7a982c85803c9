"""Test helper: script a TCP conversation packet by packet, with consistent numbers.

``Wire`` keeps each side's next sequence number, so a test reads like the
ladder diagram it describes::

    w = Wire()
    w.c("S"); w.s("SA"); w.c("A"); w.c("PA", b"hello"); w.s("FA")

Each call returns a decoded :class:`~layerpeek.packet.Packet` with the next
frame number and a timestamp ``step_ns`` after the previous one.  By default
an ACK acknowledges everything the other side has sent; ``ack=`` overrides
it, ``again(side)`` resends that side's previous packet unchanged (a
retransmission), and ``script(w, "c S", "s SA", ...)`` runs compact steps.
"""

from __future__ import annotations

import dataclasses
import struct

from builders import eth, ipv4_tcp, tcp

import layerpeek
from layerpeek.packet import Packet

MASK = 0xFFFFFFFF


def mss(value: int) -> bytes:
    return struct.pack("!BBH", 2, 4, value)


def wscale(shift: int) -> bytes:
    return struct.pack("!BBB", 3, 3, shift) + b"\x01"


SACK_OK = b"\x04\x02"


def timestamps(value: int = 1, echo: int = 0) -> bytes:
    return struct.pack("!BBII", 8, 10, value, echo)


class Wire:
    """Builds the packets of one TCP conversation between a client and a server."""

    def __init__(
        self,
        client: tuple[str, int] = ("10.0.0.1", 40000),
        server: tuple[str, int] = ("10.0.0.2", 80),
        *,
        isn_c: int = 1000,
        isn_s: int = 5000,
        t0_ns: int = 1_700_000_000_000_000_000,
        step_ns: int = 1_000_000,
        first_frame: int = 1,
    ) -> None:
        self.addr = {"c": client, "s": server}
        self.next = {"c": isn_c & MASK, "s": isn_s & MASK}
        self.frame = first_frame - 1
        self.ts = t0_ns - step_ns
        self.step_ns = step_ns
        self.last: dict[str, bytes] = {}

    def _emit(self, raw: bytes, step_ns: int | None) -> Packet:
        self.frame += 1
        self.ts += self.step_ns if step_ns is None else step_ns
        packet = layerpeek.decode(raw)
        return dataclasses.replace(packet, index=self.frame, ts_ns=self.ts)

    def send(
        self,
        side: str,
        flags: str,
        data: bytes = b"",
        *,
        seq: int | None = None,
        ack: int | None = None,
        window: int = 65535,
        options: bytes = b"",
        step_ns: int | None = None,
        advance: bool = True,
    ) -> Packet:
        other = "s" if side == "c" else "c"
        (src, sport), (dst, dport) = self.addr[side], self.addr[other]
        if seq is None:
            seq = self.next[side]
        if ack is None:
            ack = self.next[other] if "A" in flags else 0
        segment = tcp(data, sport=sport, dport=dport, seq=seq & MASK, ack=ack & MASK,
                      flags=flags, window=window, options=options)
        raw = eth(ipv4_tcp(segment, src=src, dst=dst))
        self.last[side] = raw
        if advance:
            used = len(data) + ("S" in flags) + ("F" in flags)
            end = (seq + used) & MASK
            if ((end - self.next[side]) & MASK) < 0x80000000:
                self.next[side] = end
        return self._emit(raw, step_ns)

    def c(self, flags: str, data: bytes = b"", **kw: object) -> Packet:
        return self.send("c", flags, data, **kw)  # type: ignore[arg-type]

    def s(self, flags: str, data: bytes = b"", **kw: object) -> Packet:
        return self.send("s", flags, data, **kw)  # type: ignore[arg-type]

    def lost(self, side: str, data: bytes) -> None:
        """``side`` sent ``data`` but the capture missed it: only its numbers advance."""
        self.next[side] = (self.next[side] + len(data)) & MASK

    def again(self, side: str, step_ns: int | None = None) -> Packet:
        """Resend ``side``'s previous packet byte for byte (a retransmission)."""
        return self._emit(self.last[side], step_ns)


def script(w: Wire, *steps: str) -> list[Packet]:
    """Run compact steps: ``"c S"``, ``"s SA"``, ``"c PA 10"`` (10 payload bytes),
    ``"c again"``, ``"s FA noack"`` (do not acknowledge the other side's last byte,
    e.g. its FIN: a FIN crossing the other's FIN), ``"c FA refin"`` (send the FIN
    again, acknowledging what was received since)."""
    out: list[Packet] = []
    for step in steps:
        side, rest = step.split(" ", 1)
        words = rest.split()
        if words[0] == "again":
            out.append(w.again(side))
            continue
        flags = words[0]
        size = next((int(x) for x in words[1:] if x.isdigit()), 0)
        other = "s" if side == "c" else "c"
        ack = (w.next[other] - 1) & MASK if "noack" in words else None
        if "refin" in words:
            out.append(w.send(side, flags, seq=w.next[side] - 1, advance=False))
            continue
        out.append(w.send(side, flags, b"x" * size, ack=ack))
    return out
