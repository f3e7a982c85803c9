"""docs/tutorial.md shows what layerpeek does: every command and example in it runs here.

The tutorial walks the explainer's six steps (DNS lookup, three-way handshake,
HTTP request, HTTP response, four-way teardown, the layers) on the bundled
captures.  Each ``$ layerpeek …`` block runs and its output must be its golden
file under ``tests/golden/tutorial/`` and show as the tutorial says
(``tests/doccheck.py``: ``…`` lines stand for lines left out); the ``pycon``
examples run in order in one namespace, as a reader typing them into one
Python session would, and print what the tutorial shows.
``pytest --update-golden`` rewrites the golden files after a meant change.
"""

from __future__ import annotations

import doctest

import pytest
from doccheck import ROOT, Command, blocks, check, commands

TUTORIAL = ROOT / "docs" / "tutorial.md"
COMMANDS = commands(TUTORIAL)

#: The explainer's six steps, in its order: the tutorial's sections.
STEPS = (
    "## 1. The DNS lookup",
    "## 2. The TCP three-way handshake",
    "## 3. The HTTP request",
    "## 4. The HTTP response",
    "## 5. The four-way teardown",
    "## 6. The layers",
)


def test_the_tutorial_follows_the_explainers_six_steps_in_order() -> None:
    text = TUTORIAL.read_text()
    positions = [text.find(step) for step in STEPS]
    assert -1 not in positions, [s for s, p in zip(STEPS, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    for step, start, end in zip(STEPS, positions, [*positions[1:], len(text)], strict=True):
        section = text[start:end]
        assert "\n$ layerpeek " in section, f"{step}: no command"
        assert "```pycon" in section, f"{step}: no library example"


def test_the_tutorial_uses_only_the_bundled_captures() -> None:
    for block in blocks(TUTORIAL):
        assert "../shared" not in block.text
    for command in COMMANDS:
        assert "captures/" in command.command, command


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: f"line{c.line}")
def test_command_prints_what_the_tutorial_shows(command: Command) -> None:
    check(command)


def test_library_examples_print_what_the_tutorial_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    namespace: dict[str, object] = {}
    report: list[str] = []
    examples = [b for b in blocks(TUTORIAL) if b.lang == "pycon"]
    assert len(examples) >= 6
    for block in examples:
        test = parser.get_doctest(
            block.text, namespace, f"tutorial.md:{block.line}", str(TUTORIAL), block.line
        )
        runner.run(test, out=report.append, clear_globs=False)
        namespace.update(test.globs)  # the next block goes on in the same session
    assert runner.failures == 0, "".join(report)
