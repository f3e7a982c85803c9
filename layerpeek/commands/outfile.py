"""Writing output files safely: what a command may replace, and the ``.part`` rule.

Every file a command writes (``export --parquet``, ``live -w``, ``http
--export``) follows the same rules, so a crafted command line or a full disk
cannot turn into damage or a file that looks complete but is not:

* **What may be replaced.**  The target must be absent or a regular file.  A
  symbolic link is refused rather than followed (replacing what it points at
  is how a writable directory turns into overwriting someone's file), and a
  FIFO, device node, directory or socket is never replaced by a regular file
  (as root, ``--parquet /dev/null`` used to turn ``/dev/null`` into a file).
  A command that can stream (``live -w``) writes *through* a FIFO or a
  character device instead, as ``-w -`` writes to stdout.
* **The ``.part`` rule.**  Bytes go to ``TARGET.part`` (created anew, never
  through a link) and only a complete file is renamed to ``TARGET``; on any
  error the ``.part`` is removed (or, for ``live -w``, whose packets are worth
  keeping, left under that name and said so).  A cut file therefore never
  carries the final name.
* **Errors are one line.**  ``ENOSPC``, ``EIO`` and friends become a
  :class:`~layerpeek.commands.common.CommandError` (exit 1) naming the file
  and the reason, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from layerpeek.commands.common import CommandError

PART = ".part"


def describe(mode: int) -> str:
    """What kind of file ``mode`` (from ``lstat``) is, for an error message."""
    kinds = (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    for test, name in kinds:
        if test(mode):
            return name
    return "not a regular file"


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise CommandError(f"{path}: cannot write: {e.strerror or e}") from None


def check_target(path: str, *, stream_ok: bool = False) -> bool:
    """Refuse a target that must not be replaced; True when it is to be written *through*.

    Absent or a regular file: fine (False: write ``.part`` and rename).  With
    ``stream_ok``, a FIFO or character device is written through (True).
    Anything else, and every symbolic link, is a :class:`CommandError`.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{path}: cannot write: no directory {folder}")
    st = _lstat(path)
    if st is None or stat.S_ISREG(st.st_mode):
        return False
    if stream_ok and (stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        return True
    raise CommandError(f"{path}: is {describe(st.st_mode)}: refusing to replace it "
                       "(write to a regular file or a new name)")


def open_part(path: str) -> tuple[str, BinaryIO]:
    """Create ``path + '.part'`` afresh (a stale regular ``.part`` is removed first)."""
    part = path + PART
    st = _lstat(part)
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise CommandError(f"{part}: is {describe(st.st_mode)}: refusing to replace it")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(part, flags, 0o644)
    except OSError as e:
        raise CommandError(f"{part}: cannot write: {e.strerror or e}") from None
    return part, os.fdopen(fd, "wb")


def finish(part: str, path: str) -> None:
    """Give the complete ``part`` its final name (the target checked again first)."""
    check_target(path)
    try:
        os.replace(part, path)
    except OSError as e:
        discard(part)
        raise CommandError(f"{path}: cannot write: {e.strerror or e}") from None


def discard(part: str) -> None:
    """Remove a ``.part`` that will never be complete."""
    with contextlib.suppress(OSError):
        os.unlink(part)


def write_error(path: str, error: OSError) -> CommandError:
    """The one-line error for a failed write to ``path``."""
    return CommandError(f"{path}: cannot write: {error.strerror or error}")


@contextlib.contextmanager
def part_file(path: str) -> Iterator[tuple[str, BinaryIO]]:
    """``with part_file(TARGET) as (part, f):`` write ``f``; TARGET appears only if all went well.

    The target is checked (:func:`check_target`) before anything is written,
    the bytes go to ``TARGET.part``, an ``OSError`` while writing or closing
    becomes one :class:`CommandError`, and any failure removes the ``.part``.
    """
    check_target(path)
    part, f = open_part(path)
    try:
        try:
            yield part, f
            f.close()
        except OSError as e:
            raise write_error(part, e) from None
    except BaseException:
        with contextlib.suppress(OSError):
            f.close()
        discard(part)
        raise
    finish(part, path)
