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


class FilterError(LayerpeekError):
    """A display or capture filter that cannot be used, and why: the one filter error.

    Display filters (:mod:`layerpeek.filter`), capture filters run on a file
    and capture filters given to live capture all raise it (live capture's
    is also a :class:`~layerpeek.capture.live.LiveCaptureError`).  Display
    filters are typed by hand, so a mistake says *where* it is: ``expression``
    and the 0-based ``column`` of the offending text, and :meth:`pointer`
    draws the caret line the CLI prints under the expression.
    """

    def __init__(self, message: str, expression: str = "", column: int = 0, width: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.column = max(0, min(column, len(expression)))  #: 0-based offset into ``expression``
        self.width = max(1, width)  #: how many characters the caret line underlines

    def pointer(self) -> str:
        """The expression and a caret line under the offending text.

        Tabs in the expression are kept in the caret line's padding so the
        caret stays aligned on a terminal.
        """
        if not self.expression:
            return ""
        pad = "".join("\t" if ch == "\t" else " " for ch in self.expression[: self.column])
        span = min(self.width, max(1, len(self.expression) - self.column))
        return f"{self.expression}\n{pad}{'^' * span}"

    def __str__(self) -> str:
        if not self.expression:
            return self.message
        return f"{self.message} (column {self.column + 1})"


class DecodeError(Exception):
    """Internal: a decoder gave up.  Never escapes :func:`layerpeek.decode.decode_layers`.

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


__all__ = [
    "CaptureFormatError",
    "CaptureProblemWarning",
    "DecodeError",
    "FilterError",
    "Invalid",
    "LayerpeekError",
    "Short",
]
