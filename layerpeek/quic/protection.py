"""QUIC packet protection (RFC 9001 §5): keys from secrets, header protection, the AEAD.

Every packet but Retry and Version Negotiation is encrypted with an AEAD
whose key and IV come from a TLS secret through HKDF-Expand-Label, and its
first byte's low bits and its packet number are hidden by a mask computed
from a sample of the ciphertext ("header protection").  The secrets of
Initial packets come from the client's first Destination Connection ID and
a salt fixed by the version, so anyone can read them (§5.2: they protect
against off-path injection, not against observers); the other secrets are
the TLS handshake's, which a key log gives (:mod:`layerpeek.tls.keylog`).

The ciphers are ``cryptography``'s (AES-GCM, ChaCha20-Poly1305, AES-ECB and
ChaCha20 for the mask): the ``quic`` extra.  It is imported when a key is
first derived, so that reading a capture without QUIC never pays for it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from layerpeek.quic.versions import VERSIONS, Version

#: TLS 1.3 cipher suites QUIC may use: code → (AEAD, key length, hash).
SUITES: dict[int, tuple[str, int, str]] = {
    0x1301: ("aes-gcm", 16, "sha256"),
    0x1302: ("aes-gcm", 32, "sha384"),
    0x1303: ("chacha20", 32, "sha256"),
}
INITIAL_SUITE = 0x1301  #: Initial packets always use TLS_AES_128_GCM_SHA256


def names_of_suite(suite: int) -> str:
    from layerpeek.tls.names import cipher_suite_name

    return cipher_suite_name(suite)


class DecryptError(Exception):
    """A packet could not be unprotected; the reason says why, in plain words."""


def hkdf_expand_label(secret: bytes, label: bytes, length: int, hash_name: str) -> bytes:
    """HKDF-Expand-Label (RFC 8446 §7.1) with an empty context."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    algorithm = hashes.SHA384() if hash_name == "sha384" else hashes.SHA256()
    return HKDFExpand(algorithm, length, info).derive(secret)


@dataclass(slots=True, eq=False)
class PacketKeys:
    """One direction's keys at one encryption level (and key phase)."""

    suite: int
    version: Version
    secret: bytes = field(repr=False)
    key: bytes = field(repr=False)
    iv: bytes = field(repr=False)
    hp: bytes = field(repr=False)
    _aead: Any = field(default=None, repr=False)
    _mask: Any = field(default=None, repr=False)

    @classmethod
    def from_secret(cls, secret: bytes, suite: int, version: Version,
                    hp: bytes | None = None) -> PacketKeys:
        _, key_len, hash_name = SUITES[suite]
        key = hkdf_expand_label(secret, version.label("key"), key_len, hash_name)
        iv = hkdf_expand_label(secret, version.label("iv"), 12, hash_name)
        if hp is None:
            hp = hkdf_expand_label(secret, version.label("hp"), key_len, hash_name)
        return cls(suite, version, secret, key, iv, hp)

    def next_phase(self) -> PacketKeys:
        """The keys after a key update (RFC 9001 §6): a new secret; the same header key."""
        hash_name = SUITES[self.suite][2]
        size = 48 if hash_name == "sha384" else 32
        secret = hkdf_expand_label(self.secret, self.version.label("ku"), size, hash_name)
        return PacketKeys.from_secret(secret, self.suite, self.version, self.hp)

    def mask(self, sample: bytes) -> bytes:
        """The 5-byte header-protection mask for a 16-byte ciphertext sample (§5.4)."""
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        if SUITES[self.suite][0] == "chacha20":
            # The sample is the ChaCha20 counter (4 bytes, little endian) and nonce.
            enc = Cipher(algorithms.ChaCha20(self.hp, sample), None).encryptor()
            return bytes(enc.update(b"\x00" * 5))
        if self._mask is None:
            self._mask = Cipher(algorithms.AES(self.hp), modes.ECB()).encryptor()
        return bytes(self._mask.update(sample))[:5]

    def open(self, packet_number: int, header: bytes, ciphertext: bytes) -> bytes:
        """The plaintext of a payload; DecryptError when it does not authenticate."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

        if self._aead is None:
            kind = SUITES[self.suite][0]
            self._aead = ChaCha20Poly1305(self.key) if kind == "chacha20" else AESGCM(self.key)
        nonce = (int.from_bytes(self.iv, "big") ^ packet_number).to_bytes(12, "big")
        if len(ciphertext) < 16:
            raise DecryptError(f"payload of {len(ciphertext)} bytes is shorter than the tag")
        try:
            return bytes(self._aead.decrypt(nonce, ciphertext, header))
        except InvalidTag:
            raise DecryptError("the payload does not authenticate (wrong key, or damaged)"
                               ) from None


@functools.lru_cache(maxsize=512)
def initial_keys(version: int, dcid: bytes) -> tuple[PacketKeys, PacketKeys] | None:
    """(client, server) Initial keys for a client's first Destination Connection ID.

    None for a version whose salt is unknown.  Cached: every Initial of a
    connection (and its retransmissions) uses the same ones.
    """
    known = VERSIONS.get(version)
    if known is None:
        return None
    initial = hmac.new(known.initial_salt, dcid, hashlib.sha256).digest()  # HKDF-Extract
    client = hkdf_expand_label(initial, b"client in", 32, "sha256")
    server = hkdf_expand_label(initial, b"server in", 32, "sha256")
    return (PacketKeys.from_secret(client, INITIAL_SUITE, known),
            PacketKeys.from_secret(server, INITIAL_SUITE, known))


def decode_packet_number(truncated: int, pn_len: int, expected: int) -> int:
    """The full packet number from its low ``pn_len`` bytes (RFC 9000 Appendix A.3)."""
    bits = pn_len * 8
    window = 1 << bits
    half = window // 2
    candidate = (expected & ~(window - 1)) | truncated
    if candidate <= expected - half and candidate < (1 << 62) - window:
        return candidate + window
    if candidate > expected + half and candidate >= window:
        return candidate - window
    return candidate


@dataclass(slots=True)
class Unprotected:
    """A packet with its protection removed."""

    first_byte: int  #: the first byte with its protected bits restored
    packet_number: int
    pn_len: int
    payload: bytes  #: the plaintext frames


def remove_header_protection(buf: bytes, start: int, pn_offset: int, end: int,
                             keys: PacketKeys) -> tuple[int, int, bytes]:
    """(first byte, packet-number length, header bytes as sent before protection)."""
    sample_at = pn_offset + 4
    if sample_at + 16 > end:
        raise DecryptError(f"packet too short to sample for header protection "
                           f"({end - pn_offset} bytes after the header)")
    mask = keys.mask(buf[sample_at : sample_at + 16])
    first = buf[start]
    first ^= mask[0] & (0x0F if first & 0x80 else 0x1F)
    pn_len = (first & 0x03) + 1
    pn = bytes(b ^ m for b, m in zip(buf[pn_offset : pn_offset + pn_len], mask[1:], strict=False))
    header = bytes([first]) + buf[start + 1 : pn_offset] + pn
    return first, pn_len, header


def unprotect(buf: bytes, start: int, pn_offset: int, end: int, keys: PacketKeys,
              expected_pn: int = 0) -> Unprotected:
    """Remove header protection and decrypt ``buf[start:end]`` (one QUIC packet).

    ``pn_offset`` is where the packet number starts (after the header's
    visible fields); ``expected_pn`` the largest packet number received in
    that space plus one, from which the truncated number is widened.
    """
    first, pn_len, header = remove_header_protection(buf, start, pn_offset, end, keys)
    truncated = int.from_bytes(header[-pn_len:], "big")
    number = decode_packet_number(truncated, pn_len, expected_pn)
    payload = keys.open(number, header, buf[pn_offset + pn_len : end])
    return Unprotected(first, number, pn_len, payload)


def retry_tag_valid(packet: bytes, odcid: bytes, version: int) -> bool | None:
    """Does a Retry packet's integrity tag (its last 16 bytes) match (RFC 9001 §5.8)?

    The tag binds the Retry to the client's original Destination Connection
    ID, which the Retry does not carry: the conversation stage knows it.
    None for a version whose Retry keys are unknown.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    known = VERSIONS.get(version)
    if known is None or not known.retry_key or len(packet) < 16:
        return None
    pseudo = bytes([len(odcid)]) + odcid + packet[:-16]
    try:
        AESGCM(known.retry_key).decrypt(known.retry_nonce, packet[-16:], pseudo)
    except InvalidTag:
        return False
    return True
