"""Zeek-compatible conn_state and history, from packet sequences.

Each conn_state value of Zeek's documentation (``Conn::Info``) is produced
by the packet pattern the documentation describes; history letters follow
the documented case, once-only and logarithmic rules.
"""

from __future__ import annotations

import pytest

from layerpeek.flows.zeek import ZeekTracker, udp_conn_state

# (from_orig, flags) with flags as letters: S A F R P; ORIG and RESP name the sender.
ORIG, RESP = True, False
BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}


def run(packets: list[tuple[bool, str]], *, flipped: bool = False, data: int = 0) -> ZeekTracker:
    z = ZeekTracker(flipped=flipped)
    seq = {True: 100, False: 900}
    for from_orig, letters in packets:
        flags = sum(BITS[c] for c in letters)
        length = data if "P" in letters else 0
        z.packet(from_orig, flags, seq[from_orig], length, 65535)
        seq[from_orig] += length + ("S" in letters) + ("F" in letters)
    return z


HANDSHAKE = [(ORIG, "S"), (RESP, "SA"), (ORIG, "A")]

CASES = {
    "S0": ([(ORIG, "S")], False),  # attempt seen, no reply
    "S1": (HANDSHAKE, False),  # established, not terminated
    "SF": ([*HANDSHAKE, (ORIG, "FA"), (RESP, "FA"), (ORIG, "A")], False),  # normal termination
    "REJ": ([(ORIG, "S"), (RESP, "RA")], False),  # rejected
    "S2": ([*HANDSHAKE, (ORIG, "FA")], False),  # close attempt by originator only
    "S3": ([*HANDSHAKE, (RESP, "FA")], False),  # close attempt by responder only
    "RSTO": ([*HANDSHAKE, (ORIG, "RA")], False),  # originator aborted
    "RSTR": ([*HANDSHAKE, (RESP, "RA")], False),  # responder sent a RST
    "RSTOS0": ([(ORIG, "S"), (ORIG, "R")], False),  # SYN then RST, no SYN-ACK
    "RSTRH": ([(RESP, "SA"), (RESP, "R")], True),  # SYN-ACK then RST, no SYN seen
    "SH": ([(ORIG, "S"), (ORIG, "F")], False),  # SYN then FIN, no SYN-ACK
    "SHR": ([(RESP, "SA"), (RESP, "FA")], True),  # SYN-ACK then FIN, no SYN
    "OTH": ([(ORIG, "PA"), (RESP, "PA")], False),  # midstream, not closed
}


@pytest.mark.parametrize("state", list(CASES))
def test_conn_state_matches_zeeks_documented_meaning(state: str) -> None:
    packets, flipped = CASES[state]
    assert run(packets, flipped=flipped, data=5).conn_state() == state


def test_handshake_data_and_close_history_reads_like_zeek() -> None:
    z = run([*HANDSHAKE, (ORIG, "PA"), (RESP, "A"), (RESP, "PA"), (ORIG, "A"), (ORIG, "FA"),
             (RESP, "FA"), (ORIG, "A")], data=10)
    assert z.history_string == "ShADadFf"


def test_pure_acks_and_data_are_recorded_once_per_direction() -> None:
    z = run([(ORIG, "PA"), (ORIG, "PA"), (ORIG, "A"), (ORIG, "A"), (RESP, "A"), (RESP, "A")],
            data=3)
    assert z.history_string == "DAa"


def test_syn_is_repeated_only_when_its_sequence_number_changes() -> None:
    z = ZeekTracker()
    z.packet(True, 0x02, 100, 0, 1000)
    z.packet(True, 0x02, 100, 0, 1000)  # retransmission: same seq
    z.packet(True, 0x02, 555, 0, 1000)  # a new attempt
    assert z.history_string == "SS"


def test_multi_flag_and_inconsistent_packets_get_q_and_i() -> None:
    z = ZeekTracker()
    z.packet(True, 0x02 | 0x01, 1, 0, 1000)  # SYN+FIN
    z.packet(False, 0x01 | 0x04, 1, 0, 1000)  # FIN+RST
    assert z.history_string == "Qi"


def test_retransmissions_are_counted_logarithmically() -> None:
    z = ZeekTracker()
    for _ in range(150):
        z.count_event(True, "t")
    for _ in range(9):
        z.count_event(False, "g")
    assert z.history_string == "TTTg"  # 1st, 10th, 100th; the responder's 1st gap


def test_zero_window_from_the_responder_is_a_lower_case_w() -> None:
    z = ZeekTracker()
    z.packet(False, 0x10, 1, 0, 0)
    assert "w" in z.history_string


def test_flipped_connection_history_starts_with_a_caret() -> None:
    assert run([(RESP, "SA")], flipped=True).history_string == "^h"


def test_an_ack_after_a_syn_ack_whose_syn_was_missed_establishes_the_connection() -> None:
    # Zeek's krb/optional-service-name.pcap: SYN-ACK, ACK, data both ways (no SYN seen).
    # Zeek's UpdateInactiveState establishes the originator on that ACK: S1, not OTH.
    z = run([(RESP, "SA"), (ORIG, "A"), (ORIG, "PA"), (RESP, "PA")], flipped=True, data=5)
    assert (z.conn_state(), z.history_string) == ("S1", "^hADd")
    partial = run([(RESP, "SA"), (ORIG, "P")], flipped=True, data=5)  # no ACK bit: partial
    assert partial.conn_state() == "OTH"


def test_udp_conn_state() -> None:
    assert (udp_conn_state(3, 1), udp_conn_state(2, 0), udp_conn_state(0, 0)) == ("SF", "S0", "OTH")


def test_a_segment_filling_a_hole_is_a_retransmission_as_zeek_counts_it() -> None:
    # Zeek's http/concurrent-range-requests.pcap, its second connection: the responder
    # re-sends the segment before the highest one it sent (which the capture missed):
    # Zeek logs ShADadtFf, "t" by the highest sequence number sent, not by what arrived.
    z = ZeekTracker()
    z.packet(True, 0x02, 100, 0, 65535)
    z.packet(False, 0x12, 900, 0, 65535)
    z.packet(True, 0x10, 101, 0, 65535)
    z.packet(True, 0x18, 101, 10, 65535)
    z.packet(False, 0x10, 901, 100, 65535)   # 901-1000
    z.packet(False, 0x18, 1101, 50, 65535)   # 1101-1150: 1001-1100 not captured
    z.packet(False, 0x10, 1001, 100, 65535)  # the hole, re-sent: t
    z.packet(False, 0x10, 1151, 0, 65535)    # a pure ACK is never one (its "a" comes last)
    assert z.history_string == "ShADdta"
