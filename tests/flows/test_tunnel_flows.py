"""Conversations inside tunnels and VLANs: keyed with what they travel in.

Two overlays may reuse the same private addresses, and a trunk may carry the
same 5-tuple on two VLANs: each is a conversation of its own.  The two
directions of one conversation inside a tunnel are still one, even when the
tunnel's outer UDP source port differs each way (each VTEP hashes its own).
"""

from __future__ import annotations

import dataclasses
import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import eth, ipv4, ipv4_tcp, ipv4_udp, pcap_bytes, tcp, udp

import layerpeek
from layerpeek.cli import main
from layerpeek.flows.pipeline import conversations
from layerpeek.packet import Packet

Corpus = Callable[[str], Path]

A, B = "192.168.1.1", "192.168.1.2"


def segment(flags: str, *, forward: bool = True, seq: int = 100, ack: int = 0) -> bytes:
    """An inner Ethernet frame: a TCP segment between A:40000 and B:80."""
    src, dst = (A, B) if forward else (B, A)
    sport, dport = (40000, 80) if forward else (80, 40000)
    return eth(ipv4_tcp(tcp(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags),
                        src=src, dst=dst))


def in_vxlan(inner: bytes, *, vni: int, forward: bool = True, sport: int = 50000) -> bytes:
    src, dst = ("10.0.0.1", "10.0.0.2") if forward else ("10.0.0.2", "10.0.0.1")
    header = struct.pack("!II", 0x08 << 24, vni << 8)
    return eth(ipv4_udp(udp(header + inner, sport=sport, dport=4789), src=src, dst=dst))


def in_vlan(inner: bytes, vid: int) -> bytes:
    return inner[:12] + struct.pack("!HH", 0x8100, vid) + inner[12:]


def packets(frames: list[bytes]) -> list[Packet]:
    return [dataclasses.replace(layerpeek.decode(f), index=i, ts_ns=i * 1000)
            for i, f in enumerate(frames, 1)]


def handshake(wrap: Callable[[bytes, bool], bytes]) -> list[bytes]:
    return [wrap(segment("S", seq=100), True),
            wrap(segment("SA", forward=False, seq=500, ack=101), False),
            wrap(segment("A", seq=101, ack=501), True)]


def test_the_same_5_tuple_in_two_vnis_is_two_conversations() -> None:
    frames = handshake(lambda f, fwd: in_vxlan(f, vni=1, forward=fwd))
    frames += handshake(lambda f, fwd: in_vxlan(f, vni=2, forward=fwd))
    tcps = [c for c in conversations(packets(frames)) if c.proto == "tcp"]
    assert len(tcps) == 2
    assert [c.history for c in tcps] == ["ShA", "ShA"]
    assert [{t.id for t in c.tunnels} for c in tcps] == [{1}, {2}]


def test_outer_source_ports_differing_each_way_keep_one_conversation() -> None:
    frames = handshake(lambda f, fwd: in_vxlan(f, vni=7, forward=fwd,
                                               sport=50000 if fwd else 61000))
    convs = conversations(packets(frames))
    (conv,) = [c for c in convs if c.proto == "tcp"]
    assert (conv.packets, conv.conn_state, conv.history) == (3, "S1", "ShA")
    assert [(t.kind, t.src, t.dst, t.id) for t in conv.tunnels] == [
        ("vxlan", "10.0.0.1:50000", "10.0.0.2:4789", 7),
        ("vxlan", "10.0.0.2:61000", "10.0.0.1:4789", 7),
    ]
    # The tunnels themselves are UDP conversations, as Zeek logs them.
    outer = sorted((str(c.client), str(c.server)) for c in convs if c.proto == "udp")
    assert outer == [("10.0.0.1:50000", "10.0.0.2:4789"), ("10.0.0.2:61000", "10.0.0.1:4789")]


def test_the_same_5_tuple_on_two_vlans_is_two_conversations() -> None:
    frames = handshake(lambda f, fwd: in_vlan(f, 10)) + handshake(lambda f, fwd: in_vlan(f, 20))
    tcps = [c for c in conversations(packets(frames)) if c.proto == "tcp"]
    assert [(c.vlans, c.history, c.handshake.complete) for c in tcps] == [
        ((10,), "ShA", True), ((20,), "ShA", True)]
    assert all(c.handshake.rtt_ns is not None and c.handshake.rtt_ns > 0 for c in tcps)


def test_gre_keys_separate_tunnels_between_the_same_two_hosts() -> None:
    def in_gre(inner: bytes, key: int, forward: bool) -> bytes:
        src, dst = ("10.0.0.1", "10.0.0.2") if forward else ("10.0.0.2", "10.0.0.1")
        gre = struct.pack("!HHI", 0x2000, 0x6558, key)
        return eth(ipv4(gre + inner, proto=47, src=src, dst=dst))

    frames = handshake(lambda f, fwd: in_gre(f, 5, fwd)) + handshake(
        lambda f, fwd: in_gre(f, 6, fwd))
    tcps = [c for c in conversations(packets(frames)) if c.proto == "tcp"]
    assert [(c.packets, [t.id for t in c.tunnels]) for c in tcps] == [(3, [5, 5]), (3, [6, 6])]


def test_flows_json_says_which_tunnels_and_vlans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = handshake(lambda f, fwd: in_vxlan(in_vlan(f, 33), vni=9, forward=fwd))
    path = tmp_path / "vxlan.pcap"
    path.write_bytes(pcap_bytes(frames))
    assert main(["flows", "--json", str(path)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (inner,) = [r for r in records if r["proto"] == "tcp"]
    assert inner["vlans"] == [33]
    assert inner["tunnels"] == [
        {"type": "vxlan", "src": "10.0.0.1:50000", "dst": "10.0.0.2:4789", "id": 9},
        {"type": "vxlan", "src": "10.0.0.2:50000", "dst": "10.0.0.1:4789", "id": 9},
    ]
    assert all(r["vlans"] == [] and r["tunnels"] == [] for r in records if r["proto"] == "udp")


def test_zeek_vxlan_http_trace_shows_the_exchange(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = corpus("zeek/tunnels/vxlan-encapsulated-http.pcap")
    assert main(["http", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "GET" in out and "/image/svg" in out and " 200 " in out
    assert main(["flows", "--json", str(trace)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (inner,) = [r for r in records if r["proto"] == "tcp"]
    assert (inner["client"], inner["server"], inner["conn_state"]) == (
        "172.16.11.201:40354", "54.86.237.188:80", "SF")
    assert inner["tunnels"] == [
        {"type": "vxlan", "src": "10.1.200.131:50000", "dst": "10.1.1.172:4789", "id": 1}]


def test_a_capture_cut_to_64_bytes_still_has_its_conversation(corpus: Corpus) -> None:
    """``editcap -s 64`` of Zeek's http/get.pcap: every TCP header is cut inside its
    options, yet the ports, numbers and flags are there, as tshark and tcpdump show."""
    with layerpeek.read(corpus("zeek/http/get.pcap")) as reader:
        whole = list(reader)
    cut = [dataclasses.replace(layerpeek.decode(p.data[:64]), index=p.index, ts_ns=p.ts_ns,
                               wire_len=p.wire_len) for p in whole]
    assert all(p.malformed is not None and p.malformed.truncated for p in cut)
    (conv,) = conversations(cut)
    (full,) = conversations(whole)
    assert (str(conv.client), str(conv.server), conv.packets) == (
        str(full.client), str(full.server), full.packets)
    assert conv.conn_state == "SF" and conv.handshake.complete
    assert conv.missed_bytes_client + conv.missed_bytes_server > 0  # the payload was cut away


def test_zeek_vlan_collisions_are_three_conversations_with_positive_rtts(corpus: Corpus) -> None:
    """The same 5-tuple on three VLANs: once one conversation with a negative RTT."""
    convs = conversations(corpus("zeek/vlan-collisions.pcap"))
    assert len(convs) == 3
    assert len({c.vlans for c in convs}) == 3
    assert all(c.conn_state == "SF" and (c.handshake.rtt_ns or 0) > 0 for c in convs)
