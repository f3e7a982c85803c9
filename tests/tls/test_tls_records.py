"""The TLS record layer and handshake decoders, per packet and on streams.

Byte-level tests use records from ``captures/`` (the hellos of real curl and
OpenSSL sessions) and damage them on purpose: every cut and every bad length
must decode as far as it goes and say why it stopped, never raise.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CAPTURES

import layerpeek
from layerpeek.layers.tls import TLS, decode
from layerpeek.packet import Malformed, Payload
from layerpeek.tls import handshake
from layerpeek.tls.records import HandshakeBuffer, RecordBuffer


def tls_payloads(name: str) -> list[tuple[int, bytes, TLS]]:
    """(frame, TCP payload, TLS layer) for every frame of a capture with a TLS layer."""
    out = []
    for packet in layerpeek.read(CAPTURES / name):
        layer = packet.get(TLS)
        if layer is not None:
            from layerpeek.layers.tcp import TCP

            out.append((packet.index, packet.payload_after(TCP), layer))
    return out


def first(name: str, kind: type) -> tuple[bytes, object]:
    for _, payload, layer in tls_payloads(name):
        for msg in layer.messages():
            if isinstance(msg, kind):
                return payload, msg
    raise AssertionError(f"no {kind.__name__} in {name}")


# --------------------------------------------------------------------------- per packet


def test_dump_lines_say_what_each_flight_holds() -> None:
    lines = {i: layer.summary() for i, _, layer in tls_payloads("tls12_http11.pcap")}
    assert lines[4] == "ClientHello SNI=example.test ALPN=http/1.1"
    assert lines[6] == ("ServerHello TLS1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 "
                        "ALPN=http/1.1, Certificate (2) CN=example.test,O=layerpeek demo, "
                        "ServerKeyExchange x25519, ServerHelloDone")
    assert lines[8] == "ClientKeyExchange, ChangeCipherSpec, Encrypted Handshake Message"
    assert lines[10].startswith("Application Data ") and lines[10].endswith(" bytes")
    assert lines[12] == "Encrypted Alert"


def test_tls13_server_hello_names_the_negotiated_version_not_the_legacy_one() -> None:
    _, hello = first("tls13_http11.pcap", handshake.ServerHello)
    assert isinstance(hello, handshake.ServerHello)
    assert hello.version == 0x0303  # legacy_version
    assert hello.negotiated_version == 0x0304
    assert hello.summary() == "ServerHello TLS1.3 TLS_AES_128_GCM_SHA256"


def test_client_hello_extensions_are_typed() -> None:
    _, hello = first("tls13_http11.pcap", handshake.ClientHello)
    assert isinstance(hello, handshake.ClientHello)
    assert hello.server_name == "example.test"
    assert hello.alpn == ("http/1.1",)
    assert hello.supported_versions[0] == 0x0304
    assert 0x1301 in hello.cipher_suites
    assert len(hello.random) == 32
    key_share = handshake.find(hello.extensions, handshake.KeyShare)
    assert key_share is not None and key_share.entries[0].group == 29  # x25519
    assert len(key_share.entries[0].key_exchange) == 32
    assert handshake.find(hello.extensions, handshake.PSKKeyExchangeModes) is not None
    assert handshake.find(hello.extensions, handshake.SignatureAlgorithms) is not None
    assert hello.problem is None


def test_resumed_hello_offers_a_pre_shared_key() -> None:
    hellos = [m for _, _, layer in tls_payloads("tls_resumed.pcap") for m in layer.messages()
              if isinstance(m, handshake.ClientHello)]
    psk = handshake.find(hellos[1].extensions, handshake.PreSharedKey)
    assert psk is not None and len(psk.identities) == 1 and len(psk.binders) == 1
    assert handshake.find(hellos[0].extensions, handshake.PreSharedKey) is None


def test_certificate_chain_is_parsed_and_the_der_kept() -> None:
    pytest.importorskip("cryptography")
    _, cert_msg = first("tls12_http11.pcap", handshake.Certificate)
    assert isinstance(cert_msg, handshake.Certificate)
    leaf, ca = cert_msg.certificates
    assert leaf.subject == "CN=example.test,O=layerpeek demo"
    assert leaf.issuer == ca.subject == "CN=layerpeek demo CA,O=layerpeek demo"
    assert leaf.san == ("example.test", "www.example.test", "127.0.0.1")
    assert leaf.not_before == "2026-01-01T00:00:00Z" and leaf.not_after == "2036-01-01T00:00:00Z"
    assert leaf.der[:1] == b"\x30" and leaf.problem is None


def test_without_cryptography_certificates_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_cryptography(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("cryptography"):
            raise ImportError("no cryptography here")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_cryptography)
    from layerpeek.tls import certificates

    monkeypatch.setattr(certificates, "_SEEN", {})  # read afresh, not from the cache
    payload, _ = first("tls12_http11.pcap", handshake.Certificate)
    layer, after = decode(payload, 0, len(payload))
    assert after is None
    cert_msg = next(m for m in layer.messages() if isinstance(m, handshake.Certificate))
    assert cert_msg.certificates[0].subject is None
    assert "layerpeek[tls]" in (cert_msg.certificates[0].problem or "")
    assert len(cert_msg.certificates[0].der) > 100


def test_a_segment_that_does_not_start_like_a_record_is_plain_data() -> None:
    layer, after = decode(b"\x00\x01\x02\x03\x04\x05", 0, 6)
    assert isinstance(layer, Payload) and after is None


@pytest.mark.parametrize("name", ["tls13_http11.pcap", "tls12_http11.pcap"])
def test_every_cut_of_the_first_flights_decodes_without_raising(name: str) -> None:
    for _, payload, _ in tls_payloads(name)[:3]:
        for n in range(len(payload) + 1):
            layer, after = decode(payload, 0, n)
            assert isinstance(layer, (TLS, Payload))
            assert after is None or isinstance(after, Malformed)


def test_a_record_cut_by_the_segment_end_is_shown_as_far_as_it_goes() -> None:
    payload, _ = first("tls12_http11.pcap", handshake.Certificate)
    cut = payload.index(b"\x0b\x00") + 200  # inside the Certificate message
    layer, after = decode(payload, 0, cut)
    assert after is None
    assert isinstance(layer, TLS)
    assert layer.records[-1].captured < layer.records[-1].length
    assert "Certificate (part: " in layer.summary()


def test_a_bad_extension_length_keeps_what_came_before_and_is_marked() -> None:
    payload, hello = first("tls13_http11.pcap", handshake.ClientHello)
    assert isinstance(hello, handshake.ClientHello)
    data = bytearray(payload)
    # the ALPN extension (type 16): give it a length far past the end of the block
    pos = data.index(bytes.fromhex("0010000b"))
    data[pos + 2 : pos + 4] = b"\x7f\xff"
    layer, after = decode(bytes(data), 0, len(data))
    assert isinstance(layer, TLS) and isinstance(after, Malformed)
    assert after.protocol == "tls" and not after.truncated
    damaged = layer.messages()[0]
    assert isinstance(damaged, handshake.ClientHello)
    assert damaged.server_name == "example.test"  # read before the damage
    assert damaged.problem is not None and "length" in damaged.problem


def test_several_records_in_one_segment_are_all_read() -> None:
    for _, _, layer in tls_payloads("tls13_http11.pcap"):
        if any(isinstance(m, handshake.ServerHello) for m in layer.messages()):
            kinds = [r.content_type for r in layer.records]
            assert kinds[:2] == [22, 20] and set(kinds[2:]) == {23}
            return
    raise AssertionError("no ServerHello flight")


# --------------------------------------------------------------------------- streams


def _stream(name: str, direction_port: int) -> bytes:
    from layerpeek.layers.tcp import TCP

    out = bytearray()
    for packet in layerpeek.read(CAPTURES / name):
        tcp = packet.get(TCP)
        if tcp is not None and tcp.src_port == direction_port:
            out += packet.payload_after(TCP)
        if packet.index > 12:
            break
    return bytes(out)


def test_records_come_out_whole_whether_fed_at_once_or_byte_by_byte() -> None:
    stream = _stream("tls12_http11.pcap", 8443)
    whole = RecordBuffer().feed(stream, (1,), 5)
    buf = RecordBuffer()
    pieces = [r for i in range(len(stream)) for r in buf.feed(stream[i : i + 1], (i,), i)]
    assert [(r.content_type, r.fragment) for r in whole] == [
        (r.content_type, r.fragment) for r in pieces]
    assert whole[0].offset == 0 and whole[1].offset == 5 + len(whole[0].fragment)
    # a record remembers every frame (here: byte) that carried it
    assert pieces[0].frames == tuple(range(5 + len(pieces[0].fragment)))


def test_handshake_messages_split_across_records_are_joined() -> None:
    hello_payload, _ = first("tls13_http11.pcap", handshake.ClientHello)
    message = hello_payload[5:]
    buf = HandshakeBuffer()
    assert buf.feed(message[:100], (1,)) == []
    assert buf.feed(message[100:250], (2,)) == []
    (raw, frames), = buf.feed(message[250:], (3,))
    assert raw == message and frames == (1, 2, 3)
    assert isinstance(handshake.parse_message(raw, 0, len(raw)), handshake.ClientHello)


def test_stream_that_stops_looking_like_records_is_flagged() -> None:
    buf = RecordBuffer()
    assert buf.feed(b"\x16\x03\x01\x00\x02ab" + b"GET / HTTP/1.1\r\n", (1,), 0)
    assert buf.bad is not None and "not a TLS record header" in buf.bad


@pytest.mark.parametrize("path", sorted(CAPTURES.glob("*.pcap")), ids=lambda p: Path(p).name)
def test_no_capture_decodes_a_tls_layer_that_is_not_tls(path: Path) -> None:
    """The content sniff must not claim the cleartext captures' segments."""
    if path.name.startswith(("tls", "https", "dns_over_tls")):
        return
    for packet in layerpeek.read(path):
        assert packet.get(TLS) is None, f"{path.name} #{packet.index}"
