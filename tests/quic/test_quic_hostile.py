"""Damaged QUIC never raises: every cut and many bit flips of real datagrams, through the
decoder and the QUIC stage with the key log (reported as Malformed layers or problems)."""

from __future__ import annotations

import dataclasses
import random

import pytest
from conftest import CAPTURES

import layerpeek
from layerpeek.analysis import Analysis
from layerpeek.packet import Malformed, Packet
from layerpeek.quic import QUIC
from layerpeek.quic.stage import QUICConversation, QUICStage

pytest.importorskip("cryptography")
pytest.importorskip("pylsqpack")

NAMES = ["quic_h3_page", "quic_retry", "quic_version_negotiation", "quic_key_update"]
UDP_PAYLOAD = 42  # Ethernet + IPv4 without options + UDP: where the QUIC bytes start


def packets(name: str) -> list[Packet]:
    path = CAPTURES / f"{name}.pcap"
    if not path.exists():
        pytest.skip(f"captures/{name}.pcap missing")
    with layerpeek.read(path) as reader:
        return list(reader)


def redecode(original: Packet, data: bytes) -> Packet:
    decoded = layerpeek.decode(data, original.linktype)
    return dataclasses.replace(decoded, index=original.index, ts_ns=original.ts_ns)


def run(items: list[Packet], name: str) -> list[object]:
    analysis = Analysis([QUICStage(CAPTURES / f"{name}.keys")])
    events: list[object] = []
    for step in analysis.run(items):
        events.extend(step.events)
    events.extend(analysis.finish())
    return events


@pytest.mark.parametrize("name", NAMES)
def test_every_cut_of_every_datagram_decodes_to_a_layer_or_a_marker(name: str) -> None:
    for original in packets(name):
        for end in range(UDP_PAYLOAD + 1, len(original.data)):
            packet = redecode(original, original.data[:end])
            last = packet.layers[-1]
            assert isinstance(last, (QUIC, Malformed)) or packet.get(QUIC) is not None, (
                f"{name} #{original.index} cut at {end}: {packet.protocols}")


@pytest.mark.parametrize("name", NAMES)
def test_bit_flips_and_cuts_through_the_stage_are_told_not_raised(name: str) -> None:
    rng = random.Random(f"quic hostile {name}")
    clean = packets(name)
    for _ in range(30):
        damaged = []
        for original in clean:
            data = bytearray(original.data)
            roll = rng.random()
            if roll < 0.3:
                for _ in range(rng.randint(1, 4)):
                    at = rng.randrange(UDP_PAYLOAD, len(data))
                    data[at] ^= 1 << rng.randrange(8)
            elif roll < 0.4:
                data = data[: rng.randrange(UDP_PAYLOAD, len(data))]
            damaged.append(redecode(original, bytes(data)))
        events = run(damaged, name)
        # Every connection the stage opened comes out, with whatever went wrong in words.
        convs = [e for e in events if isinstance(e, QUICConversation)]
        assert all(isinstance(p, str) for c in convs for p in c.connection.problems)
