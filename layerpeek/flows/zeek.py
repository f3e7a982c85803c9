"""Zeek-compatible ``conn_state`` and ``history`` for a conversation.

Zeek's conn.log is the lingua franca of connection summaries, so layerpeek
reports the same two fields with the same meanings.  The letters and states
are Zeek's documented ones (``base/protocols/conn/main.zeek``, ``Conn::Info``);
this module re-derives them from the wire:

``history``: one letter per notable event, upper case when the originator
(our *client*) sent it, lower case for the responder:

====== ==============================================================
s      a SYN without ACK          h    a SYN+ACK
a      a pure ACK                 d    a packet with payload
f      a packet with FIN          r    a packet with RST
c      a bad checksum             g    a content gap
t      retransmitted payload      w    a zero-window advertisement
i      inconsistent (FIN+RST)     q    multi-flag (SYN+FIN or SYN+RST)
^      the roles were flipped: the client is not who sent the first packet
====== ==============================================================

As Zeek does: a packet with more than one of SYN/FIN/RST gives only ``q``
(or ``i`` for FIN+RST); a packet with one of them gives its letter only
(a FIN carrying data is ``f``, not ``d``); ``a``, ``d``, ``i``, ``q`` are
recorded once per direction; ``s``, ``h``, ``f``, ``r`` again whenever the
sequence number differs from the last packet of the same kind; ``c``,
``g``, ``t``, ``w`` logarithmically (the 1st, 10th, 100th … occurrence).
``c`` appears only if the caller verifies checksums (layerpeek does not by
default: loopback and offloaded captures carry unfilled checksums).

``conn_state``: Zeek keeps, per endpoint, one of INACTIVE, SYN_SENT,
SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET, updated per packet by
the rules of its TCP analyzer (a responder's SYN-ACK establishes both
sides; data without a SYN makes a PARTIAL endpoint; FIN closes; RST resets;
a RST after both FINs does not undo the close).  The final pair of states
maps to S0 … OTH exactly as ``Conn::conn_state`` documents.
"""

from __future__ import annotations

import enum
import re


class ZeekState(enum.IntEnum):
    """Zeek's per-endpoint TCP states (``TCP_ENDPOINT_*``)."""

    INACTIVE = 0
    SYN_SENT = 1
    SYN_ACK_SENT = 2
    PARTIAL = 3
    ESTABLISHED = 4
    CLOSED = 5
    RESET = 6


_SYN, _FIN, _RST, _ACK = 0x02, 0x01, 0x04, 0x10
_TOO_LARGE = 1_048_576  #: Zeek's TOO_LARGE_SEQ_DELTA

#: History letters kept per conversation.  Repeatable letters (``s h f r``
#: with a new sequence number each) could otherwise grow without limit; real
#: histories are a dozen letters.  The excess is counted in
#: :attr:`ZeekTracker.history_dropped`.
MAX_HISTORY = 256

# Once-per-direction history bits.
_ONCE_A, _ONCE_D, _ONCE_I, _ONCE_Q = 1, 2, 4, 8


class ZeekEndpoint:
    """One endpoint's Zeek state and history bookkeeping."""

    __slots__ = (
        "counts",
        "is_orig",
        "last_fin",
        "last_rst",
        "last_syn",
        "once",
        "prev_state",
        "size",
        "state",
        "top",
    )

    def __init__(self, is_orig: bool) -> None:
        self.is_orig = is_orig
        self.state = ZeekState.INACTIVE
        self.prev_state = ZeekState.INACTIVE
        self.once = 0
        self.last_syn: int | None = None
        self.last_fin: int | None = None
        self.last_rst: int | None = None
        self.counts: dict[str, int] = {}
        self.size = 0  #: payload bytes sent, by sequence space (Zeek's ``size``)
        #: one past the highest sequence number sent (Zeek's ``LastSeq``), None before any
        self.top: int | None = None

    def set_state(self, state: ZeekState) -> None:
        if state != self.state:
            self.prev_state = self.state
            self.state = state


class ZeekTracker:
    """Zeek's view of one TCP conversation: endpoint states and the history string."""

    __slots__ = ("history", "history_dropped", "orig", "resp")

    def __init__(self, flipped: bool = False) -> None:
        self.orig = ZeekEndpoint(True)
        self.resp = ZeekEndpoint(False)
        self.history: list[str] = ["^"] if flipped else []
        #: Letters past :data:`MAX_HISTORY` (not kept; counted).
        self.history_dropped = 0

    # -- history ------------------------------------------------------------

    def _letter(self, ep: ZeekEndpoint, code: str) -> None:
        if len(self.history) >= MAX_HISTORY:
            self.history_dropped += 1  # a million FINs with new sequence numbers: bounded
            return
        self.history.append(code.upper() if ep.is_orig else code)

    def count_event(self, from_orig: bool, code: str) -> None:
        """Record a logarithmic letter (c, g, t, w): at the 1st, 10th, 100th … time."""
        ep = self.orig if from_orig else self.resp
        n = ep.counts.get(code, 0) + 1
        ep.counts[code] = n
        while n % 10 == 0:
            n //= 10
        if n == 1:
            self._letter(ep, code)

    def packet(self, from_orig: bool, flags: int, seq: int, seglen: int, window: int) -> None:
        """Update states and history for one packet (raw flags, seq, payload length)."""
        ep, peer = (self.orig, self.resp) if from_orig else (self.resp, self.orig)
        self._retransmission(ep, flags, seq, seglen)
        if not flags & (_SYN | _FIN | _RST) and ep.state != ZeekState.INACTIVE:
            # The common case (data and ACKs mid-connection): no state can move,
            # only the once-per-direction letters and a zero window matter.
            if seglen:
                if not ep.once & _ONCE_D:
                    ep.once |= _ONCE_D
                    self._letter(ep, "d")
            elif flags & _ACK and not ep.once & _ONCE_A:
                ep.once |= _ONCE_A
                self._letter(ep, "a")
            if window == 0:
                self.count_event(from_orig, "w")
            return
        syn, fin, rst, ack = flags & _SYN, flags & _FIN, flags & _RST, flags & _ACK
        self._flag_letters(ep, syn, fin, rst, ack, seq, seglen)
        if window == 0 and not syn and not rst:
            self.count_event(from_orig, "w")
        self._update_state(ep, peer, syn, fin, rst, ack, seglen)

    def _retransmission(self, ep: ZeekEndpoint, flags: int, seq: int, seglen: int) -> None:
        """Zeek's ``t``: a segment with data that does not reach past the highest
        sequence number this side sent before (TCPSessionAdapter::UpdateLastSeq).

        So a segment that fills a hole counts as well as a copy of delivered
        bytes: Zeek compares with the highest number sent, not with what the
        receiver has.  SYN and FIN take one number each; a RST's data none.
        """
        rst = flags & _RST
        one_past = (seq + (0 if rst else seglen) + (1 if flags & _SYN else 0)
                    + (1 if flags & _FIN else 0)) & 0xFFFFFFFF
        top = ep.top
        if top is None:
            ep.top = one_past
            return
        delta = ((one_past - top + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        if flags & (_SYN | _RST) and not -_TOO_LARGE < delta < _TOO_LARGE:
            return  # a far-off SYN or RST number is not trusted
        if ep.state == ZeekState.RESET:
            return  # nor any number after a RST
        if delta > 0:
            ep.top = one_past
        elif seglen and not rst:
            self.count_event(ep.is_orig, "t")

    def _flag_letters(
        self, ep: ZeekEndpoint, syn: int, fin: int, rst: int, ack: int, seq: int, seglen: int
    ) -> None:
        bits = (1 if syn else 0) + (1 if fin else 0) + (1 if rst else 0)
        if bits > 1:
            if fin and rst:
                if not ep.once & _ONCE_I:
                    ep.once |= _ONCE_I
                    self._letter(ep, "i")
            elif not ep.once & _ONCE_Q:
                ep.once |= _ONCE_Q
                self._letter(ep, "q")
        elif syn:
            if ep.last_syn != seq:
                self._letter(ep, "h" if ack else "s")
            ep.last_syn = seq
        elif fin:
            if ep.last_fin != seq:
                self._letter(ep, "f")
            ep.last_fin = seq
        elif rst:
            if ep.last_rst != seq:
                self._letter(ep, "r")
            ep.last_rst = seq
        elif seglen:
            if not ep.once & _ONCE_D:
                ep.once |= _ONCE_D
                self._letter(ep, "d")
        elif ack and not ep.once & _ONCE_A:
            ep.once |= _ONCE_A
            self._letter(ep, "a")

    # -- endpoint states ------------------------------------------------------

    def _update_state(
        self, ep: ZeekEndpoint, peer: ZeekEndpoint, syn: int, fin: int, rst: int, ack: int,
        seglen: int,
    ) -> None:
        S = ZeekState
        state = ep.state
        if state == S.INACTIVE:
            if syn:
                if ep.is_orig:
                    ep.set_state(S.SYN_ACK_SENT if ack else S.SYN_SENT)
                else:
                    # The responder's SYN(-ACK) establishes both sides.
                    if peer.state == S.SYN_SENT:
                        peer.set_state(S.ESTABLISHED)
                    ep.set_state(S.ESTABLISHED)
            if fin:
                ep.set_state(S.CLOSED)
            if rst:
                ep.set_state(S.RESET)
            # No control flag moved it: it is a partial connection, unless it is a
            # bare ACK from the responder to a pending SYN (stacks that ACK a SYN
            # before answering it).
            early_ack = not ep.is_orig and seglen == 0 and self.orig.state == S.SYN_SENT
            if ep.state == S.INACTIVE and not early_ack:
                if ack and peer.state == S.ESTABLISHED:
                    # The responder's SYN-ACK was seen but not the SYN it answers:
                    # an ACK now establishes this side too (Zeek's UpdateInactiveState:
                    # "we just missed that initial SYN"), so the connection is S1, not OTH.
                    ep.set_state(S.ESTABLISHED)
                else:
                    ep.set_state(S.PARTIAL)
        elif state in (S.SYN_SENT, S.SYN_ACK_SENT):
            if fin:
                ep.set_state(S.CLOSED)
            if rst:
                ep.set_state(S.RESET)
        elif state in (S.ESTABLISHED, S.PARTIAL):
            if syn and state == S.PARTIAL and peer.state == S.INACTIVE and not ack:
                ep.set_state(S.SYN_SENT)
            if fin and not rst:
                ep.set_state(S.CLOSED)
                if peer.state == S.RESET and peer.prev_state == S.CLOSED:
                    peer.set_state(S.CLOSED)  # FIN then RST from the peer: a normal close
            if rst:
                ep.set_state(S.RESET)
        elif state == S.CLOSED and rst and peer.state != S.CLOSED:
            ep.set_state(S.RESET)  # a RST after both FINs does not undo the close

    # -- results ------------------------------------------------------------

    @property
    def history_string(self) -> str:
        return "".join(self.history)

    def conn_state(self) -> str:
        """Zeek's ``conn_state`` for the current endpoint states."""
        S = ZeekState
        os, rs = self.orig.state, self.resp.state
        o_inactive = os in (S.INACTIVE, S.PARTIAL)
        r_inactive = rs in (S.INACTIVE, S.PARTIAL)
        if rs == S.RESET:
            if os in (S.SYN_SENT, S.SYN_ACK_SENT) or (
                os == S.RESET and self.orig.size == 0 and self.resp.size == 0
            ):
                return "REJ"
            return "RSTRH" if o_inactive else "RSTR"
        if os == S.RESET:
            if r_inactive:
                return "RSTOS0" if _RSTOS0.fullmatch(self.history_string) else "OTH"
            return "RSTO"
        if rs == S.CLOSED and os == S.CLOSED:
            return "SF"
        if os == S.CLOSED:
            return "SH" if r_inactive else "S2"
        if rs == S.CLOSED:
            return "SHR" if o_inactive else "S3"
        if os == S.SYN_SENT and rs == S.INACTIVE:
            return "S0"
        if os == S.ESTABLISHED and rs == S.ESTABLISHED:
            return "S1"
        return "OTH"


#: Zeek's test for RSTOS0: the originator's SYN, then its RST, with no sign of
#: a responder handshake or data in between (``/\^?S[^HAFGIQ]*R.*/``).
_RSTOS0 = re.compile(r"\^?S[^HAFGIQ]*R.*")


def udp_conn_state(orig_packets: int, resp_packets: int) -> str:
    """Zeek's UDP ``conn_state``: SF both sides spoke, S0 only the originator."""
    if orig_packets:
        return "SF" if resp_packets else "S0"
    return "SHR" if resp_packets else "OTH"
