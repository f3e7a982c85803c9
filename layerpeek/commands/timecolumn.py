"""The time column of ``dump``'s listing in tshark's ``-t`` formats.

tshark users type ``-t ad`` for dates, ``-t d`` for gaps between packets;
layerpeek's default (``r``, seconds since the first packet) is tshark's
default too.  Every format is computed from the integer nanosecond
timestamps and shows microseconds, truncated as the default column does,
so a time never rounds up into the next second.

=======  ====================================================  ==========================
format   meaning                                               example
=======  ====================================================  ==========================
r        seconds since the first packet (default)              ``0.001214``
a        local time of day                                     ``13:20:05.001214``
ad       local date and time                                   ``2026-11-25 13:20:05.001214``
adoy     local year/day of the year, and time                  ``2026/329 13:20:05.001214``
u        UTC time of day                                       ``12:20:05.001214``
ud       UTC date and time                                     ``2026-11-25 12:20:05.001214``
udoy     UTC year/day of the year, and time                    ``2026/329 12:20:05.001214``
e        seconds since the epoch (1970-01-01 UTC)              ``1795782005.001214``
d        seconds since the previous packet captured            ``0.000310``
dd       seconds since the previous packet shown (after -Y)    ``0.000310``
=======  ====================================================  ==========================
"""

from __future__ import annotations

__all__ = ["TIME_FORMATS", "TimeColumn"]

#: The ``-t`` choices, in tshark's spelling.
TIME_FORMATS: tuple[str, ...] = ("r", "a", "ad", "adoy", "u", "ud", "udoy", "e", "d", "dd")

_NS = 1_000_000_000


def seconds(d_ns: int) -> str:
    """A signed duration in seconds with 6 decimals, truncated (no float rounding)."""
    sign = "-" if d_ns < 0 else ""
    s, ns = divmod(abs(d_ns), _NS)
    return f"{sign}{s}.{ns // 1000:06d}"


def wall_clock(ts_ns: int, fmt: str) -> str:
    """``ts_ns`` as a time of day (``a``/``u``), with the date (``ad``/``ud``) or the
    day of the year (``adoy``/``udoy``); local time unless the format starts with u."""
    import datetime  # here: `layerpeek --help` imports this module and needs no clock

    sec, ns = divmod(ts_ns, _NS)
    tz = datetime.timezone.utc if fmt.startswith("u") else None
    try:
        when = datetime.datetime.fromtimestamp(sec, tz)
    except (OverflowError, OSError, ValueError):  # beyond what the platform's clock holds
        return seconds(ts_ns)
    clock = f"{when:%H:%M:%S}.{ns // 1000:06d}"
    if fmt.endswith("doy"):
        return f"{when:%Y/%j} {clock}"
    if fmt.endswith("d"):
        return f"{when:%Y-%m-%d} {clock}"
    return clock


class TimeColumn:
    """Formats one listing's time column; fed every packet captured and every one shown.

    :meth:`captured` must see each frame as it is read (before ``-Y``), so
    ``d`` is the gap from the previous *captured* frame, as tshark's; the
    listing calls :meth:`text` for the frames it shows, which ``dd`` measures
    from.
    """

    def __init__(self, fmt: str) -> None:
        if fmt not in TIME_FORMATS:
            raise ValueError(f"time format must be one of {', '.join(TIME_FORMATS)}, not {fmt!r}")
        self.fmt = fmt
        self.first_ns: int | None = None
        self._last_ns: int | None = None  #: the latest frame captured
        self._before_last_ns: int | None = None  #: the one before it
        self._shown_ns: int | None = None  #: the latest frame shown

    def captured(self, ts_ns: int) -> None:
        if self.first_ns is None:
            self.first_ns = ts_ns
        self._before_last_ns = self._last_ns
        self._last_ns = ts_ns

    def text(self, ts_ns: int) -> str:
        """The column for a frame shown: the latest frame :meth:`captured` saw."""
        fmt = self.fmt
        previous_shown = self._shown_ns
        self._shown_ns = ts_ns
        if fmt == "r":
            return seconds(ts_ns - (self.first_ns if self.first_ns is not None else ts_ns))
        if fmt == "e":
            return seconds(ts_ns)
        if fmt == "d":
            before = self._before_last_ns
            return seconds(0 if before is None else ts_ns - before)
        if fmt == "dd":
            return seconds(0 if previous_shown is None else ts_ns - previous_shown)
        return wall_clock(ts_ns, fmt)
