"""The CLI's subcommands, one module each.

A command module exposes ``register(subparsers)`` (adds its parser and sets
``func=run``) and ``run(args) -> int`` (the exit code).  To add one, write
``layerpeek/commands/<name>.py`` and append ``"<name>"`` to
``layerpeek.cli.COMMAND_MODULES``.  Keep module-level imports cheap (argparse
and :mod:`layerpeek.commands.common`); import decoders and renderers inside
``run`` so ``layerpeek --help`` stays fast.
"""

from __future__ import annotations
