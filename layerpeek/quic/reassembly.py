"""Bytes at offsets in, the in-order bytes out: CRYPTO and STREAM data (bounded).

QUIC numbers the bytes of each CRYPTO stream (one per encryption level and
direction) and of each stream by offset, and resends lost data in new
packets, possibly cut differently.  :class:`Reassembly` keeps what arrived
ahead of the next expected offset, up to ``limit`` bytes beyond it; data
further ahead (a CRYPTO offset beyond any sane handshake, a peer that is
not what it claims) is refused with a reason, so memory stays bounded by
``limit`` per stream whatever the capture holds.  Duplicates and the parts
of retransmissions already delivered are trimmed, as aioquic's
``QuicStreamReceiver`` does.
"""

from __future__ import annotations


class Reassembly:
    """One byte stream's reassembly; ``delivered`` bytes have been handed out in order."""

    __slots__ = ("delivered", "held", "limit", "pending")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.delivered = 0
        self.pending: dict[int, bytes] = {}
        self.held = 0

    def add(self, offset: int, data: bytes) -> tuple[bytes, str | None]:
        """The bytes that are now in order (maybe none), and why data was refused, if it was."""
        end = offset + len(data)
        if end <= self.delivered:
            return b"", None  # all of it already delivered: a retransmission
        if end - self.delivered > self.limit:
            return b"", (f"data at offset {offset} ends {end - self.delivered} bytes past the "
                         f"next expected offset {self.delivered} (limit {self.limit}): dropped")
        if offset < self.delivered:
            data = data[self.delivered - offset :]
            offset = self.delivered
        if offset > self.delivered:
            old = self.pending.get(offset)
            if old is None or len(old) < len(data):
                self.held += len(data) - (len(old) if old is not None else 0)
                self.pending[offset] = data
            return b"", None
        out = bytearray(data)
        self.delivered = end
        while self.pending:
            low = min(self.pending)
            if low > self.delivered:
                break
            piece = self.pending.pop(low)
            self.held -= len(piece)
            if low + len(piece) > self.delivered:
                out += piece[self.delivered - low :]
                self.delivered = low + len(piece)
        return bytes(out), None
