"""Per-packet TCP sequence analysis with Wireshark's names and definitions.

Wireshark's "SEQ/ACK analysis" flags (``tcp.analysis.*``) are what people
search for and quote, so layerpeek computes the same flags with the same
names, from the definitions in the Wireshark User's Guide ("TCP Analysis",
docbook ``wsug_advanced``) and checked frame by frame against ``tshark``
(``tests/flows/test_tshark.py``).  Each flag also carries a plain-language
reason for the explainer.

Theory of operation
===================

Each direction of a conversation keeps a :class:`SeqState`; a packet is
judged against its own direction ("forward") and the other ("reverse"):

* *next expected sequence number* (``nextseq``): the highest ``seq + len``
  seen so far (SYN and FIN count one), not moved by zero-window probes;
* *max seq to be acked* (``maxseqtobeacked``): the end of the contiguous
  data seen, for "ACKed unseen segment";
* *last-seen acknowledgement* (``lastack``), its time, the window, the
  window scale from the handshake (unknown / none / shift), the duplicate
  ACK counter, and the flags of the last segment.

As in Wireshark, all arithmetic is on the raw 32-bit numbers, modulo 2³²
(a > b when 0 < (a - b) mod 2³² < 2³¹), and a value of 0 means "not
seen yet" (a sequence number of exactly 0 is rare enough that Wireshark
accepts the ambiguity; matching it keeps our flags comparable).

The checks run in Wireshark's order, which is also the precedence the
User's Guide documents: zero-window probe (ends the forward checks), zero
window, previous segment not captured, keep-alive, window update, window
full, keep-alive ACK (ends), zero-window-probe ACK (ends), duplicate ACK;
then ACKed unseen segment; then, for segments carrying data or SYN/FIN that
do not advance ``nextseq``: keep-alives are exempt, fast retransmission
supersedes out-of-order, which supersedes spurious retransmission, which
supersedes retransmission.

Timing thresholds come from the packets: a fast retransmission must follow
the last duplicate ACK within 20 ms; an out-of-order segment must come
within the initial RTT (SYN → first ACK) of the highest segment, or 3 ms
when the handshake was not captured.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

_MASK = 0xFFFFFFFF


class Flag(enum.IntFlag):
    """Analysis flags; ``wireshark_field(flag)`` gives the ``tcp.analysis.*`` name."""

    RETRANSMISSION = 1 << 0
    FAST_RETRANSMISSION = 1 << 1
    SPURIOUS_RETRANSMISSION = 1 << 2
    OUT_OF_ORDER = 1 << 3
    LOST_SEGMENT = 1 << 4
    ACK_LOST_SEGMENT = 1 << 5
    DUPLICATE_ACK = 1 << 6
    ZERO_WINDOW = 1 << 7
    ZERO_WINDOW_PROBE = 1 << 8
    ZERO_WINDOW_PROBE_ACK = 1 << 9
    WINDOW_FULL = 1 << 10
    WINDOW_UPDATE = 1 << 11
    KEEP_ALIVE = 1 << 12
    KEEP_ALIVE_ACK = 1 << 13
    REUSED_PORTS = 1 << 14


#: Display order (Wireshark's Info column order is roughly this).
FLAG_ORDER: tuple[Flag, ...] = tuple(Flag)

#: The label Wireshark prints in its Info column, e.g. "[TCP Dup ACK 12#1]".
LABELS: dict[Flag, str] = {
    Flag.RETRANSMISSION: "TCP Retransmission",
    Flag.FAST_RETRANSMISSION: "TCP Fast Retransmission",
    Flag.SPURIOUS_RETRANSMISSION: "TCP Spurious Retransmission",
    Flag.OUT_OF_ORDER: "TCP Out-Of-Order",
    Flag.LOST_SEGMENT: "TCP Previous segment not captured",
    Flag.ACK_LOST_SEGMENT: "TCP ACKed unseen segment",
    Flag.DUPLICATE_ACK: "TCP Dup ACK",
    Flag.ZERO_WINDOW: "TCP ZeroWindow",
    Flag.ZERO_WINDOW_PROBE: "TCP ZeroWindowProbe",
    Flag.ZERO_WINDOW_PROBE_ACK: "TCP ZeroWindowProbeAck",
    Flag.WINDOW_FULL: "TCP Window Full",
    Flag.WINDOW_UPDATE: "TCP Window Update",
    Flag.KEEP_ALIVE: "TCP Keep-Alive",
    Flag.KEEP_ALIVE_ACK: "TCP Keep-Alive ACK",
    Flag.REUSED_PORTS: "TCP Port numbers reused",
}

#: Plain-language meaning of each flag (the explainer's voice).
REASONS: dict[Flag, str] = {
    Flag.RETRANSMISSION: "sends bytes already sent before (the earlier copy was "
    "probably lost or its ACK was late)",
    Flag.FAST_RETRANSMISSION: "resends the segment the receiver asked for with repeated "
    "duplicate ACKs, without waiting for a timeout",
    Flag.SPURIOUS_RETRANSMISSION: "resends bytes the receiver had already acknowledged: "
    "the retransmission was not needed",
    Flag.OUT_OF_ORDER: "arrives after a later segment, sooner than a retransmission "
    "could: the network reordered it",
    Flag.LOST_SEGMENT: "starts after a hole: bytes before it were never captured",
    Flag.ACK_LOST_SEGMENT: "acknowledges bytes the capture never saw (missed by the "
    "capture, common at its start)",
    Flag.DUPLICATE_ACK: "repeats the previous acknowledgement: the receiver is still "
    "waiting for the same byte (a sign of loss)",
    Flag.ZERO_WINDOW: "advertises a zero receive window: the sender must pause",
    Flag.ZERO_WINDOW_PROBE: "sends one byte into a zero window to ask whether it reopened",
    Flag.ZERO_WINDOW_PROBE_ACK: "answers a zero-window probe; the window is still zero",
    Flag.WINDOW_FULL: "fills the receiver's advertised window to its last byte",
    Flag.WINDOW_UPDATE: "only announces a new receive window",
    Flag.KEEP_ALIVE: "re-sends the byte before the next one to check the peer is alive",
    Flag.KEEP_ALIVE_ACK: "answers a keep-alive: the peer is still there",
    Flag.REUSED_PORTS: "starts a new connection on the addresses and ports of an "
    "earlier one",
}


def wireshark_field(flag: Flag) -> str:
    """``Flag.LOST_SEGMENT`` → ``"tcp.analysis.lost_segment"``."""
    return f"tcp.analysis.{(flag.name or '').lower()}"


def wireshark_fields(flags: int) -> set[str]:
    """The ``tcp.analysis.*`` fields tshark shows for ``flags``.

    Wireshark also adds ``tcp.analysis.retransmission`` to fast and spurious
    retransmissions (each is a kind of retransmission), so this does too.
    """
    out = {wireshark_field(f) for f in FLAG_ORDER if flags & f}
    if flags & (Flag.FAST_RETRANSMISSION | Flag.SPURIOUS_RETRANSMISSION):
        out.add(wireshark_field(Flag.RETRANSMISSION))
    return out


#: Window scale not known yet (no SYN seen in this direction).
SCALE_UNKNOWN = -1
#: Window scaling not in use (a SYN lacked the option): windows are taken as is.
SCALE_NONE = -2

class SeqState:
    """Sequence-analysis state of one direction (raw 32-bit values, 0 = unset)."""

    __slots__ = (
        "dupacknum",
        "lastack",
        "lastack_ts",
        "lastnondupack",
        "lastsegmentflags",
        "maxseqtobeacked",
        "nextseq",
        "nextseq_frame",
        "nextseq_ts",
        "win_scale",
        "window",
    )

    def __init__(self) -> None:
        self.nextseq = 0
        self.nextseq_frame = 0
        self.nextseq_ts = 0
        self.maxseqtobeacked = 0
        self.lastack = 0
        self.lastack_ts = 0
        self.lastnondupack = 0
        self.dupacknum = 0
        self.window = -1  # no window seen yet: never equal to a real one
        self.win_scale = SCALE_UNKNOWN
        self.lastsegmentflags = 0


@dataclass(slots=True)
class Verdict:
    """The analysis of one packet: flags plus the numbers that explain them."""

    flags: int = 0
    dupack_num: int = 0  #: for DUPLICATE_ACK: how many duplicates so far (Wireshark's #N)
    dupack_frame: int = 0  #: for DUPLICATE_ACK: the frame whose ACK is repeated
    rto_frame: int = 0  #: for RETRANSMISSION: the frame that last advanced the sequence

    def labels(self) -> list[str]:
        """Wireshark-style Info labels, e.g. ``["TCP Dup ACK 4#2"]``."""
        from layerpeek.render.flows import verdict_labels

        return verdict_labels(self)

    def reasons(self) -> list[tuple[str, str]]:
        """(``tcp.analysis.*`` field, plain-language reason) for each flag set."""
        out: list[tuple[str, str]] = []
        for flag in FLAG_ORDER:
            if self.flags & flag:
                reason = REASONS[flag]
                if flag is Flag.DUPLICATE_ACK:
                    reason = f"{reason}; duplicate #{self.dupack_num} of frame {self.dupack_frame}"
                elif flag is Flag.RETRANSMISSION and self.rto_frame:
                    reason = f"{reason}; the sequence last advanced in frame {self.rto_frame}"
                out.append((wireshark_field(flag), reason))
        return out


_SYN, _FIN, _RST, _ACK = 0x02, 0x01, 0x04, 0x10


def handshake_scaling(fwd: SeqState, rev: SeqState, is_synack: bool, shift: int | None) -> None:
    """Record window scaling from a SYN or SYN-ACK (``shift`` None = option absent).

    Scaling is in effect only if *both* SYNs carry the option (RFC 7323
    §2.2): a SYN without it turns scaling off for both directions, and a
    SYN-ACK with the option answering a SYN without it does not turn it back
    on.  Windows of SYNs themselves are never scaled.
    """
    if shift is not None:
        fwd.win_scale = min(shift, 14)  # RFC 7323 §2.3: larger shifts are used as 14
    if fwd.win_scale == SCALE_UNKNOWN:
        fwd.win_scale = SCALE_NONE
        rev.win_scale = SCALE_NONE
    elif is_synack and rev.win_scale == SCALE_NONE:
        fwd.win_scale = SCALE_NONE


# Plain-int copies of the flags for the per-packet path: IntFlag arithmetic
# costs a Python-level call per operator, ints cost nothing.
_F_RETRANSMISSION = Flag.RETRANSMISSION.value
_F_FAST = Flag.FAST_RETRANSMISSION.value
_F_SPURIOUS = Flag.SPURIOUS_RETRANSMISSION.value
_F_OUT_OF_ORDER = Flag.OUT_OF_ORDER.value
_F_LOST = Flag.LOST_SEGMENT.value
_F_ACK_LOST = Flag.ACK_LOST_SEGMENT.value
_F_DUP_ACK = Flag.DUPLICATE_ACK.value
_F_ZERO_WINDOW = Flag.ZERO_WINDOW.value
_F_ZWP = Flag.ZERO_WINDOW_PROBE.value
_F_ZWP_ACK = Flag.ZERO_WINDOW_PROBE_ACK.value
_F_WINDOW_FULL = Flag.WINDOW_FULL.value
_F_WINDOW_UPDATE = Flag.WINDOW_UPDATE.value
_F_KEEP_ALIVE = Flag.KEEP_ALIVE.value
_F_KEEP_ALIVE_ACK = Flag.KEEP_ALIVE_ACK.value
_HALF = 0x80000000


def analyze(
    fwd: SeqState,
    rev: SeqState,
    frame: int,
    ts_ns: int,
    seq: int,
    ack: int,
    seglen: int,
    flags: int,
    window: int,
    initial_rtt_ns: int | None,
) -> Verdict | None:
    """Judge one segment (raw header values) and update both directions' state.

    Returns None when no flag applies (most packets: no object to build).

    ``window`` is the raw 16-bit window from the header; ``initial_rtt_ns``
    the conversation's SYN → first-ACK time if the handshake was captured.
    Sequence comparisons are written out inline (``d = (a - b) mod 2**32``,
    ``0 < d < 2**31`` means a > b): this runs for every packet.
    """
    f = 0
    dupack_num = dupack_frame = rto_frame = 0
    nextseq = fwd.nextseq
    control = flags & (_SYN | _FIN | _RST)
    zwp = False
    ahead = (seq - nextseq) & _MASK  # how far seq is past nextseq (≥ 2**31: behind)
    # -- forward direction --------------------------------------------------
    if seglen == 1 and ahead == 0 and rev.window == 0:
        f = _F_ZWP
        zwp = True
    else:
        if window == 0 and not control:
            f |= _F_ZERO_WINDOW
        if nextseq and 0 < ahead < _HALF and not flags & _RST:
            f |= _F_LOST
        if seglen <= 1 and ahead == _MASK and not control:  # seq == nextseq - 1
            f |= _F_KEEP_ALIVE
        same_point = ahead == 0 and ack == fwd.lastack and not control
        if seglen == 0 and window and window != fwd.window and same_point:
            f |= _F_WINDOW_UPDATE
        if seglen > 0 and rev.win_scale != SCALE_UNKNOWN and not control:
            shift = 0 if rev.win_scale == SCALE_NONE else rev.win_scale
            if (seq + seglen) & _MASK == (rev.lastack + (rev.window << shift)) & _MASK:
                f |= _F_WINDOW_FULL
        repeat = seglen == 0 and window == fwd.window and same_point  # same ack, same window
        if repeat and window and rev.lastsegmentflags & _F_KEEP_ALIVE:
            f |= _F_KEEP_ALIVE_ACK  # ends the forward checks
        elif repeat and window == 0 and rev.lastsegmentflags & _F_ZWP:
            f |= _F_ZWP_ACK  # ends the forward checks
        elif repeat and window:
            fwd.dupacknum += 1
            f |= _F_DUP_ACK
            dupack_num = fwd.dupacknum
            dupack_frame = fwd.lastnondupack
    if ack != fwd.lastack:
        # A new acknowledgement number restarts the duplicate count; a data
        # segment repeating the old one does not (tshark 4.0 behaves so too).
        fwd.lastnondupack = frame
        fwd.dupacknum = 0
    # -- the acknowledgement against the reverse direction ----------------
    if flags & _ACK and rev.maxseqtobeacked:
        d = (ack - rev.maxseqtobeacked) & _MASK
        if 0 < d < _HALF:
            f |= _F_ACK_LOST
            rev.maxseqtobeacked = rev.nextseq
    # -- retransmission family ---------------------------------------------
    # Where this segment ends in sequence space (SYN and FIN count one).
    end = (seq + seglen + (1 if flags & (_SYN | _FIN) else 0)) & _MASK
    if (seglen > 0 or flags & (_SYN | _FIN)) and not f & _F_KEEP_ALIVE:
        not_advanced = bool(nextseq) and ahead >= _HALF  # seq < nextseq
        if (
            not_advanced
            and rev.dupacknum >= 2
            and rev.lastack == seq
            and ts_ns - rev.lastack_ts < 20_000_000
        ):
            f |= _F_FAST
        elif (
            not_advanced
            and ts_ns - fwd.nextseq_ts < (initial_rtt_ns or 3_000_000)
            and nextseq != end
        ):
            f |= _F_OUT_OF_ORDER
        elif (
            seglen > 0
            and rev.lastack
            and ((rev.lastack - (seq + seglen)) & _MASK) < _HALF  # seq + len <= lastack
        ):
            f |= _F_SPURIOUS
        elif not_advanced:
            f |= _F_RETRANSMISSION
            rto_frame = fwd.nextseq_frame
    # -- update the forward state -------------------------------------------
    if not zwp:
        if not nextseq or 0 < ((end - nextseq) & _MASK) < _HALF:
            fwd.nextseq = end
            fwd.nextseq_frame = frame
            fwd.nextseq_ts = ts_ns
        if seq == fwd.maxseqtobeacked or not fwd.maxseqtobeacked:
            fwd.maxseqtobeacked = fwd.nextseq
    fwd.window = window
    fwd.lastack = ack
    fwd.lastack_ts = ts_ns
    fwd.lastsegmentflags = f
    return Verdict(f, dupack_num, dupack_frame, rto_frame) if f else None
