"""What differs between QUIC versions: the Initial salt, the key labels, the packet-type bits.

Version 1 is RFC 9000/9001; version 2 (RFC 9369) is the same protocol with
other constants, chosen so that middleboxes cannot ossify on version 1's:
another salt, labels ``quicv2 …`` instead of ``quic …``, the long-header
type bits rotated by one, other Retry integrity keys.  The drafts that were
deployed (27 to 34, 0xff00001b-0xff000022) use version 1's labels with
their own salts.  A version not listed here is still parsed (its long
header is invariant, RFC 8999) but its packets are not decrypted.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION_1 = 0x00000001
VERSION_2 = 0x6B3343CF
NEGOTIATION = 0x00000000

#: Packet kinds, by the names RFC 9000 §17 gives them.
INITIAL = "Initial"
ZERO_RTT = "0-RTT"
HANDSHAKE = "Handshake"
RETRY = "Retry"
VERSION_NEGOTIATION = "Version Negotiation"
ONE_RTT = "1-RTT"


@dataclass(frozen=True, slots=True)
class Version:
    """The constants of one QUIC version."""

    number: int
    name: str
    initial_salt: bytes
    label_prefix: bytes  #: b"quic " or b"quicv2 "
    #: long-header type bits (0-3) → packet kind
    long_types: tuple[str, str, str, str]
    retry_key: bytes = b""  #: Retry integrity tag key and nonce (RFC 9001 §5.8)
    retry_nonce: bytes = b""

    def label(self, what: str) -> bytes:
        """``key``, ``iv``, ``hp``, ``ku`` with this version's prefix."""
        return self.label_prefix + what.encode()


_V1_TYPES = (INITIAL, ZERO_RTT, HANDSHAKE, RETRY)

VERSIONS: dict[int, Version] = {
    VERSION_1: Version(
        VERSION_1, "1", bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"), b"quic ",
        _V1_TYPES, bytes.fromhex("be0c690b9f66575a1d766b54e368c84e"),
        bytes.fromhex("461599d35d632bf2239825bb")),
    VERSION_2: Version(
        VERSION_2, "2", bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"), b"quicv2 ",
        (RETRY, INITIAL, ZERO_RTT, HANDSHAKE), bytes.fromhex("8fb4b01b56ac48e260fbcbcead7ccc92"),
        bytes.fromhex("d86969bc2d7c6d9990efb04a")),
}
_DRAFT_27 = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")
_DRAFT_29 = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")
for _draft in range(27, 35):
    _salt = _DRAFT_27 if _draft < 29 else _DRAFT_29 if _draft < 33 else VERSIONS[1].initial_salt
    VERSIONS[0xFF000000 + _draft] = Version(0xFF000000 + _draft, f"draft-{_draft}", _salt,
                                            b"quic ", _V1_TYPES)


def version_name(number: int) -> str:
    """``1``, ``2``, ``draft-29``, ``negotiation``, or the number in hex."""
    known = VERSIONS.get(number)
    if known is not None:
        return known.name
    if number == NEGOTIATION:
        return "negotiation"
    if number & 0x0F0F0F0F == 0x0A0A0A0A:
        return f"0x{number:08x} (reserved, forces negotiation)"
    return f"0x{number:08x}"


def long_type(version: int, bits: int) -> str:
    """The kind of a long-header packet of ``version`` with type bits ``bits``."""
    known = VERSIONS.get(version)
    return (known.long_types if known is not None else _V1_TYPES)[bits & 3]
