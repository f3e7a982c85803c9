"""QUIC packets of one datagram: headers, protection, frames (RFC 9000, 9001 Appendix A, 9369)."""

from __future__ import annotations

import pytest
from builders import eth, ipv4_udp, udp
from conftest import CAPTURES

import layerpeek
from layerpeek.packet import Malformed
from layerpeek.quic import frames as qf
from layerpeek.quic.packets import QUIC, decode, decrypt_initial, parse_long, sniff
from layerpeek.quic.protection import (
    DecryptError,
    PacketKeys,
    decode_packet_number,
    initial_keys,
    retry_tag_valid,
    unprotect,
)
from layerpeek.quic.versions import VERSION_2, VERSIONS
from layerpeek.tls.handshake import ClientHello, TransportParameters, find

pytest.importorskip("cryptography")

# RFC 9001 Appendix A: the client's first DCID, and the packets built from it.
DCID = bytes.fromhex("8394c8f03e515708")
SERVER_INITIAL = bytes.fromhex(  # A.3
    "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a"
    "5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3"
    "dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84"
    "022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4"
    "2158407dd074ee")
SERVER_INITIAL_PLAINTEXT = bytes.fromhex(
    "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739"
    "88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94"
    "0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00"
    "020304")
RETRY = bytes.fromhex(  # A.4
    "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba")
CHACHA_SHORT = bytes.fromhex("4cfe4189655e5cd55c41f69080575d7999c25a5bfb")  # A.5
CHACHA_SECRET = bytes.fromhex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b")


def test_initial_keys_are_rfc_9001_appendix_a1() -> None:
    keys = initial_keys(1, DCID)
    assert keys is not None
    client, server = keys
    assert client.secret.hex() == "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"
    assert (client.key.hex(), client.iv.hex(), client.hp.hex()) == (
        "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c",
        "9f50449e04a0e810283a1e9933adedd2")
    assert server.secret.hex() == "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b"
    assert (server.key.hex(), server.iv.hex(), server.hp.hex()) == (
        "cf3a5331653c364c88f0f379b6067e37", "0ac1493ca1905853b0bba03e",
        "c206b8d9b9f0f37644430b490eeaa314")


def test_server_initial_of_appendix_a3_decrypts_with_the_clients_first_dcid() -> None:
    packet, pn_offset = parse_long(SERVER_INITIAL, 0, len(SERVER_INITIAL))
    assert (packet.kind, packet.dcid, packet.scid.hex() if packet.scid else None) == (
        "Initial", b"", "f067a5502a4262b5")
    decrypt_initial(SERVER_INITIAL, 0, pn_offset, packet, client=False, odcid=DCID)
    assert packet.decrypted and packet.packet_number == 1
    assert packet.frames == qf.parse_frames(SERVER_INITIAL_PLAINTEXT)
    ack, crypto = packet.frames
    assert isinstance(ack, qf.Ack) and ack.ranges() == [(0, 0)]
    assert isinstance(crypto, qf.Crypto) and crypto.offset == 0 and crypto.data[0] == 2


def test_a_server_initial_alone_is_left_encrypted_with_the_reason() -> None:
    layer, after = decode(SERVER_INITIAL, 0, len(SERVER_INITIAL))
    assert after is None and isinstance(layer, QUIC)
    (packet,) = layer.packets
    assert not packet.decrypted and packet.packet_number is None
    assert packet.problem is not None and "first Destination Connection ID" in packet.problem
    assert layer.summary() == "Initial DCID= SCID=f067a5502a4262b5 [encrypted]"


def test_retry_of_appendix_a4_and_its_integrity_tag() -> None:
    layer, _ = decode(RETRY, 0, len(RETRY))
    assert isinstance(layer, QUIC)
    (packet,) = layer.packets
    assert (packet.kind, packet.token, packet.long_packet_type) == ("Retry", b"token", 3)
    assert retry_tag_valid(RETRY, DCID, 1) is True
    assert retry_tag_valid(RETRY, DCID[:-1] + b"\x00", 1) is False
    damaged = RETRY[:-1] + bytes([RETRY[-1] ^ 1])
    assert retry_tag_valid(damaged, DCID, 1) is False


def test_chacha20_short_header_of_appendix_a5_and_its_key_update() -> None:
    keys = PacketKeys.from_secret(CHACHA_SECRET, 0x1303, VERSIONS[1])
    assert keys.key.hex() == "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8"
    assert keys.iv.hex() == "e0459b3474bdd0e44a41c144"
    assert keys.hp.hex() == "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4"
    plain = unprotect(CHACHA_SHORT, 0, 1, len(CHACHA_SHORT), keys, expected_pn=654360563)
    assert (plain.packet_number, plain.pn_len, plain.payload) == (654360564, 3, b"\x01")
    updated = keys.next_phase()
    assert updated.secret.hex() == (
        "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9")
    assert updated.hp == keys.hp  # header protection keys do not change (RFC 9001 §6)
    with pytest.raises(DecryptError, match="does not authenticate"):
        unprotect(CHACHA_SHORT, 0, 1, len(CHACHA_SHORT), updated, expected_pn=654360563)


def test_a_corrupted_tag_is_reported_not_raised() -> None:
    client, _ = initial_keys(1, DCID) or (None, None)
    assert client is not None
    bad = bytearray(SERVER_INITIAL)
    bad[-1] ^= 0x55
    packet, pn_offset = parse_long(bytes(bad), 0, len(bad))
    decrypt_initial(bytes(bad), 0, pn_offset, packet, client=False, odcid=DCID)
    assert not packet.decrypted
    assert packet.problem == "the payload does not authenticate (wrong key, or damaged)"


def test_packet_number_decoding_of_rfc_9000_appendix_a3() -> None:
    assert decode_packet_number(0x9B32, 2, 0xA82F30EB) == 0xA82F9B32
    assert decode_packet_number(0, 1, 0) == 0
    assert decode_packet_number(0x01, 1, 0xFF) == 0x101


def test_version_negotiation_lists_the_versions_offered() -> None:
    data = bytes.fromhex("ea00000000089aac5a49ba87a84908f92f4336fa951ba1"
                         "6b3343cf00000001")
    layer, _ = decode(data, 0, len(data))
    assert isinstance(layer, QUIC)
    (packet,) = layer.packets
    assert packet.kind == "Version Negotiation" and packet.long_packet_type is None
    assert packet.supported_versions == (VERSION_2, 1)
    assert "versions=2,1" in packet.summary()


def test_sniff_wants_a_known_version_and_plausible_connection_ids() -> None:
    assert sniff(SERVER_INITIAL, 0, len(SERVER_INITIAL))
    assert sniff(RETRY, 0, len(RETRY))
    assert not sniff(CHACHA_SHORT, 0, len(CHACHA_SHORT))  # a short header: not by content
    unknown = SERVER_INITIAL[:1] + b"\x12\x34\x56\x78" + SERVER_INITIAL[5:]
    assert not sniff(unknown, 0, len(unknown))
    long_cid = SERVER_INITIAL[:5] + b"\x15" + bytes(21) + SERVER_INITIAL[6:]
    assert not sniff(long_cid, 0, len(long_cid))
    assert not sniff(b"\xc0\x00\x00\x00\x01", 0, 5)


def test_coalesced_packets_and_a_truncated_second_one() -> None:
    datagram = SERVER_INITIAL + SERVER_INITIAL
    layer, after = decode(datagram, 0, len(datagram))
    assert isinstance(layer, QUIC) and after is None and len(layer.packets) == 2
    cut = datagram[:-10]
    layer, after = decode(cut, 0, len(cut))
    assert isinstance(layer, QUIC) and len(layer.packets) == 1
    assert isinstance(after, Malformed) and after.truncated
    assert after.offset == len(SERVER_INITIAL) + 18  # the Length field's end
    assert "runs past the datagram" in after.reason


def test_a_truncated_datagram_on_port_443_is_a_malformed_layer_not_a_traceback() -> None:
    frame = eth(ipv4_udp(udp(SERVER_INITIAL[:12], sport=443, dport=40000)))
    packet = layerpeek.decode(frame)
    assert packet.protocols == "eth:ipv4:udp:malformed"
    assert packet.malformed is not None and packet.malformed.protocol == "quic"


def test_frames_every_kind_and_a_cut_one() -> None:
    payload = bytes.fromhex(
        "01"  # PING
        "030a000101" "0102" "0a0b0c"  # ACK: 10..9, then 6..4, and ECN counts
        "0404" "4100" "05"  # RESET_STREAM id 4 H3_NO_ERROR size 5
        "0508" "410c"  # STOP_SENDING id 8 H3_REQUEST_CANCELLED
        "0702abcd"  # NEW_TOKEN
        "0f04" "05" "03" "616263"  # STREAM id 4 off 5 len 3 fin
        "1024" "1104" "20" "1203" "1407" "150806" "1702"  # limits
        "18" "01" "00" "04" "01020304" + "ee" * 16 +  # NEW_CONNECTION_ID
        "1902"  # RETIRE_CONNECTION_ID
        "1a" + "11" * 8 + "1b" + "22" * 8 +
        "1c" "0a" "06" "03" "626164"  # CONNECTION_CLOSE PROTOCOL_VIOLATION in CRYPTO, 'bad'
        "1d" "4100" "00"  # application close H3_NO_ERROR
        "1e"  # HANDSHAKE_DONE
        "3102" "6869"  # DATAGRAM
        "000000"  # PADDING
    )
    parsed = qf.parse_frames(payload)
    assert [f.name for f in parsed] == [
        "PING", "ACK", "RESET_STREAM", "STOP_SENDING", "NEW_TOKEN", "STREAM", "MAX_DATA",
        "MAX_STREAM_DATA", "MAX_STREAMS", "DATA_BLOCKED", "STREAM_DATA_BLOCKED",
        "STREAMS_BLOCKED", "NEW_CONNECTION_ID", "RETIRE_CONNECTION_ID", "PATH_CHALLENGE",
        "PATH_RESPONSE", "CONNECTION_CLOSE", "CONNECTION_CLOSE", "HANDSHAKE_DONE", "DATAGRAM",
        "PADDING"]
    ack = parsed[1]
    assert isinstance(ack, qf.Ack) and ack.ranges() == [(9, 10), (4, 6)]
    assert ack.ecn == (10, 11, 12)
    stream = parsed[5]
    assert isinstance(stream, qf.Stream) and (stream.stream_id, stream.offset, stream.data,
                                              stream.fin) == (4, 5, b"abc", True)
    close, app_close = parsed[16], parsed[17]
    assert isinstance(close, qf.ConnectionClose) and close.error == "PROTOCOL_VIOLATION"
    assert close.offending_frame == 6 and close.reason == "bad"
    assert isinstance(app_close, qf.ConnectionClose) and app_close.error == "H3_NO_ERROR"
    assert parsed[-1] == qf.Padding(0, 3)
    assert qf.error_name(0x12E) == "CRYPTO_ERROR(certificate_unknown)"
    cut = qf.parse_frames(bytes.fromhex("01" "06" "00" "10" "4142"))
    assert isinstance(cut[-1], qf.FrameProblem) and "CRYPTO cut short" in cut[-1].reason
    unknown = qf.parse_frames(bytes.fromhex("01" "2f" "0000"))
    assert isinstance(unknown[-1], qf.FrameProblem) and unknown[-1].rest == b"\x2f\x00\x00"


def test_ack_ranges_count_down_from_the_largest() -> None:
    # largest 10, first range 2 (10..8); gap 1, length 0 → 5; gap 0, length 1 → 3..2
    ack = qf.parse_frames(bytes.fromhex("020a00020201000001"))[0]
    assert isinstance(ack, qf.Ack)
    assert ack.ranges() == [(8, 10), (5, 5), (2, 3)]
    assert ack.summary() == "ACK(8-10,5,2-3)"


CAPTURE = CAPTURES / "quic_h3_page.pcap"


@pytest.mark.skipif(not CAPTURE.exists(), reason="captures/quic_h3_page.pcap missing")
def test_the_clients_first_initial_shows_its_client_hello_without_any_key() -> None:
    with layerpeek.read(CAPTURE) as reader:
        first = next(iter(reader))
    layer = first.get(QUIC)
    assert layer is not None
    (packet,) = layer.packets
    assert packet.decrypted and packet.packet_number == 0
    (hello,) = packet.messages
    assert isinstance(hello, ClientHello)
    assert (hello.server_name, hello.alpn) == ("example.test", ("h3",))
    params = find(hello.extensions, TransportParameters)
    assert params is not None
    assert params.get("initial_source_connection_id") == packet.scid
    assert params.get("max_idle_timeout") == 60000
    assert packet.dcid is not None and packet.scid is not None
    assert layer.summary() == (f"Initial DCID={packet.dcid.hex()} SCID={packet.scid.hex()} "
                               "PKN=0 CRYPTO ClientHello SNI=example.test ALPN=h3")
