"""Coverage-guided fuzzing of one target with atheris (libFuzzer for Python).

    python3 tests/fuzz/fuzz.py TARGET [libFuzzer options] [CORPUS_DIR ...]

TARGET is one of :data:`targets.TARGETS`.  layerpeek is imported under
``atheris.instrument_imports()`` so that coverage of its own code guides the
mutations.  Use ``tests/fuzz/run.py`` for the bounded run CI does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports(include=["layerpeek"]):
    import targets


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in targets.TARGETS:
        print(f"usage: fuzz.py TARGET [libFuzzer options], TARGET in {sorted(targets.TARGETS)}",
              file=sys.stderr)
        raise SystemExit(2)
    target = targets.TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
