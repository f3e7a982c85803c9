"""Errors: a small public family, plus the private signals decoders raise.

Packet-level damage never escapes as an exception: decoders raise :class:`Short`
or :class:`Invalid`, and the driver in :mod:`layerpeek.decode` turns them into a
:class:`~layerpeek.packet.Malformed` layer at one boundary.  Only file-level
problems the caller can act on (handing us something that is not a capture)
are raised to the user, as :class:`CaptureFormatError`.
"""

from __future__ import annotations


class LayerpeekError(Exception):
    """Base class of every error layerpeek raises on purpose."""


class CaptureFormatError(LayerpeekError):
    """The input is not a pcap/pcapng capture, or uses a version we cannot read."""


class CaptureProblemWarning(UserWarning):
    """A capture file is damaged (cut short, a bad gzip trailer) but was read as far as it goes.

    Issued where there is no other channel for the message, as by
    :func:`layerpeek.columnar.read_captures`; the message names the file and the
    place, as ``layerpeek dump`` prints it.
    """


class DecodeError(Exception):
    """Internal: a decoder gave up.  Never escapes :func:`layerpeek.decode.decode`.

    ``offset`` is the absolute offset in the frame where the problem was seen,
    or ``None`` to mean "the start of the layer being decoded".
    """

    truncated: bool = False

    def __init__(self, reason: str, offset: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


class Short(DecodeError):
    """Ran out of captured bytes (snaplen or a cut frame)."""

    truncated = True


class Invalid(DecodeError):
    """The bytes are there but carry an impossible value."""
