"""Wireshark's tcp.analysis.* flags, one scenario per flag, built from the definitions.

Each test scripts the situation the Wireshark User's Guide describes for the
flag and checks that exactly the expected packet carries it (agreement with
tshark itself on real captures is in test_tshark_flows.py).
"""

from __future__ import annotations

from flowwire import Wire, script

from layerpeek.flows.analysis import Flag, Verdict, wireshark_field, wireshark_fields
from layerpeek.flows.tracker import TCPTracker
from layerpeek.packet import Packet

HS = ["c S", "s SA", "c A"]
BIG_STEP = 50_000_000  # 50 ms: well past the initial RTT, so not "out of order"


def verdicts(packets: list[Packet]) -> list[Verdict]:
    """Each packet's verdict (an empty one when nothing was flagged)."""
    tracker = TCPTracker()
    out = []
    for p in packets:
        info = tracker.process(p)[1]
        assert info is not None
        out.append(info.analysis or Verdict())
    return out


def flags_of(packets: list[Packet]) -> list[int]:
    return [v.flags for v in verdicts(packets)]


def test_a_clean_conversation_has_no_flags() -> None:
    w = Wire()
    packets = script(w, *HS, "c PA 10", "s A", "s PA 5", "c A", "c FA", "s FA", "c A")
    assert set(flags_of(packets)) == {0}


def test_resending_unacknowledged_bytes_later_is_a_retransmission() -> None:
    w = Wire()
    packets = script(w, *HS, "c PA 10")
    packets.append(w.again("c", step_ns=BIG_STEP))
    v = verdicts(packets)[-1]
    assert v.flags == Flag.RETRANSMISSION
    assert v.rto_frame == 4


def test_resending_bytes_already_acknowledged_is_spurious() -> None:
    w = Wire()
    packets = script(w, *HS, "c PA 10", "s A")
    packets.append(w.again("c", step_ns=BIG_STEP))
    assert flags_of(packets)[-1] == Flag.SPURIOUS_RETRANSMISSION
    assert wireshark_fields(Flag.SPURIOUS_RETRANSMISSION) == {
        "tcp.analysis.spurious_retransmission", "tcp.analysis.retransmission"
    }


def test_a_hole_then_the_late_segment_within_the_rtt_is_out_of_order() -> None:
    w = Wire(step_ns=100_000)
    packets = script(w, *HS)
    early = w.c("PA", b"a" * 10)
    late = w.c("PA", b"b" * 10)
    # Swap them on the wire, keeping frame numbers and times increasing.
    early.index, late.index = late.index, early.index
    early.ts_ns, late.ts_ns = late.ts_ns, early.ts_ns
    f = flags_of([*packets, late, early])
    assert f[-2] == Flag.LOST_SEGMENT  # "previous segment not captured"
    assert f[-1] == Flag.OUT_OF_ORDER


def test_a_segment_after_a_hole_is_previous_segment_not_captured() -> None:
    w = Wire()
    packets = script(w, *HS, "c PA 10")
    w.lost("c", b"lost")
    packets += script(w, "c PA 10")
    assert flags_of(packets)[-1] == Flag.LOST_SEGMENT
    assert wireshark_field(Flag.LOST_SEGMENT) == "tcp.analysis.lost_segment"


def test_acknowledging_bytes_never_seen_is_acked_unseen_segment() -> None:
    w = Wire()
    packets = script(w, *HS, "c PA 10")
    packets.append(w.s("A", ack=w.next["c"] + 500))
    assert flags_of(packets)[-1] == Flag.ACK_LOST_SEGMENT


def test_repeated_identical_acks_are_counted_duplicate_acks() -> None:
    w = Wire()
    packets = script(w, *HS, "c PA 10", "s A", "s again", "s again")
    v = verdicts(packets)
    assert [x.flags for x in v[-3:]] == [0, Flag.DUPLICATE_ACK, Flag.DUPLICATE_ACK]
    assert [(x.dupack_num, x.dupack_frame) for x in v[-2:]] == [(1, 5), (2, 5)]
    assert v[-1].labels() == ["TCP Dup ACK 5#2"]


def test_resending_what_duplicate_acks_ask_for_is_a_fast_retransmission() -> None:
    w = Wire()
    packets = script(w, *HS)
    lost_seq = w.next["c"]
    packets += script(w, "c PA 10", "c PA 10", "c PA 10")  # the first never arrives
    packets += [w.s("A", ack=lost_seq) for _ in range(3)]  # "still waiting for lost_seq"
    packets.append(w.send("c", "PA", b"x" * 10, seq=lost_seq))
    f = flags_of(packets)
    assert f[-4:-1] == [Flag.DUPLICATE_ACK] * 3
    assert f[-1] == Flag.FAST_RETRANSMISSION
    assert wireshark_fields(f[-1]) == {
        "tcp.analysis.fast_retransmission", "tcp.analysis.retransmission"
    }


def test_zero_window_probe_and_its_ack() -> None:
    w = Wire()
    packets = script(w, *HS, "c PA 10")
    packets.append(w.s("A", window=0))
    packets.append(w.c("PA", b"?"))
    w.next["c"] -= 1  # the probe byte was not accepted
    packets.append(w.s("A", window=0))
    f = flags_of(packets)
    assert f[-3] == Flag.ZERO_WINDOW
    assert f[-2] == Flag.ZERO_WINDOW_PROBE
    assert f[-1] == Flag.ZERO_WINDOW | Flag.ZERO_WINDOW_PROBE_ACK


def test_a_bare_new_window_is_a_window_update() -> None:
    w = Wire()
    packets = script(w, *HS, "c PA 10", "s A")
    packets.append(w.s("A", window=1000))
    assert flags_of(packets)[-1] == Flag.WINDOW_UPDATE


def test_data_reaching_the_edge_of_the_window_is_window_full() -> None:
    w = Wire()
    packets = [w.c("S"), w.s("SA", window=100), w.c("A")]
    packets.append(w.c("PA", b"f" * 100))
    assert flags_of(packets)[-1] == Flag.WINDOW_FULL


def test_keep_alive_and_its_ack() -> None:
    w = Wire()
    packets = script(w, *HS, "c PA 10", "s A")
    packets.append(w.send("c", "A", seq=w.next["c"] - 1, advance=False, step_ns=BIG_STEP))
    packets.append(w.s("A"))
    f = flags_of(packets)
    assert f[-2] == Flag.KEEP_ALIVE
    assert f[-1] == Flag.KEEP_ALIVE_ACK


def test_every_flag_has_a_plain_language_reason_and_a_wireshark_name() -> None:
    for flag in Flag:
        v = Verdict(flags=flag)
        (name, reason), = v.reasons()
        assert name.startswith("tcp.analysis.") and len(reason) > 20
