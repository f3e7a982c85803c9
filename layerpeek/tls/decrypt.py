"""Record protection: the keys of one direction, and opening records with them.

The ciphers are ``cryptography``'s (the ``tls`` extra); nothing here
implements a cipher.  What is written out here is the TLS glue around
them, each piece from its RFC:

* TLS 1.3 (RFC 8446 §7.1, §7.3, §5.2, §5.3): ``HKDF-Expand-Label`` turns a
  traffic secret from the key log into a key and an IV; the per-record nonce
  is the IV XOR the 64-bit record sequence number; the additional data is
  the record header; the plaintext ends with the real content type, after
  any zero padding.  A KeyUpdate moves a secret on with the label
  ``"traffic upd"`` (§7.2).
* TLS 1.2 (RFC 5246 §5, §6.3): the PRF (P_SHA256 or P_SHA384, from HMAC)
  expands the master secret into the key block.  AES-GCM and AES-CCM records
  carry an 8-byte explicit nonce after a 4-byte implicit salt (RFC 5288);
  ChaCha20-Poly1305 XORs a 12-byte IV with the sequence number (RFC 7905).
  The additional data is ``seq_num + type + version + length``.
* TLS 1.2 AES-CBC with HMAC (RFC 5246 §6.2.3.2): explicit IV, then
  MAC-then-encrypt, or encrypt-then-MAC when both hellos carried the
  encrypt_then_mac extension (RFC 7366).  The MAC and padding are checked;
  a mismatch is an authentication failure like a bad AEAD tag.

:class:`RecordKeys` is one direction at one epoch; it counts its own
sequence numbers.  Failures raise :class:`DecryptFailed`, which the
connection turns into a per-connection problem.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Any

from layerpeek.tls.names import cipher_suite_name

_SEQ = struct.Struct("!Q")


class DecryptFailed(Exception):
    """A record did not open: bad tag or MAC (wrong keys), bad padding, too short."""


class CryptoMissing(Exception):
    """The ``cryptography`` package (``layerpeek[tls]``) is not installed."""


@dataclass(frozen=True, slots=True)
class Suite:
    """What decryption needs to know about a cipher suite."""

    cipher: str  #: "aes-gcm", "chacha20", "aes-ccm", "aes-ccm8", "aes-cbc"
    key_len: int
    iv_len: int  #: fixed (implicit) IV bytes from the key schedule
    hash: str  #: hash of the PRF / HKDF: "sha256" or "sha384"
    mac: str | None = None  #: CBC suites: the HMAC hash ("sha1", "sha256", "sha384")

    @property
    def mac_len(self) -> int:
        return {"sha1": 20, "sha256": 32, "sha384": 48}[self.mac] if self.mac else 0


_GCM128 = Suite("aes-gcm", 16, 4, "sha256")
_GCM256 = Suite("aes-gcm", 32, 4, "sha384")
_CHACHA12 = Suite("chacha20", 32, 12, "sha256")
_CCM128 = Suite("aes-ccm", 16, 4, "sha256")
_CCM256 = Suite("aes-ccm", 32, 4, "sha256")
_CCM8_128 = Suite("aes-ccm8", 16, 4, "sha256")
_CCM8_256 = Suite("aes-ccm8", 32, 4, "sha256")
_CBC128_SHA = Suite("aes-cbc", 16, 16, "sha256", "sha1")
_CBC256_SHA = Suite("aes-cbc", 32, 16, "sha256", "sha1")
_CBC128_SHA256 = Suite("aes-cbc", 16, 16, "sha256", "sha256")
_CBC256_SHA256 = Suite("aes-cbc", 32, 16, "sha256", "sha256")
_CBC256_SHA384 = Suite("aes-cbc", 32, 16, "sha384", "sha384")

#: TLS 1.3 suites (RFC 8446 §B.4): the IV is 12 bytes for all of them.
TLS13_SUITES: dict[int, Suite] = {
    0x1301: Suite("aes-gcm", 16, 12, "sha256"),
    0x1302: Suite("aes-gcm", 32, 12, "sha384"),
    0x1303: Suite("chacha20", 32, 12, "sha256"),
    0x1304: Suite("aes-ccm", 16, 12, "sha256"),
    0x1305: Suite("aes-ccm8", 16, 12, "sha256"),
}

#: TLS 1.2 suites layerpeek decrypts (the key exchange does not matter: the
#: key log gives the master secret).
TLS12_SUITES: dict[int, Suite] = {
    0x009C: _GCM128, 0x009D: _GCM256, 0x009E: _GCM128, 0x009F: _GCM256,
    0x00A2: _GCM128, 0x00A3: _GCM256,
    0xC02B: _GCM128, 0xC02C: _GCM256, 0xC02F: _GCM128, 0xC030: _GCM256,
    0xCCA8: _CHACHA12, 0xCCA9: _CHACHA12, 0xCCAA: _CHACHA12,
    0xC09C: _CCM128, 0xC09D: _CCM256, 0xC09E: _CCM128, 0xC09F: _CCM256,
    0xC0AC: _CCM128, 0xC0AD: _CCM256, 0xC0AE: _CCM8_128, 0xC0AF: _CCM8_256,
    0x002F: _CBC128_SHA, 0x0033: _CBC128_SHA, 0x0035: _CBC256_SHA, 0x0039: _CBC256_SHA,
    0xC009: _CBC128_SHA, 0xC013: _CBC128_SHA, 0xC00A: _CBC256_SHA, 0xC014: _CBC256_SHA,
    0x003C: _CBC128_SHA256, 0x003D: _CBC256_SHA256, 0x0067: _CBC128_SHA256,
    0x006B: _CBC256_SHA256, 0xC023: _CBC128_SHA256, 0xC027: _CBC128_SHA256,
    0xC024: _CBC256_SHA384, 0xC028: _CBC256_SHA384,
}


def unsupported(suite: int, tls13: bool) -> str:
    return f"cipher suite {cipher_suite_name(suite)} is not one layerpeek decrypts"


def _hash_len(name: str) -> int:
    return hashlib.new(name).digest_size


def _hash_algorithm(name: str) -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA384() if name == "sha384" else hashes.SHA256()


def hkdf_expand_label(secret: bytes, label: str, context: bytes, length: int, hash_name: str
                      ) -> bytes:
    """RFC 8446 §7.1: HKDF-Expand(secret, HkdfLabel, length), with cryptography's HKDF."""
    try:
        from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
    except ImportError as e:
        raise CryptoMissing(str(e)) from None
    full = b"tls13 " + label.encode("ascii")
    info = struct.pack("!HB", length, len(full)) + full + bytes([len(context)]) + context
    return HKDFExpand(_hash_algorithm(hash_name), length, info).derive(secret)


def next_traffic_secret(secret: bytes, hash_name: str) -> bytes:
    """The secret after a KeyUpdate (RFC 8446 §7.2)."""
    return hkdf_expand_label(secret, "traffic upd", b"", _hash_len(hash_name), hash_name)


def tls12_prf(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """RFC 5246 §5: P_hash(secret, label + seed) cut to ``length`` bytes (HMAC from hashlib)."""
    seed = label + seed
    out = b""
    a = seed
    while len(out) < length:
        a = hmac.new(secret, a, hash_name).digest()
        out += hmac.new(secret, a + seed, hash_name).digest()
    return out[:length]


def _aead(cipher: str, key: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers import aead
    except ImportError as e:
        raise CryptoMissing(str(e)) from None
    if cipher == "aes-gcm":
        return aead.AESGCM(key)
    if cipher == "chacha20":
        return aead.ChaCha20Poly1305(key)
    if cipher == "aes-ccm8":
        return aead.AESCCM(key, tag_length=8)
    return aead.AESCCM(key)


def _tag_len(cipher: str) -> int:
    return 8 if cipher == "aes-ccm8" else 16


def _open_aead(aead_obj: Any, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        plaintext: bytes = aead_obj.decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise DecryptFailed("authentication tag does not match") from None
    return plaintext


class RecordKeys:
    """One direction's keys at one epoch; opens its records in order."""

    def __init__(self, suite: Suite, key: bytes, iv: bytes, *, tls13: bool,
                 mac_key: bytes = b"", encrypt_then_mac: bool = False,
                 secret: bytes | None = None) -> None:
        self.suite = suite
        self.tls13 = tls13
        self.key = key
        self.iv = iv
        self.mac_key = mac_key
        self.encrypt_then_mac = encrypt_then_mac
        self.secret = secret  #: TLS 1.3 traffic secret (for KeyUpdate)
        self.seq = 0
        self._iv_int = int.from_bytes(iv, "big")
        self._aead = None if suite.cipher == "aes-cbc" else _aead(suite.cipher, key)

    @classmethod
    def tls13_from_secret(cls, suite: Suite, secret: bytes) -> RecordKeys:
        key = hkdf_expand_label(secret, "key", b"", suite.key_len, suite.hash)
        iv = hkdf_expand_label(secret, "iv", b"", suite.iv_len, suite.hash)
        return cls(suite, key, iv, tls13=True, secret=secret)

    def updated(self) -> RecordKeys:
        """The keys after this sender's KeyUpdate."""
        assert self.secret is not None
        return RecordKeys.tls13_from_secret(self.suite,
                                            next_traffic_secret(self.secret, self.suite.hash))

    def _xor_nonce(self) -> bytes:
        """The IV XOR the 64-bit sequence number, left-padded to the IV's length."""
        return (self._iv_int ^ self.seq).to_bytes(len(self.iv), "big")

    def open(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        """Decrypt one record; returns (content type, plaintext).  Counts the sequence."""
        if self.tls13:
            result = self._open13(content_type, version, fragment)
        elif self.suite.cipher == "aes-cbc":
            result = self._open_cbc(content_type, version, fragment)
        else:
            result = self._open12(content_type, version, fragment)
        self.seq += 1
        return result

    def _open13(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        if len(fragment) < _tag_len(self.suite.cipher) + 1:
            raise DecryptFailed(f"record of {len(fragment)} bytes is shorter than its tag")
        aad = struct.pack("!BHH", content_type, version, len(fragment))
        inner = _open_aead(self._aead, self._xor_nonce(), fragment, aad)
        end = len(inner)
        while end and inner[end - 1] == 0:  # zero padding (RFC 8446 §5.4)
            end -= 1
        if not end:
            raise DecryptFailed("decrypted record has no content type (all padding)")
        return inner[end - 1], inner[: end - 1]

    def _open12(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        tag = _tag_len(self.suite.cipher)
        if self.suite.cipher == "chacha20":
            nonce, ciphertext = self._xor_nonce(), fragment
        else:
            if len(fragment) < 8 + tag:
                raise DecryptFailed(f"record of {len(fragment)} bytes is too short")
            nonce, ciphertext = self.iv + fragment[:8], fragment[8:]
        if len(ciphertext) < tag:
            raise DecryptFailed(f"record of {len(fragment)} bytes is too short")
        aad = _SEQ.pack(self.seq) + struct.pack("!BHH", content_type, version,
                                                len(ciphertext) - tag)
        return content_type, _open_aead(self._aead, nonce, ciphertext, aad)

    def _mac(self, content_type: int, version: int, data: bytes) -> bytes:
        assert self.suite.mac is not None
        head = _SEQ.pack(self.seq) + struct.pack("!BHH", content_type, version, len(data))
        return hmac.new(self.mac_key, head + data, self.suite.mac).digest()

    def _open_cbc(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        try:
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        except ImportError as e:
            raise CryptoMissing(str(e)) from None
        mac_len = self.suite.mac_len
        if self.encrypt_then_mac:
            if len(fragment) < 32 + mac_len:
                raise DecryptFailed(f"record of {len(fragment)} bytes is too short")
            body, mac = fragment[:-mac_len], fragment[-mac_len:]
            if not hmac.compare_digest(mac, self._mac(content_type, version, body)):
                raise DecryptFailed("record MAC does not match")
            fragment = body
        if len(fragment) < 32 or len(fragment) % 16:
            raise DecryptFailed(f"CBC record of {len(fragment)} bytes is not whole blocks")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(fragment[:16])).decryptor()
        padded = decryptor.update(fragment[16:]) + decryptor.finalize()
        pad = padded[-1]
        if pad + 1 > len(padded) or padded[-pad - 1 :] != bytes([pad]) * (pad + 1):
            raise DecryptFailed("CBC padding is wrong")
        plain = padded[: -pad - 1]
        if self.encrypt_then_mac:
            return content_type, plain
        if len(plain) < mac_len:
            raise DecryptFailed("record shorter than its MAC")
        content, mac = plain[: len(plain) - mac_len], plain[len(plain) - mac_len :]
        if not hmac.compare_digest(mac, self._mac(content_type, version, content)):
            raise DecryptFailed("record MAC does not match")
        return content_type, content


def tls12_keys(suite: Suite, master_secret: bytes, client_random: bytes, server_random: bytes,
               encrypt_then_mac: bool) -> tuple[RecordKeys, RecordKeys]:
    """(client's keys, server's keys) from a TLS 1.2 master secret (RFC 5246 §6.3)."""
    mac_len = suite.mac_len
    need = 2 * (mac_len + suite.key_len + suite.iv_len)
    block = tls12_prf(master_secret, b"key expansion", server_random + client_random, need,
                      suite.hash)
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        pos += n
        return block[pos - n : pos]

    client_mac, server_mac = take(mac_len), take(mac_len)
    client_key, server_key = take(suite.key_len), take(suite.key_len)
    client_iv, server_iv = take(suite.iv_len), take(suite.iv_len)
    return (
        RecordKeys(suite, client_key, client_iv, tls13=False, mac_key=client_mac,
                   encrypt_then_mac=encrypt_then_mac),
        RecordKeys(suite, server_key, server_iv, tls13=False, mac_key=server_mac,
                   encrypt_then_mac=encrypt_then_mac),
    )
