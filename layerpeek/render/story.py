"""The page-load story shown: as wrapped text (``explain``) and as ``explain --json``.

:mod:`layerpeek.story` finds the steps and words them; how a
:class:`~layerpeek.story.Story` is laid out (numbered steps with their
frames and time, wrapped to the terminal, the conclusion and notes after
them) is decided here.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from layerpeek.story import Step, Story


def frames_text(frames: tuple[int, ...]) -> str:
    """``frame 3``, ``frames 4-9``, ``frames 2, 5, 7``: where to look, shortly."""
    if not frames:
        return "no frame"
    if len(frames) == 1:
        return f"frame {frames[0]}"
    contiguous = list(frames) == list(range(frames[0], frames[-1] + 1))
    if contiguous and len(frames) > 3:
        return f"frames {frames[0]}-{frames[-1]}"
    if len(frames) > 8:
        return f"{len(frames)} frames from {frames[0]} to {frames[-1]}"
    return "frames " + ", ".join(map(str, frames))


def step_to_dict(step: Step) -> dict[str, Any]:
    """One step of ``explain --json``."""
    return {
        "kind": step.kind,
        "title": step.title,
        "text": step.text,
        "frames": list(step.frames),
        "time": step.ts_ns / 1e9,
        "stream": step.stream,
        "facts": step.facts,
    }


def story_to_dict(story: Story) -> dict[str, Any]:
    """The ``explain --json`` record: the steps numbered from 1."""
    return {
        "kind": story.kind,
        "overview": story.overview,
        "steps": [dict(step_to_dict(step), number=i) for i, step in enumerate(story.steps, 1)],
        "conclusion": story.conclusion,
        "notes": list(story.notes),
    }


def story_text(story: Story, *, width: int = 100, max_steps: int = 0) -> str:
    """The story as wrapped text; ``max_steps`` > 0 tells only that many steps."""
    out = textwrap.wrap(story.overview, width, break_on_hyphens=False) or [""]
    shown = story.steps if max_steps <= 0 else story.steps[:max_steps]
    for i, step in enumerate(shown, 1):
        out.append("")
        at = (step.ts_ns - story.start_ns) / 1e9
        where = f"  [{step.stream}]" if step.stream else ""
        out.append(f"{i}. {step.title}  ({frames_text(step.frames)}, t={at:.6f}s){where}")
        out.extend(textwrap.wrap(step.text, width, initial_indent="    ",
                                 subsequent_indent="    ", break_on_hyphens=False))
    if len(shown) < len(story.steps):
        out.append("")
        out.append(f"… {len(story.steps) - len(shown)} more steps not shown "
                   "(--max-steps 0 shows all).")
    if story.conclusion:
        out.append("")
        out.extend(textwrap.wrap(story.conclusion, width, break_on_hyphens=False))
    for note in story.notes:
        out.append("")
        out.extend(textwrap.wrap("Note: " + note, width, subsequent_indent="      "))
    return "\n".join(out) + "\n"


__all__ = ["frames_text", "step_to_dict", "story_text", "story_to_dict"]
