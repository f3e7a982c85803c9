"""TLS decoders on hostile bytes: never an exception, always a value that says what it is.

Strategies mutate real records from the HTTPS captures (flip, cut, splice)
as well as drawing arbitrary bytes behind a plausible record header, so the
handshake parsers see damage deep inside hellos, extensions and certificates.
"""

from __future__ import annotations

from functools import cache

from hypothesis import given
from hypothesis import strategies as st

import layerpeek
from layerpeek.layers.tcp import TCP
from layerpeek.layers.tls import TLS, decode
from layerpeek.packet import Malformed, Payload
from layerpeek.tls import KeyLog, TLSConnection, handshake

from .frames import CAPTURES, PROPERTY


@cache
def payloads() -> list[bytes]:
    out: list[bytes] = []
    for name in ("tls12_http11.pcap", "tls13_http11.pcap", "tls_resumed.pcap"):
        for packet in layerpeek.read(CAPTURES / name):
            if packet.get(TLS) is not None:
                out.append(packet.payload_after(TCP))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(payloads())))
    for _ in range(draw(st.integers(0, 8))):
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if data:
            data[pos] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=64))


records = st.one_of(
    mutated(),
    st.builds(lambda t, v, body: bytes([t, 3, v]) + len(body).to_bytes(2, "big") + body,
              st.sampled_from([20, 21, 22, 23]), st.integers(0, 4), st.binary(max_size=600)),
)


@PROPERTY
@given(records)
def test_the_per_packet_layer_never_raises(data: bytes) -> None:
    layer, after = decode(data, 0, len(data))
    assert isinstance(layer, (TLS, Payload))
    assert after is None or isinstance(after, Malformed)
    if isinstance(layer, TLS):
        layer.summary()


@PROPERTY
@given(st.binary(min_size=4, max_size=400), st.booleans())
def test_handshake_messages_parse_as_a_value(body: bytes, tls13: bool) -> None:
    data = bytes([body[0]]) + (len(body) - 4).to_bytes(3, "big") + body[4:]
    msg = handshake.parse_message(data, 0, len(data), tls13=tls13)
    assert msg.handshake_type == body[0]


KEYS = KeyLog.parse((CAPTURES / "tls13_http11.keys").read_text())


@PROPERTY
@given(st.lists(records, max_size=6), st.integers(1, 50))
def test_a_connection_fed_hostile_streams_never_raises(chunks: list[bytes], step: int) -> None:
    conn = TLSConnection(0, KEYS)
    for i, chunk in enumerate(chunks):
        direction = "client" if i % 2 == 0 else "server"
        for start in range(0, len(chunk), step):
            conn.feed(direction, chunk[start : start + step])
    conn.close()
