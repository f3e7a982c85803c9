#!/usr/bin/env bash
# The documentation: the API reference (HTML, from the docstrings, with pdoc;
# any warning fails) into docs/api/ or $1, then every example the docs show run
# and compared: the docstrings' doctests, the tutorial and the README.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python3 docs/build.py -o "${1:-docs/api}"
python3 -m pytest -q -p no:cacheprovider tests/test_docs.py tests/test_readme.py \
  tests/test_tutorial.py -k "not api_reference"
