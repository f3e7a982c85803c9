"""The NSS key log format: the secrets browsers, curl and OpenSSL write to ``$SSLKEYLOGFILE``.

One secret per line, ``LABEL <client_random hex> <secret hex>``
(https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/,
also RFC 9850 draft "The SSLKEYLOGFILE Format for TLS")::

    CLIENT_RANDOM <32-byte client random> <48-byte TLS 1.2 master secret>
    CLIENT_HANDSHAKE_TRAFFIC_SECRET <client random> <TLS 1.3 secret>
    SERVER_HANDSHAKE_TRAFFIC_SECRET …
    CLIENT_TRAFFIC_SECRET_0 …
    SERVER_TRAFFIC_SECRET_0 …

Sessions are found by the ClientHello's random, which is in the clear.
Comments (``#``) and blank lines are skipped; a line that does not read as
``LABEL hex hex`` is counted in :attr:`KeyLog.problems` rather than refused,
since key logs are often concatenated by hand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

#: The labels decryption uses; others (EXPORTER_SECRET, …) are read and kept too.
TLS12 = "CLIENT_RANDOM"
CLIENT_HANDSHAKE = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
SERVER_HANDSHAKE = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
CLIENT_TRAFFIC_0 = "CLIENT_TRAFFIC_SECRET_0"
SERVER_TRAFFIC_0 = "SERVER_TRAFFIC_SECRET_0"
CLIENT_EARLY = "CLIENT_EARLY_TRAFFIC_SECRET"


@dataclass(slots=True)
class KeyLog:
    """Secrets by label and client random."""

    secrets: dict[str, dict[bytes, bytes]] = field(default_factory=dict)
    #: lines not understood, as ``"line 3: ..."``
    problems: list[str] = field(default_factory=list)
    source: str | None = None  #: the file it was read from, for messages

    @classmethod
    def parse(cls, text: str, source: str | None = None) -> KeyLog:
        log = cls(source=source)
        log.add_text(text)
        return log

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyLog:
        """Read a key log file (raises OSError when it cannot be read)."""
        with open(path, encoding="utf-8", errors="replace") as f:
            return cls.parse(f.read(), os.fspath(path))

    def add_text(self, text: str) -> None:
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 3:
                self.problems.append(f"line {number}: expected LABEL CLIENT_RANDOM SECRET")
                continue
            label, random_hex, secret_hex = parts
            try:
                random = bytes.fromhex(random_hex)
                secret = bytes.fromhex(secret_hex)
            except ValueError:
                self.problems.append(f"line {number}: {label}: not hexadecimal")
                continue
            if len(random) != 32:
                self.problems.append(f"line {number}: {label}: client random is "
                                     f"{len(random)} bytes, not 32")
                continue
            self.secrets.setdefault(label, {})[random] = secret

    def get(self, label: str, client_random: bytes) -> bytes | None:
        table = self.secrets.get(label)
        return None if table is None else table.get(client_random)

    def knows(self, client_random: bytes) -> bool:
        """Is there any secret for this session?"""
        return any(client_random in table for table in self.secrets.values())

    def __len__(self) -> int:
        return sum(len(t) for t in self.secrets.values())


def from_environment() -> str | None:
    """``$SSLKEYLOGFILE`` when set and not empty (as Wireshark's ``tls.keylog_file``)."""
    value = os.environ.get("SSLKEYLOGFILE")
    return value or None
