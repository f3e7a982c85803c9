"""Counting work instead of timing it: how the super-linear tests measure.

``count_work(fn)`` runs ``fn`` once and returns the work it did inside
layerpeek, counted two ways that are deterministic on any machine:

* ``lines``: Python lines executed in layerpeek's own files (``sys.settrace``);
  a loop over a growing list per packet shows up here as n² lines.
* ``shifted``: elements a list operation that walks or shifts its list had to
  touch (``list.insert``, ``list.pop``, ``list.remove``, ``list.index``,
  ``list.count``, ``list.sort``, charged the list's length, seen through
  ``sys.setprofile``), which line counts cannot see because the loop is in C.

* ``compared``: comparisons made on :class:`Counted` values, for work that
  hides in a C loop over Python objects (``x in some_list`` compares ``x``
  with every element; a set or a dict does not).

A test feeds input of size n and k·n and asserts the work grew about k-fold:
linear code passes with room to spare, quadratic code grows k²-fold and fails.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import layerpeek

_ROOT = str(Path(layerpeek.__file__).resolve().parent)
_WALKERS = {"insert", "pop", "remove", "index", "count", "sort"}


class Counted(int):
    """An int that counts every comparison made with it (in :data:`COMPARED`)."""

    def __eq__(self, other: object) -> bool:
        COMPARED[0] += 1
        return int(self) == other

    def __ne__(self, other: object) -> bool:
        COMPARED[0] += 1
        return int(self) != other

    def __lt__(self, other: int) -> bool:
        COMPARED[0] += 1
        return int(self) < other

    def __le__(self, other: int) -> bool:
        COMPARED[0] += 1
        return int(self) <= other

    def __gt__(self, other: int) -> bool:
        COMPARED[0] += 1
        return int(self) > other

    def __ge__(self, other: int) -> bool:
        COMPARED[0] += 1
        return int(self) >= other

    __hash__ = int.__hash__


COMPARED = [0]


@dataclass
class Work:
    lines: int = 0
    shifted: int = 0
    compared: int = 0

    @property
    def total(self) -> int:
        return self.lines + self.shifted + self.compared


def count_work(fn: Callable[[], Any], root: str = _ROOT) -> Work:
    """Run ``fn()`` and count the work done in files under ``root`` (layerpeek by default)."""
    work = Work()
    mine: dict[str, bool] = {}

    def ours(frame: FrameType) -> bool:
        name = frame.f_code.co_filename
        hit = mine.get(name)
        if hit is None:
            hit = mine[name] = name.startswith(root)
        return hit

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            work.lines += 1
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        return local if ours(frame) else None

    def profiler(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call" and getattr(arg, "__name__", "") in _WALKERS:
            owner = getattr(arg, "__self__", None)
            if isinstance(owner, list) and ours(frame):
                work.shifted += len(owner)

    old_trace, old_profile = sys.gettrace(), sys.getprofile()
    compared = COMPARED[0]
    sys.settrace(tracer)
    sys.setprofile(profiler)
    try:
        fn()
    finally:
        sys.setprofile(old_profile)
        sys.settrace(old_trace)
    work.compared = COMPARED[0] - compared
    return work


def growth(
    make: Callable[[int], Callable[[], Any]], n: int, k: int = 4, root: str = _ROOT
) -> float:
    """How many times more work ``make(k*n)`` takes than ``make(n)`` (k for linear code)."""
    small = count_work(make(n), root).total
    large = count_work(make(k * n), root).total
    return large / max(small, 1)
