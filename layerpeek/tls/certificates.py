"""X.509 certificates from a TLS Certificate message, read with ``cryptography``.

X.509 is DER-encoded ASN.1 with decades of corner cases, so layerpeek does
not parse it itself: ``cryptography`` (the ``tls`` extra,
``pip install layerpeek[tls]``) does.  The raw DER is always kept, so
nothing is lost when the package is missing: the certificate then says so in
``problem`` instead of failing, and every other TLS field still decodes.
A certificate ``cryptography`` rejects is kept the same way, with its reason.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

#: What a certificate says when the ``tls`` extra is not installed.
NO_X509 = "not parsed: install layerpeek[tls] (the cryptography package) to read certificates"


@dataclass(frozen=True, slots=True)
class X509Certificate:
    """One certificate of a chain: the facts people look for, and the DER itself.

    Frozen: the same object is shared by every packet that carries the same
    certificate (see :func:`parse_certificate`).
    """

    subject: str | None  #: RFC 4514 text, e.g. ``CN=example.test,O=layerpeek``
    issuer: str | None
    not_before: str | None  #: ISO 8601 UTC, e.g. ``2025-01-01T00:00:00Z``
    not_after: str | None
    serial: str | None  #: hexadecimal
    san: tuple[str, ...]  #: subjectAltName DNS names and IP addresses, in order
    der: bytes = field(repr=False)
    problem: str | None = None  #: why the fields above are empty, if they are

    @property
    def common_name(self) -> str | None:
        """The subject's CN, the first one if there are several."""
        return _cn(self.subject)


def _cn(rfc4514: str | None) -> str | None:
    if not rfc4514:
        return None
    for part in rfc4514.split(","):
        if part.startswith("CN="):
            return part[3:]
    return None


def _iso(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


#: Certificates already read, by DER: a server sends the same chain on every
#: connection, and reading one costs about a millisecond.  Emptied when full,
#: so memory stays bounded whatever the capture.
_SEEN: dict[bytes, X509Certificate] = {}
CACHE_LIMIT = 256


def parse_certificate(der: bytes) -> X509Certificate:
    """Read ``der``; never raises (a missing library or bad DER is a ``problem``).

    The result may be shared with other packets carrying the same certificate
    (layers are immutable by convention: see :mod:`layerpeek.packet`).
    """
    found = _SEEN.get(der)
    if found is None:
        if len(_SEEN) >= CACHE_LIMIT:
            _SEEN.clear()
        found = _SEEN[der] = _parse(der)
    return found


def _parse(der: bytes) -> X509Certificate:
    try:
        from cryptography import x509
    except ImportError:
        return X509Certificate(None, None, None, None, None, (), der, NO_X509)
    try:
        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
        before = _iso(cert.not_valid_before_utc)
        after = _iso(cert.not_valid_after_utc)
        serial = f"{cert.serial_number:x}"
        san: list[str] = []
        try:
            ext: Any = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            for name in ext:
                if isinstance(name, x509.DNSName):
                    san.append(name.value)
                elif isinstance(name, x509.IPAddress):
                    san.append(str(name.value))
        except x509.ExtensionNotFound:
            pass
    except (ValueError, TypeError) as e:  # cryptography's errors for DER it cannot read
        return X509Certificate(None, None, None, None, None, (), der,
                               f"not a certificate cryptography can read: {e}")
    return X509Certificate(subject, issuer, before, after, serial, tuple(san), der)
