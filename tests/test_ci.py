"""CI runs the README's set-up commands, word for word.

The README promises two commands on a fresh machine (install and run the main
job; run the tests) and says CI runs exactly those: this holds the two texts
together, so that changing one without the other fails here, not on a user's
machine.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the Set-up section has no sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_gives_two_set_up_commands() -> None:
    install, test = setup_commands()
    assert "pip install" in install and "layerpeek dump captures/" in install
    assert test.endswith("-m pytest")


def test_ci_runs_both_commands_as_the_readme_gives_them() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in setup_commands():
        assert command in ci, f"{command!r} is not a line of .ci/run"


def test_the_captures_the_install_command_dumps_are_bundled() -> None:
    install, _ = setup_commands()
    for name in re.findall(r"captures/\S+", install):
        assert (ROOT / name).is_file(), name
