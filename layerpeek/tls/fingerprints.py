"""Fingerprints of the hellos: JA3 / JA3S (Salesforce) and JA4 / JA4S (FoxIO).

People search threat-intelligence feeds by these strings, so they are
computed exactly as published, each from its definition:

* JA3 (https://github.com/salesforce/ja3): the ClientHello's
  ``SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats``,
  decimal values joined by ``-``, GREASE values (RFC 8701) left out, then
  MD5.  JA3S: the ServerHello's ``SSLVersion,Cipher,Extensions``, then MD5.
  ``SSLVersion`` is the legacy version field (771 also for TLS 1.3).
* JA4 (https://github.com/FoxIO-LLC/ja4, technical_details/JA4.md):
  ``t`` + version (the highest of supported_versions, else the legacy
  version) + ``d``/``i`` (SNI or not) + cipher and extension counts + the
  first and last characters of the first ALPN value, then the truncated
  SHA-256 of the sorted cipher list, then of the sorted extension list
  (without SNI and ALPN) ``_`` the signature algorithms in order.  JA4S
  (technical_details/JA4S.md): ``t`` + version + extension count + ALPN
  chosen, the chosen cipher in hex, and the truncated SHA-256 of the
  extensions in order.  JA4 is BSD-licensed; FoxIO publishes JA4S under its
  FoxIO License 1.1.

Every function takes the typed hello, so a fingerprint is a pure function of
what layerpeek decoded (the tests check the published examples and tshark's
``tls.handshake.ja3``/``ja3s`` on the project's captures).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from layerpeek.tls.handshake import (
    ALPN,
    ClientHello,
    ECPointFormats,
    Extension,
    ServerHello,
    SignatureAlgorithms,
    SupportedGroups,
    SupportedVersions,
    find,
)
from layerpeek.tls.names import is_grease

_JA4_VERSIONS = {
    0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
    0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3",
}


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A fingerprint's readable string and its hash (what feeds list)."""

    text: str  #: JA3 string (``771,4865-…``) or JA4 raw form (``t13d…_1301,…``)
    hash: str  #: JA3 MD5 hex, or the JA4 fingerprint itself (``t13d1516h2_8daaf6152771_…``)


def _dash(values: Iterable[int]) -> str:
    return "-".join(str(v) for v in values if not is_grease(v))


def ja3(hello: ClientHello) -> Fingerprint:
    """JA3 of a ClientHello."""
    groups = find(hello.extensions, SupportedGroups)
    formats = find(hello.extensions, ECPointFormats)
    text = ",".join((
        str(hello.version),
        _dash(hello.cipher_suites),
        _dash(e.type for e in hello.extensions),
        _dash(groups.groups if groups else ()),
        "-".join(str(f) for f in (formats.formats if formats else ())),
    ))
    return Fingerprint(text, hashlib.md5(text.encode(), usedforsecurity=False).hexdigest())


def ja3s(hello: ServerHello) -> Fingerprint:
    """JA3S of a ServerHello."""
    text = f"{hello.version},{hello.cipher_suite},{_dash(e.type for e in hello.extensions)}"
    return Fingerprint(text, hashlib.md5(text.encode(), usedforsecurity=False).hexdigest())


def _ja4_version(legacy: int, versions: tuple[int, ...]) -> str:
    real = [v for v in versions if not is_grease(v)]
    return _JA4_VERSIONS.get(max(real) if real else legacy, "00")


def _alnum(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _ja4_alpn(value: bytes | None) -> str:
    """First and last character of the first ALPN value (JA4.md "ALPN Extension Value")."""
    if not value:
        return "00"
    first, last = value[0], value[-1]
    if _alnum(first) and _alnum(last):
        return chr(first) + chr(last)
    hexed = value.hex()
    return hexed[0] + hexed[-1]


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def _hex4(values: Iterable[int]) -> list[str]:
    return [f"{v:04x}" for v in values if not is_grease(v)]


def _first_alpn(extensions: tuple[Extension, ...]) -> bytes | None:
    ext = find(extensions, ALPN)
    if ext is None or not ext.protocols:
        return None
    return ext.protocols[0].encode("latin-1")


def ja4(hello: ClientHello, transport: str = "t") -> Fingerprint:
    """JA4 of a ClientHello; ``text`` is the raw sorted form (JA4_r).

    ``transport``: ``"t"`` TLS over TCP, ``"q"`` QUIC, ``"d"`` DTLS.
    """
    versions = find(hello.extensions, SupportedVersions)
    version = _ja4_version(hello.version, versions.versions if versions else ())
    sni = "d" if any(e.type == 0 for e in hello.extensions) else "i"
    ciphers = _hex4(hello.cipher_suites)
    extensions = _hex4(e.type for e in hello.extensions)
    head = (f"{transport}{version}{sni}{min(len(ciphers), 99):02d}"
            f"{min(len(extensions), 99):02d}{_ja4_alpn(_first_alpn(hello.extensions))}")
    sorted_ciphers = ",".join(sorted(ciphers))
    sorted_extensions = ",".join(sorted(e for e in extensions if e not in ("0000", "0010")))
    sig = find(hello.extensions, SignatureAlgorithms)
    schemes = ",".join(_hex4(sig.schemes if sig else ()))
    ext_part = f"{sorted_extensions}_{schemes}" if schemes else sorted_extensions
    digest = f"{head}_{_sha12(sorted_ciphers)}_{_sha12(ext_part if sorted_extensions else '')}"
    return Fingerprint(f"{head}_{sorted_ciphers}_{ext_part}", digest)


def ja4s(hello: ServerHello, transport: str = "t") -> Fingerprint:
    """JA4S of a ServerHello; ``text`` is the raw form (JA4S_r)."""
    versions = find(hello.extensions, SupportedVersions)
    version = _ja4_version(hello.version, versions.versions if versions else ())
    extensions = _hex4(e.type for e in hello.extensions)
    head = (f"{transport}{version}{min(len(extensions), 99):02d}"
            f"{_ja4_alpn(_first_alpn(hello.extensions))}")
    cipher = f"{hello.cipher_suite:04x}"
    listed = ",".join(extensions)
    return Fingerprint(f"{head}_{cipher}_{listed}", f"{head}_{cipher}_{_sha12(listed)}")
