"""What README.md shows is what layerpeek does: every command and example in it is run here.

Each ``$ layerpeek …`` block runs and its output must be its golden file under
``tests/golden/README/`` and show as the README says (``tests/doccheck.py``
explains the rules: ``…`` lines stand for lines left out).  The ``pycon``
examples are doctests, the ``python`` ones run.  ``pytest --update-golden``
rewrites the golden files after a meant change of output.  The command forms
written inline (``layerpeek dump -S``, ``layerpeek follow FILE [STREAM] [--hex]``)
hold placeholders, so they cannot run: each option they name must be one its
subcommand's ``--help`` lists.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from doccheck import ROOT, Block, Command, blocks, check, commands

README = ROOT / "README.md"
COMMANDS = commands(README)
BLOCKS = blocks(README)


def test_the_readme_shows_commands_to_check() -> None:
    assert len(COMMANDS) >= 5
    assert all(c.command.startswith(("layerpeek ", "head ")) for c in COMMANDS)


def test_every_block_is_of_a_kind_the_checks_know() -> None:
    """A new block is a command, an example, set-up instructions or plain text, never unread."""
    for block in BLOCKS:
        assert block.lang in ("", "sh", "pycon", "python"), f"README.md:{block.line}: {block.lang}"
        if block.lang == "" and not block.text.startswith("$ "):
            # plain text (the layout tree): it must not look like output of a command
            assert "layerpeek:" not in block.text and "#1 " not in block.text, (
                f"README.md:{block.line}: output without its command; begin it with '$ command'"
            )


def test_nothing_reads_outside_the_clone() -> None:
    """A clone has no ../shared: what the README runs uses the bundled captures."""
    for block in BLOCKS:
        assert "../shared" not in block.text, f"README.md:{block.line}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: f"line{c.line}")
def test_command_prints_what_the_readme_shows(command: Command) -> None:
    check(command)


def _examples(lang: str) -> list[Block]:
    return [b for b in BLOCKS if b.lang == lang]


@pytest.mark.parametrize("block", _examples("pycon"), ids=lambda b: f"line{b.line}")
def test_library_example_prints_what_the_readme_shows(
    block: Block, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(block.text, {}, f"README.md:{block.line}", str(README), block.line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    failures: list[str] = []

    runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)


@pytest.mark.parametrize("block", _examples("python"), ids=lambda b: f"line{b.line}")
def test_python_example_runs(
    block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if "notebook" in block.text:
        for module in ("pandas", "pyarrow", "matplotlib"):
            pytest.importorskip(module)
        monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(ROOT)
    code = compile(block.text, f"README.md:{block.line}", "exec")
    exec(code, {"__name__": "readme_example"})


def _inline_command_forms() -> list[str]:
    """The ``layerpeek SUBCOMMAND …`` forms written inline in the README's prose and tables."""
    prose = README.read_text()
    for block in BLOCKS:
        prose = prose.replace(block.text, "")
    return sorted(set(re.findall(r"`(layerpeek [a-z][^`\n]*)`", prose)))


FORMS = _inline_command_forms()


def _help(subcommand: str) -> str:
    if subcommand not in _HELP:
        done = subprocess.run(
            [sys.executable, "-m", "layerpeek", subcommand, "--help"], cwd=ROOT,
            capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 0, f"layerpeek {subcommand} --help: {done.stderr}"
        _HELP[subcommand] = done.stdout
    return _HELP[subcommand]


_HELP: dict[str, str] = {}


@pytest.mark.parametrize("form", FORMS)
def test_inline_command_form_names_options_the_command_has(form: str) -> None:
    """`layerpeek dump -S` in a sentence is a claim too: the subcommand has that option."""
    words = form.replace("\\|", "|").split()
    subcommand = words[1]
    text = _help(subcommand)
    for word in words[2:]:
        for option in re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", word.strip("[]'")):
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (
                f"README: `{form}`: `layerpeek {subcommand} --help` has no {option}"
            )
